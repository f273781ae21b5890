"""The clock the login lab shares with the `pairsim login` processes it starts: readings, sleeps that end exactly
when the lab's time reaches them, a sleeper that hangs up, and the environment variable's errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock
from simulators.login.shared_clock import (
    CLOCK_ENV,
    ClockUnavailable,
    LabClock,
    SharedClock,
    clock_from_environment,
)
from simulators.runtime import LoopThread

REPO = Path(__file__).resolve().parents[1]
START = 1_800_000_000.0


@pytest.fixture
def served() -> Iterator[tuple[LabClock, str]]:
    loop = LoopThread("clock-test")
    clock = LabClock(START)
    address = loop.run(clock.serve())
    yield clock, address
    loop.run(clock.aclose())
    loop.close()


def test_a_reading_is_the_labs_time_which_stands_still_until_moved(served: tuple[LabClock, str]) -> None:
    lab, address = served
    child = SharedClock(address)
    assert child.now() == START == lab.now()
    lab.advance(90)
    assert child.now() == START + 90
    lab.offset = 5  # the backend's admin API sets the offset directly
    assert child.now() == START + 5
    with pytest.raises(ClockUnavailable):
        child.advance(1)  # only the lab moves shared time


def test_a_sleep_ends_when_the_labs_time_reaches_it_and_not_before(served: tuple[LabClock, str]) -> None:
    lab, address = served
    child = SharedClock(address)
    woke = threading.Event()
    thread = threading.Thread(target=lambda: (asyncio.run(child.sleep(5)), woke.set()), daemon=True)
    thread.start()
    sleeper = lab.wait_until_asleep(os.getpid(), timeout=10)
    assert sleeper is not None and sleeper.deadline == START + 5
    lab.advance(4.5)
    assert not woke.wait(0.2) and lab.asleep(os.getpid()) is sleeper  # half a second short: still asleep
    lab.advance_to(sleeper.deadline)
    assert woke.wait(10) and lab.asleep(os.getpid()) is None
    thread.join(10)


def test_a_process_that_dies_asleep_is_forgotten(served: tuple[LabClock, str]) -> None:
    lab, address = served
    script = f"import asyncio; from simulators.login.shared_clock import SharedClock; " \
             f"asyncio.run(SharedClock({address!r}).sleep(60))"
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        assert lab.wait_until_asleep(child.pid, timeout=20) is not None
    finally:
        child.kill()
        child.wait(10)
    with lab.events:
        assert lab.events.wait_for(lambda: lab.asleep(child.pid) is None, 10)


def test_a_sleep_of_a_process_that_is_gone_reports_it(served: tuple[LabClock, str]) -> None:
    lab, _ = served
    assert lab.wait_until_asleep(12345, timeout=10, gone=lambda: True) is None


def test_a_clock_that_does_not_answer_is_a_typed_error() -> None:
    with pytest.raises(ClockUnavailable, match="did not answer"):
        SharedClock("tcp://127.0.0.1:1").now()


@pytest.mark.parametrize("value", ["127.0.0.1:5000", "tcp://127.0.0.1", "http://127.0.0.1:80", "tcp://:80",
                                   "tcp://127.0.0.1:99999"])
def test_a_malformed_variable_is_a_typed_error(value: str) -> None:
    with pytest.raises(ClockUnavailable, match=CLOCK_ENV):
        clock_from_environment({CLOCK_ENV: value})


def test_without_the_variable_the_machines_clock() -> None:
    clock, sleep = clock_from_environment({})
    assert type(clock) is Clock and sleep is asyncio.sleep


def test_the_cli_reports_a_clock_that_does_not_answer(tmp_path: Path) -> None:
    loop = LoopThread("backend")
    backend = BackendServer(BackendState.create(seed=1))
    try:
        issuer = loop.run(backend.start())
        env = {**os.environ, CLOCK_ENV: "tcp://127.0.0.1:1"}
        done = subprocess.run(
            [sys.executable, "-m", "simulators.cli", "login", "--device-auth", "--issuer", issuer,
             "--home", str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    finally:
        loop.run(backend.stop())
        loop.close()
    assert done.returncode == 2, done
    assert done.stderr.splitlines()[-1].startswith("pairsim: error: the clock at tcp://127.0.0.1:1 did not answer")
