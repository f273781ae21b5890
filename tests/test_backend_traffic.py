"""The backend's record of what every party sent it: complete enough to debug with, never holding a secret."""

from __future__ import annotations

import asyncio
import json

import httpx

from simulators.backend.accounts import AccountSpec
from simulators.backend.admin import BackendControl
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.protocol.oauth import CLIENT_ID


def test_unrouted_requests_are_recorded_and_admin_calls_are_not() -> None:
    async def scenario() -> list[dict]:
        server = BackendServer(BackendState.create(seed=1))
        base = await server.start()
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                assert (await http.get("/backend-api/wham/usage")).status_code == 404
                await http.get("/_pairsim/admin/accounts")
            return list(server.state.traffic.entries)
        finally:
            await server.stop()

    entries = asyncio.run(scenario())
    assert [(e["method"], e["url"], e["status"]) for e in entries] == [
        ("GET", "/backend-api/wham/usage", 404)
    ]


def test_token_responses_are_recorded_with_every_token_masked() -> None:
    async def scenario() -> tuple[list[dict], list[str]]:
        state = BackendState.create(seed=2)
        server = BackendServer(state)
        base = await server.start()
        try:
            created = BackendControl(state).create_account(AccountSpec(mfa=False))
            tokens = BackendControl(state).issue_tokens(created.account.account_id)
            async with httpx.AsyncClient(base_url=base) as http:
                refreshed = await http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": CLIENT_ID},
                    headers={"Authorization": f"Bearer {tokens.access_token}"},
                )
            assert refreshed.status_code == 200, refreshed.text
            issued = [tokens.access_token, tokens.refresh_token, *refreshed.json().values()]
            return list(state.traffic.entries), [s for s in issued if isinstance(s, str) and len(s) > 20]
        finally:
            await server.stop()

    entries, secrets = asyncio.run(scenario())
    (entry,) = [e for e in entries if e["url"] == "/oauth/token"]
    assert entry["status"] == 200
    assert entry["response_body"]["access_token"] == "<redacted>"
    assert entry["request_headers"]["Authorization"] == "Bearer <redacted>"
    recorded = json.dumps(entries)
    assert secrets and not [s for s in secrets if s in recorded]
