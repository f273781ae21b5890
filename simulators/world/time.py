"""Time in a world: one clock that every party shares, and each party's own error against it.

The backend keeps the world's time. Each Mac and each phone reads its own `SkewedClock`: the world's time plus
that party's offset, zero until a scenario says a clock is off. "Time passes" moves the world's clock, and with it
every party's, so expiry happens the way it does in life (codes, tokens, remembered devices); "the phone's clock is
five minutes fast" moves one party alone. A real daemon is a process with the machine's clock: neither reaches it.
"""

from __future__ import annotations

from collections.abc import Callable

from simulators.clock import Clock, SkewedClock


class WorldTime:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._parties: dict[str, SkewedClock] = {}
        # Things that happen once the world's clock reaches an instant (a cut network path coming back), in the
        # order they were scheduled; run by `passes`, on the thread that moved time.
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._scheduled = 0

    def of(self, party: str) -> SkewedClock:
        """The clock of a party ("mac", "phone:Dana's phone", ...), made on first use."""
        if party not in self._parties:
            self._parties[party] = SkewedClock(parent=self.clock)
        return self._parties[party]

    def passes(self, seconds: float) -> None:
        """Time passes for everyone; what was scheduled for an instant now reached happens, in time order."""
        if seconds < 0:
            raise ValueError("time passes forwards; to set a clock back, say it is off")
        self.clock.advance(seconds)
        now = self.clock.now()
        due = sorted((entry for entry in self._due if entry[0] <= now), key=lambda entry: entry[:2])
        self._due = [entry for entry in self._due if entry[0] > now]
        for _, _, action in due:
            action()

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` once `seconds` have passed on the world's clock: when a step says time passes, never by
        sleeping, so what happens "two minutes later" happens at the same point of every run."""
        if seconds <= 0:
            raise ValueError("schedule something for a later instant")
        self._scheduled += 1
        self._due.append((self.clock.now() + seconds, self._scheduled, action))

    def set_off(self, party: str, seconds: float) -> None:
        """This party's clock is `seconds` ahead of the world's (behind when negative)."""
        self.of(party).offset = float(seconds)
