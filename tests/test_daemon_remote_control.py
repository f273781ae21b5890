"""The mock daemon's remote control against the real simulated backend, over real sockets.

Each test starts the backend (issuer + remote-control API + relay) on an ephemeral port, creates accounts
through its admin handle, signs the desktop in through the issuer's pages and drives the daemon through
JSON-RPC.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

from simulators import messages
from simulators.backend import remote_control as rc_backend
from simulators.backend.accounts import CreatedAccount
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.daemon.app_server import AppServer, AppServerConnection
from simulators.daemon.desktop import DesktopApp, QrShown, Remediation
from simulators.daemon.doctor import ENROLLMENT_CHECK, run_doctor
from simulators.daemon.profiles import Profile
from simulators.daemon.remote_control import (
    PAIRING_REQUIRES_ENABLED,
    RemoteControlController,
)
from simulators.daemon.store import DaemonStore
from simulators.protocol.errors import ErrorCode
from simulators.qr import decode_pairing_link

SERVER_NAME = "dana-mac"
ENROLL_URL = r"`http://127\.0\.0\.1:\d+/backend-api/wham/remote/control/server/enroll`"
MFA_REFUSAL_LINE = re.compile(
    rf"^remote control server enrollment failed at {ENROLL_URL}: HTTP 403 Forbidden, "
    r"request-id: req_[0-9a-f]+, cf-ray: <none>, "
    r'body: \{"detail":"Multi-factor authentication required"\}$'
)


class LocalClient:
    """A JSON-RPC client of the app-server core (what the desktop UI is), recording notifications."""

    def __init__(self, app: AppServer) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._responses: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.connection: AppServerConnection = app.connect(self._send, "test")

    async def _send(self, message: dict[str, Any]) -> None:
        if "id" in message and ("result" in message or "error" in message):
            self._responses[message["id"]] = message
        elif "method" in message and "id" not in message:
            self.notifications.append(message)

    async def request(self, method: str, params: Any = None) -> dict[str, Any]:
        request_id = next(self._ids)
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.connection.receive(message)
        return self._responses.pop(request_id)

    async def initialize(self) -> None:
        await self.request(
            "initialize",
            {
                "clientInfo": {"name": "codex_desktop", "version": "1.0"},
                "capabilities": {"experimentalApi": True},
            },
        )
        await self.connection.receive({"method": "initialized"})

    def statuses(self) -> list[tuple[str, str | None]]:
        return [
            (n["params"]["status"], n["params"]["environmentId"])
            for n in self.notifications
            if n["method"] == "remoteControl/status/changed"
        ]


@dataclass
class Harness:
    state: BackendState
    server: BackendServer
    service: rc_backend.RemoteControlService
    home: Path
    store: DaemonStore
    app: AppServer
    desktop: DesktopApp
    controller: RemoteControlController
    client: LocalClient

    def create_account(self, *, mfa: bool = True) -> CreatedAccount:
        # Not enforced, so a sign-in may skip the second factor (the seed story's desktop does).
        return self.server.control.create_account(mfa=mfa, mfa_enforced=False)

    async def sign_in(self, created: CreatedAccount, *, complete_mfa: bool = True) -> None:
        account = created.account
        code = None
        if created.totp_secret is not None and complete_mfa:
            code = pyotp.TOTP(created.totp_secret).at(int(self.state.clock.now()))
        await self.desktop.sign_in(
            account.email,
            created.password,
            code,
            skip_mfa=created.totp_secret is not None and not complete_mfa,
        )


@dataclass
class Backend:
    state: BackendState
    server: BackendServer
    service: rc_backend.RemoteControlService


@asynccontextmanager
async def backend(profile: Profile = Profile.FIXED) -> AsyncIterator[Backend]:
    state = BackendState.create(seed=11, typed_errors=profile is Profile.FIXED)
    service = state.remote_control
    server = BackendServer(state)
    await server.start()
    try:
        yield Backend(state, server, service)
    finally:
        await server.stop()


@asynccontextmanager
async def daemon(world: Backend, home: Path, profile: Profile = Profile.FIXED) -> AsyncIterator[Harness]:
    state, server = world.state, world.server
    store = DaemonStore.open(home)
    app = AppServer(home, state.clock, SERVER_NAME, store.installation_id())
    desktop = DesktopApp(
        home, issuer_url=server.issuer_url, backend_origin=server.base_url or "", clock=state.clock
    )
    app.account_provider = desktop.account
    controller = RemoteControlController(
        app, store, desktop, base_url=server.chatgpt_base_url, profile=profile
    )
    desktop.attach(controller)
    client = LocalClient(app)
    await client.initialize()
    try:
        yield Harness(state, server, world.service, home, store, app, desktop, controller, client)
    finally:
        await controller.close()
        await app.close()
        await desktop.aclose()
        store.close()


@asynccontextmanager
async def world(tmp_path: Path, profile: Profile = Profile.FIXED) -> AsyncIterator[Harness]:
    async with backend(profile) as started, daemon(started, tmp_path / "daemon-home", profile) as harness:
        yield harness


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ happy path


def test_enable_returns_connecting_with_the_new_environment_then_connects(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account())
            result = (await h.client.request("remoteControl/enable", {}))["result"]
            assert result["status"] == "connecting"
            assert result["environmentId"].startswith("env")
            assert result["serverName"] == SERVER_NAME
            assert result["installationId"] == h.app.installation_id
            assert "serverId" not in result
            await h.controller.wait_for_status("connected")
            await h.service.wait_daemon_connected(result["environmentId"])
            read = (await h.client.request("remoteControl/status/read"))["result"]
            assert read == {**result, "status": "connected", "blockedReason": None}
            env = result["environmentId"]
            assert h.client.statuses() == [
                ("disabled", None),
                ("connecting", None),
                ("connecting", env),
                ("connected", env),
            ]
            rows = h.store.enrollments()
            assert [(r.environment_id, r.server_name, r.remote_control_enabled) for r in rows] == [
                (result["environmentId"], SERVER_NAME, True)
            ]
            assert h.store.settings().allow_other_devices is True
            assert h.desktop.connections_text() == messages.DESKTOP_STATUS["connected"]

    run(scenario())


@pytest.mark.parametrize("profile", [Profile.LEGACY, Profile.FIXED])
def test_disable_reports_disabled_without_an_environment_and_persists_the_preference(
    tmp_path: Path, profile: Profile
) -> None:
    async def scenario() -> None:
        async with world(tmp_path, profile) as h:
            await h.sign_in(h.create_account())
            await h.desktop.set_allow_other_devices(True)
            snapshot = await h.controller.wait_for_status("connected")
            result = (await h.client.request("remoteControl/disable", {}))["result"]
            assert result["status"] == "disabled"
            assert result["environmentId"] is None
            assert h.store.settings().allow_other_devices is False
            await h.service.wait_daemon_disconnected(snapshot.environment_id or "")
            # With the fix the backend learns the daemon left with connections switched off; today's daemon just
            # leaves, as the real one does, and the backend knows only that it is offline.
            announced = h.service.store.environment(snapshot.environment_id or "").remote_control_disabled
            assert announced is (profile is Profile.FIXED)

    run(scenario())


def test_ephemeral_enable_does_not_change_the_durable_preference(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account())
            await h.client.request("remoteControl/enable", {"ephemeral": True})
            await h.controller.wait_for_status("connected")
            assert h.store.settings().allow_other_devices is False

    run(scenario())


def test_a_restarted_daemon_refreshes_its_persisted_enrollment_instead_of_enrolling(tmp_path: Path) -> None:
    async def scenario() -> None:
        home = tmp_path / "home"
        async with backend() as started:
            async with daemon(started, home) as h:
                await h.sign_in(h.create_account())
                first = await h.controller.enable()
                await h.controller.wait_for_status("connected")
            async with daemon(started, home) as h:
                await h.controller.start()
                second = await h.controller.wait_for_status("connected")
                assert second.environment_id == first.environment_id
                assert len(h.store.enrollments()) == 1
                enrolled = [e for e in h.service.events.events if e.kind == "enrolled"]
                assert len(enrolled) == 1

    run(scenario())


# ------------------------------------------------------------------------------------------------ MFA refusal


def test_legacy_mfa_refusal_is_only_errored_with_the_real_log_line_and_an_empty_table(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, Profile.LEGACY) as h:
            await h.sign_in(h.create_account(), complete_mfa=False)
            result = (await h.client.request("remoteControl/enable", {}))["result"]
            assert result == {
                "status": "errored",
                "serverName": SERVER_NAME,
                "installationId": h.app.installation_id,
                "environmentId": None,
            }
            assert h.controller.status.value == "errored"
            assert h.store.enrollments() == []
            refusals = [line for line in h.controller.log_lines if MFA_REFUSAL_LINE.match(line)]
            assert refusals, h.controller.log_lines
            assert h.client.statuses()[-1] == ("errored", None)
            assert all("blockedReason" not in n["params"] for n in h.client.notifications)
            assert h.desktop.connections_text() == messages.DESKTOP_STATUS["errored"]
            shown = await h.desktop.show_pairing_qr(tmp_path / "qr.png")
            assert shown == Remediation(messages.DESKTOP_STATUS["errored"])
            # Today's doctor has no remote-control check: all green while enrollment fails.
            report = run_doctor(h.home)
            assert report.check(ENROLLMENT_CHECK) is None
            assert report.overall_status.value == "ok" and report.exit_code == 0

    run(scenario())


def test_fixed_mfa_refusal_is_blocked_with_the_reason_on_desktop_and_in_doctor(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, Profile.FIXED) as h:
            await h.sign_in(h.create_account(), complete_mfa=False)
            result = (await h.client.request("remoteControl/enable", {}))["result"]
            assert result["status"] == "errored"
            assert result["blockedReason"] == "mfa_required"
            assert h.controller.status.name == "BLOCKED_MFA_REQUIRED"
            assert h.store.enrollments() == []
            assert h.desktop.connections_text() == messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED]
            shown = await h.desktop.show_pairing_qr(tmp_path / "qr.png")
            assert shown == Remediation(messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED])
            assert not (tmp_path / "qr.png").exists()
            report = run_doctor(h.home)
            assert report.lines()[2:5] == [
                "Remote control enrollment: blocked",
                "Reason: Multi-factor authentication required",
                "Action: Enable MFA and re-authenticate Codex desktop.",
            ]
            assert report.exit_code == 1

    run(scenario())


def test_enabling_mfa_and_signing_in_again_connects(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            created = h.create_account(mfa=False)
            await h.sign_in(created)
            await h.controller.enable()
            assert h.controller.status.value == "blocked_mfa_required"
            secret = h.server.control.enable_mfa(created.account.account_id)
            await h.sign_in(CreatedAccount(created.account, created.password, secret))
            await h.controller.wait_for_status("connected")
            assert len(h.store.enrollments()) == 1
            assert h.store.last_enrollment_error() is None
            check = run_doctor(h.home).check(ENROLLMENT_CHECK)
            assert check is not None and check.lines == ("Remote control enrollment: ok",)

    run(scenario())


def test_password_change_closes_the_relay_and_the_recheck_lands_blocked(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            created = h.create_account()
            await h.sign_in(created)
            await h.controller.enable()
            connected = await h.controller.wait_for_status("connected")
            new_password = h.server.control.change_password(created.account.account_id)
            # Relay closed 4401 → refresh refused → enrollment deleted → enroll refused (signed out).
            await h.controller.wait_for_status("blocked_session_expired")
            assert any("4401" in line for line in h.controller.log_lines)
            assert h.store.enrollments() == []
            assert not h.desktop.signed_in
            assert h.desktop.connections_text() == messages.DESKTOP_BLOCKED[ErrorCode.SESSION_EXPIRED]
            # The seed story: the desktop signs in again without MFA.
            again = CreatedAccount(created.account, new_password, created.totp_secret)
            await h.sign_in(again, complete_mfa=False)
            await h.controller.wait_for_status("blocked_mfa_required")
            assert h.store.enrollments() == []
            # With MFA the same environment comes back.
            await h.sign_in(again)
            back = await h.controller.wait_for_status("connected")
            assert back.environment_id == connected.environment_id

    run(scenario())


def test_legacy_password_change_with_signin_without_mfa_is_errored(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path, Profile.LEGACY) as h:
            created = h.create_account()
            await h.sign_in(created)
            await h.controller.enable()
            await h.controller.wait_for_status("connected")
            new_password = h.server.control.change_password(created.account.account_id)
            await h.controller.wait_for_status("errored")
            assert not any(MFA_REFUSAL_LINE.match(line) for line in h.controller.log_lines)
            # Signing in again returns once the daemon has re-checked; today that is still just `errored`.
            again = CreatedAccount(created.account, new_password, created.totp_secret)
            await h.sign_in(again, complete_mfa=False)
            assert h.controller.status.value == "errored"
            assert any(MFA_REFUSAL_LINE.match(line) for line in h.controller.log_lines)
            assert h.store.enrollments() == []

    run(scenario())


# ------------------------------------------------------------------------------------------------ pairing


def test_pairing_start_needs_remote_control_enabled(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            response = await h.client.request("remoteControl/pairing/start", {})
            assert response["error"]["code"] == -32600
            assert response["error"]["message"] == PAIRING_REQUIRES_ENABLED

    run(scenario())


def test_pairing_start_is_unavailable_until_enrollment_completes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account(), complete_mfa=False)
            await h.controller.enable()
            response = await h.client.request("remoteControl/pairing/start", {})
            assert (
                response["error"]["message"]
                == "remote control pairing is unavailable until enrollment completes"
            )

    run(scenario())


def test_pairing_start_and_status_and_the_qr_link(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account())
            await h.controller.enable()
            connected = await h.controller.wait_for_status("connected")
            result = (await h.client.request("remoteControl/pairing/start", {"manualCode": True}))["result"]
            assert set(result) == {"pairingCode", "manualPairingCode", "environmentId", "expiresAt"}
            assert result["environmentId"] == connected.environment_id
            assert isinstance(result["expiresAt"], int) and result["expiresAt"] > h.state.clock.now()
            assert result["manualPairingCode"]
            claimed = await h.client.request(
                "remoteControl/pairing/status", {"pairingCode": result["pairingCode"]}
            )
            assert claimed["result"] == {"claimed": False}
            both = await h.client.request(
                "remoteControl/pairing/status", {"pairingCode": "a", "manualPairingCode": "b"}
            )
            assert both["error"]["message"] == (
                "remoteControl/pairing/status accepts either pairingCode or manualPairingCode, not both"
            )
            neither = await h.client.request("remoteControl/pairing/status", {})
            assert neither["error"]["message"] == (
                "remoteControl/pairing/status requires pairingCode or manualPairingCode"
            )
            shown = await h.desktop.show_pairing_qr(tmp_path / "qr.png")
            assert isinstance(shown, QrShown)
            link = decode_pairing_link(shown.png_path)
            assert link.environment_id == connected.environment_id
            assert link.server_name == SERVER_NAME
            assert link.origin == h.server.base_url

    run(scenario())


def test_a_phone_initializes_through_the_relay_and_can_be_listed_and_revoked(tmp_path: Path) -> None:
    from simulators.phone.app import PhoneApp

    async def scenario() -> None:
        async with world(tmp_path) as h:
            created = h.create_account()
            await h.sign_in(created)
            await h.controller.enable()
            connected = await h.controller.wait_for_status("connected")
            shown = await h.desktop.show_pairing_qr(tmp_path / "qr.png")
            assert isinstance(shown, QrShown)
            phone = PhoneApp(h.state.clock, issuer_url=h.server.issuer_url)
            await phone.scan(shown.png_path)
            phone.validate_link()
            await phone.sign_in(created.account.email, created.password, created.totp_secret)
            claimed = await phone.claim()
            await phone.connect()
            initialized = await phone.initialize()
            assert initialized["codexHome"] == str(h.home)
            assert [c.connection.origin for c in h.controller.relay.virtual_clients] == ["remoteControl"]
            socket = phone.session.socket
            assert socket is not None
            status = await socket.request("remoteControl/status/read")
            assert status["status"] == "connected"
            listed = (
                await h.client.request(
                    "remoteControl/client/list", {"environmentId": connected.environment_id}
                )
            )["result"]
            assert [c["clientId"] for c in listed["data"]] == [claimed.client_id]
            assert isinstance(listed["data"][0]["lastSeenAt"], int)
            revoked = await h.client.request(
                "remoteControl/client/revoke",
                {"environmentId": connected.environment_id, "clientId": claimed.client_id},
            )
            assert revoked["result"] == {}
            listed = (
                await h.client.request(
                    "remoteControl/client/list", {"environmentId": connected.environment_id}
                )
            )["result"]
            assert listed["data"] == []

    run(scenario())


def test_client_list_rejects_a_limit_out_of_range(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account())
            connected = await h.controller.enable()
            response = await h.client.request(
                "remoteControl/client/list", {"environmentId": connected.environment_id, "limit": 0}
            )
            assert (
                response["error"]["message"] == "remote control client list limit must be between 1 and 100"
            )

    run(scenario())


def test_no_token_in_logs_store_or_status(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as h:
            await h.sign_in(h.create_account())
            await h.controller.enable()
            await h.controller.wait_for_status("connected")
            token = h.controller._credential.token  # type: ignore[union-attr]
            assert token
            everything = "\n".join(h.controller.log_lines) + json.dumps(h.client.notifications)
            everything += (h.home / "state_5.sqlite").read_bytes().decode("latin-1")
            assert token not in everything

    run(scenario())


@pytest.mark.parametrize("profile", [Profile.LEGACY, Profile.FIXED])
def test_without_a_sign_in_enable_waits_for_authentication(tmp_path: Path, profile: Profile) -> None:
    async def scenario() -> None:
        async with world(tmp_path, profile) as h:
            snapshot = await h.controller.enable()
            expected = "disabled" if profile is Profile.LEGACY else "blocked_session_expired"
            assert snapshot.status.value == expected
            assert "remote control requires ChatGPT authentication" in h.controller.log_lines
            await h.sign_in(h.create_account())
            await h.controller.wait_for_status("connected")

    run(scenario())
