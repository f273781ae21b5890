"""Faults the relay can be told to commit against one party's sockets: the Mac's daemon socket
(`wham/remote/control/server`) or a phone's client socket (`wham/remote/control/client`).

A plain object with no I/O: the relay asks it, at each point where a fault can bite, what to do (answer this upgrade
with a status instead of 101? wait before writing this frame? close after this frame? answer this ping?) and does it
with its real sockets. So a fault is "this party's next upgrade is refused", never a flag a client reads.

- `refuse_upgrades`: the next `times` upgrades of the party are answered with an HTTP status and body, as a relay
  that is down, or a gateway in front of it, would answer;
- `close_after`: the party's socket is closed with a close code once the relay has sent it `messages` more frames
  (0: at once);
- `delay`: every frame the relay writes to the party waits that long first (order is kept);
- `stop_answering_pings`: WebSocket pings from the party get no pong, so its keepalive gives up on the socket.

Dropping a socket (no close frame) needs no state: the relay aborts the party's open sockets when told.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

MAX_DELAY_S = 120.0


class RelayParty(StrEnum):
    DAEMON = "daemon"  # a Mac's daemon socket
    PHONE = "phone"  # a phone's client socket


@dataclass(frozen=True)
class UpgradeRefusal:
    status: int
    body: str


@dataclass(frozen=True)
class CloseOrder:
    code: int
    reason: str


@dataclass
class _Armed:
    refusals: deque[UpgradeRefusal] = field(default_factory=deque)
    close_after: int | None = None
    close: CloseOrder | None = None
    delay_s: float = 0.0
    answers_pings: bool = True


class RelayFaults:
    """Armed faults per party. Thread-safe: a scenario arms them from its own thread while the relay serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parties = {party: _Armed() for party in RelayParty}
        self.refused: dict[RelayParty, int] = {party: 0 for party in RelayParty}

    # ---- arming

    def refuse_upgrades(self, party: RelayParty, status: int, body: str = "", *, times: int = 1) -> None:
        if not 400 <= status <= 599:
            raise ValueError("a refused upgrade is answered with an HTTP error status (400-599)")
        if times < 1:
            raise ValueError("refuse at least one upgrade")
        with self._lock:
            self._parties[party].refusals.extend(UpgradeRefusal(status, body) for _ in range(times))

    def close_after(self, party: RelayParty, messages: int, code: int, reason: str = "") -> None:
        if messages < 0:
            raise ValueError("messages must not be negative")
        if not (code == 1000 or (1001 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999):
            raise ValueError(f"{code} is not a close code a server may send")
        if len(reason.encode()) > 123:
            raise ValueError("a close reason has at most 123 bytes")
        with self._lock:
            armed = self._parties[party]
            armed.close_after, armed.close = messages, CloseOrder(code, reason)

    def delay(self, party: RelayParty, seconds: float) -> None:
        if not 0.0 <= seconds <= MAX_DELAY_S:
            raise ValueError(f"a delivery delay is between 0 and {MAX_DELAY_S:.0f} seconds")
        with self._lock:
            self._parties[party].delay_s = seconds

    def stop_answering_pings(self, party: RelayParty, stopped: bool = True) -> None:
        with self._lock:
            self._parties[party].answers_pings = not stopped

    def clear(self) -> None:
        with self._lock:
            self._parties = {party: _Armed() for party in RelayParty}

    # ---- what the relay asks

    def take_refusal(self, party: RelayParty) -> UpgradeRefusal | None:
        """The answer to this upgrade instead of 101, counting it against the armed refusals."""
        with self._lock:
            refusals = self._parties[party].refusals
            if not refusals:
                return None
            self.refused[party] += 1
            return refusals.popleft()

    def close_now(self, party: RelayParty) -> CloseOrder | None:
        """A close armed with 0 messages: the order, disarmed (the relay closes every open socket of the party)."""
        with self._lock:
            armed = self._parties[party]
            if armed.close_after != 0 or armed.close is None:
                return None
            order, armed.close_after, armed.close = armed.close, None, None
            return order

    def frame_sent(self, party: RelayParty) -> CloseOrder | None:
        """One frame went out to the party: the close order when that was the last one it may get."""
        with self._lock:
            armed = self._parties[party]
            if armed.close_after is None or armed.close is None:
                return None
            armed.close_after -= 1
            if armed.close_after > 0:
                return None
            order, armed.close_after, armed.close = armed.close, None, None
            return order

    def delay_for(self, party: RelayParty) -> float:
        with self._lock:
            return self._parties[party].delay_s

    def answers_pings(self, party: RelayParty) -> bool:
        with self._lock:
            return self._parties[party].answers_pings


__all__ = ["CloseOrder", "RelayFaults", "RelayParty", "UpgradeRefusal"]
