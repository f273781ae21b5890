"""The phone app over real I/O: QR images from pixels, the phone's clock, unreachable services, the trace.

The end-to-end pairing tests against a running backend and daemon are in the second half of this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from simulators import messages
from simulators.backend import remote_control as backend_rc
from simulators.backend.accounts import AccountSpec, CreatedAccount
from simulators.backend.model_scripts import (
    BRANCH,
    BRANCH_COMMAND,
    FIX_FLAKY_TEST,
    RUN_TESTS,
    TEST_COMMAND,
    edited_login_file,
)
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock, FrozenClock
from simulators.daemon.app_server import AppServer
from simulators.daemon.enrollment_client import ChatGptCredentials
from simulators.daemon.model_client import ModelAccess
from simulators.daemon.remote_control import RemoteControlController
from simulators.daemon.store import DaemonStore
from simulators.daemon.threads import ThreadService, install_threads
from simulators.daemon.workspace import LOGIN_FILE, MAIN_BRANCH, PROJECT, SEED_FILES, Workspace
from simulators.phone.app import BlockingPhone, PhoneApp, SetupFailed
from simulators.phone.live import display_command
from simulators.phone.machine import PhoneEvent, PhoneState
from simulators.phone.relay_client import HostOffline
from simulators.phone.trace import Trace, redact_body
from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import ErrorCode
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import render_png
from simulators.runtime import LoopThread
from simulators.tls import make_world_tls

NOW = 1_800_000_000.0
SECRET_CODE = "phoneTestPairingCode_0123456789"


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def link(origin: str = "http://127.0.0.1:9", *, expires_at: float = NOW + 600) -> PairingLink:
    return PairingLink(
        origin=origin,
        pairing_code=SECRET_CODE,
        environment_id="env_phone_1",
        server_name="Dana's MacBook Pro",
        expires_at=int(expires_at),
    )


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    render_png(text, buffer, scale=4)
    return buffer.getvalue()


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def phone(clock: FrozenClock | None = None) -> PhoneApp:
    return PhoneApp(clock or FrozenClock(instant=NOW), timeout=5)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ scanning


def test_scanning_a_pairing_qr_reads_the_link_from_the_pixels() -> None:
    app = phone()
    scanned = run(app.scan(qr_png(link().to_url())))
    assert scanned == link()
    assert app.state is PhoneState.SCANNED
    app.validate_link()
    assert app.state is PhoneState.LINK_VALIDATED
    assert app.screen.title == "Connect to Dana's MacBook Pro?"


def test_scanning_from_a_file_path_works_too(tmp_path: Path) -> None:
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(link().to_url()))
    app = phone()
    assert run(app.scan(path)).server_name == "Dana's MacBook Pro"


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (blank_png(), ErrorCode.QR_NOT_FOUND),
        (b"not an image at all", ErrorCode.QR_UNREADABLE),
        (qr_png("https://example.com/some/other/thing"), ErrorCode.NOT_A_PAIRING_CODE),
        (qr_png("https://chatgpt.com/codex/remote/pair?v=2&code=x"), ErrorCode.UNSUPPORTED_VERSION),
    ],
    ids=["blank", "not-an-image", "foreign-qr", "newer-version"],
)
def test_a_bad_scan_fails_with_its_own_code_and_screen(image: bytes, code: ErrorCode) -> None:
    app = phone()
    with pytest.raises(SetupFailed) as caught:
        run(app.scan(image))
    assert caught.value.code is code
    assert app.state is PhoneState.FAILED and app.machine.error_code is code
    assert app.screen.body == messages.PHONE_ERRORS[code].body


def test_a_link_expired_by_the_phones_clock_is_refused_before_sign_in() -> None:
    clock = FrozenClock(instant=NOW)
    app = phone(clock)
    run(app.scan(qr_png(link(expires_at=NOW + 60).to_url())))
    clock.advance(61)
    with pytest.raises(SetupFailed):
        app.validate_link()
    assert app.machine.error_code is ErrorCode.PAIRING_CODE_EXPIRED
    assert app.screen.title == "Code expired"


def test_pair_never_raises_for_a_product_failure() -> None:
    result = run(phone().pair(blank_png(), "dana@example.com", "pw"))
    assert result.outcome == "qr_not_found" and not result.paired
    assert result.message == messages.PHONE_ERRORS[ErrorCode.QR_NOT_FOUND].body
    assert [s["title"] for s in result.screens] == ["Connect to your Mac", "No QR code found"]


def test_an_unreachable_backend_is_relay_unreachable_not_the_generic_error() -> None:
    origin = f"http://127.0.0.1:{free_port()}"
    result = run(phone().pair(qr_png(link(origin).to_url()), "dana@example.com", "pw"))
    assert result.outcome == "relay_unreachable"
    assert result.message == messages.PHONE_ERRORS[ErrorCode.RELAY_UNREACHABLE].body


def test_a_second_scan_starts_a_new_setup() -> None:
    app = phone()
    run(app.pair(blank_png(), "dana@example.com", "pw"))
    run(app.scan(qr_png(link().to_url())))
    assert app.state is PhoneState.SCANNED
    assert app.machine.error_code is None


# ------------------------------------------------------------------------------------------------ trace


def test_trace_bodies_mask_secrets_but_keep_typed_error_codes() -> None:
    body = {
        "detail": "Multi-factor authentication required",
        "code": "mfa_required",
        "pairing_code": SECRET_CODE,
        "client_session_token": "cst_secret",
    }
    redacted = redact_body(json.dumps(body))
    assert redacted["code"] == "mfa_required"
    assert SECRET_CODE not in json.dumps(redacted) and "cst_secret" not in json.dumps(redacted)
    # An OAuth authorization code is not an ErrorCode value: still masked.
    assert redact_body({"code": "ac_123"})["code"] != "ac_123"


def test_the_trace_of_a_failed_pairing_holds_no_secret() -> None:
    clock = FrozenClock(instant=NOW)
    trace = Trace(clock)
    app = PhoneApp(clock, trace=trace, timeout=5)
    origin = f"http://127.0.0.1:{free_port()}"
    run(app.pair(qr_png(link(origin).to_url()), "dana@example.com", "hunter2-password"))
    text = trace.to_json()
    assert trace.entries, "the sign-in attempt should be in the trace"
    assert "hunter2-password" not in text and SECRET_CODE not in text
    assert all(entry["at"] == NOW for entry in trace.entries)


# ================================================================================================================
# End to end over real sockets: a backend (issuer + remote control + relay), mock daemons, phones.
# ================================================================================================================


class _DesktopAuth:
    """The desktop's ChatGPT sign-in as the daemon sees it: fixed tokens, no recovery."""

    def __init__(self, credentials: ChatGptCredentials) -> None:
        self._credentials = credentials

    def chatgpt_credentials(self) -> ChatGptCredentials | None:
        return self._credentials

    async def recover_auth(self) -> bool:
        return False


