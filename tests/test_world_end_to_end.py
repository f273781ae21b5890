"""Enrollment → pairing → relay → JSON-RPC `initialize`, with a hand-written minimal phone client.

The full phone simulator has its own tests; this one proves the mocked world's wire contract with nothing but
httpx, websockets and the protocol core, so a regression in the world cannot hide behind the phone's code.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from simulators.protocol.device_key import DeviceKey, DeviceKeyChallenge
from simulators.qr import decode_pairing_link
from simulators.world import QrShown, World


async def _minimal_phone(link_png: Path, access_token: str, account_id: str) -> dict:
    link = decode_pairing_link(link_png)
    key = DeviceKey.generate()
    async with httpx.AsyncClient(base_url=link.backend_base_url) as http:
        claim = await http.post(
            "wham/remote/control/client/claim",
            headers={
                "Authorization": f"Bearer {access_token}",
                "chatgpt-account-id": account_id,
                "x-codex-protocol-version": "3",
            },
            json={
                "pairing_code": link.pairing_code,
                "environment_id": link.environment_id,
                "device_public_key": key.public_key_base64,
                "display_name": "hand-written client",
                "device_type": "phone",
                "platform": "ios",
                "os_version": "18.5",
                "device_model": "test",
                "app_version": "0",
            },
        )
    assert claim.status_code == 200, claim.text
    claimed = claim.json()
    assert claimed["environment_id"] == link.environment_id
    socket_url = link.backend_base_url.replace("http://", "ws://") + "wham/remote/control/client"
    headers = {
        "x-codex-client-session-token": f"Bearer {claimed['client_session_token']}",
        "x-codex-client-id": claimed["client_id"],
        "x-codex-protocol-version": "3",
        "Authorization": f"Bearer {access_token}",
        "chatgpt-account-id": account_id,
    }
    async with connect(socket_url, additional_headers=headers) as ws:
        challenge = DeviceKeyChallenge.from_json(json.loads(await ws.recv()))
        assert challenge.client_id == claimed["client_id"]
        await ws.send(json.dumps(key.prove(challenge).to_json()))
        accepted = json.loads(await ws.recv())
        assert accepted["type"] == "device_key_accepted", accepted
        initialize = {
            "id": 1,
            "method": "initialize",
            "params": {"clientInfo": {"name": "minimal_phone", "title": None, "version": "0.0.1"}},
        }
        await ws.send(json.dumps({"type": "client_message", "message": initialize}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("type") == "server_message":
                await ws.send(json.dumps({"type": "ack", "seq_id": frame["seq_id"]}))
                if frame["message"].get("id") == 1:
                    return frame["message"]


def test_enroll_pair_relay_and_initialize_with_a_minimal_client(tmp_path: Path) -> None:
    with World(seed=5, root=tmp_path) as world:
        dana = world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        assert world.mac().status == "connected"
        assert world.mac().last_enrollment_response()[0] == 200
        assert len(world.mac().enrollment_rows()) == 1
        shown = world.mac().show_pairing_qr()
        assert isinstance(shown, QrShown)
        phone_tokens = world.backend.control.issue_tokens(dana.account_id)
        # A client of its own, on its own event loop: nothing of the world's but the sockets it serves.
        response = asyncio.run(_minimal_phone(shown.png_path, phone_tokens.access_token, dana.account_id))
    assert "jsonrpc" not in response
    result = response["result"]
    assert result["userAgent"].startswith("minimal_phone/0.169.0 ")
    assert result["platformFamily"] == "unix"
    assert result["codexHome"].endswith("codex-home")
