"""The ChatGPT service's clock and the Mac's, over real sockets: what the service issues by its own clock (server
tokens, JWTs, the `Date` of its answers, the authenticator codes it accepts), and what the mock daemon and the desktop
do when the Mac's clock is ahead of it by more than a server token's hour (issue 10, entry 4).

Each test starts the backend on an ephemeral port with its own clock, a mock daemon and desktop with the Mac's, both
over one world clock, and drives them as the desktop does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import jwt
import pyotp
import pytest

from simulators import messages
from simulators.backend.accounts import CreatedAccount
from simulators.backend.environments import REMOTE_CONTROL_TOKEN_TTL
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock, SkewedClock
from simulators.daemon.app_server import AppServer
from simulators.daemon.desktop import (
    PAIRING_TOKEN_EXPIRED,
    DesktopApp,
    DesktopSignInError,
    QrShown,
    Remediation,
    how_far,
)
from simulators.daemon.profiles import Profile
from simulators.daemon.remote_control import RemoteControlController
from simulators.daemon.store import DaemonStore
from simulators.protocol import jsonrpc
from simulators.protocol.remote_control import SERVER_TOKEN_REFRESH_SKEW_SECONDS
from simulators.world import World

HOUR = 3600.0
PAIR_PATH = "/backend-api/wham/remote/control/server/pair"
REFRESH_PATH = "/backend-api/wham/remote/control/server/refresh"
# What a request's own time adds to a comparison of two clocks read a moment apart (`Date` is whole seconds).
MOMENT = 2.0


@dataclass
class Mac:
    service_clock: SkewedClock
    mac_clock: SkewedClock
    state: BackendState
    server: BackendServer
    desktop: DesktopApp
    controller: RemoteControlController
    account: CreatedAccount

    def posted(self, path: str) -> list[int]:
        return [entry["status"] for entry in self.state.traffic.entries
                if entry["method"] == "POST" and entry["path"] == path]


@asynccontextmanager
async def mac_and_service(tmp_path: Path, *, mac_ahead: float = 0.0, service_ahead: float = 0.0,
                          profile: Profile = Profile.FIXED) -> AsyncIterator[Mac]:
    """A backend and a Mac on one world clock, each off by its own offset; the Mac signed in (with its authenticator
    code of the service's time) and connected to the relay."""
    world = Clock()
    service_clock = SkewedClock(parent=world, offset=service_ahead)
    mac_clock = SkewedClock(parent=world, offset=mac_ahead)
    state = BackendState.create(service_clock, seed=7, typed_errors=profile is Profile.FIXED)
    server = BackendServer(state)
    await server.start()
    home = tmp_path / "mac"
    store = DaemonStore.open(home)
    app = AppServer(home, mac_clock, "dana-mac", store.installation_id())
    desktop = DesktopApp(home, issuer_url=server.issuer_url, backend_origin=server.base_url or "", clock=mac_clock,
                         profile=profile)
    app.account_provider = desktop.account
    controller = RemoteControlController(app, store, desktop, base_url=server.chatgpt_base_url, profile=profile,
                                         clock=mac_clock)
    desktop.attach(controller)
    try:
        account = server.control.create_account(mfa=True)
        assert account.totp_secret is not None
        code = pyotp.TOTP(account.totp_secret).at(int(service_clock.now()))
        await desktop.sign_in(account.account.email, account.password, code)
        await controller.enable()
        await controller.wait_for_status("connected")
        yield Mac(service_clock, mac_clock, state, server, desktop, controller, account)
    finally:
        await controller.close()
        await app.close()
        await desktop.aclose()
        store.close()
        await server.stop()


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the mock daemon


@pytest.mark.parametrize(("mac_ahead", "service_ahead"), [(2 * HOUR, 0.0), (0.0, -2 * HOUR)],
                         ids=["mac-fast", "service-slow"])
def test_pairing_is_refused_when_even_a_renewed_token_has_expired_by_the_macs_clock(
        tmp_path: Path, mac_ahead: float, service_ahead: float) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, mac_ahead=mac_ahead, service_ahead=service_ahead) as mac:
            with pytest.raises(jsonrpc.RpcMethodError) as refused:
                await mac.controller.start_pairing()
            assert (refused.value.rpc_error.code, refused.value.message) == (jsonrpc.INVALID_REQUEST,
                                                                           PAIRING_TOKEN_EXPIRED)
            # It renewed first (the token had no time left by the Mac's clock), and asked for no code after.
            assert mac.posted(REFRESH_PATH) == [200]
            assert mac.posted(PAIR_PATH) == []
            # Nothing else is wrong: the relay, on the service's time, still takes the token.
            assert mac.controller.status.value == "connected"

    run(scenario())


@pytest.mark.parametrize("ahead", [HOUR - 5 * 60, HOUR - SERVER_TOKEN_REFRESH_SKEW_SECONDS / 3],
                         ids=["five-minutes-left", "ten-seconds-left"])
def test_a_token_with_time_left_by_the_macs_clock_still_pairs(tmp_path: Path, ahead: float) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, mac_ahead=ahead) as mac:
            started = await mac.controller.start_pairing()
            assert started["pairingCode"]
            # With 30 s or less left it renewed first, and the renewed token, seconds from expiry, still served.
            renewed = ahead > REMOTE_CONTROL_TOKEN_TTL - SERVER_TOKEN_REFRESH_SKEW_SECONDS
            assert mac.posted(REFRESH_PATH) == ([200] if renewed else [])
            assert mac.posted(PAIR_PATH) == [200]

    run(scenario())


