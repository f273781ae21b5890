"""A JSON-RPC client for an app-server's WebSocket, as the desktop app drives its daemon.

The dialect is the app-server's (no `"jsonrpc"` field, `-32600` for malformed requests; docs/protocol.md §1.4).
Requests are matched to answers by id; notifications are kept in arrival order and wake whoever waits for one,
so nobody sleeps to wait for the daemon's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulators.protocol.errors import ErrorCode, PairsimError

log = logging.getLogger("pairsim.real.client")

REQUEST_TIMEOUT_SECONDS = 40.0  # the daemon's enroll call has its own 30 s timeout


class AppServerRpcError(PairsimError):
    """The daemon answered a request with a JSON-RPC error. `message` is the daemon's own text."""

    code = ErrorCode.PROTOCOL_VIOLATION

    def __init__(self, method: str, rpc_code: int, message: str) -> None:
        super().__init__(message)
        self.method = method
        self.rpc_code = rpc_code


class AppServerGone(PairsimError):
    """The daemon's socket closed before it answered."""

    code = ErrorCode.RELAY_UNREACHABLE


@dataclass(frozen=True)
class Notification:
    method: str
    params: dict[str, Any] = field(default_factory=dict)


class AppServerClient:
    """One connection to `codex app-server --listen ws://…`, initialized with the experimental API."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.notifications: list[Notification] = []
        self._changed = asyncio.Condition()
        self._closed = False
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str, *, client_name: str, client_version: str) -> AppServerClient:
        ws = await connect(url, compression=None, max_size=None, open_timeout=10.0, ping_interval=None)
        client = cls(ws)
        await client.request(
            "initialize",
            {
                "clientInfo": {"name": client_name, "title": None, "version": client_version},
                "capabilities": {"experimentalApi": True},
            },
        )
        await client.notify("initialized")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                await self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(AppServerGone("the daemon closed the connection"))
            async with self._changed:
                self._changed.notify_all()

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" not in message:
            params = message.get("params")
            async with self._changed:
                self.notifications.append(Notification(str(message["method"]), params if isinstance(params, dict)
                                                       else {}))
                self._changed.notify_all()
            return
        future = self._pending.pop(message.get("id"), None) if "method" not in message else None
        if future is not None and not future.done():
            future.set_result(message)

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Any:
        """The result, or AppServerRpcError with the daemon's code and message."""
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(json.dumps({"id": request_id, "method": method, "params": params or {}}))
        except ConnectionClosed:
            self._pending.pop(request_id, None)
            raise AppServerGone("the daemon closed the connection") from None
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise AppServerRpcError(method, int(error.get("code", 0)), str(error.get("message", "")))
        return answer.get("result")

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        await self._ws.send(json.dumps(message))

    async def wait_for_notification(
        self, predicate: Callable[[Notification], bool], *, start: int = 0, timeout: float = 15.0
    ) -> Notification:
        """The first notification from index `start` on that satisfies `predicate`."""

        def found() -> Notification | None:
            return next((n for n in self.notifications[start:] if predicate(n)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None or self._closed), timeout)
        result = found()
        if result is None:
            raise AppServerGone("the daemon closed the connection")
        return result

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        # The real daemon never answers a close frame; do not wait for it.
        with contextlib.suppress(Exception):
            self._ws.transport.abort()