@dataclass
class Host:
    name: str
    controller: RemoteControlController
    workspace: Workspace
    threads: ThreadService

    async def show_pairing_qr(self, origin: str) -> bytes:
        pairing = await self.controller.start_pairing()
        shown = PairingLink(
            origin=origin,
            pairing_code=pairing["pairingCode"],
            environment_id=pairing["environmentId"],
            server_name=self.name,
            expires_at=pairing["expiresAt"],
        )
        return qr_png(shown.to_url())


@dataclass
class MiniWorld:
    """The smallest real world a phone can pair with (until the lead's World facade lands)."""

    server: BackendServer
    root: Path
    hosts: list[Host]

    @property
    def origin(self) -> str:
        assert self.server.base_url is not None
        return self.server.base_url

    @property
    def remote_control(self) -> backend_rc.RemoteControlService:
        return self.server.state.remote_control

    def account(self, *, mfa: bool = True) -> CreatedAccount:
        return self.server.control.create_account(AccountSpec(mfa=mfa))

    async def desktop(self, account: CreatedAccount, name: str = "Dana's MacBook Pro") -> Host:
        """A desktop signed in (with MFA) as `account`, connections allowed, connected to the relay."""
        tokens = self.server.control.issue_tokens(account.account.account_id)
        home = self.root / f"host-{len(self.hosts)}"
        app_server = AppServer(home, self.server.clock, name, str(uuid.uuid4()))
        workspace = Workspace.seed(home / "workspace" / PROJECT)
        auth = _DesktopAuth(ChatGptCredentials(tokens.access_token, account.account.account_id))
        assert self.server.tls is not None
        # Turns reach the backend's model as the real daemon does: with the desktop's sign-in, over HTTPS.
        model = ModelAccess(self.server.chatgpt_base_url, auth.chatgpt_credentials, self.server.tls.ca_file)
        threads = install_threads(app_server, workspace=workspace, seed=len(self.hosts) + 1, model=model)
        controller = RemoteControlController(
            app_server,
            DaemonStore.open(home, self.server.clock),
            auth,
            base_url=self.server.chatgpt_base_url,
            clock=self.server.clock,
        )
        await controller.enable()
        await controller.wait_for_status("connected")
        host = Host(name, controller, workspace, threads)
        self.hosts.append(host)
        return host


