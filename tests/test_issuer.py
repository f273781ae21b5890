"""The OAuth issuer over real sockets: the browser sign-in walk, PKCE/state/code rules, refresh rotation and
revocation, JWKS verification, the API-key exchange, and bad input that must leave the server serving."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from simulators.backend.accounts import CreatedAccount, TeamWorkspaceSpec
from simulators.backend.faults import Fault
from simulators.backend.issuer import AccessTokenRejected, TokenRejection
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.browser import Browser, ElementNotFound, Interception, Page, shared_ssl_context
from simulators.clock import Clock
from simulators.phone.sign_in import wrong_code
from simulators.protocol import oauth

pytestmark = pytest.mark.anyio

CALLBACK = oauth.loopback_redirect_uri(1455)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[BackendServer]:
    async with BackendServer(BackendState.create(Clock(), seed=21)) as backend:
        yield backend


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with Browser(intercept=[CALLBACK]) as b:
        yield b


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, verify=shared_ssl_context()) as client:
        yield client


@dataclass(frozen=True)
class Login:
    pkce: oauth.PkceCodes
    state: str
    redirect_uri: str
    url: str


def start_login(
    server: BackendServer,
    *,
    client_id: str = oauth.CLIENT_ID,
    redirect_uri: str = CALLBACK,
    allowed_workspace_ids: tuple[str, ...] = (),
    prompt: str | None = None,
) -> Login:
    pkce = oauth.generate_pkce()
    state = oauth.generate_state()
    request = oauth.AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=pkce.challenge,
        state=state,
        allowed_workspace_ids=allowed_workspace_ids,
        prompt=prompt,
    )
    return Login(pkce, state, redirect_uri, request.url(server.issuer_url))


async def sign_in(
    browser: Browser,
    server: BackendServer,
    created: CreatedAccount,
    login: Login,
    *,
    mfa: str = "code",
    workspace: str | None = None,
    consent: str = "Allow",
) -> Interception:
    page = (await browser.open(login.url)).expect_page()
    if page.data["page"] == "sign_in":  # otherwise this browser is still signed in
        page = (
            await browser.press(
                page, "Continue", {"email": created.account.email, "password": created.password}
            )
        ).expect_page()
    if page.data["page"] == "mfa":
        if mfa == "skip":
            page = (await browser.press(page, "Skip for now")).expect_page()
        else:
            code = created.totp().at(server.clock.now())
            page = (await browser.press(page, "Verify", {"code": code})).expect_page()
    if page.data["page"] == "workspace":
        page = (await browser.press(page, workspace or "Personal")).expect_page()
    assert page.data["page"] == "consent", page.text
    return (await browser.press(page, consent)).expect_interception()


async def exchange(
    http: httpx.AsyncClient, server: BackendServer, login: Login, code: str, **overrides: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login.redirect_uri,
        "client_id": oauth.CLIENT_ID,
        "code_verifier": login.pkce.verifier,
    }
    form.update(overrides)
    return await http.post(server.issuer_url + "/oauth/token", data=form)


async def verified_with_jwks(
    http: httpx.AsyncClient, server: BackendServer, token: str, audience: str
) -> dict:
    keys = (await http.get(server.issuer_url + "/.well-known/jwks.json")).json()["keys"]
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    return jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience=audience, issuer=server.issuer_url
    )


async def tokens_for(
    http: httpx.AsyncClient, browser: Browser, server: BackendServer, created: CreatedAccount, **walk: str
) -> dict:
    login = start_login(server)
    landed = await sign_in(browser, server, created, login, **walk)
    response = await exchange(http, server, login, landed.params["code"])
    assert response.status_code == 200, response.text
    return response.json()


# -- the sign-in walk ----------------------------------------------------------------------------------------


async def test_password_only_sign_in_gives_tokens_without_mfa(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    login = start_login(server)
    landed = await sign_in(browser, server, created, login)
    assert landed.url.startswith(CALLBACK + "?code=")
    assert landed.params["state"] == login.state and landed.status == 302

    response = await exchange(http, server, login, landed.params["code"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"id_token", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    id_claims = await verified_with_jwks(http, server, body["id_token"], oauth.CLIENT_ID)
    assert id_claims["amr"] == ["pwd"]
    assert id_claims["email"] == created.account.email
    auth = id_claims[oauth.AUTH_CLAIM_NAMESPACE]
    assert auth["chatgpt_account_id"] == created.account.account_id
    assert auth["chatgpt_plan_type"] == "plus"
    assert auth["chatgpt_user_id"] == created.account.user_id
    claims = server.state.issuer.verify_access_token(body["access_token"])
    assert not oauth.is_mfa_assured(claims)


async def test_password_and_totp_sign_in_is_mfa_assured(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True)
    body = await tokens_for(http, browser, server, created)
    access = await verified_with_jwks(http, server, body["access_token"], oauth.ACCESS_TOKEN_AUDIENCE)
    assert access["amr"] == ["pwd", "otp", "mfa"]
    assert access["client_id"] == oauth.CLIENT_ID
    assert access["scp"] == list(oauth.CODEX_SCOPES)
    assert oauth.is_mfa_assured(server.state.issuer.verify_access_token(body["access_token"]))


async def test_skipping_mfa_that_is_not_enforced_gives_tokens_without_mfa(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True, mfa_enforced=False)
    body = await tokens_for(http, browser, server, created, mfa="skip")
    claims = server.state.issuer.verify_access_token(body["access_token"])
    assert claims.amr == ("pwd",)
    assert "mfa" not in claims.amr and "otp" not in claims.amr


async def test_enforced_mfa_offers_no_skip(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account(mfa=True)
    page = (await browser.open(start_login(server).url)).expect_page()
    page = (
        await browser.press(page, "Continue", {"email": created.account.email, "password": created.password})
    ).expect_page()
    assert page.title == "Verify your identity"
    assert [b.label for b in page.form("mfa").buttons] == ["Verify"]
    with pytest.raises(ElementNotFound):
        await browser.press(page, "Skip for now")


async def test_wrong_password_shows_the_form_again(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account()
    page = (await browser.open(start_login(server).url)).expect_page()
    again = (
        await browser.press(
            page, "Continue", {"email": created.account.email, "password": created.password + "x"}
        )
    ).expect_page()
    assert again.status == 401
    assert again.data == {"page": "sign_in", "error": "wrong_credentials"}
    assert again.form("sign-in").fields[1].value == created.account.email
    assert created.password not in again.html


async def test_wrong_codes_then_lockout(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account(mfa=True)
    page = (await browser.open(start_login(server).url)).expect_page()
    page = (
        await browser.press(page, "Continue", {"email": created.account.email, "password": created.password})
    ).expect_page()
    # Not a code of any time near now either, which the issuer would take for an authenticator whose clock is off.
    wrong = wrong_code(created.totp_secret, server.clock)
    page = (await browser.press(page, "Verify", {"code": wrong})).expect_page()
    assert page.status == 401 and page.data["error"] == "mfa_code_rejected"
    for _ in range(4):
        page = (await browser.press(page, "Verify", {"code": wrong})).expect_page()
    assert page.status == 429 and page.title == "Too many attempts"
    assert page.data == {"page": "mfa_locked", "error": "mfa_locked"}
    assert page.forms == ()

    async def password_step() -> Page:
        page = (await browser.open(start_login(server).url)).expect_page()
        credentials = {"email": created.account.email, "password": created.password}
        return (await browser.press(page, "Continue", credentials)).expect_page()

    still_locked = await password_step()
    assert still_locked.status == 429 and still_locked.data["page"] == "mfa_locked"
    assert (await browser.open(server.issuer_url + "/u/mfa")).expect_page().data["page"] == "mfa_locked"
    server.control.advance_clock(15 * 60 + 1)
    assert (await password_step()).data == {"page": "mfa"}


async def test_workspace_choice_lands_in_the_token(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(
        team_workspaces=(TeamWorkspaceSpec(name="Acme Robotics"),),
    )
    team = created.account.team_workspaces[0]
    page = (await browser.open(start_login(server).url)).expect_page()
    page = (
        await browser.press(page, "Continue", {"email": created.account.email, "password": created.password})
    ).expect_page()
    assert page.title == "Choose a workspace"
    assert [b.label for b in page.form("workspace").buttons] == ["Personal", "Acme Robotics"]

    body = await tokens_for(http, browser, server, created, workspace="Acme Robotics")
    auth = server.state.issuer.verify_access_token(body["access_token"]).auth
    assert auth is not None
    assert auth.chatgpt_account_id == team.id and auth.chatgpt_plan_type == "business"
    body = await tokens_for(http, browser, server, created, workspace="Personal")
    auth = server.state.issuer.verify_access_token(body["access_token"]).auth
    assert auth is not None and auth.chatgpt_account_id == created.account.account_id


async def test_allowed_workspace_ids_narrow_the_choice(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account(team_workspaces=(TeamWorkspaceSpec(name="Acme"),))
    team = created.account.team_workspaces[0]
    login = start_login(server, allowed_workspace_ids=(team.id,))
    page = (await browser.open(login.url)).expect_page()
    page = (
        await browser.press(page, "Continue", {"email": created.account.email, "password": created.password})
    ).expect_page()
    assert page.data["page"] == "consent" and "Acme" in page.text

    nowhere = start_login(server, allowed_workspace_ids=("acct-elsewhere",))
    landed = (await browser.open(nowhere.url)).expect_interception()
    assert landed.params["error"] == "access_denied" and landed.params["state"] == nowhere.state


async def test_cancel_on_consent_redirects_access_denied(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account()
    login = start_login(server)
    landed = await sign_in(browser, server, created, login, consent="Cancel")
    assert landed.params["error"] == "access_denied"
    assert landed.params["state"] == login.state
    assert "code" not in landed.params


async def test_the_phone_app_gets_its_custom_scheme_redirect_unfollowed(server: BackendServer) -> None:
    created = server.control.create_account(mfa=True)
    login = start_login(
        server, client_id=oauth.CHATGPT_APP_CLIENT_ID, redirect_uri=oauth.CHATGPT_APP_REDIRECT_URI
    )
    async with Browser() as phone_browser:
        landed = await sign_in(phone_browser, server, created, login)
        assert landed.scheme == "com.openai.chat"
        assert landed.url.startswith(oauth.CHATGPT_APP_REDIRECT_URI + "?code=")
        assert phone_browser.history[-1].status == 302


async def test_an_open_browser_session_skips_the_password_unless_prompt_login(
    server: BackendServer, browser: Browser
) -> None:
    created = server.control.create_account()
    await sign_in(browser, server, created, start_login(server))
    again = (await browser.open(start_login(server).url)).expect_page()
    assert again.data["page"] == "consent"
    forced = (await browser.open(start_login(server, prompt="login").url)).expect_page()
    assert forced.data["page"] == "sign_in"

    server.control.change_password(created.account.account_id)
    after_change = (await browser.open(start_login(server).url)).expect_page()
    assert after_change.data["page"] == "sign_in"


async def test_the_cookie_is_httponly_and_renewed_at_sign_in(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account()
    await sign_in(browser, server, created, start_login(server))
    set_cookies = [
        value
        for exchange_ in browser.history
        for key, value in exchange_.response_headers
        if key == "set-cookie"
    ]
    assert len(set_cookies) == 2
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in set_cookies)
    first, second = (c.split(";")[0] for c in set_cookies)
    assert first != second


# -- authorize request enforcement ---------------------------------------------------------------------------


async def _authorize(http: httpx.AsyncClient, server: BackendServer, **params: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": oauth.CLIENT_ID,
        "redirect_uri": CALLBACK,
        "code_challenge": oauth.generate_pkce().challenge,
        "code_challenge_method": "S256",
        "state": "s-1",
        "scope": "openid profile email offline_access",
    }
    query.update(params)
    query = {k: v for k, v in query.items() if v != "<drop>"}
    return await http.get(server.issuer_url + "/oauth/authorize?" + urlencode(query))


@pytest.mark.parametrize(
    ("params", "error", "state"),
    [
        ({"code_challenge": "<drop>"}, "invalid_request", "s-1"),
        ({"code_challenge_method": "plain"}, "invalid_request", "s-1"),
        ({"state": "<drop>"}, "invalid_request", None),
        ({"response_type": "token"}, "unsupported_response_type", "s-1"),
    ],
)
async def test_pkce_and_state_are_required(
    server: BackendServer, http: httpx.AsyncClient, params: dict[str, str], error: str, state: str | None
) -> None:
    response = await _authorize(http, server, **params)
    assert response.status_code == 302
    location = httpx.URL(response.headers["Location"])
    assert str(location).startswith(CALLBACK + "?")
    assert location.params["error"] == error
    assert location.params.get("state") == state


@pytest.mark.parametrize(
    "params",
    [{"redirect_uri": "https://evil.example/cb"}, {"client_id": "app_unknown"}, {"redirect_uri": "<drop>"}],
)
async def test_bad_client_or_redirect_gets_an_error_page(
    server: BackendServer, http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await _authorize(http, server, **params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert 'data-page="error"' in response.text


# -- the token endpoint --------------------------------------------------------------------------------------


async def test_wrong_verifier_fails_and_burns_the_code(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    login = start_login(server)
    code = (await sign_in(browser, server, created, login)).params["code"]
    wrong = await exchange(http, server, login, code, code_verifier=oauth.generate_pkce().verifier)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert set(wrong.json()) == {"error", "error_description"}
    retry = await exchange(http, server, login, code)
    assert retry.status_code == 400 and retry.json()["error"] == "invalid_grant"


async def test_code_reuse_fails_and_revokes_what_the_code_gave(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    login = start_login(server)
    code = (await sign_in(browser, server, created, login)).params["code"]
    first = await exchange(http, server, login, code)
    assert first.status_code == 200
    second = await exchange(http, server, login, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    refresh = await http.post(
        server.issuer_url + "/oauth/token",
        json={
            "client_id": oauth.CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
        },
    )
    assert refresh.status_code == 401
    assert refresh.json()["error"]["code"] == "refresh_token_invalidated"


@pytest.mark.parametrize(
    "overrides",
    [{"redirect_uri": oauth.loopback_redirect_uri(1457)}, {"client_id": oauth.CHATGPT_APP_CLIENT_ID}],
)
async def test_code_is_bound_to_redirect_uri_and_client(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    created = server.control.create_account()
    login = start_login(server)
    code = (await sign_in(browser, server, created, login)).params["code"]
    response = await exchange(http, server, login, code, **overrides)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_codes_expire_after_ten_minutes(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    login = start_login(server)
    code = (await sign_in(browser, server, created, login)).params["code"]
    server.control.advance_clock(601)
    response = await exchange(http, server, login, code)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "authorization code expired"}


async def test_unknown_client_is_401_invalid_client(server: BackendServer, http: httpx.AsyncClient) -> None:
    response = await http.post(
        server.issuer_url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "rt_x", "client_id": "app_unknown"},
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def _refresh(http: httpx.AsyncClient, server: BackendServer, token: str) -> httpx.Response:
    # As the Codex CLI sends it: JSON, no scope.
    return await http.post(
        server.issuer_url + "/oauth/token",
        json={"client_id": oauth.CLIENT_ID, "grant_type": "refresh_token", "refresh_token": token},
    )


async def test_refresh_rotates_and_keeps_the_sign_ins_mfa(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True)
    first = await tokens_for(http, browser, server, created)
    refreshed = await _refresh(http, server, first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert oauth.is_mfa_assured(server.state.issuer.verify_access_token(second["access_token"]))

    reused = await _refresh(http, server, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    assert (await _refresh(http, server, second["refresh_token"])).status_code == 200


async def test_a_password_change_revokes_refresh_and_access_tokens(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    body = await tokens_for(http, browser, server, created)
    server.control.change_password(created.account.account_id)
    refused = await _refresh(http, server, body["refresh_token"])
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "refresh_token_invalidated" and error["type"] == "invalid_request_error"
    with pytest.raises(AccessTokenRejected) as caught:
        server.state.issuer.verify_access_token(body["access_token"])
    assert caught.value.reason is TokenRejection.REVOKED


async def test_unknown_refresh_token_is_a_401(server: BackendServer, http: httpx.AsyncClient) -> None:
    response = await _refresh(http, server, "rt_made_up")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"


async def test_access_token_checks(server: BackendServer, browser: Browser, http: httpx.AsyncClient) -> None:
    created = server.control.create_account()
    body = await tokens_for(http, browser, server, created)
    issuer = server.state.issuer
    header, payload, signature = body["access_token"].split(".")
    tampered_payload = json.loads(oauth.b64url_decode(payload))
    tampered_payload["amr"] = ["pwd", "otp", "mfa"]
    tampered = ".".join([header, oauth.b64url_encode(json.dumps(tampered_payload).encode()), signature])
    cases = {
        tampered: TokenRejection.BAD_SIGNATURE,
        body["id_token"]: TokenRejection.WRONG_AUDIENCE,
        "not-a-jwt": TokenRejection.MALFORMED,
        jwt.encode(
            {"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": issuer.kid}
        ): TokenRejection.UNKNOWN_KEY,
    }
    for token, reason in cases.items():
        with pytest.raises(AccessTokenRejected) as caught:
            issuer.verify_access_token(token)
        assert caught.value.reason is reason
    server.control.advance_clock(issuer.settings.access_token_ttl)
    with pytest.raises(AccessTokenRejected) as caught:
        issuer.verify_access_token(body["access_token"])
    assert caught.value.reason is TokenRejection.EXPIRED


async def test_id_token_exchanges_for_an_api_key(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    body = await tokens_for(http, browser, server, created)
    form = {
        "grant_type": oauth.GRANT_TOKEN_EXCHANGE,
        "client_id": oauth.CLIENT_ID,
        "requested_token": "openai-api-key",
        "subject_token": body["id_token"],
        "subject_token_type": oauth.TOKEN_TYPE_ID_TOKEN,
    }
    response = await http.post(server.issuer_url + "/oauth/token", data=form)
    assert response.status_code == 200
    key = response.json()["access_token"]
    assert key.startswith("sk-proj-")
    owner = server.state.issuer.verify_api_key(key)
    assert owner is not None and owner.user_id == created.account.user_id
    bad_subject = await http.post(server.issuer_url + "/oauth/token", data={**form, "subject_token": "x.y.z"})
    assert bad_subject.status_code == 400 and bad_subject.json()["error"] == "invalid_grant"
    bad_target = await http.post(server.issuer_url + "/oauth/token", data={**form, "requested_token": "nope"})
    assert bad_target.status_code == 400 and bad_target.json()["error"] == "invalid_target"


async def test_discovery_and_jwks(server: BackendServer, http: httpx.AsyncClient) -> None:
    discovery = (await http.get(server.issuer_url + "/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == server.issuer_url
    assert discovery["authorization_endpoint"] == server.issuer_url + "/oauth/authorize"
    assert discovery["token_endpoint"] == server.issuer_url + "/oauth/token"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    keys = (await http.get(discovery["jwks_uri"])).json()["keys"]
    assert [k["kid"] for k in keys] == [server.state.issuer.kid]
    assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and keys[0]["alg"] == "ES256"
    assert "d" not in keys[0] and keys[0]["use"] == "sig"


# -- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "content", "status", "error"),
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"grant_type=%ff%fe", 400, "invalid_request"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"\xff\x00\x01", 400, "invalid_request"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"a=1&a=2&grant_type=x",
            400,
            "invalid_request",
        ),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"grant_type=password",
            400,
            "unsupported_grant_type",
        ),
        ({"Content-Type": "text/plain"}, b"grant_type=refresh_token", 400, "invalid_request"),
        ({"Content-Type": "application/json"}, b'["refresh_token"]', 400, "invalid_request"),
        ({"Content-Type": "application/json"}, b"{" * 5000, 400, "invalid_request"),
        ({}, b"", 400, "invalid_request"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"x=" + b"a" * (70 * 1024),
            413,
            "invalid_request",
        ),
    ],
)
async def test_bad_token_requests_get_documented_errors_and_the_server_keeps_serving(
    server: BackendServer,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    status: int,
    error: str,
) -> None:
    response = await http.post(server.issuer_url + "/oauth/token", headers=headers, content=content)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert (await http.get(server.issuer_url + "/.well-known/openid-configuration")).status_code == 200


async def test_a_huge_chunked_body_is_refused(server: BackendServer, http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"a" * 65536

    response = await http.post(
        server.issuer_url + "/oauth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=chunks(),
    )
    assert response.status_code == 413
    assert (await http.get(server.issuer_url + "/.well-known/jwks.json")).status_code == 200


async def test_sign_in_forms_refuse_missing_sessions_bad_csrf_and_bad_bodies(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    no_session = await http.post(server.issuer_url + "/u/login", data={"email": "a", "password": "b"})
    assert no_session.status_code == 400 and 'data-error="session_expired"' in no_session.text

    page = (await browser.open(start_login(server).url)).expect_page()
    cookie = browser.cookies.get("pairsim_auth_session")
    assert cookie
    async with httpx.AsyncClient(
        cookies={"pairsim_auth_session": cookie}, timeout=10, verify=shared_ssl_context()
    ) as forger:
        bad_csrf = await forger.post(
            server.issuer_url + "/u/login", data={"csrf_token": "forged", "email": "a"}
        )
        assert bad_csrf.status_code == 403 and 'data-error="csrf_failed"' in bad_csrf.text
        wrong_type = await forger.post(server.issuer_url + "/u/login", json={"email": "a"})
        assert wrong_type.status_code == 415
        huge = await forger.post(
            server.issuer_url + "/u/login",
            content=b"email=" + b"a" * (20 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert huge.status_code == 413
    # The browser's own sign-in is untouched by all that.
    assert (await browser.open(page.url)).expect_page().data["page"] == "sign_in"


async def test_visiting_a_later_step_early_redirects_to_the_current_one(
    server: BackendServer, browser: Browser
) -> None:
    await browser.open(start_login(server).url)
    page = (await browser.open(server.issuer_url + "/u/consent")).expect_page()
    assert page.data["page"] == "sign_in"


# -- faults --------------------------------------------------------------------------------------------------


async def test_faults_hit_the_named_endpoint_then_stop(
    server: BackendServer, http: httpx.AsyncClient
) -> None:
    server.control.inject_fault("oauth.jwks", Fault(status=503, body={"detail": "down"}, times=2))
    url = server.issuer_url + "/.well-known/jwks.json"
    statuses = [(await http.get(url)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert server.state.faults.applied["oauth.jwks"] == 2


async def test_grant_specific_faults(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account()
    server.control.inject_fault("oauth.token:refresh_token", Fault(status=500, body="boom"))
    body = await tokens_for(http, browser, server, created)  # the code exchange is not affected
    failed = await _refresh(http, server, body["refresh_token"])
    assert failed.status_code == 500 and failed.text == "boom"
    assert (await _refresh(http, server, body["refresh_token"])).status_code == 200


async def test_no_secret_reaches_the_logs(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = server.control.create_account(mfa=True)
    login = start_login(server)
    landed = await sign_in(browser, server, created, login)
    body = (await exchange(http, server, login, landed.params["code"])).json()
    await _refresh(http, server, body["refresh_token"])
    # Only the backend's own loggers: httpx/httpcore are client libraries (their DEBUG output quotes headers).
    server_log = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "POST /oauth/token 200" in server_log, "the access log should have recorded the requests"
    secrets = [created.password, created.totp_secret, landed.params["code"], login.state, login.pkce.verifier]
    secrets += [body["access_token"], body["refresh_token"], body["id_token"]]
    for secret in secrets:
        assert secret and secret not in server_log


async def test_pages_parse_as_plain_forms(server: BackendServer, browser: Browser) -> None:
    page = (await browser.open(start_login(server).url)).expect_page()
    assert isinstance(page, Page)
    form = page.form("sign-in")
    assert [f.name for f in form.visible_fields] == ["email", "password"]
    assert [f.label for f in form.visible_fields] == ["Email address", "Password"]
    assert [f.name for f in form.fields if f.hidden] == ["csrf_token"]
    assert form.method == "post" and form.action == server.issuer_url + "/u/login"


# -- "Remember this device" ----------------------------------------------------------------------------------


async def mfa_sign_in_remembering(browser: Browser, server: BackendServer, created: CreatedAccount) -> None:
    """Sign in with the authenticator code and "Remember this device" ticked."""
    page = (await browser.open(start_login(server).url)).expect_page()
    page = (
        await browser.press(page, "Continue", {"email": created.account.email, "password": created.password})
    ).expect_page()
    assert page.data["page"] == "mfa"
    code = created.totp().at(server.clock.now())
    page = (await browser.press(page, "Verify", {"code": code, "remember_device": "on"})).expect_page()
    assert page.data["page"] == "consent"
    (await browser.press(page, "Allow")).expect_interception()


async def pages_of_a_sign_in(browser: Browser, server: BackendServer, created: CreatedAccount) -> list[str]:
    """Sign in again in this browser, completing whatever the issuer asks; the pages it showed."""
    page = (await browser.open(start_login(server).url)).expect_page()
    shown = []
    while True:
        shown.append(page.data["page"])
        if page.data["page"] == "sign_in":
            navigation = await browser.press(
                page, "Continue", {"email": created.account.email, "password": created.password}
            )
        elif page.data["page"] == "mfa":
            navigation = await browser.press(page, "Verify", {"code": created.totp().at(server.clock.now())})
        else:
            assert page.data["page"] == "consent", page.text
            return shown
        page = navigation.expect_page()


async def test_a_remembered_browser_skips_the_authenticator_and_gets_no_mfa_assurance(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True)
    await mfa_sign_in_remembering(browser, server, created)
    cookie = browser.cookies.get("pairsim_trusted_device")
    assert cookie and cookie.startswith("td_")
    assert server.state.accounts.trusted_devices(created.account.account_id) == 1

    browser.end_session()  # the browser was quit: the sign-in cookie goes, the remembered device stays
    body = await tokens_for(http, browser, server, created)
    claims = server.state.issuer.verify_access_token(body["access_token"])
    assert claims.amr == ("pwd",)  # the account has MFA, the session proves the password only
    assert server.control.account(created.account.account_id).mfa_enabled


async def test_without_remember_the_next_sign_in_asks_for_the_code_again(
    server: BackendServer, browser: Browser
) -> None:
    created = server.control.create_account(mfa=True)
    await sign_in(browser, server, created, start_login(server))
    browser.end_session()
    assert await pages_of_a_sign_in(browser, server, created) == ["sign_in", "mfa", "consent"]


async def test_a_password_change_keeps_the_remembered_device(server: BackendServer, browser: Browser) -> None:
    created = server.control.create_account(mfa=True)
    await mfa_sign_in_remembering(browser, server, created)
    password = server.control.change_password(created.account.account_id)
    # The old sign-in is revoked, so the password is asked again; the authenticator is not (openai/codex#24328).
    changed = CreatedAccount(created.account, password, created.totp_secret)
    assert await pages_of_a_sign_in(browser, server, changed) == ["sign_in", "consent"]


@pytest.mark.parametrize("forget", ["set up MFA again", "security settings", "30 days"])
async def test_a_forgotten_or_expired_device_is_asked_for_the_code_again(
    server: BackendServer, browser: Browser, forget: str
) -> None:
    created = server.control.create_account(mfa=True)
    account_id = created.account.account_id
    await mfa_sign_in_remembering(browser, server, created)
    browser.end_session()
    if forget == "set up MFA again":
        created = CreatedAccount(created.account, created.password, server.control.enable_mfa(account_id))
    elif forget == "security settings":
        assert server.state.accounts.forget_trusted_devices(account_id) == 1
    else:
        server.control.advance_clock(30 * 24 * 3600)
    assert await pages_of_a_sign_in(browser, server, created) == ["sign_in", "mfa", "consent"]
    assert server.state.accounts.trusted_devices(account_id) == 0


async def test_a_device_remembered_for_one_account_does_not_skip_another(
    server: BackendServer, browser: Browser
) -> None:
    dana = server.control.create_account(mfa=True)
    sam = server.control.create_account(mfa=True)
    await mfa_sign_in_remembering(browser, server, dana)
    browser.end_session()
    assert await pages_of_a_sign_in(browser, server, sam) == ["sign_in", "mfa", "consent"]


async def test_a_signed_in_browser_without_mfa_steps_up_once_no_longer_trusted(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True)
    await mfa_sign_in_remembering(browser, server, created)
    browser.end_session()
    assert await pages_of_a_sign_in(browser, server, created) == ["sign_in", "consent"]  # no MFA, still signed in
    # While the device is trusted, the MFA-less session is reused as it is.
    assert await pages_of_a_sign_in(browser, server, created) == ["consent"]
    server.state.accounts.forget_trusted_devices(created.account.account_id)
    # Signed in, but the session lacks MFA the browser may no longer skip: the code first (step-up).
    assert await pages_of_a_sign_in(browser, server, created) == ["mfa", "consent"]
    body = await tokens_for(http, browser, server, created)
    assert oauth.is_mfa_assured(server.state.issuer.verify_access_token(body["access_token"]))


async def test_signing_out_ends_the_session_and_forgets_the_device(
    server: BackendServer, browser: Browser, http: httpx.AsyncClient
) -> None:
    created = server.control.create_account(mfa=True)
    await mfa_sign_in_remembering(browser, server, created)
    before = await tokens_for(http, browser, server, created)
    page = (await browser.open(server.issuer_url + "/u/logout")).expect_page()
    assert page.data["page"] == "sign_out"
    done = (await browser.press(page, "Sign out")).expect_page()
    assert done.data["page"] == "signed_out"
    assert browser.cookies.get("pairsim_trusted_device") is None
    assert server.state.accounts.trusted_devices(created.account.account_id) == 0
    with pytest.raises(AccessTokenRejected):
        server.state.issuer.verify_access_token(before["access_token"])
    assert await pages_of_a_sign_in(browser, server, created) == ["sign_in", "mfa", "consent"]


async def test_a_sign_out_without_its_form_token_is_refused(server: BackendServer, http: httpx.AsyncClient) -> None:
    response = await http.post(server.issuer_url + "/u/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert (await http.get(server.issuer_url + "/.well-known/openid-configuration")).status_code == 200
