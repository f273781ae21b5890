"""Codex on the remote asks the desktop before it runs a command or changes a file: the app-server sends a JSON-RPC
*request* (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`) on the project's socket and
waits for the answer `{"decision": …}`. The shared `AppServerClient` reads only answers and notifications, so the
remote project's client keeps the server's requests too, in order, and answers them by id."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from simulators.real.app_server_client import AppServerClient

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
DECISIONS = ("accept", "acceptForSession", "decline", "cancel")


@dataclass(frozen=True)
class ApprovalRequest:
    request_id: int | str
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return str(self.params.get("command", ""))


class ApprovingClient(AppServerClient):
    """An app-server client that also keeps the server's approval requests until the desktop decides."""

    def __init__(self, ws: Any) -> None:
        self.approvals: list[ApprovalRequest] = []
        self._asked = asyncio.Condition()
        super().__init__(ws)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            params = message.get("params")
            async with self._asked:
                self.approvals.append(ApprovalRequest(message["id"], str(message["method"]),
                                                      params if isinstance(params, dict) else {}))
                self._asked.notify_all()
            return
        await super()._dispatch(message)

    async def next_approval(self, after: int, timeout: float) -> ApprovalRequest:
        """The approval request number `after` (0 for the first one), waiting for it to come."""
        async with self._asked:
            await asyncio.wait_for(self._asked.wait_for(lambda: len(self.approvals) > after), timeout)
            return self.approvals[after]

    async def decide(self, request: ApprovalRequest, decision: str) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
        await self._ws.send(json.dumps({"id": request.request_id, "result": {"decision": decision}}))
