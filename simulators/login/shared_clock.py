"""One clock for the login lab and the `pairsim login` processes it starts: the cross-process test seam.

A child process has its own clock, so a scenario that says "15 minutes pass" or "the CLI waited 5 seconds between
its questions" needs the CLI's time to be the lab's time. With `PAIRSIM_CLOCK=tcp://127.0.0.1:<port>` in its
environment, `pairsim login` reads the time from, and sleeps on, the lab's `LabClock` instead of its own:

    client → "now\n"                      server → "<seconds since the epoch>\n"
    client → "sleep <pid> <seconds>\n"    server → "<seconds since the epoch>\n" once the lab's time has reached
                                                    the deadline (the connection stays open until then)

The lab's time stands still unless the lab moves it (`advance`, `advance_to`), so what the backend observes on
that clock (the instants of the CLI's polls) is exact, and nothing in a scenario waits in real time for a timer.
A sleeping CLI learns that time moved because the lab answers its open `sleep` request; the lab sees who is asleep
and until when (`wait_until_asleep`), which is how a step lets "the CLI's wait run out" without guessing how long
the CLI meant to wait. Without the variable, `pairsim login` uses the machine's clock and `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from simulators.clock import Clock
from simulators.login.callback_server import Sleep
from simulators.protocol.errors import PairsimError

CLOCK_ENV = "PAIRSIM_CLOCK"
_IO_TIMEOUT_S = 10.0
_MAX_LINE = 128


class ClockUnavailable(PairsimError):
    """`PAIRSIM_CLOCK` is malformed, or the clock it names did not answer."""


@dataclass
class Sleeper:
    """A process waiting on the lab's clock: who (`pid`), until when (`deadline`), in which order (`seq`)."""

    seq: int
    pid: int
    deadline: float
    wake: asyncio.Future[float] = field(repr=False, compare=False)


