"""Time and clocks (issue 10) over real sockets: durations in words, each party's clock, an authenticator whose clock
is off told apart from a typo, revocation of a replaced sign-in, and Codex sessions sharing one refresh token."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators import messages
from simulators.backend.accounts import AccountSpec, AccountStore, CreatedAccount, MfaOutcome
from simulators.backend.issuer import AccessTokenRejected, TokenRejection
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.browser import Browser, Interception, Page, shared_ssl_context
from simulators.clock import FrozenClock
from simulators.daemon.desktop import DesktopSignInError
from simulators.daemon.profiles import Profile
from simulators.login.credential_store import AuthMode, AuthTokens, FileCredentialStore, StoredAuth
from simulators.login.session import TerminalSession
from simulators.phone.sign_in import wrong_code
from simulators.protocol import oauth
from simulators.world import World
from simulators.world.time import ClockOutOfReach, UnknownDuration, WorldTime, seconds_in

CALLBACK = oauth.loopback_redirect_uri(1455)


# -- durations in words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "seconds"),
    [
        ("90 seconds", 90.0), ("a minute", 60.0), ("an hour", 3600.0), ("10 minutes", 600.0), ("8 days", 691200.0),
        ("31 days", 2678400.0), ("1 day", 86400.0), ("one week", 604800.0), ("1.5 hours", 5400.0),
        ("10 minutes and 30 seconds", 630.0), ("a day, 2 hours", 93600.0), ("2 Hours", 7200.0),
    ],
)
def test_durations_in_words(words: str, seconds: float) -> None:
    assert seconds_in(words) == seconds


@pytest.mark.parametrize("words", ["", "soon", "10", "minutes", "-5 minutes", "10 fortnights", "a minute ago"])
def test_anything_else_is_a_typed_error(words: str) -> None:
    with pytest.raises(UnknownDuration, match="is not a duration"):
        seconds_in(words)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["second", "minute", "hour", "day", "week"])),
                min_size=1, max_size=4))
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    words = " and ".join(f"{amount} {unit}s" for amount, unit in parts)
    lengths = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
    assert seconds_in(words) == sum(amount * lengths[unit] for amount, unit in parts)


# -- each party's clock ----------------------------------------------------------------------------------------


def test_time_passes_for_every_party_and_an_offset_moves_one() -> None:
    time = WorldTime(FrozenClock())
    phone, mac = time.of("phone:Dana's phone"), time.of("mac")
    time.set_off("phone:Dana's phone", 180)
    time.passes(600)
    assert mac.now() == time.clock.now() and phone.now() == time.clock.now() + 180
    assert time.authenticator("Dana") is phone
    with pytest.raises(ValueError, match="forwards"):
        time.passes(-1)


def test_the_real_daemons_clock_is_out_of_reach() -> None:
    # Nothing starts: the world refuses before it would touch a Mac.
    world = World(daemon="codex")
    with pytest.raises(ClockOutOfReach, match="machine's clock"):
        world.set_clock_off("Dana's Mac", 60)
    with pytest.raises(ValueError, match="whose clock"):
        world.set_clock_off("the moon", 60)


# -- the authenticator's clock ---------------------------------------------------------------------------------


def test_a_refused_code_of_another_time_near_now_tells_how_far_the_clock_is_off() -> None:
    clock = FrozenClock(instant=1_800_000_015.0)  # mid-step, so no code sits on a step boundary
    store = AccountStore(clock)
    created = store.create(AccountSpec(mfa=True))
    account = created.account.user_id
    totp = pyotp.TOTP(created.totp_secret or "")
    ahead = totp.at(clock.now() + 180)
    assert store.verify_totp(account, ahead) is MfaOutcome.REJECTED
    assert store.totp_drift(account, ahead) == 180.0
    behind = totp.at(clock.now() - 120)
    assert store.verify_totp(account, behind) is MfaOutcome.REJECTED
    assert store.totp_drift(account, behind) == -120.0
    # Within one step either side the code is good, and a typo (no code of any time near now) is just wrong.
    assert store.verify_totp(account, totp.at(clock.now() + 20)) is MfaOutcome.ACCEPTED
    assert store.totp_drift(account, wrong_code(created.totp_secret, clock)) is None
    assert store.totp_drift(account, totp.at(clock.now() + 3600)) is None
    assert store.totp_drift(account, "not a code") is None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _mfa_page(server: BackendServer, browser: Browser, created: CreatedAccount) -> Page:
    request = oauth.AuthorizeRequest(client_id=oauth.CLIENT_ID, redirect_uri=CALLBACK,
                                     code_challenge=oauth.generate_pkce().challenge, state=oauth.generate_state())
    page = (await browser.open(request.url(server.issuer_url))).expect_page()
    credentials = {"email": created.account.email, "password": created.password}
    return (await browser.press(page, "Continue", credentials)).expect_page()


@pytest.mark.anyio
@pytest.mark.parametrize(("typed_errors", "error"), [(True, "mfa_clock_off"), (False, "mfa_code_rejected")])
async def test_the_fixed_issuer_names_a_clock_that_is_off_and_todays_says_only_that_the_code_failed(
    typed_errors: bool, error: str
) -> None:
    async with BackendServer(BackendState.create(seed=5, typed_errors=typed_errors)) as server, \
            Browser(intercept=[CALLBACK]) as browser:
        created = server.control.create_account(mfa=True)
        page = await _mfa_page(server, browser, created)
        fast = created.totp().at(server.clock.now() + 180)
        refused = (await browser.press(page, "Verify", {"code": fast})).expect_page()
        assert refused.status == 401 and refused.data == {"page": "mfa", "error": error}
        typo = (await browser.press(refused, "Verify", {"code": wrong_code(created.totp_secret, server.clock)}))
        assert typo.expect_page().data == {"page": "mfa", "error": "mfa_code_rejected"}
        right = await browser.press(typo.expect_page(), "Verify", {"code": created.totp().at(server.clock.now())})
        assert right.expect_page().data["page"] == "consent"


# -- revocation of a replaced sign-in --------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[BackendServer]:
    async with BackendServer(BackendState.create(seed=9)) as backend:
        yield backend


async def _tokens(server: BackendServer, browser: Browser, created: CreatedAccount) -> dict:
    pkce, state = oauth.generate_pkce(), oauth.generate_state()
    request = oauth.AuthorizeRequest(client_id=oauth.CLIENT_ID, redirect_uri=CALLBACK, code_challenge=pkce.challenge,
                                     state=state)
    navigation = await browser.open(request.url(server.issuer_url))
    while not isinstance(navigation, Interception):
        page = navigation.expect_page()
        name = page.data["page"]
        if name == "sign_in":
            navigation = await browser.press(page, "Continue",
                                             {"email": created.account.email, "password": created.password})
        else:
            assert name == "consent", page.text
            navigation = await browser.press(page, "Allow")
    async with httpx.AsyncClient(verify=shared_ssl_context()) as http:
        response = await http.post(server.issuer_url + "/oauth/token", data={
            "grant_type": "authorization_code", "code": navigation.params["code"], "redirect_uri": CALLBACK,
            "client_id": oauth.CLIENT_ID, "code_verifier": pkce.verifier})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.anyio
async def test_revoking_a_refresh_token_ends_its_grant_and_not_a_newer_one_of_the_same_browser(
    server: BackendServer,
) -> None:
    created = server.control.create_account()
    async with Browser(intercept=[CALLBACK]) as browser, httpx.AsyncClient(verify=shared_ssl_context()) as http:
        old = await _tokens(server, browser, created)
        new = await _tokens(server, browser, created)  # the same browser, still signed in: the same session
        issuer = server.state.issuer
        assert issuer.verify_access_token(old["access_token"]).sid == issuer.verify_access_token(
            new["access_token"]).sid
        revoke = {"token": old["refresh_token"], "token_type_hint": "refresh_token", "client_id": oauth.CLIENT_ID}
        assert (await http.post(server.issuer_url + "/oauth/revoke", data=revoke)).status_code == 200
        with pytest.raises(AccessTokenRejected) as caught:
            issuer.verify_access_token(old["access_token"])
        assert caught.value.reason is TokenRejection.REVOKED
        issuer.verify_access_token(new["access_token"])
        refused = await http.post(server.issuer_url + "/oauth/token", json={
            "grant_type": "refresh_token", "refresh_token": old["refresh_token"], "client_id": oauth.CLIENT_ID})
        assert refused.json()["error"]["code"] == "refresh_token_invalidated"
        # RFC 7009: an unknown token is still a 200, a request without one is a 400, and the server keeps serving.
        unknown = {"token": "rt_nothing", "client_id": oauth.CLIENT_ID}
        assert (await http.post(server.issuer_url + "/oauth/revoke", json=unknown)).status_code == 200
        assert (await http.post(server.issuer_url + "/oauth/revoke", data={"token": "x"})).status_code == 400
        assert (await http.post(server.issuer_url + "/oauth/revoke", content=b"\xff",
                                headers={"Content-Type": "text/plain"})).status_code == 400
        issuer.verify_access_token(new["access_token"])


# -- Codex sessions sharing one sign-in ------------------------------------------------------------------------


def _save(home: Path, body: dict) -> None:
    FileCredentialStore(home).save(StoredAuth(
        auth_mode=AuthMode.CHATGPT, tokens=AuthTokens(body["id_token"], body["access_token"], body["refresh_token"],
                                                      None)))


def _session(server: BackendServer, home: Path, profile: Profile) -> TerminalSession:
    session = TerminalSession(home, issuer_url=server.issuer_url, backend_url=server.issuer_url,
                              clock=server.clock, profile=profile)
    session.start()
    return session


@pytest.mark.anyio
@pytest.mark.parametrize(("profile", "loser_says"), [
    (Profile.LEGACY, messages.CLI_REFRESH_TOKEN_REUSED), (Profile.FIXED, messages.CLI_SIGN_IN_USED_ELSEWHERE),
])
async def test_sessions_on_one_home_share_the_refresh_and_a_copy_elsewhere_loses_the_race(
    server: BackendServer, tmp_path: Path, profile: Profile, loser_says: str
) -> None:
    created = server.control.create_account()
    async with Browser(intercept=[CALLBACK]) as browser:
        body = await _tokens(server, browser, created)
    mac, dev = tmp_path / "mac", tmp_path / "dev"
    _save(mac, body)
    _save(dev, body)
    first, second, copy = (_session(server, home, profile) for home in (mac, mac, dev))
    try:
        assert await first.ask() == messages.CLI_ANSWERED
        server.control.advance_clock(11 * 86400)
        assert await first.ask() == messages.CLI_ANSWERED  # refreshed, and wrote the new sign-in
        saved = json.loads((mac / "auth.json").read_text())
        assert saved["tokens"]["refresh_token"] != body["refresh_token"]
        assert stat.S_IMODE(os.stat(mac / "auth.json").st_mode) == 0o600
        # The second session of the same home reads auth.json again before refreshing, and takes the new one.
        assert await second.ask() == messages.CLI_ANSWERED
        assert json.loads((mac / "auth.json").read_text()) == saved
        # The copy has no file to share: its refresh token is the one already used.
        assert await copy.ask() == loser_says
        assert copy.output == [loser_says]
    finally:
        for session in (first, second, copy):
            await session.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(("profile", "copy_says"), [
    (Profile.LEGACY, "unexpected status 401 Unauthorized: The access token was rejected (revoked)., auth error code: "
                     "token_revoked"),
    (Profile.FIXED, messages.CLI_SIGN_IN_REPLACED_ELSEWHERE),
])
async def test_a_revoked_sign_in_is_refused_to_its_copy(
    server: BackendServer, tmp_path: Path, profile: Profile, copy_says: str
) -> None:
    created = server.control.create_account()
    async with Browser(intercept=[CALLBACK]) as browser:
        body = await _tokens(server, browser, created)
    _save(tmp_path, body)
    copy = _session(server, tmp_path, profile)
    try:
        assert server.state.issuer.revoke(body["refresh_token"], oauth.CLIENT_ID)
        assert await copy.ask() == copy_says
    finally:
        await copy.aclose()


def test_the_code_typed_on_the_mac_comes_from_the_authenticator_on_her_phone(tmp_path: Path) -> None:
    # Her Mac's clock is right and her phone's is not: the Mac's sign-in is refused, because the code she types there
    # is the one her phone shows.
    with World(root=tmp_path, seed=11) as world:
        world.people.create("Dana", mfa=True)
        world.set_clock_off("Dana's phone", 180)
        with pytest.raises(DesktopSignInError, match="mfa_clock_off"):
            world.mac().sign_in("Dana")
        world.set_clock_off("Dana's phone", 0)
        world.set_clock_off("Dana's Mac", 180)
        world.mac().sign_in("Dana")
        assert "mfa" in world.mac().sign_in_pages
