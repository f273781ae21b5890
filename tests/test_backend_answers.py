"""The backend's answers a scenario arms, over real sockets: held and delayed requests (on the backend's clock, never
real seconds), HTML where JSON is expected, paths no route serves, the admin API for them, the oldest Codex the
backend accepts; and how each party copes (a typed error that says what came back, servers that keep serving)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from simulators import messages
from simulators.backend.faults import CHALLENGE_PAGE, HTML, Fault, path_key
from simulators.backend.server import BackendServer, build_app, default_route_groups
from simulators.backend.state import BackendState
from simulators.browser import shared_ssl_context
from simulators.clock import Clock, SkewedClock
from simulators.daemon.desktop import DesktopSignInError
from simulators.protocol.errors import ErrorCode
from simulators.protocol.versions import InvalidVersion, Version, older_than
from simulators.timers import elapse, moved
from simulators.world import World
from simulators.world.backend import OPERATION_NAMES, Operation

ANYIO = pytest.mark.anyio
CHALLENGE_TEXT = "Enable JavaScript and cookies to continue"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[BackendServer]:
    async with BackendServer(BackendState.create(Clock(), seed=7)) as backend:
        yield backend


@pytest.fixture
async def http(server: BackendServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.issuer_url, timeout=10, verify=shared_ssl_context()) as client:
        yield client


# -- time ------------------------------------------------------------------------------------------------------


@ANYIO
async def test_a_wait_on_a_partys_clock_ends_when_the_worlds_clock_moves_on() -> None:
    world = Clock()
    mac = SkewedClock(parent=world)
    mac.offset = 300.0  # a clock that is off is not time passing
    waiting = asyncio.ensure_future(elapse(mac, 2.0))
    await asyncio.sleep(0)  # the wait starts counting from here
    world.advance(1.5)
    await asyncio.sleep(0)
    assert not waiting.done() and moved(mac) == pytest.approx(301.5)
    world.advance(0.5)
    await asyncio.wait_for(waiting, 5)


@ANYIO
async def test_no_time_to_wait_returns_at_once() -> None:
    await asyncio.wait_for(elapse(Clock(), 0), 1)


# -- held, delayed, by path, as HTML ---------------------------------------------------------------------------


@ANYIO
async def test_a_held_request_is_answered_once_released_and_not_before(server: BackendServer,
                                                                       http: httpx.AsyncClient) -> None:
    server.control.inject_fault("oauth.jwks", Fault(hold=True))
    held = asyncio.ensure_future(http.get("/.well-known/jwks.json"))
    await server.state.faults.wait_held("oauth.jwks")
    # Another route is served meanwhile: holding one request does not stop the server.
    assert (await http.get("/.well-known/openid-configuration")).status_code == 200
    assert not held.done()
    assert server.control.release_held("oauth.jwks") == 1
    assert (await held).status_code == 200
    assert server.state.faults.held() == 0


@ANYIO
async def test_stopping_the_server_answers_what_it_still_holds_or_delays() -> None:
    backend = BackendServer(BackendState.create(Clock(), seed=7))
    await backend.start()
    backend.control.inject_fault("oauth.jwks", Fault(hold=True, status=503, body={"detail": "held"}))
    backend.control.inject_fault("oauth.discovery", Fault(delay_s=3600, status=503, body={"detail": "late"}))
    async with httpx.AsyncClient(base_url=backend.issuer_url, timeout=10, verify=shared_ssl_context()) as client:
        requests = [asyncio.ensure_future(client.get(path))
                    for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration")]
        await backend.state.faults.wait_held("oauth.jwks")
        await backend.state.faults.wait_held("oauth.discovery")
        await asyncio.wait_for(backend.stop(), 10)
        answers = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(answer, httpx.Response) and answer.status_code == 503 for answer in answers), answers


@ANYIO
async def test_a_path_no_route_serves_can_be_given_an_answer(server: BackendServer, http: httpx.AsyncClient) -> None:
    path = "/backend-api/wham/usage"
    assert (await http.get(path)).status_code == 404
    server.control.inject_fault(path_key(path), Fault(status=200, body={"accounts": []}))
    answered = await http.get(path)
    assert (answered.status_code, answered.json()) == (200, {"accounts": []})
    assert (await http.get(path)).status_code == 404  # once, then served (not served) as before


@ANYIO
async def test_a_challenge_page_is_served_as_html(server: BackendServer, http: httpx.AsyncClient) -> None:
    server.control.inject_fault("oauth.discovery", Fault(status=403, body=CHALLENGE_PAGE, content_type=HTML))
    answered = await http.get("/.well-known/openid-configuration")
    assert answered.status_code == 403
    assert answered.headers["content-type"] == "text/html; charset=utf-8"
    assert CHALLENGE_TEXT in answered.text


@ANYIO
async def test_the_admin_api_arms_holds_releases_them_and_sets_the_oldest_codex(server: BackendServer,
                                                                               http: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {server.state.admin_token}"}
    armed = await http.post("/_pairsim/admin/faults", headers=admin, json={
        "endpoint": "oauth.jwks", "hold": True, "status": 403, "body": CHALLENGE_PAGE, "content_type": HTML})
    assert armed.status_code == 201 and armed.json()["fault"]["content_type"] == HTML
    held = asyncio.ensure_future(http.get("/.well-known/jwks.json"))
    await server.state.faults.wait_held("oauth.jwks")
    assert (await http.get("/_pairsim/admin/faults", headers=admin)).json()["held"] == 1
    released = await http.post("/_pairsim/admin/faults/release", headers=admin, json={"endpoint": "oauth.jwks"})
    assert released.json() == {"released": 1}
    assert (await held).status_code == 403
    bad = await http.post("/_pairsim/admin/rc/minimum-app-server-version", headers=admin, json={"version": "0.x"})
    assert bad.status_code == 400 and "0.129.0" in bad.json()["message"]
    good = await http.post("/_pairsim/admin/rc/minimum-app-server-version", headers=admin,
                           json={"version": "0.129.0-alpha.6"})
    assert good.json() == {"minimum_app_server_version": "0.129.0-alpha.6"}
    assert server.state.remote_control.minimum_app_server_version == "0.129.0-alpha.6"


def test_every_operation_named_in_a_step_is_a_route_of_the_backend() -> None:
    app = build_app(BackendState.create(Clock(), seed=1), default_route_groups())
    app_routes = {resource.name for resource in app.router.resources() if resource.name}
    for words, operation in OPERATION_NAMES.items():
        assert operation.partition(":")[0] in app_routes, words
    assert set(OPERATION_NAMES.values()) == set(Operation)
    with pytest.raises(ValueError, match="the Mac's enrollment"):
        Operation.named("the Mac's enrolment")


# -- versions --------------------------------------------------------------------------------------------------


def test_versions_order_as_semantic_versions() -> None:
    ordered = ["0.128.0", "0.129.0-alpha.6", "0.129.0-alpha.10", "0.129.0-beta", "0.129.0", "0.169.0", "1.0.0"]
    assert sorted(reversed(ordered), key=Version.parse) == ordered
    assert older_than("0.128.0", "0.129.0-alpha.6") and not older_than("0.169.0", "0.129.0-alpha.6")
    assert older_than("not a version", "0.1.0")
    with pytest.raises(InvalidVersion):
        Version.parse("0.129")


# -- the parties, in a world -----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["legacy", "fixed"])
def test_a_mac_older_than_the_backend_accepts_enrolls_but_its_code_is_refused_with_both_versions(
        profile: str) -> None:
    with World(profile=profile, seed=11) as world:
        world.backend.accept_codex_from("0.129.0-alpha.6")
        world.people.create("Dana", mfa=True)
        world.mac().runs_codex_version("0.128.0")
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        assert world.mac().status == "connected"
        qr = world.mac().show_pairing_qr()
        outcome = world.phone().pair("Dana", qr.png_path)  # type: ignore[union-attr]
        assert outcome.outcome == ErrorCode.APP_SERVER_OUTDATED.value
        assert "0.128.0" in outcome.message and "0.129.0-alpha.6" in outcome.message
        claim = [e for e in world.backend.traffic() if e.get("route") == Operation.CLAIM][-1]
        assert claim["status"] == 426
        body = claim["response_body"]
        assert (body["minimum_version"], body["current_version"]) == ("0.129.0-alpha.6", "0.128.0")
        assert ("code" in body) == (profile == "fixed")


def test_the_phone_reads_a_challenge_page_as_a_refused_claim_and_pairs_once_it_is_gone() -> None:
    with World(profile="fixed", seed=12) as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        qr = world.mac().show_pairing_qr()
        world.backend.answer_next(Operation.CLAIM, 403, CHALLENGE_PAGE, content_type=HTML)
        refused = world.phone().pair("Dana", qr.png_path)  # type: ignore[union-attr]
        assert refused.outcome == ErrorCode.UNKNOWN.value
        # The person sees the generic copy; the phone's own record says what came back.
        assert world.phone().app.machine.error_detail == "the claim was answered HTTP 403 with text/html, not JSON"
        assert world.phone().pair("Dana", qr.png_path).outcome == "paired"  # type: ignore[union-attr]


def test_the_desktop_reads_a_challenge_page_from_the_token_endpoint_as_a_failed_sign_in() -> None:
    with World(profile="fixed", seed=13) as world:
        world.people.create("Dana", mfa=True)
        world.backend.answer_next(Operation.TOKEN_EXCHANGE, 200, CHALLENGE_PAGE, content_type=HTML)
        with pytest.raises(DesktopSignInError, match=r"^the token exchange answered HTTP 200, with text/html, not JSON$"):
            world.mac().sign_in("Dana")
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        assert world.mac().status == "connected"


def test_the_daemon_logs_a_challenge_page_that_answered_its_enrollment_and_enrolls_later() -> None:
    with World(profile="legacy", seed=14) as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.backend.answer_next(Operation.ENROLL, 503, CHALLENGE_PAGE, content_type=HTML)
        world.mac().allow_connections(True)
        assert world.mac().status == "errored"
        (line,) = [line for line in world.mac().daemon_log() if "server enrollment failed" in line]
        assert "HTTP 503 Service Unavailable" in line and CHALLENGE_TEXT in line
        world.mac().allow_connections(False)
        world.mac().allow_connections(True)
        assert world.mac().status == "connected"


def test_a_pairing_request_refused_twice_drops_the_token_and_the_next_one_renews_it() -> None:
    with World(profile="legacy", seed=15) as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        world.backend.answer_next(Operation.PAIR, 401, None, times=2)
        with pytest.raises(Exception, match="remote control pairing is unavailable until enrollment completes"):
            world.mac().request("remoteControl/pairing/start", {})
        renewals = world.backend.answered(Operation.REFRESH)
        assert renewals == 200, "the first refusal renews the token before asking again"
        before = sum(1 for e in world.backend.traffic() if e.get("route") == Operation.REFRESH)
        started = world.mac().request("remoteControl/pairing/start", {})
        assert started["environmentId"] == world.mac().environment_id
        after = sum(1 for e in world.backend.traffic() if e.get("route") == Operation.REFRESH)
        assert after == before + 1, "the dropped token is renewed before the next pairing request"


def test_todays_desktop_gives_up_on_a_pairing_request_after_2_seconds_of_the_macs_clock() -> None:
    with World(profile="legacy", seed=16) as world:
        world.people.create("Dana", mfa=True)
        world.mac().allow_connections(True)
        world.backend.hold_enrollments()
        world.mac().sign_in("Dana")
        assert world.mac().status == "connecting"
        shown = world.mac().show_pairing_qr()
        assert getattr(shown, "text", None) == "Getting a pairing code…"
        world.time.passes(1.9)
        assert getattr(world.mac().pairing_screen(), "text", None) == "Getting a pairing code…"
        world.time.passes(0.1)
        assert getattr(world.mac().pairing_screen(), "text", None) == (
            "Pairing code unavailable: timed out waiting for remoteControl/pairing/start response: deadline has "
            "elapsed.")
        assert world.mac().desktop_log()[-1].endswith("status: connecting, environmentId: null")


def test_the_mock_daemon_says_when_auth_recovery_found_the_same_sign_in() -> None:
    with World(profile="legacy", seed=17) as world:
        world.people.create("Dana", mfa=False)
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        assert "Reloaded auth, changed: false" in world.mac().daemon_log()
        assert world.mac().notice == ("Couldn't update remote control availability",
                                      "Unable to enable remote control. Please try again.")
        assert world.mac().desktop_log()[-1] == (
            "Failed to update remote control availability: status=errored errorCode=null")


def test_a_challenge_page_answering_the_security_check_is_a_typed_failure_the_fix_names() -> None:
    with World(profile="fixed", seed=18) as world:
        world.people.create("Dana", mfa=False)
        world.mac().sign_in("Dana")
        world.backend.answer_next(Operation.SECURITY_CHECK, 403, CHALLENGE_PAGE, content_type=HTML)
        world.mac().allow_connections(True)
        notice = world.mac().notice
        assert notice is not None and "a web page answered instead of ChatGPT" in notice[1]
        assert world.mac().desktop_log()[-1] == (
            "security check failed: GET /backend-api/accounts/mfa_info answered HTTP 403, with text/html, not JSON")
        assert world.backend.answered(Operation.SECURITY_CHECK) == 403
        # The next check is answered by ChatGPT: the account has no MFA, and the fix says to turn it on.
        world.mac().allow_connections(False)
        world.mac().allow_connections(True)
        assert world.backend.answered(Operation.SECURITY_CHECK) == 200
        assert world.mac().notice == ("Couldn't update remote control availability",
                                      messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED])