class LabClock(Clock):
    """The lab's side: a clock that only moves when told to, and answers the `PAIRSIM_CLOCK` protocol.

    Thread-safe. `events` is notified whenever a process falls asleep or wakes, so a lab waiting for "the CLI is
    asleep" (or for anything else under the same condition) never polls.
    """

    def __init__(self, instant: float, events: threading.Condition | None = None) -> None:
        self.events = events or threading.Condition()
        self._instant = instant
        self._offset = 0.0
        self._seq = 0
        self._sleepers: dict[int, Sleeper] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self.address: str | None = None

    def __repr__(self) -> str:
        return f"LabClock(now={self.now()!r}, asleep={len(self._sleepers)})"

    # -- time --------------------------------------------------------------------------------------------------

    @property  # type: ignore[override]  # a property over the dataclass field: setting it must wake sleepers
    def offset(self) -> float:
        return self._offset

    @offset.setter
    def offset(self, value: float) -> None:
        with self.events:
            self._offset = float(value)
            self._release_due()

    def now(self) -> float:
        with self.events:
            return self._instant + self._offset

    def advance(self, seconds: float) -> None:
        with self.events:
            self.offset = self._offset + seconds

    def advance_to(self, instant: float) -> None:
        """Move time forward to `instant` (never backwards)."""
        with self.events:
            self.advance(max(0.0, instant - self.now()))

    # -- sleepers ------------------------------------------------------------------------------------------------

    def asleep(self, pid: int) -> Sleeper | None:
        with self.events:
            mine = [s for s in self._sleepers.values() if s.pid == pid]
            return min(mine, key=lambda s: s.seq) if mine else None

    def wait_until_asleep(self, pid: int, *, after: int = 0, timeout: float, gone: object = None) -> Sleeper | None:
        """Block until process `pid` sleeps on this clock (a sleep begun after sleep number `after`); None when
        `gone()` (a callable evaluated under `events`) says the process ended first, or after `timeout` seconds."""

        def found() -> Sleeper | None:
            mine = [s for s in self._sleepers.values() if s.pid == pid and s.seq > after]
            return min(mine, key=lambda s: s.seq) if mine else None

        with self.events:
            self.events.wait_for(lambda: found() is not None or (callable(gone) and gone()), timeout)
            return found()

    def _release_due(self) -> None:
        now = self._instant + self._offset
        due = [s for s in self._sleepers.values() if s.deadline <= now]
        for sleeper in due:
            del self._sleepers[sleeper.seq]
            if self._loop is not None:
                self._loop.call_soon_threadsafe(_settle, sleeper.wake, now)
        if due:
            self.events.notify_all()

    def _register(self, pid: int, seconds: float) -> Sleeper:
        assert self._loop is not None
        with self.events:
            self._seq += 1
            sleeper = Sleeper(self._seq, pid, self.now() + seconds, self._loop.create_future())
            self._sleepers[sleeper.seq] = sleeper
            self.events.notify_all()
            self._release_due()
            return sleeper

    def _forget(self, sleeper: Sleeper) -> None:
        with self.events:
            if self._sleepers.pop(sleeper.seq, None) is not None:
                self.events.notify_all()

    # -- the server ------------------------------------------------------------------------------------------------

    async def serve(self, host: str = "127.0.0.1") -> str:
        """Start answering on `host`:ephemeral port; returns the value for `PAIRSIM_CLOCK`."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._client, host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"tcp://{host}:{port}"
        return self.address

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readline())[:_MAX_LINE].decode("ascii", "replace").split()
            if request == ["now"]:
                writer.write(f"{self.now()!r}\n".encode())
            elif len(request) == 3 and request[0] == "sleep":
                await self._sleep(request[1], request[2], reader, writer)
            else:
                writer.write(b"error: expected `now` or `sleep <pid> <seconds>`\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _sleep(self, pid_text: str, seconds_text: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        try:
            pid, seconds = int(pid_text), float(seconds_text)
        except ValueError:
            writer.write(b"error: pid and seconds must be numbers\n")
            return
        if not math.isfinite(seconds) or seconds < 0:
            writer.write(b"error: seconds must be finite and not negative\n")
            return
        sleeper = self._register(pid, seconds)
        hung_up = asyncio.ensure_future(reader.read(1))  # a killed process must not stay "asleep"
        try:
            await asyncio.wait({sleeper.wake, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
            self._forget(sleeper)
        if sleeper.wake.done():
            writer.write(f"{sleeper.wake.result()!r}\n".encode())


def _settle(future: asyncio.Future[float], now: float) -> None:
    if not future.done():
        future.set_result(now)


# -- the child's side ------------------------------------------------------------------------------------------


def _parse_address(value: str) -> tuple[str, int]:
    try:
        parts = urlsplit(value)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:
        scheme, host, port = "", None, None
    if scheme != "tcp" or not host or port is None:
        raise ClockUnavailable(f"{CLOCK_ENV} must be tcp://HOST:PORT, not {value!r}")
    return host, port


class SharedClock(Clock):
    """The child's side: every reading asks the lab's clock; `sleep` waits until the lab's time has come."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self._host, self._port = _parse_address(address)

    def _answer(self, line: bytes) -> float:
        try:
            return float(line.decode("ascii"))
        except ValueError:
            raise ClockUnavailable(f"the clock at {self.address} answered {line[:80]!r}") from None

    def now(self) -> float:
        try:
            with socket.create_connection((self._host, self._port), timeout=_IO_TIMEOUT_S) as sock:
                sock.sendall(b"now\n")
                return self._answer(sock.makefile("rb").readline(_MAX_LINE))
        except OSError as exc:
            raise ClockUnavailable(f"the clock at {self.address} did not answer ({exc.strerror or exc})") from exc

    def advance(self, seconds: float) -> None:
        raise ClockUnavailable("only the lab moves the shared clock")

    async def sleep(self, seconds: float) -> None:
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        except OSError as exc:
            raise ClockUnavailable(f"the clock at {self.address} did not answer ({exc.strerror or exc})") from exc
        try:
            writer.write(f"sleep {os.getpid()} {float(seconds)!r}\n".encode())
            await writer.drain()
            line = await reader.readline()  # as long as the lab's time takes to come
        finally:
            writer.close()
        if not line:
            raise ClockUnavailable(f"the clock at {self.address} hung up during a sleep")
        self._answer(line)


def clock_from_environment(environ: Mapping[str, str] | None = None) -> tuple[Clock, Sleep]:
    """The clock and the sleep `pairsim login` uses: the lab's when `PAIRSIM_CLOCK` is set, else the machine's."""
    value = (os.environ if environ is None else environ).get(CLOCK_ENV)
    if not value:
        return Clock(), asyncio.sleep
    clock = SharedClock(value)
    return clock, clock.sleep
