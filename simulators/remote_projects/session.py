"""The Mac's desktop app working in a remote project: one JSON-RPC session with the remote app-server, over a
`RemoteLink`, that outlives the link.

`RemoteProjectSession` does the I/O around `core.RemoteSessionCore`: it opens the link, initializes
(`initialize` + `initialized`), lists and starts threads in the remote project's folder, starts turns, and hands
each approval the remote asks for to whoever listens (`on_approval`: the desktop's own prompt, or the phone through
the Mac's daemon); `decide` answers it. When the link drops it opens it again by itself, with a growing pause
between attempts (the desktop's backoff, not a wait for state), initializes and resumes each thread it works in, so
the turn the remote kept running goes on and its waiting approvals come back (`core.py` says how nothing decided is
lost or sent twice). Waiters await events (`wait_notification`, `wait_connected`), never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.remote_projects.core import (
    INITIALIZE,
    Answered,
    AnsweredFromMemory,
    Approval,
    ApprovalAsked,
    ItemKey,
    Notified,
    RemoteSessionCore,
)
from simulators.remote_projects.link import TRANSPORT, RemoteLink, RemoteLinkLost

log = logging.getLogger("pairsim.remote_projects")

CLIENT_NAME = "codex_desktop"
CLIENT_VERSION = "0.169.0"
REQUEST_TIMEOUT = 60.0  # a turn/start waits for the remote's model; enough for a loaded 2-core machine
WAIT_TIMEOUT = 60.0
# The desktop's pause between attempts to open a dropped link: doubling from the first, up to the last.
RECONNECT_BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)
_UNREACHABLE = (OSError, InvalidHandshake, ConnectionClosed, TimeoutError, RemoteLinkLost)

ApprovalListener = Callable[[Approval], Awaitable[None] | None]
NotificationListener = Callable[[Notified], Awaitable[None] | None]


class RemoteRpcError(PairsimError):
    """The remote app-server answered a request with an error; `message` is its own text."""

    code = ErrorCode.PROTOCOL_VIOLATION

    def __init__(self, method: str, rpc_code: int, message: str) -> None:
        super().__init__(message)
        self.method = method
        self.rpc_code = rpc_code


class RemoteUnreachable(PairsimError):
    """The desktop could not open the link to the remote project's computer."""

    code = ErrorCode.RELAY_UNREACHABLE


class RemoteProjectClosed(PairsimError):
    """The desktop closed the remote project."""


@dataclass(frozen=True)
class RemoteProject:
    """A project on another computer, as the desktop lists it."""

    name: str  # the project's folder name: "login-service"
    host: str  # the SSH alias it is reached by: "devbox"
    cwd: str  # the project's folder on the remote

    @property
    def id(self) -> str:
        return f"ssh:{self.host}:{self.cwd}"


@dataclass
class LinkRecord:
    """What happened to the link, for steps and reports."""

    opened: int = 0
    dropped: int = 0
    failed_attempts: int = 0
    close_codes: list[int | None] = field(default_factory=list)  # each dropped WebSocket's close code (1006: none)
    log: list[str] = field(default_factory=list)


