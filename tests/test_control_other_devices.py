"""A controlling Mac against a real backend over real sockets: `client/pair` under the Mac's own client id, the
`pending_enrollment` state until its first device proof on the relay, a removed id that cannot pair again (and the
fix that comes back under a new one), the app-server managers a relaunch keeps or loses, and a network path that
holds WebSocket upgrades while plain HTTP passes.

A real `BackendServer` on 127.0.0.1:0; the person's tokens come from the backend's own issuer (signed JWTs checked
on the same path as any request); the host is a daemon's enrollment made over HTTP, as the daemon makes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from simulators.backend import remote_control as rc
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock
from simulators.controller.app import ControlFailed, ControllingMac, ControlProfile, HostRow
from simulators.network import LoopbackForwarder
from simulators.phone.app import Tokens
from simulators.protocol.errors import PairsimError


@dataclass
class Setup:
    server: BackendServer
    state: BackendState
    http: httpx.AsyncClient
    tokens: Tokens
    environment_id: str
    server_token: str

    async def code_to_type(self) -> str:
        response = await self.http.post(rc.PAIR_PATH, headers={"Authorization": f"Bearer {self.server_token}"},
                                        json={"manual_code": True})
        assert response.status_code == 200, response.text
        return str(response.json()["manual_pairing_code"])

    async def clients(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"wham/remote/control/environments/{self.environment_id}/clients",
                                       headers={"Authorization": f"Bearer {self.server_token}"})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def host(self) -> HostRow:
        return HostRow(self.environment_id, "dana-mac", True)

    def controller(self, profile: ControlProfile = ControlProfile.FIXED, origin: str | None = None) -> ControllingMac:
        return ControllingMac("Dana's MacBook Air", Clock(), origin or self.server.base_url, profile=profile,
                              tokens=self.tokens)


def run(test: Callable[[Setup], Awaitable[None]], *, typed_errors: bool = True) -> None:
    async def main() -> None:
        state = BackendState.create(typed_errors=typed_errors)
        server = BackendServer(state)
        await server.start()
        http = httpx.AsyncClient(base_url=server.chatgpt_base_url, timeout=10)
        try:
            created = server.control.create_account(mfa=True)
            issued = server.control.issue_tokens(created.account.account_id)
            account_id = created.account.account_id
            tokens = Tokens(issued.access_token, None, None, account_id, created.account.user_id, None)
            enrolled = await http.post(rc.ENROLL_PATH, json={
                "name": "dana-mac", "os": "macos", "arch": "aarch64", "app_server_version": "0.169.0",
                "installation_id": "inst-1"}, headers={"Authorization": f"Bearer {issued.access_token}",
                                                      "chatgpt-account-id": account_id,
                                                      "x-codex-installation-id": "inst-1"})
            assert enrolled.status_code == 200, enrolled.text
            body = enrolled.json()
            setup = Setup(server, state, http, tokens, body["environment_id"], body["remote_control_token"])
            await asyncio.wait_for(test(setup), 30)
        finally:
            await http.aclose()
            await server.stop()

    asyncio.run(main())


def test_a_controller_is_pending_until_it_proves_its_device_key_on_the_relay() -> None:
    async def body(s: Setup) -> None:
        mac = s.controller()
        pairing = await mac._pair(s.host(), await s.code_to_type())
        assert pairing.client_id.startswith("ctl-") and pairing.environment_id == s.environment_id
        stored = s.state.remote_control.store.client(pairing.client_id)
        assert (stored.enrollment_status, stored.device.platform) == ("pending_enrollment", "macos")
        assert await s.clients() == []  # a pending client is left out of the host's list
        socket = await mac.open_socket(pairing)
        try:
            listed = await s.clients()
            assert [(c["client_id"], c["enrollment_status"]) for c in listed] == [(pairing.client_id, "active")]
        finally:
            await socket.close()
            await mac.close()

    run(body)


@pytest.mark.parametrize("profile", list(ControlProfile))
def test_a_removed_controller_id_never_pairs_again_and_the_fix_comes_back_under_a_new_one(
        profile: ControlProfile) -> None:
    async def body(s: Setup) -> None:
        mac = s.controller(profile)
        mac.hosts = (s.host(),)
        first = await mac._pair(s.host(), await s.code_to_type())
        mac.pairings[first.environment_id] = first
        removed = await s.http.delete(f"wham/remote/control/environments/{s.environment_id}/clients/"
                                      f"{first.client_id}", headers={"Authorization": f"Bearer {s.server_token}"})
        assert removed.status_code == 204
        shown = await mac.pair("dana-mac", await s.code_to_type())
        again = mac.pairings[s.environment_id]
        if profile is ControlProfile.LEGACY:
            assert shown.message == "Failed to update connections."
            assert again.client_id == first.client_id
        else:
            # Paired again under a new id; no daemon is on this relay, so the host shows offline, and says so.
            assert shown.message == "dana-mac is offline. Your pairing is kept: it opens once dana-mac is back " \
                "online.", shown
            assert again.client_id != first.client_id
        await mac.close()

    run(body, typed_errors=False)


def test_the_pair_route_refuses_a_phone_platform_and_a_missing_client_id() -> None:
    async def body(s: Setup) -> None:
        code = await s.code_to_type()
        headers = {"Authorization": f"Bearer {s.tokens.access_token}", "x-codex-protocol-version": "3"}
        mac = s.controller()
        base = {"client_id": "ctl-1", "manual_pairing_code": code, "device_public_key": mac.device_key.public_key_base64,
                "display_name": "Air", "device_type": "desktop", "platform": "ios", "os_version": "15",
                "device_model": "Mac", "app_version": "1"}
        refused = await s.http.post(rc.CLIENT_PAIR_PATH, headers=headers, json=base)
        assert refused.status_code == 400 and "macos" in refused.json()["detail"]
        missing = await s.http.post(rc.CLIENT_PAIR_PATH, headers=headers, json={**base, "platform": "macos",
                                                                                 "client_id": None})
        assert missing.status_code == 400 and "client_id" in missing.json()["detail"]
        assert s.state.remote_control.store.clients() == ()  # nothing half-made
        await mac.close()

    run(body)


@pytest.mark.parametrize("profile", list(ControlProfile))
def test_a_relaunch_keeps_the_managers_only_with_the_fix(profile: ControlProfile) -> None:
    async def body(s: Setup) -> None:
        mac = s.controller(profile)
        pairing = await mac._pair(s.host(), await s.code_to_type())
        mac.pairings[pairing.environment_id] = pairing
        mac._register(pairing)
        relaunched = mac.relaunched()
        assert list(relaunched.pairings) == [s.environment_id]
        if profile is ControlProfile.LEGACY:
            assert relaunched.managers == {}
            with pytest.raises(ControlFailed) as raised:
                await relaunched.request(s.environment_id, "thread/list", {})
            assert raised.value.shown.message == \
                f"No AppServerManager registered for hostId: remote-control:{s.environment_id}"
        else:
            assert list(relaunched.managers) == [f"remote-control:{s.environment_id}"]
        await mac.close()
        await relaunched.close()

    run(body)


def test_a_path_that_holds_upgrades_passes_plain_http_and_never_answers_an_upgrade() -> None:
    async def body(s: Setup) -> None:
        host, port = s.server.base_url.removeprefix("http://").split(":")
        async with LoopbackForwarder(host, int(port), name="air") as path:
            path.stall_websocket_upgrades()
            async with httpx.AsyncClient(base_url=f"{path.url}/backend-api/", timeout=10) as http:
                listed = await http.get("wham/remote/control/environments",
                                        headers={"Authorization": f"Bearer {s.tokens.access_token}"})
            assert listed.status_code == 200
            assert path.stalled_upgrades == 0
            mac = s.controller(origin=path.url)
            pairing = await mac._pair(s.host(), await s.code_to_type())
            opening = asyncio.ensure_future(mac.open_socket(pairing))
            await path.wait_upgrade_stalled()
            assert path.stalled_upgrades == 1 and not opening.done()
            mac.clock.advance(30)  # the handshake's deadline is on the controlling Mac's clock
            with pytest.raises(PairsimError, match="opening handshake"):
                await opening
            await mac.close()

    run(body)


def test_cutting_a_path_resets_the_upgrades_it_holds_and_restoring_it_carries_upgrades_again() -> None:
    async def body(s: Setup) -> None:
        host, port = s.server.base_url.removeprefix("http://").split(":")
        async with LoopbackForwarder(host, int(port), name="air") as path:
            path.stall_websocket_upgrades()
            request = (b"GET /backend-api/wham/remote/control/client HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\n\r\n")
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            writer.write(request)
            await path.wait_upgrade_stalled()
            await path.cut()
            with pytest.raises(ConnectionResetError):  # reset as a dropped link is, never answered
                await reader.read()
            writer.close()
            await path.restore()
            path.stall_websocket_upgrades(False)
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            writer.write(request)
            status_line = await reader.readline()
            assert status_line.startswith(b"HTTP/1.1 4"), status_line  # the relay answers (refuses a bare upgrade)
            assert path.stalled_upgrades == 1
            writer.close()

    run(body)
