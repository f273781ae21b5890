"""Waiting on an injectable clock: a deadline that passes when a scenario moves time, never by real seconds.

A party's clock is the machine's time plus offsets that scenarios move (`Clock.advance`, a world's "time passes").
`moved(clock)` is only what scenarios moved it by; `elapse(clock, seconds)` returns once that has grown by `seconds`.
Real seconds spent running a test never count, so "answered after 30 seconds" or "gives up after 2 seconds" happens
exactly when the scenario says time passed, on a fast machine and on a loaded one alike, and no test sleeps for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from simulators.clock import Clock, SkewedClock

# Offsets are sums of floats: two steps of 0.1 s must meet a deadline of 0.2 s.
_EPSILON = 1e-6


def chain(clock: Clock) -> Iterator[Clock]:
    """The clock and every clock it reads time from (a party's clock, then the world's)."""
    current: Clock | None = clock
    while current is not None:
        yield current
        current = current.parent if isinstance(current, SkewedClock) else None


def moved(clock: Clock) -> float:
    """The seconds scenarios have moved this clock, its own offset and its parents'."""
    return sum(link.offset for link in chain(clock))


async def elapse(clock: Clock, seconds: float) -> None:
    """Return once `clock` has been moved on by `seconds` from now (at once for `seconds <= 0`)."""
    target = moved(clock) + seconds
    if moved(clock) + _EPSILON >= target:
        return
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def wake() -> None:
        # Time is moved from a test's thread; the waiter lives on its loop, which may be closing.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(changed.set)

    stops = [link.on_advance(wake) for link in chain(clock)]
    try:
        while moved(clock) + _EPSILON < target:
            await changed.wait()
            changed.clear()
    finally:
        for stop in stops:
            stop()
