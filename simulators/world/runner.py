"""The world's event loop as its drivers use it: run a coroutine there, or call a function where the state lives.

Every server of a world runs on one background loop (`simulators.runtime.LoopThread`), so that it keeps serving
between the synchronous steps that drive it. A driver never touches another party's objects directly; it runs
its own party's coroutines here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from simulators.runtime import LoopThread

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0


class Runner:
    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = DEFAULT_TIMEOUT) -> T:
        """Run `coro` on the world's loop and wait for its result; its exceptions reach the caller."""
        return self.loop.run(coro, timeout=timeout)

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a plain function on the loop thread, where the servers' state is changed and read."""

        async def call() -> T:
            return func(*args, **kwargs)

        return self.run(call())
