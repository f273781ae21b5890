"""The injectable clock every simulator reads time from.

Servers, tokens, pairing codes and the phone's transition log all take a `Clock`, so a scenario can move time
(expire a pairing code, skew the backend) without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Clock:
    """Wall-clock time plus an adjustable offset.

    `offset` models a skewed machine clock; `advance` moves the offset forward, which is how tests expire things.
    """

    offset: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def now_int(self) -> int:
        return int(self.now())

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        for listener in list(self._advance_listeners()):
            listener()

    def on_advance(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` whenever `advance` moves this clock, from the thread that moves it; returns what stops
        it. A wait for time to pass (`simulators.timers`) learns that it moved without polling."""
        listeners = self._advance_listeners()
        listeners.append(listener)

        def stop() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return stop

    def _advance_listeners(self) -> list[Callable[[], None]]:
        # Not a dataclass field: clocks compare and print by their time alone, and subclasses that set themselves up
        # without `Clock.__init__` (the login lab's) still get a list.
        return self.__dict__.setdefault("_listeners", [])


@dataclass
class FrozenClock(Clock):
    """A clock that only moves when told to: for unit tests that need exact instants."""

    instant: float = field(default=1_800_000_000.0)

    def now(self) -> float:
        return self.instant + self.offset


@dataclass
class SkewedClock(Clock):
    """One party's clock: the world's time plus this party's own error (`offset`). Moving the world's clock moves
    it too; changing its offset moves it alone, as a phone whose clock runs five minutes fast."""

    parent: Clock = field(default_factory=Clock)

    def now(self) -> float:
        return self.parent.now() + self.offset
