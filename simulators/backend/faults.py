"""Faults the backend can be told to answer with: per endpoint key, a queue of `Fault`s.

An endpoint key is a route's name (`rc.server.enroll`, `oauth.token`, ...), a finer key a route module asks for
(`oauth.token:refresh_token`), or `path:<path>` for whatever answers that path, including paths no route serves
(`path:/backend-api/wham/accounts/check`). The server's middleware consults the path key, then the route's name, for
every request; a route module may consult finer keys itself.

A fault takes the next `times` requests of its key and may, in this order:
- hold each until a scenario releases it (`release_held`): a backend that is slow for as long as a story needs,
  with no timer at all;
- delay each by `delay_s` seconds of the backend's clock: the answer comes once the scenario has moved that clock
  on by that much (`simulators.timers`), never after real seconds, so "answered after 30 seconds" is exact;
- answer with `status`, `body` and `content_type` (an HTML page where JSON was expected, say), or, with no status,
  let the request through to be served as usual.

Scenarios arm faults in process (`BackendControl`) or over the admin API.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulators.clock import Clock
from simulators.protocol.errors import ProtocolError
from simulators.timers import elapse

MAX_FAULT_DELAY_S = 24 * 3600.0
PATH_KEY_PREFIX = "path:"
JSON = "application/json"
HTML = "text/html"
MAX_CONTENT_TYPE = 128

# What a CDN's bot check puts in front of a site when it wants a browser: a page a person can pass and a program
# cannot. Proxies and CDNs answer 403 with it; every client that expected JSON must cope.
CHALLENGE_PAGE = (
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head>"
    "<body><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">"
    "<h1>chatgpt.com</h1><h2>Verify you are human by completing the action below.</h2>"
    "<noscript><div>Enable JavaScript and cookies to continue</div></noscript>"
    "</div></div></body></html>"
)


class AdminRequestError(ProtocolError):
    """A malformed admin request (wrong JSON shape, bad value)."""


def path_key(path: str) -> str:
    """The endpoint key for whatever answers `path` (`/backend-api/...`), served by a route or not."""
    if not path.startswith("/"):
        raise AdminRequestError(f"a path starts with '/': {path!r}")
    return PATH_KEY_PREFIX + path


@dataclass(frozen=True)
class Fault:
    """What to do to the next `times` requests of an endpoint (None: every request until cleared)."""

    status: int | None = None
    body: Any = None
    delay_s: float = 0.0
    times: int | None = 1
    headers: Mapping[str, str] = field(default_factory=dict)
    # The answer's Content-Type; None: JSON for a JSON body, text/plain for a string, none for no body.
    content_type: str | None = None
    hold: bool = False

    def __post_init__(self) -> None:
        if self.status is not None and (isinstance(self.status, bool) or not 100 <= self.status <= 599):
            raise AdminRequestError("fault status must be an HTTP status (100-599)")
        if not 0.0 <= self.delay_s <= MAX_FAULT_DELAY_S:
            raise AdminRequestError(f"fault delay_s must be between 0 and {MAX_FAULT_DELAY_S:g}")
        if self.times is not None and self.times < 1:
            raise AdminRequestError("fault times must be at least 1 (or null for always)")
        if self.content_type is not None and (
            not self.content_type or len(self.content_type) > MAX_CONTENT_TYPE or "\n" in self.content_type
            or "\r" in self.content_type
        ):
            raise AdminRequestError("fault content_type must be one header value")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "delay_s": self.delay_s,
            "times": self.times,
            "headers": dict(self.headers),
            "content_type": self.content_type,
            "hold": self.hold,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Fault:
        status = raw.get("status")
        delay = raw.get("delay_s", 0.0)
        times = raw.get("times", 1)
        headers = raw.get("headers", {})
        content_type = raw.get("content_type")
        hold = raw.get("hold", False)
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise AdminRequestError("fault status must be an integer or null")
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise AdminRequestError("fault delay_s must be a number")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise AdminRequestError("fault times must be an integer or null")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise AdminRequestError("fault headers must be an object of strings")
        if content_type is not None and not isinstance(content_type, str):
            raise AdminRequestError("fault content_type must be a string or null")
        if not isinstance(hold, bool):
            raise AdminRequestError("fault hold must be true or false")
        return cls(status=status, body=raw.get("body"), delay_s=float(delay), times=times, headers=headers,
                   content_type=content_type, hold=hold)


@dataclass
class _ArmedFault:
    fault: Fault
    remaining: int | None


class FaultRegistry:
    """Faults queued per endpoint key; thread-safe so test threads can arm them while the server runs.

    `clock` is the backend's: delays are measured on it. Held requests wait on an event of the server's loop, so
    `release_held` and `wait_held` are called on that loop (in process: `Runner.call`)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_ArmedFault]] = {}
        self.applied: dict[str, int] = {}
        self._held: dict[str, int] = {}  # held or delayed
        self._holding: dict[str, int] = {}  # held until released
        self._release: dict[str, asyncio.Event] = {}
        self._held_changed: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None

    def inject(self, endpoint_key: str, fault: Fault) -> None:
        if not endpoint_key:
            raise AdminRequestError("a fault needs an endpoint key")
        with self._lock:
            self._queues.setdefault(endpoint_key, deque()).append(_ArmedFault(fault, fault.times))

    def take(self, endpoint_key: str) -> Fault | None:
        """The fault for this request, if any; counts it against its `times`."""
        with self._lock:
            queue = self._queues.get(endpoint_key)
            if not queue:
                return None
            armed = queue[0]
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    queue.popleft()
            if not queue:
                del self._queues[endpoint_key]
            self.applied[endpoint_key] = self.applied.get(endpoint_key, 0) + 1
            return armed.fault

    def clear(self, endpoint_key: str | None = None) -> int:
        with self._lock:
            if endpoint_key is None:
                cleared = sum(len(q) for q in self._queues.values())
                self._queues.clear()
                return cleared
            return len(self._queues.pop(endpoint_key, ()))

    def pending(self) -> dict[str, list[Fault]]:
        with self._lock:
            return {key: [armed.fault for armed in queue] for key, queue in self._queues.items()}

    # -- held requests ---------------------------------------------------------------------------------------

    def held(self, endpoint_key: str | None = None) -> int:
        """How many requests (of one key, or of any) wait now, held or delayed: answers the scenario still owes."""
        if endpoint_key is not None:
            return self._held.get(endpoint_key, 0)
        return sum(self._held.values())

    def release_held(self, endpoint_key: str | None = None) -> int:
        """Let the held requests (of one key, or all) go on to their answer (after their delay, if they have one);
        returns how many were released. Later requests a hold fault takes are held again."""
        keys = [endpoint_key] if endpoint_key is not None else list(self._release)
        released = 0
        for key in keys:
            event = self._release.pop(key, None)
            if event is not None:
                released += self._holding.get(key, 0)
                event.set()
        return released

    async def wait_held(self, endpoint_key: str | None = None, timeout: float | None = 10.0) -> None:
        """Until a request (of one key, or of any) is being held (`timeout=None`: however long that takes)."""

        async def held() -> None:
            while self.held(endpoint_key) == 0:
                await self._changed().wait()

        await asyncio.wait_for(held(), timeout)

    def _changed(self) -> asyncio.Event:
        if self._held_changed is None:
            self._held_changed = asyncio.Event()
        return self._held_changed

    def _tell_held_changed(self) -> None:
        changed, self._held_changed = self._held_changed, None
        if changed is not None:
            changed.set()

    def close(self) -> None:
        """The server is stopping: every held or delayed request is answered now, so none keeps it from stopping."""
        if self._closing is None:
            self._closing = asyncio.Event()
        self._closing.set()
        self.release_held()

    async def _keep_waiting(self, endpoint_key: str, fault: Fault) -> None:
        """Hold the request until released, then delay it on the backend's clock; counted as held meanwhile."""
        if self._closing is None:
            self._closing = asyncio.Event()
        closing = asyncio.ensure_future(self._closing.wait())
        waiting = asyncio.ensure_future(self._wait_out(endpoint_key, fault))
        try:
            await asyncio.wait({closing, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (closing, waiting):
                task.cancel()
            await asyncio.gather(closing, waiting, return_exceptions=True)

    async def _wait_out(self, endpoint_key: str, fault: Fault) -> None:
        self._held[endpoint_key] = self._held.get(endpoint_key, 0) + 1
        self._tell_held_changed()
        try:
            if fault.hold:
                self._holding[endpoint_key] = self._holding.get(endpoint_key, 0) + 1
                try:
                    await self._release.setdefault(endpoint_key, asyncio.Event()).wait()
                finally:
                    self._holding[endpoint_key] -= 1
                    if not self._holding[endpoint_key]:
                        del self._holding[endpoint_key]
            if fault.delay_s:
                await elapse(self.clock, fault.delay_s)
        finally:
            self._held[endpoint_key] -= 1
            if not self._held[endpoint_key]:
                del self._held[endpoint_key]
            self._tell_held_changed()

    # -- answering -------------------------------------------------------------------------------------------

    async def respond(self, endpoint_key: str) -> web.StreamResponse | None:
        """Apply the next fault for `endpoint_key`: the response to send, or None to serve normally."""
        fault = self.take(endpoint_key)
        if fault is None:
            return None
        if fault.hold or fault.delay_s:
            await self._keep_waiting(endpoint_key, fault)
        if fault.status is None:
            return None
        return fault_response(fault)


def fault_response(fault: Fault) -> web.Response:
    assert fault.status is not None
    headers = dict(fault.headers)
    body = fault.body
    if any(name.lower() == "content-type" for name in headers):
        # The scenario wrote the header itself; aiohttp refuses a second one.
        raw = body if isinstance(body, bytes) else None if body is None else (
            body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        return web.Response(status=fault.status, body=raw, headers=headers)
    if body is None:
        return web.Response(status=fault.status, headers=headers, content_type=fault.content_type)
    if isinstance(body, bytes):
        return web.Response(status=fault.status, body=body, headers=headers,
                            content_type=fault.content_type or "application/octet-stream")
    if isinstance(body, str):
        content_type, _, parameters = (fault.content_type or "text/plain").partition(";")
        charset = parameters.partition("=")[2].strip() or "utf-8"
        return web.Response(status=fault.status, text=body, headers=headers, content_type=content_type.strip(),
                            charset=charset)
    return web.json_response(body, status=fault.status, headers=headers, content_type=fault.content_type or JSON)