def test_once_the_clocks_agree_the_next_renewal_pairs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, service_ahead=-2 * HOUR) as mac:
            with pytest.raises(jsonrpc.RpcMethodError):
                await mac.controller.start_pairing()
            mac.service_clock.offset = 0.0
            started = await mac.controller.start_pairing()
            assert started["expiresAt"] > mac.mac_clock.now()
            assert mac.posted(REFRESH_PATH) == [200, 200]

    run(scenario())


# ------------------------------------------------------------------------------------------- the service's clock


def test_the_service_issues_server_tokens_by_its_own_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, service_ahead=-2 * HOUR) as mac:
            enrolled = next(entry for entry in mac.state.traffic.entries if entry["path"].endswith("/server/enroll"))
            expires_at = parsedate_or_rfc3339(enrolled["response_body"]["expires_at"])
            assert abs(expires_at - (mac.service_clock.now() + REMOTE_CONTROL_TOKEN_TTL)) <= MOMENT
            assert expires_at < mac.mac_clock.now()  # an hour past, by the Mac's clock

    run(scenario())


def test_the_services_answers_are_dated_by_its_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, service_ahead=-2 * HOUR) as mac, httpx.AsyncClient() as http:
            for path in ("/.well-known/openid-configuration", "/no/such/route"):
                response = await http.get(f"{mac.server.issuer_url}{path}")
                served = parsedate_to_datetime(response.headers["date"]).timestamp()
                assert abs(served - mac.service_clock.now()) <= MOMENT, (path, response.headers["date"])

    run(scenario())


def test_the_services_sign_in_tokens_are_stamped_by_its_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, service_ahead=-2 * HOUR) as mac:
            tokens = mac.desktop._tokens
            assert tokens is not None
            for token in (tokens.access_token, tokens.id_token):
                claims = jwt.decode(token, options={"verify_signature": False})
                assert abs(claims["iat"] - mac.service_clock.now()) <= MOMENT
                assert claims["exp"] > claims["iat"]
            # The access token lives ten days: two hours apart, the Mac does not think it expired.
            assert not mac.desktop.access_token_expired()

    run(scenario())


def test_the_service_checks_authenticator_codes_by_its_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, service_ahead=-2 * HOUR) as mac:
            secret = mac.account.totp_secret
            assert secret is not None
            email, password = mac.account.account.email, mac.account.password
            # Another computer's Codex, with a browser of its own (this Mac's would skip the pages it passed).
            other = DesktopApp(tmp_path / "other", issuer_url=mac.server.issuer_url, clock=mac.mac_clock,
                               backend_origin=mac.server.base_url or "")
            try:
                world_code = pyotp.TOTP(secret).at(int(mac.service_clock.parent.now()))
                with pytest.raises(DesktopSignInError):
                    await other.sign_in(email, password, world_code)
                service_code = pyotp.TOTP(secret).at(int(mac.service_clock.now()))
                await other.sign_in(email, password, service_code)
                assert other.signed_in
            finally:
                await other.aclose()

    run(scenario())


# ---------------------------------------------------------------------------------------------------- the desktop


@pytest.mark.parametrize("profile", [Profile.LEGACY, Profile.FIXED])
def test_pair_phone_says_what_each_desktop_says(tmp_path: Path, profile: Profile) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path, mac_ahead=2 * HOUR, profile=profile) as mac:
            screen = await mac.desktop.show_pairing_qr(tmp_path / "qr.png")
            assert isinstance(screen, Remediation)
            if profile is Profile.LEGACY:
                assert screen.text == messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_TOKEN_EXPIRED)
            else:
                assert screen.text == messages.DESKTOP_CLOCK_AHEAD.format(how_far="2 hours")
                assert abs(await mac.desktop.ahead_of_service() - 2 * HOUR) <= MOMENT  # type: ignore[operator]
            mac.mac_clock.offset = 0.0
            assert isinstance(await mac.desktop.show_pairing_qr(tmp_path / "qr.png"), QrShown)

    run(scenario())


def test_the_fixed_desktop_names_no_clock_when_the_clocks_agree(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mac_and_service(tmp_path) as mac:
            ahead = await mac.desktop.ahead_of_service()
            assert ahead is not None and abs(ahead) <= MOMENT

    run(scenario())


@pytest.mark.parametrize(("seconds", "words"), [
    (7200.4, "2 hours"), (-7199, "2 hours"), (3600, "1 hour"), (3 * 3600 + 25 * 60, "3 hours"),
    (40 * 60, "40 minutes"), (60, "1 minute"), (89 * 60, "89 minutes"), (3 * 86400, "3 days"), (86400, "1 day"),
])
def test_how_far_a_clock_is_off_in_words(seconds: float, words: str) -> None:
    assert how_far(seconds) == words


# -------------------------------------------------------------------------------------------------- the world


def test_the_worlds_chatgpt_service_has_its_own_clock(tmp_path: Path) -> None:
    with World(root=tmp_path) as world:
        before = world.backend.state.clock.now() - world.clock.now()
        world.set_clock_off("the ChatGPT service", -2 * HOUR)
        assert abs(before) <= MOMENT
        assert abs(world.backend.state.clock.now() - (world.clock.now() - 2 * HOUR)) <= MOMENT
        world.let_time_pass(HOUR)
        assert abs(world.backend.state.clock.now() - (world.clock.now() - 2 * HOUR)) <= MOMENT
        # Every other party keeps the world's time.
        assert abs(world.time.of(world.mac().label).now() - world.clock.now()) <= MOMENT


def parsedate_or_rfc3339(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
