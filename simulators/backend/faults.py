"""Faults the backend can be told to answer with: per endpoint key (a route's name, or a finer key a route module
asks for, such as `oauth.token:refresh_token`), a queue of `Fault`s. The server's middleware consults it for every
request by route name; a fault waits `delay_s`, then either answers with `status`/`body` or (status None) lets the
request through. Scenarios arm faults in process (`BackendControl`) or over the admin API.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulators.protocol.errors import ProtocolError

MAX_FAULT_DELAY_S = 120.0


class AdminRequestError(ProtocolError):
    """A malformed admin request (wrong JSON shape, bad value)."""


@dataclass(frozen=True)
class Fault:
    """What to do to the next `times` requests of an endpoint (None: every request until cleared)."""

    status: int | None = None
    body: Any = None
    delay_s: float = 0.0
    times: int | None = 1
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise AdminRequestError("fault status must be an HTTP status (100-599)")
        if not 0.0 <= self.delay_s <= MAX_FAULT_DELAY_S:
            raise AdminRequestError(f"fault delay_s must be between 0 and {MAX_FAULT_DELAY_S}")
        if self.times is not None and self.times < 1:
            raise AdminRequestError("fault times must be at least 1 (or null for always)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "delay_s": self.delay_s,
            "times": self.times,
            "headers": dict(self.headers),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Fault:
        status = raw.get("status")
        delay = raw.get("delay_s", 0.0)
        times = raw.get("times", 1)
        headers = raw.get("headers", {})
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
        return cls(status=status, body=raw.get("body"), delay_s=float(delay), times=times, headers=headers)


@dataclass
class _ArmedFault:
    fault: Fault
    remaining: int | None


class FaultRegistry:
    """Faults queued per endpoint key; thread-safe so test threads can arm them while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_ArmedFault]] = {}
        self.applied: dict[str, int] = {}

    def inject(self, endpoint_key: str, fault: Fault) -> None:
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

    async def respond(self, endpoint_key: str) -> web.StreamResponse | None:
        """Apply the next fault for `endpoint_key`: the response to send, or None to serve normally."""
        fault = self.take(endpoint_key)
        if fault is None:
            return None
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.status is None:
            return None
        return fault_response(fault)


def fault_response(fault: Fault) -> web.Response:
    assert fault.status is not None
    headers = dict(fault.headers)
    if isinstance(fault.body, bytes):
        return web.Response(status=fault.status, body=fault.body, headers=headers)
    if isinstance(fault.body, str):
        return web.Response(status=fault.status, text=fault.body, headers=headers)
    if fault.body is None:
        return web.Response(status=fault.status, headers=headers)
    return web.json_response(fault.body, status=fault.status, headers=headers)