@contextlib.asynccontextmanager
async def mini_world(root: Path, *, typed_errors: bool = True) -> AsyncIterator[MiniWorld]:
    state = BackendState.create(Clock(), seed=11, typed_errors=typed_errors)
    # With its TLS listener: the model's workspace origin, which the daemons' turns reach over HTTPS.
    server = BackendServer(state, tls=make_world_tls(root / "tls"))
    await server.start()
    world = MiniWorld(server, root, [])
    try:
        yield world
    finally:
        for host in world.hosts:
            await host.controller.close()
            await host.threads.close()
        await server.stop()


def new_phone(**kwargs) -> PhoneApp:  # type: ignore[no-untyped-def]
    return PhoneApp(Clock(), timeout=5, **kwargs)


async def pair(world: MiniWorld, account: CreatedAccount, qr: bytes, app: PhoneApp | None = None):  # type: ignore[no-untyped-def]
    app = app or new_phone()
    return app, await app.pair(qr, account.account.email, account.password, account.totp_secret)


def run_in_mini_world(
    root: Path, scenario: Callable[[MiniWorld], Awaitable[None]], *, typed_errors: bool = True
) -> None:
    """Run one end-to-end scenario in its own mini world, torn down afterwards whatever happens."""

    async def main() -> None:
        async with mini_world(root, typed_errors=typed_errors) as world:
            await scenario(world)

    run(main())


async def pair_with_new_desktop(world: MiniWorld):  # type: ignore[no-untyped-def]
    """A new account with MFA, a desktop signed in as it, and a new phone's attempt to pair with that desktop."""
    dana = world.account()
    host = await world.desktop(dana)
    app, result = await pair(world, dana, await host.show_pairing_qr(world.origin))
    return dana, host, app, result


