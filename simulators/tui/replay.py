"""Play a recording's client side against a live daemon and compare what it answers with what the real one did.

The client's frames are sent in recorded order over one WebSocket per recorded connection. Before each client frame,
the replay waits (bounded) for the live counterparts of the daemon frames recorded before it: a response or error
by the request's id, a notification by its method, in order. So causality is kept (a client that sent something
after it saw an answer sends it after the live answer) without any sleep. Each recorded daemon frame is then
compared by shape (`simulators.protocol.traffic.message_shape`) with its live counterpart, or reported missing.

What the client sends back names what the daemon made (a thread's id in `turn/start`, the id of the daemon's
approval request in the client's answer): the replay learns each recorded value's live counterpart from the
daemon frames it compares (`ID_KEYS`, and the ids of the daemon's own requests) and puts it in the client's later
frames. Paths under the recording's world folder (`substitutions`, e.g. `{world}` → the live world's root) are put
in the same way, so a thread starts in the live Mac's project.

`configWarning` is left out: the real daemon sends it for the machine it runs on (bubblewrap not on PATH), not for
anything the client did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulators.protocol.traffic import (
    Frame,
    MessageKind,
    Recording,
    Side,
    differences,
    kind_of,
    message_shape,
)

ENVIRONMENT_NOTIFICATIONS = frozenset({"configWarning"})
# Keys whose values the daemon makes and the client sends back.
ID_KEYS = frozenset({"id", "threadId", "turnId", "itemId", "callId", "approvalId", "responseId"})
ANSWER_SECONDS = 5.0


@dataclass(frozen=True)
class Comparison:
    """One recorded daemon frame and what the live daemon sent for it."""

    method: str  # the method it answers (a response) or its own (a notification)
    kind: MessageKind
    seq: int
    differences: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return not self.differences


@dataclass
class ReplayReport:
    session: str
    comparisons: list[Comparison] = field(default_factory=list)

    def by_method(self) -> dict[str, list[Comparison]]:
        grouped: dict[str, list[Comparison]] = defaultdict(list)
        for comparison in self.comparisons:
            grouped[comparison.method].append(comparison)
        return dict(grouped)

    def identical_methods(self) -> list[str]:
        return [method for method, items in self.by_method().items() if all(c.identical for c in items)]

    def describe(self) -> str:
        lines = []
        for method, items in self.by_method().items():
            bad = [c for c in items if not c.identical]
            lines.append(f"{method}: {'identical' if not bad else 'differs'} ({len(items)} compared)")
            for comparison in bad[:3]:
                lines += [f"    #{comparison.seq} {line}" for line in comparison.differences[:8]]
        return "\n".join(lines)


class _Live:
    """What the live daemon sent on one connection, and a way to wait for a particular message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.taken: set[int] = set()
        self._changed = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    async with self._changed:
                        self.messages.append(message)
                        self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    def _find(self, expected: Frame) -> int | None:
        for index, message in enumerate(self.messages):
            if index in self.taken:
                continue
            kind = kind_of(message)
            if expected.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
                if kind in (MessageKind.RESPONSE, MessageKind.ERROR) and message.get("id") == expected.id:
                    return index
            elif kind is expected.kind and message.get("method") == expected.method:
                return index
        return None

    async def take(self, expected: Frame, timeout: float) -> dict[str, Any] | None:
        """The live counterpart of `expected`, waiting up to `timeout`; None if it never came."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._find(expected) is not None or self._reader.done()), timeout
                )
            except TimeoutError:
                return None
            index = self._find(expected)
            if index is None:
                return None
            self.taken.add(index)
            return self.messages[index]

    async def close(self) -> None:
        self.ws.transport.abort()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def learn_ids(recorded: Any, live: Any, learned: dict[str, str]) -> None:
    """Note, for each string under an `ID_KEYS` key, the live value at the same place in `live`."""
    if isinstance(recorded, dict) and isinstance(live, dict):
        for key, value in recorded.items():
            if key not in live:
                continue
            if key in ID_KEYS and isinstance(value, str) and isinstance(live[key], str) and value != live[key]:
                learned.setdefault(value, live[key])
            else:
                learn_ids(value, live[key], learned)
    elif isinstance(recorded, list) and isinstance(live, list):
        for old, new in zip(recorded, live, strict=False):
            learn_ids(old, new, learned)


def put_live_values(value: Any, learned: Mapping[str, str], substitutions: Mapping[str, str]) -> Any:
    """A client frame's value with recorded ids replaced by their live counterparts and paths moved."""
    if isinstance(value, dict):
        return {key: put_live_values(item, learned, substitutions) for key, item in value.items()}
    if isinstance(value, list):
        return [put_live_values(item, learned, substitutions) for item in value]
    if isinstance(value, str):
        if value in learned:
            return learned[value]
        for recorded, live in substitutions.items():
            value = value.replace(recorded, live)
    return value


OutsideAction = Callable[[dict[str, Any]], Awaitable[None]]


async def replay(recording: Recording, url: str, *, answer_seconds: float = ANSWER_SECONDS,
                 substitutions: Mapping[str, str] | None = None, outside: OutsideAction | None = None) -> ReplayReport:
    """`outside` sees each live daemon message as it is compared, and does what the person did outside the
    connection in the recorded session (sign in in a browser at the link the daemon answered with) before the
    replay goes on."""
    report = ReplayReport(recording.header.session)
    methods_by_id: dict[tuple[int, Any], str] = {}
    connections: dict[int, _Live] = {}
    learned: dict[str, str] = {}
    # The daemon's own requests (an approval) by recorded id: the client's answer names the live one.
    server_requests: dict[tuple[int, Any], Any] = {}
    try:
        for frame in recording.frames:
            if frame.side is Side.CLIENT:
                live = connections.get(frame.connection)
                if live is None:
                    ws = await connect(url, compression=None, max_size=None, ping_interval=None, open_timeout=10.0)
                    live = connections[frame.connection] = _Live(ws)
                if frame.kind is MessageKind.REQUEST and frame.method:
                    methods_by_id[(frame.connection, frame.id)] = frame.method
                message = put_live_values(frame.message, learned, substitutions or {})
                if frame.kind in (MessageKind.RESPONSE, MessageKind.ERROR):
                    message["id"] = server_requests.get((frame.connection, frame.id), frame.id)
                await live.ws.send(json.dumps(message))
                continue
            if frame.method in ENVIRONMENT_NOTIFICATIONS:
                continue
            live = connections[frame.connection]
            method = frame.method or methods_by_id.get((frame.connection, frame.id), "?")
            got = await live.take(frame, answer_seconds)
            if got is None:
                found: tuple[str, ...] = (f"$: the daemon sent nothing for recorded frame #{frame.seq} ({frame.kind})",)
            else:
                found = tuple(differences(message_shape(frame.message), message_shape(got)))
                learn_ids(frame.message.get("result", frame.message.get("params")),
                          got.get("result", got.get("params")), learned)
                if frame.kind is MessageKind.REQUEST:
                    server_requests[(frame.connection, frame.id)] = got.get("id")
                if outside is not None:
                    await outside(got)
            report.comparisons.append(Comparison(method, frame.kind, frame.seq, found))
    finally:
        for live in connections.values():
            await live.close()
    return report
