"""The pure OAuth core: PKCE, state, the authorize URL, request parsers and the JWT claim model."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.protocol import oauth
from simulators.protocol.errors import ErrorCode, ProtocolError
from simulators.protocol.oauth import (
    AuthorizeErrorCode,
    AuthorizeRequestError,
    ClaimsError,
    TokenClaims,
    TokenErrorCode,
    TokenRequestError,
)

# The authorize URL `codex login` 0.169.0 printed (observed), rebuilt below from its parts.
OBSERVED_CHALLENGE = "PAM1cUnXPkbcDyIolvK1xFokzFOOVox93hT3AAycz4M"
OBSERVED_STATE = "cBX88hMkasBZuglXxPtQmDcO3Yw0J31DYwoKSe57_OU"
OBSERVED_URL = (
    "https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback"
    f"&code_challenge={OBSERVED_CHALLENGE}&code_challenge_method=S256&state={OBSERVED_STATE}"
    "&scope=openid+profile+email+offline_access+api.connectors.read+api.connectors.invoke"
    "&id_token_add_organizations=true&codex_cli_simplified_flow=true&originator=codex_cli_rs"
)


def _query(url: str) -> str:
    return urlsplit(url).query


def _valid_request(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": oauth.CLIENT_ID,
        "redirect_uri": "http://127.0.0.1:1455/auth/callback",
        "code_challenge": OBSERVED_CHALLENGE,
        "code_challenge_method": "S256",
        "state": OBSERVED_STATE,
        "scope": "openid profile email offline_access",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != "<drop>"}


# -- PKCE and state ------------------------------------------------------------------------------------------


def test_pkce_matches_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oauth.verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_generated_pkce_is_64_random_bytes_and_its_s256_challenge() -> None:
    pkce = oauth.generate_pkce(oauth.seeded_random_bytes(1))
    assert len(pkce.verifier) == 86 and "=" not in pkce.verifier
    assert len(oauth.b64url_decode(pkce.verifier)) == 64
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert oauth.b64url_decode(pkce.challenge) == digest
    assert oauth.verify_pkce(pkce.verifier, pkce.challenge)
    assert pkce.verifier not in repr(pkce)


def test_injected_randomness_makes_pkce_and_state_deterministic() -> None:
    assert oauth.generate_pkce(oauth.seeded_random_bytes(5)) == oauth.generate_pkce(
        oauth.seeded_random_bytes(5)
    )
    assert oauth.generate_pkce(oauth.seeded_random_bytes(5)) != oauth.generate_pkce(
        oauth.seeded_random_bytes(6)
    )
    state = oauth.generate_state(oauth.seeded_random_bytes(5))
    assert len(state) == 43 and state == oauth.generate_state(oauth.seeded_random_bytes(5))


@pytest.mark.parametrize(
    "verifier",
    [
        "",
        "short",
        "x" * 129,
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk!",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
    ],
)
def test_wrong_or_malformed_verifiers_fail(verifier: str) -> None:
    assert not oauth.verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


@given(st.text(max_size=200))
def test_b64url_decode_gives_bytes_or_a_protocol_error(text: str) -> None:
    try:
        decoded = oauth.b64url_decode(text)
    except ProtocolError:
        return
    assert oauth.b64url_encode(decoded) == text


# -- the authorize URL ---------------------------------------------------------------------------------------


def test_authorize_url_is_byte_for_byte_what_codex_login_prints() -> None:
    pkce = oauth.PkceCodes(verifier="unused", challenge=OBSERVED_CHALLENGE)
    url = oauth.build_authorize_url(
        oauth.DEFAULT_ISSUER, redirect_uri=oauth.loopback_redirect_uri(1455), pkce=pkce, state=OBSERVED_STATE
    )
    assert url == OBSERVED_URL


def test_allowed_workspace_ids_are_comma_joined_at_the_end() -> None:
    pkce = oauth.PkceCodes(verifier="unused", challenge=OBSERVED_CHALLENGE)
    url = oauth.build_authorize_url(
        "http://127.0.0.1:9/",
        redirect_uri=oauth.loopback_redirect_uri(1457),
        pkce=pkce,
        state=OBSERVED_STATE,
        allowed_workspace_ids=["acct-1", "acct-2"],
    )
    assert url.startswith("http://127.0.0.1:9/oauth/authorize?response_type=code&")
    assert url.endswith("&originator=codex_cli_rs&allowed_workspace_id=acct-1%2Cacct-2")


def test_parsing_the_observed_url_gives_back_the_request_that_builds_it() -> None:
    request = oauth.parse_authorize_request(_query(OBSERVED_URL))
    assert request.client_id == oauth.CLIENT_ID
    assert request.redirect_uri == "http://127.0.0.1:1455/auth/callback"
    assert request.scopes == oauth.CODEX_SCOPES
    assert request.originator == "codex_cli_rs"
    assert request.url() == OBSERVED_URL


# -- authorize request errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "<drop>"}, AuthorizeErrorCode.INVALID_REQUEST),
        ({"client_id": "app_someone_else"}, AuthorizeErrorCode.UNAUTHORIZED_CLIENT),
        ({"redirect_uri": "<drop>"}, AuthorizeErrorCode.INVALID_REQUEST),
        ({"redirect_uri": "https://evil.example/cb"}, AuthorizeErrorCode.INVALID_REQUEST),
        ({"redirect_uri": "http://127.0.0.1/auth/callback"}, AuthorizeErrorCode.INVALID_REQUEST),
        ({"redirect_uri": "com.openai.chat://auth0.openai.com/cb"}, AuthorizeErrorCode.INVALID_REQUEST),
    ],
)
def test_bad_client_or_redirect_is_never_redirected(
    overrides: dict[str, str], error: AuthorizeErrorCode
) -> None:
    with pytest.raises(AuthorizeRequestError) as caught:
        oauth.parse_authorize_request(_valid_request(**overrides))
    assert caught.value.error is error
    assert not caught.value.redirectable
    assert caught.value.code is ErrorCode.SIGN_IN_FAILED


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        ({"code_challenge": "<drop>"}, AuthorizeErrorCode.INVALID_REQUEST, "code challenge required"),
        ({"code_challenge_method": "plain"}, AuthorizeErrorCode.INVALID_REQUEST, "transform algorithm"),
        ({"code_challenge_method": "<drop>"}, AuthorizeErrorCode.INVALID_REQUEST, "transform algorithm"),
        ({"code_challenge": "too-short"}, AuthorizeErrorCode.INVALID_REQUEST, "S256"),
        ({"response_type": "token"}, AuthorizeErrorCode.UNSUPPORTED_RESPONSE_TYPE, "code"),
        ({"scope": "profile email"}, AuthorizeErrorCode.INVALID_SCOPE, "openid"),
        ({"scope": "openid admin"}, AuthorizeErrorCode.INVALID_SCOPE, "admin"),
        ({"prompt": "none"}, AuthorizeErrorCode.INVALID_REQUEST, "prompt"),
    ],
)
def test_bad_request_with_good_redirect_goes_back_to_the_client_with_state(
    overrides: dict[str, str], error: AuthorizeErrorCode, fragment: str
) -> None:
    with pytest.raises(AuthorizeRequestError) as caught:
        oauth.parse_authorize_request(_valid_request(**overrides))
    exc = caught.value
    assert exc.error is error and fragment in exc.description
    location = exc.redirect_location()
    assert location.startswith("http://127.0.0.1:1455/auth/callback?error=")
    assert f"state={OBSERVED_STATE}" in location


def test_missing_state_is_refused_and_the_redirect_carries_no_state() -> None:
    with pytest.raises(AuthorizeRequestError) as caught:
        oauth.parse_authorize_request(_valid_request(state="<drop>"))
    assert caught.value.redirectable and caught.value.state is None
    assert "state=" not in caught.value.redirect_location()


def test_a_repeated_parameter_is_refused() -> None:
    query = _query(OBSERVED_URL) + "&state=second"
    with pytest.raises(AuthorizeRequestError, match="repeated"):
        oauth.parse_authorize_request(query)


def test_the_phone_app_client_uses_its_custom_scheme() -> None:
    request = oauth.parse_authorize_request(
        _valid_request(client_id=oauth.CHATGPT_APP_CLIENT_ID, redirect_uri=oauth.CHATGPT_APP_REDIRECT_URI)
    )
    assert request.redirect_uri.startswith("com.openai.chat://")
    with pytest.raises(AuthorizeRequestError):
        oauth.parse_authorize_request(
            _valid_request(client_id=oauth.CHATGPT_APP_CLIENT_ID, redirect_uri="http://127.0.0.1:1455/cb")
        )


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("http://localhost:1455/auth/callback", True),
        ("http://127.0.0.1:1457/auth/callback", True),
        ("http://[::1]:8080/cb", True),
        ("http://127.0.0.1:1455/auth/callback?x=1", True),
        ("http://localhost/auth/callback", False),
        ("https://127.0.0.1:1455/auth/callback", False),
        ("http://127.0.0.2:1455/auth/callback", False),
        ("http://user:pw@127.0.0.1:1455/cb", False),
        ("http://127.0.0.1:1455/cb#frag", False),
        ("http://127.0.0.1:99999/cb", False),
        ("http://127.0.0.1:0/cb", False),
    ],
)
def test_loopback_redirect_rule(uri: str, ok: bool) -> None:
    assert oauth.is_loopback_redirect(uri) is ok


@given(st.text(max_size=300))
def test_any_query_string_parses_or_raises_a_typed_error(query: str) -> None:
    try:
        request = oauth.parse_authorize_request(query)
    except AuthorizeRequestError as exc:
        assert exc.error in AuthorizeErrorCode
        return
    assert oauth.parse_authorize_request(_query(request.url())) == request


@given(st.dictionaries(st.sampled_from([*sorted(_valid_request()), "prompt", "nonce"]), st.text(max_size=60)))
def test_any_parameter_mix_parses_or_raises_a_typed_error(params: dict[str, str]) -> None:
    merged = {**_valid_request(), **params}
    try:
        request = oauth.parse_authorize_request(merged)
    except AuthorizeRequestError:
        return
    assert oauth.parse_authorize_request(_query(request.url())) == request


# -- token requests ------------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def test_authorization_code_form_parses() -> None:
    body = (
        b"grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fcb"
        b"&client_id=c&code_verifier=v"
    )
    grant = oauth.parse_token_request(FORM + "; charset=utf-8", body)
    assert grant == oauth.AuthorizationCodeGrant(
        code="abc", redirect_uri="http://127.0.0.1:1455/cb", client_id="c", code_verifier="v"
    )
    assert "abc" not in repr(grant)


def test_refresh_as_json_like_the_codex_cli_sends_it() -> None:
    body = json.dumps({"client_id": oauth.CLIENT_ID, "grant_type": "refresh_token", "refresh_token": "rt_1"})
    grant = oauth.parse_token_request("application/json", body.encode())
    assert grant == oauth.RefreshTokenGrant(refresh_token="rt_1", client_id=oauth.CLIENT_ID)


def test_token_exchange_parses() -> None:
    body = (
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=c&requested_token=openai-api-key"
        "&subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
    )
    grant = oauth.parse_token_request(FORM, body.encode())
    assert isinstance(grant, oauth.TokenExchangeGrant) and grant.requested_token == "openai-api-key"


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("text/plain", b"grant_type=refresh_token", TokenErrorCode.INVALID_REQUEST),
        (None, b"grant_type=refresh_token", TokenErrorCode.INVALID_REQUEST),
        (FORM, b"grant_type=password&username=a", TokenErrorCode.UNSUPPORTED_GRANT_TYPE),
        (FORM, b"", TokenErrorCode.INVALID_REQUEST),
        (FORM, b"grant_type=refresh_token&client_id=c", TokenErrorCode.INVALID_REQUEST),
        (FORM, b"grant_type=refresh_token&grant_type=refresh_token", TokenErrorCode.INVALID_REQUEST),
        (FORM, b"grant_type=%ff", TokenErrorCode.INVALID_REQUEST),
        (FORM, b"\xff\xfe", TokenErrorCode.INVALID_REQUEST),
        ("application/json", b"[1, 2]", TokenErrorCode.INVALID_REQUEST),
        ("application/json", b'{"grant_type": 5}', TokenErrorCode.INVALID_REQUEST),
        ("application/json", b"{not json", TokenErrorCode.INVALID_REQUEST),
    ],
)
def test_bad_token_requests_raise_rfc_6749_errors(
    content_type: str | None, body: bytes, error: TokenErrorCode
) -> None:
    with pytest.raises(TokenRequestError) as caught:
        oauth.parse_token_request(content_type, body)
    assert caught.value.error is error
    assert caught.value.to_body()["error"] == error.value
    assert caught.value.status == 400


@given(
    st.sampled_from([FORM, "application/json", "text/html", "", "multipart/form-data"]),
    st.binary(max_size=400),
)
def test_any_token_body_gives_a_grant_or_a_typed_error(content_type: str, body: bytes) -> None:
    try:
        grant = oauth.parse_token_request(content_type, body)
    except TokenRequestError as exc:
        assert exc.status in (400, 401)
        return
    assert grant.client_id


# -- claims --------------------------------------------------------------------------------------------------


def _claims(**overrides: object) -> TokenClaims:
    fields: dict[str, object] = {
        "iss": "http://127.0.0.1:1",
        "sub": "user-1",
        "aud": (oauth.ACCESS_TOKEN_AUDIENCE,),
        "exp": 2_000_000_000,
        "iat": 1_999_999_000,
        "auth_time": 1_999_999_000,
        "sid": "sid-1",
        "amr": oauth.amr_for_sign_in(mfa_completed=True),
        "auth": oauth.OpenAIAuthClaims(
            chatgpt_account_id="acct-1",
            chatgpt_plan_type="plus",
            chatgpt_user_id="user-1",
            organization_id="org-1",
            project_id="proj_1",
        ),
        "email": "dana@example.com",
        "scopes": ("openid", "email"),
        "client_id": oauth.CLIENT_ID,
        "jti": "j1",
    }
    fields.update(overrides)
    return TokenClaims(**fields)  # type: ignore[arg-type]


def test_claims_round_trip_through_a_jwt_payload() -> None:
    claims = _claims()
    payload = claims.to_payload()
    assert payload[oauth.AUTH_CLAIM_NAMESPACE]["chatgpt_account_id"] == "acct-1"
    assert payload[oauth.AUTH_CLAIM_NAMESPACE]["user_id"] == "user-1"
    assert payload["amr"] == ["pwd", "otp", "mfa"]
    assert TokenClaims.from_payload(json.loads(json.dumps(payload))) == claims


def test_id_token_audience_stays_a_string() -> None:
    claims = _claims(aud=oauth.CLIENT_ID, scopes=(), client_id=None)
    assert claims.to_payload()["aud"] == oauth.CLIENT_ID
    assert TokenClaims.from_payload(claims.to_payload()) == claims


def test_mfa_assurance_comes_from_amr_only() -> None:
    assert oauth.is_mfa_assured(_claims())
    assert not oauth.is_mfa_assured(_claims(amr=oauth.amr_for_sign_in(mfa_completed=False)))
    assert oauth.is_mfa_assured({"amr": ["pwd", "otp", "mfa"]})
    assert not oauth.is_mfa_assured({"amr": ["pwd", "otp"]})
    assert not oauth.is_mfa_assured({"amr": "mfa"})
    assert not oauth.is_mfa_assured({})


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("sid"),
        lambda p: p.update(exp="soon"),
        lambda p: p.update(exp=True),
        lambda p: p.update(aud=[]),
        lambda p: p.update(amr="pwd"),
        lambda p: p.update({oauth.AUTH_CLAIM_NAMESPACE: "acct"}),
        lambda p: p[oauth.AUTH_CLAIM_NAMESPACE].pop("chatgpt_account_id"),
        lambda p: p[oauth.AUTH_CLAIM_NAMESPACE].update(is_org_owner="yes"),
    ],
)
def test_malformed_claims_raise_claims_error(mutate: object) -> None:
    payload = _claims().to_payload()
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(ClaimsError):
        TokenClaims.from_payload(payload)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=6,
)


@given(st.dictionaries(st.sampled_from(sorted(_claims().to_payload())), _json_values, max_size=12))
def test_any_json_payload_gives_claims_or_claims_error(overrides: dict[str, object]) -> None:
    payload = {**_claims().to_payload(), **overrides}
    try:
        claims = TokenClaims.from_payload(payload)
    except ClaimsError:
        return
    assert isinstance(claims.mfa_assured, bool)
