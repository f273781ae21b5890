"""Time in a world: one clock that every party shares, and each party's own error against it.

The backend keeps the world's time. Each Mac and each phone reads its own `SkewedClock`: the world's time plus
that party's offset, zero until a scenario says a clock is off. "Time passes" moves the world's clock, and with it
every party's, so expiry happens the way it does in life (codes, tokens, remembered devices); "the phone's clock is
five minutes fast" moves one party alone. A real daemon is a process with the machine's clock: neither reaches it.
"""

from __future__ import annotations

from simulators.clock import Clock, SkewedClock


class WorldTime:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._parties: dict[str, SkewedClock] = {}

    def of(self, party: str) -> SkewedClock:
        """The clock of a party ("mac", "phone:Dana's phone", ...), made on first use."""
        if party not in self._parties:
            self._parties[party] = SkewedClock(parent=self.clock)
        return self._parties[party]

    def passes(self, seconds: float) -> None:
        """Time passes for everyone."""
        if seconds < 0:
            raise ValueError("time passes forwards; to set a clock back, say it is off")
        self.clock.advance(seconds)

    def set_off(self, party: str, seconds: float) -> None:
        """This party's clock is `seconds` ahead of the world's (behind when negative)."""
        self.of(party).offset = float(seconds)