def test_a_phone_pairs_end_to_end_with_mfa(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana, _host, app, result = await pair_with_new_desktop(world)
        try:
            assert result.paired and result.outcome == "paired", result
            assert result.host_name == "Dana's MacBook Pro" and result.thread_count == 3
            assert result.message == messages.PHONE_SCREENS["paired"].body
            assert [s["name"] for s in result.screens] == [
                "scan",
                "confirm_host",
                "signing_in",
                "securing",
                "paired",
                "threads",
            ]
            visited = [t.to_state for t in app.machine.transitions]
            assert visited == [
                PhoneState.SCANNED,
                PhoneState.LINK_VALIDATED,
                PhoneState.BROWSER_OPEN,
                PhoneState.SIGNING_IN,
                PhoneState.MFA_CHALLENGE,
                PhoneState.CONSENTING,
                PhoneState.AUTHORIZED,
                PhoneState.TOKENS_EXCHANGED,
                PhoneState.CLAIMED,
                PhoneState.SOCKET_OPEN,
                PhoneState.DEVICE_PROVEN,
                PhoneState.INITIALIZED,
                PhoneState.LIVE,
            ]
            # The backend registered exactly this phone's device key.
            (client,) = world.remote_control.store.clients()
            assert client.device.device_public_key == app.device_key.public_key_base64
            # The trace covers browser, claim and socket, and holds no secret.
            text = app.trace.to_json()
            kinds = {e["kind"] for e in app.trace.entries}
            assert {"http_request", "http_response", "ws_open", "ws_frame"} <= kinds
            assert any(e.get("frame", {}).get("type") == "device_key_proof" for e in app.trace.entries)
            assert app.session.tokens is not None and app.session.claim is not None
            for secret in (
                dana.password,
                app.session.tokens.access_token,
                app.session.claim.client_session_token,
                app.session.link.pairing_code,
            ):  # type: ignore[union-attr]
                assert secret not in text
        finally:
            await app.close()

    run_in_mini_world(tmp_path, scenario)


def test_the_phone_approves_a_command_and_declines_a_file_change(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        _dana, host, app, result = await pair_with_new_desktop(world)
        try:
            assert result.paired, result
            await app.start_turn(FIX_FLAKY_TEST)
            command = await app.wait_for_approval("command")
            assert command.command == BRANCH_COMMAND
            assert app.screen.title == "Approve command?" and BRANCH_COMMAND in app.screen.body
            assert host.workspace.branch() == MAIN_BRANCH  # nothing runs before she decides
            assert (await app.decide(command, "accept")).body == messages.DECISION_TEXT["accept"]
            change = await app.wait_for_approval("file_change")
            assert change.paths and change.paths[0].endswith(LOGIN_FILE)
            assert app.screen.body == f"Codex wants to change {change.paths[0]}."
            assert (await app.decide(change, "decline")).body == messages.DECISION_TEXT["decline"]
            turn = await app.wait_turn_completed()
            assert turn["status"] == "completed"
            socket = app.session.socket
            assert socket is not None
            completed = {
                n.params["item"]["type"]: n.params["item"] for n in socket.notifications if n.method == "item/completed"
            }
            assert completed["commandExecution"]["status"] == "completed"
            assert completed["fileChange"]["status"] == "declined"
            # What the phone read is what the Mac did: it ran the command the phone showed, and left the file.
            # The Mac ran it in a `bash -c` wrapper, which the phone leaves out as Codex's own clients do.
            [ran] = host.workspace.commands_run
            assert (ran.command, ran.cwd) == (command.request.params["command"], command.cwd)
            assert display_command(ran.command) == command.command
            assert host.workspace.branch() == BRANCH
            assert completed["commandExecution"]["aggregatedOutput"] == ran.output
            assert (host.workspace.root / LOGIN_FILE).read_text() == SEED_FILES[LOGIN_FILE] != edited_login_file()
            assert app.pending_approvals() == []
            # A follow-up is a new turn on the same thread, once the first one is done.
            thread = app.session.thread_id
            await app.send_follow_up(RUN_TESTS)
            assert app.session.thread_id == thread and app.session.turn_id != turn["id"]
            follow_up = await app.wait_for_approval("command")
            assert (follow_up.thread_id, follow_up.command) == (thread, TEST_COMMAND)
        finally:
            await app.close()

    run_in_mini_world(tmp_path, scenario)


def test_one_phone_holds_two_hosts_and_switches_between_them(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        mac = await world.desktop(dana, "Dana's MacBook Pro")
        studio = await world.desktop(dana, "Studio Mac mini")
        app, first = await pair(world, dana, await mac.show_pairing_qr(world.origin))
        try:
            second = await app.pair_host(
                await studio.show_pairing_qr(world.origin),
                dana.account.email,
                dana.password,
                dana.totp_secret,
            )
            assert first.paired and second.paired, (first, second)
            assert set(app.hosts) == {"Dana's MacBook Pro", "Studio Mac mini"}
            assert app.active_host == "Studio Mac mini"
            app.switch_host("Dana's MacBook Pro")
            assert app.active_host == "Dana's MacBook Pro" and app.machine.is_live
            await app.start_turn(RUN_TESTS)
            approval = await app.wait_for_approval("command")
            assert approval.request.method == "item/commandExecution/requestApproval"
            assert approval.command == TEST_COMMAND
            # The request came over the laptop's socket, not the studio's.
            studio_socket = app.hosts["Studio Mac mini"].socket
            assert studio_socket is not None and studio_socket.server_requests == []
            assert studio_socket.is_open
            with pytest.raises(Exception, match="no paired host"):
                app.switch_host("Kitchen iMac")
        finally:
            await app.close()

    run_in_mini_world(tmp_path, scenario)


def test_a_code_expired_on_the_backend_is_pairing_code_expired(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        qr = await host.show_pairing_qr(world.origin)
        # The phone's clock still says the code is fresh; the backend's store says it is not.
        assert world.remote_control.expire_pairing_codes_now() == 1
        app, result = await pair(world, dana, qr)
        assert result.outcome == "pairing_code_expired", result
        assert result.message == messages.PHONE_ERRORS[ErrorCode.PAIRING_CODE_EXPIRED].body
        assert app.machine.transitions[-1].from_state is PhoneState.TOKENS_EXCHANGED

    run_in_mini_world(tmp_path, scenario)


def test_a_code_claimed_by_another_phone_is_pairing_code_claimed(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        qr = await host.show_pairing_qr(world.origin)
        first, won = await pair(world, dana, qr)
        try:
            _, lost = await pair(world, dana, qr)
            assert won.paired, won
            assert lost.outcome == "pairing_code_claimed", lost
            assert lost.screens[-1]["title"] == "Code already used"
            assert len(world.remote_control.store.clients()) == 1
        finally:
            await first.close()

    run_in_mini_world(tmp_path, scenario)


@pytest.mark.parametrize(
    ("typed_errors", "outcome", "message"),
    [
        (True, "account_mismatch", messages.PHONE_ERRORS[ErrorCode.ACCOUNT_MISMATCH].body),
        # Today's backend sends only `detail`: the phone cannot know the cause and shows the generic copy.
        (False, "unknown", messages.GENERIC_SETUP_FAILURE),
    ],
    ids=["typed-backend", "legacy-backend"],
)
def test_signing_in_with_another_account_is_account_mismatch(
    tmp_path: Path, typed_errors: bool, outcome: str, message: str
) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana, sam = world.account(), world.account()
        host = await world.desktop(dana)
        app, result = await pair(world, sam, await host.show_pairing_qr(world.origin))
        assert result.outcome == outcome, result
        assert result.message == message
        assert result.error_detail  # the backend's `detail` is kept for the report
        response = next(e for e in reversed(app.trace.entries) if e["kind"] == "http_response")
        assert response["status"] == 403 and response["url"].endswith("/client/claim")

    run_in_mini_world(tmp_path, scenario, typed_errors=typed_errors)


def test_a_wrong_password_is_sign_in_failed(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        app = new_phone()
        result = await app.pair(
            await host.show_pairing_qr(world.origin),
            dana.account.email,
            "wrong-password",
            dana.totp_secret,
        )
        assert result.outcome == "sign_in_failed", result
        assert "wrong-password" not in app.trace.to_json()

    run_in_mini_world(tmp_path, scenario)


def test_cancelling_at_the_consent_page_is_sign_in_cancelled(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        app = new_phone()
        result = await app.pair(
            await host.show_pairing_qr(world.origin),
            dana.account.email,
            dana.password,
            dana.totp_secret,
            cancel_sign_in=True,
        )
        assert result.outcome == "sign_in_cancelled", result
        assert PhoneState.CONSENTING in [t.to_state for t in app.machine.transitions]

    run_in_mini_world(tmp_path, scenario)


def test_a_host_that_goes_away_is_host_offline(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        _dana, host, app, result = await pair_with_new_desktop(world)
        try:
            assert result.paired, result
            socket = app.session.socket
            assert socket is not None
            await host.controller.disable()
            await socket.wait_host_status("offline")
            with pytest.raises(SetupFailed) as caught:
                await app.start_turn("Are you there?")
            assert caught.value.code is ErrorCode.HOST_OFFLINE
            assert app.machine.error_code is ErrorCode.HOST_OFFLINE
            assert app.screen.title == "Mac not responding"
            assert any(
                e["kind"] == "ws_frame" and e["frame"] == {"type": "host_status", "status": "offline"}
                for e in app.trace.entries
            )
            assert isinstance(caught.value.__context__, HostOffline)
        finally:
            await app.close()

    run_in_mini_world(tmp_path, scenario)


def test_a_reconnect_proves_the_key_again_and_a_different_key_is_rejected(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        _dana, _host, app, result = await pair_with_new_desktop(world)
        assert result.paired, result
        socket = app.session.socket
        assert socket is not None
        await socket.close()
        app.machine.fire(PhoneEvent.CONNECTION_LOST)
        # Same key: a fresh challenge, a fresh proof, accepted again without a new claim.
        await app.connect()
        assert app.state is PhoneState.DEVICE_PROVEN
        proofs = [e for e in app.trace.entries if e.get("frame", {}).get("type") == "device_key_proof"]
        assert len(proofs) == 2 and proofs[0]["frame"]["signedPayloadBase64"] != proofs[1]["frame"][
            "signedPayloadBase64"]
        await app.session.socket.close()  # type: ignore[union-attr]
        app.machine.fire(PhoneEvent.CONNECTION_LOST)
        # Another key (a cloned session on another device) cannot prove it is the paired phone.
        app.device_key = DeviceKey.generate()
        with pytest.raises(SetupFailed):
            await app.connect()
        assert app.machine.error_code is ErrorCode.DEVICE_PROOF_REJECTED
        assert app.screen.title == messages.PHONE_ERRORS[ErrorCode.DEVICE_PROOF_REJECTED].title

    run_in_mini_world(tmp_path, scenario)


def test_a_phone_removed_on_the_desktop_is_told_so_at_once(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        _dana, host, app, result = await pair_with_new_desktop(world)
        assert result.paired, result
        socket = app.session.socket
        claim = app.session.claim
        assert socket is not None and claim is not None
        await host.controller.revoke_client(claim.environment_id, claim.client_id)
        reason = await socket.wait_closed()
        # The backend names the cause before it closes (not a sign-in that expired: the phone was removed).
        assert socket.close_code == 4401 and reason.code is ErrorCode.CLIENT_REVOKED
        assert app.machine.error_code is ErrorCode.CLIENT_REVOKED
        assert app.screen.title == messages.PHONE_ERRORS[ErrorCode.CLIENT_REVOKED].title
        assert app.session.socket is None

    run_in_mini_world(tmp_path, scenario)


def test_five_wrong_authenticator_codes_lock_the_sign_in_and_fewer_do_not(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        qr = await host.show_pairing_qr(world.origin)
        app = new_phone()
        # Two slips, then the right code: the issuer says "that code didn't work" twice and then lets her in.
        retried = await app.pair(qr, dana.account.email, dana.password, dana.totp_secret, wrong_mfa_codes=2)
        assert retried.paired, retried
        await app.close()
        locked_out = new_phone()
        result = await locked_out.pair(qr, dana.account.email, dana.password, dana.totp_secret,
                                       wrong_mfa_codes=5)
        assert result.outcome == "mfa_code_rejected", result
        assert result.screens[-1]["title"] == messages.PHONE_ERRORS[ErrorCode.MFA_CODE_REJECTED].title
        pages = [e["body"]["page"] for e in locked_out.trace.entries
                 if e.get("party") == "browser" and e["kind"] == "http_response" and e.get("body")]
        assert pages.count("mfa") == 5 and pages[-1] == "mfa_locked"
        # Locked: even the right code is refused now.
        again = await new_phone().pair(qr, dana.account.email, dana.password, dana.totp_secret)
        assert again.outcome == "mfa_code_rejected", again

    run_in_mini_world(tmp_path, scenario)


def test_a_backup_restored_on_new_hardware_keeps_the_credentials_but_not_the_key(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        _dana, _host, old, result = await pair_with_new_desktop(world)
        assert result.paired, result
        backup = old.backup()
        assert [record.name for record in backup.hosts] == [result.host_name]
        claim, tokens = old.session.claim, old.session.tokens
        assert claim is not None and tokens is not None
        for secret in (claim.client_session_token, tokens.access_token, backup.hosts[0].link.pairing_code):
            assert secret not in repr(backup)
        restored = new_phone()
        restored.restore(backup)
        assert restored.active_host == result.host_name and restored.state is PhoneState.CLAIMED
        assert restored.device_key.key_id != old.device_key.key_id
        reopened = await restored.reopen()
        assert reopened.outcome == "device_proof_rejected", reopened
        assert [s["title"] for s in reopened.screens[-2:]] == [
            messages.PHONE_SCREENS["securing"].title,
            messages.PHONE_ERRORS[ErrorCode.DEVICE_PROOF_REJECTED].title,
        ]
        # The same backup on the phone that holds the key connects again.
        same_key = new_phone(device_key=old.device_key)
        same_key.restore(backup)
        assert (await same_key.reopen()).paired
        for app in (old, restored, same_key):
            await app.close()

    run_in_mini_world(tmp_path, scenario)


def test_skipping_mfa_on_an_account_that_enforces_it_is_mfa_required(tmp_path: Path) -> None:
    async def scenario(world: MiniWorld) -> None:
        dana = world.account()
        host = await world.desktop(dana)
        app = new_phone()
        result = await app.pair(await host.show_pairing_qr(world.origin), dana.account.email, dana.password,
                                dana.totp_secret, skip_mfa=True)
        assert result.outcome == "mfa_required", result
        assert result.screens[-1]["title"] == "Turn on multi-factor authentication"

    run_in_mini_world(tmp_path, scenario)


def test_blocking_phone_runs_the_same_app_from_synchronous_code() -> None:
    with LoopThread() as loop:
        phone_ = BlockingPhone(phone(), loop)
        result = phone_.pair(blank_png(), "dana@example.com", "pw")
        assert result.outcome == "qr_not_found"
        assert phone_.state is PhoneState.FAILED  # plain attributes pass through
        assert phone_.machine.error_code is ErrorCode.QR_NOT_FOUND