class RemoteProjectSession:
    """The desktop's session with one remote project's app-server. All coroutines run on one event loop."""

    def __init__(self, project: RemoteProject, link: RemoteLink, *,
                 backoff: tuple[float, ...] = RECONNECT_BACKOFF) -> None:
        self.project = project
        self.link = link
        self.core = RemoteSessionCore()
        self.record = LinkRecord()
        self.notifications: list[Notified] = []
        self.approvals: list[Approval] = []  # every approval handed to the person, in order
        self.on_approval: list[ApprovalListener] = []
        self.on_notification: list[NotificationListener] = []
        self._backoff = backoff
        self._ws: ClientConnection | None = None
        self._futures: dict[int, asyncio.Future[Answered]] = {}
        self._changed = asyncio.Condition()
        self._reconnecting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._ready = 0  # the connection (by count) that finished initializing and resuming its threads
        self.initialize_result: dict[str, Any] = {}

    # -- the link ------------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def open(self) -> RemoteProjectSession:
        """Open the link and initialize. Raises RemoteUnreachable when the remote cannot be reached."""
        try:
            await self._connect()
        except _UNREACHABLE as exc:
            await self.close()
            # The cause stays: the desktop tells a refused upgrade from a closed socket by it.
            raise RemoteUnreachable(f"cannot reach {self.link.name} ({type(exc).__name__})") from exc
        return self

    async def _connect(self) -> None:
        ws = await self.link.open()
        self.core.connected()
        self._ws = ws
        self._spawn(self._read(ws))
        self.record.opened += 1
        self._note(f"[{TRANSPORT}] connected to {self.link.name} (connection {self.core.connections})")
        result = await self.request(INITIALIZE, {
            "clientInfo": {"name": CLIENT_NAME, "title": "Codex Desktop", "version": CLIENT_VERSION},
            "capabilities": {"experimentalApi": True},
        })
        self.initialize_result = result if isinstance(result, dict) else {}
        await self._send(self.core.notification("initialized"))
        for thread_id in list(self.core.threads):
            try:
                resumed = await self.request("thread/resume", {"threadId": thread_id})
            except RemoteRpcError as exc:
                # A thread the remote no longer knows (its Codex was reinstalled, its home wiped) is gone; the
                # connection and the other threads are not.
                self._note(f"could not resume thread {thread_id}: {exc.message}")
                continue
            thread = resumed.get("thread") if isinstance(resumed, dict) else None
            if isinstance(thread, dict):
                self.core.resumed(thread)
            self._note(f"resumed thread {thread_id}")
        async with self._changed:
            self._ready = self.core.connections
            self._changed.notify_all()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                await self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            if ws is self._ws:
                self.record.close_codes.append(ws.close_code)
                await self._lost()

    async def _lost(self) -> None:
        self._ws = None
        for request_id, method in self.core.connection_lost():
            future = self._futures.pop(request_id, None)
            if future is not None and not future.done():
                future.set_exception(RemoteLinkLost(f"the link to {self.link.name} dropped before {method} was "
                                                    "answered"))
        async with self._changed:
            self._changed.notify_all()
        if self._closing:
            return
        self.record.dropped += 1
        self._note(f"[{TRANSPORT}] the connection to {self.link.name} dropped; reconnecting")
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._connect()
                return
            except (*_UNREACHABLE, RemoteRpcError) as exc:
                async with self._changed:
                    self.record.failed_attempts += 1
                    self._changed.notify_all()
                pause = self._backoff[min(attempt, len(self._backoff) - 1)]
                log.info("reconnecting to %s failed (%s); again in %.2f s", self.link.name, type(exc).__name__, pause)
                attempt += 1
                await asyncio.sleep(pause)  # the desktop's backoff between attempts

    async def wait_connected(self, connections: int, timeout: float = WAIT_TIMEOUT) -> None:
        """Until the session has opened the link `connections` times in all (and resumed its threads then)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(
                lambda: self._ready >= connections and self._ws is not None), timeout)

    async def wait_failed_attempts(self, attempts: int, timeout: float = WAIT_TIMEOUT) -> None:
        """Until `attempts` attempts in all to open the link again have failed: the remote is out of reach."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.record.failed_attempts >= attempts), timeout)

    async def wait_dropped(self, drops: int, timeout: float = WAIT_TIMEOUT) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.record.dropped >= drops), timeout)

    # -- requests ------------------------------------------------------------------------------------------------

    async def request(self, method: str, params: dict[str, Any] | None = None, *,
                      timeout: float = REQUEST_TIMEOUT) -> Any:
        """The remote's result. Raises RemoteRpcError, or RemoteLinkLost when the link drops first."""
        if self._ws is None:
            raise RemoteLinkLost(f"not connected to {self.link.name}")
        request_id, message = self.core.request(method, params)
        future: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        await self._send(message)
        answer = await asyncio.wait_for(future, timeout)
        if answer.error is not None:
            raise RemoteRpcError(method, int(answer.error.get("code", 0)), str(answer.error.get("message", "")))
        return answer.result

    async def list_threads(self) -> list[dict[str, Any]]:
        result = await self.request("thread/list", {"cwd": self.project.cwd})
        data = result.get("data") if isinstance(result, dict) else None
        return [thread for thread in data if isinstance(thread, dict)] if isinstance(data, list) else []

    async def start_thread(self) -> dict[str, Any]:
        """A new thread in the remote project's folder."""
        result = await self.request("thread/start", {"cwd": self.project.cwd})
        thread = result["thread"]
        self.core.follow(str(thread["id"]))
        return dict(thread)

    async def resume_thread(self, thread_id: str) -> dict[str, Any]:
        result = await self.request("thread/resume", {"threadId": thread_id})
        self.core.follow(thread_id)
        thread = result.get("thread") if isinstance(result, dict) else None
        if isinstance(thread, dict):
            self.core.resumed(thread)
        return result if isinstance(result, dict) else {}

    async def start_turn(self, thread_id: str, text: str) -> dict[str, Any]:
        result = await self.request("turn/start", {"threadId": thread_id,
                                                   "input": [{"type": "text", "text": text}]})
        self.core.follow(thread_id)
        return dict(result["turn"])

    # -- approvals -----------------------------------------------------------------------------------------------

    async def decide(self, key: ItemKey, decision: str) -> None:
        """The person's decision. Sent now if the remote waits for it on this connection; otherwise kept and sent
        when the remote asks again after a reconnect."""
        for message in self.core.decide(key, decision):
            await self._send(message)
        async with self._changed:
            self._changed.notify_all()

    async def wait_asked(self, key: ItemKey, timeout: float = WAIT_TIMEOUT) -> None:
        """Until the remote asks about the item on the current connection (again, after a reconnect)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.core.asking(key)), timeout)

    async def wait_decided(self, item_id: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Until the person's decision on the item has reached this session; the decision."""
        def decided() -> str | None:
            return next((self.core.decision(a.key) for a in self.approvals
                         if a.key.item_id == item_id and self.core.decision(a.key) is not None), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: decided() is not None), timeout)
        result = decided()
        assert result is not None
        return result

    # -- waiting -------------------------------------------------------------------------------------------------

    async def wait_notification(self, predicate: Callable[[Notified], bool], *, start: int = 0,
                                timeout: float = WAIT_TIMEOUT) -> Notified:
        def found() -> Notified | None:
            return next((n for n in self.notifications[start:] if predicate(n)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result

    async def wait_approval(self, kind: str | None = None, *, start: int = 0,
                            timeout: float = WAIT_TIMEOUT) -> Approval:
        """The first approval (of `kind` "command"/"file_change") handed out from index `start` on."""
        def found() -> Approval | None:
            return next((a for a in self.approvals[start:] if kind is None or a.kind == kind), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result

    async def wait_turn_completed(self, turn_id: str, timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
        def done(n: Notified) -> bool:
            turn = n.params.get("turn")
            return n.method == "turn/completed" and isinstance(turn, dict) and turn.get("id") == turn_id

        notification = await self.wait_notification(done, timeout=timeout)
        return dict(notification.params["turn"])

    # -- internals -----------------------------------------------------------------------------------------------

    async def _dispatch(self, message: object) -> None:
        event, replies = self.core.receive(message)
        for reply in replies:
            await self._send(reply)
        if isinstance(event, Answered):
            future = self._futures.pop(event.request_id, None)
            if future is not None and not future.done():
                future.set_result(event)
            return
        if isinstance(event, AnsweredFromMemory):
            self._note(f"answered {event.key.item_id} again with the decision made before the link dropped")
        async with self._changed:
            if isinstance(event, Notified):
                self.notifications.append(event)
            elif isinstance(event, ApprovalAsked):
                self.approvals.append(event.approval)
            self._changed.notify_all()
        if isinstance(event, Notified):
            for listener in list(self.on_notification):
                await _call(listener, event)
        elif isinstance(event, ApprovalAsked):
            for approval_listener in list(self.on_approval):
                await _call(approval_listener, event.approval)

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return  # what was to be sent is kept by the core (a decision) or failed with the link (a request)
        try:
            await ws.send(json.dumps(message))
        except ConnectionClosed:
            return  # the reader notices the drop and reconnects

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _note(self, line: str) -> None:
        self.record.log.append(line)
        log.info("%s: %s", self.project.name, line)

    async def drop(self) -> None:
        """Close the current connection abruptly (as a killed socket does); the session reconnects by itself."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    async def close(self) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.transport.abort()  # the real app-server does not answer a close frame
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for future in self._futures.values():
            if not future.done():
                future.set_exception(RemoteProjectClosed(f"{self.project.name} was closed"))
                future.exception()
        self._futures.clear()


async def _call(listener: Callable[[Any], Awaitable[None] | None], value: Any) -> None:
    result = listener(value)
    if result is not None:
        await result
