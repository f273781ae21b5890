"""Programs the login lab starts as child processes (pairsim's CLI, the real `codex`, a program squatting on a
port), with their real stdout and stderr read as they arrive.

Every reader notifies one `threading.Condition` the lab shares with its clock, so a step waits for "the CLI printed
X", "the CLI ended" or "the CLI is asleep on the lab's clock" without polling.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ACCESS_LOG = re.compile(r'"[A-Z]+ (\S+) HTTP/1\.[01]"')
_SERVING = re.compile(r"^Serving HTTP on \S+ port (\d+) ", re.MULTILINE)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class CliOutcome:
    exit_code: int
    output: str  # what the user saw, stdout and stderr in the order they arrived, colours removed
    stdout: str = ""
    stderr: str = ""

    def __repr__(self) -> str:  # the output is what a report must never copy wholesale
        return f"CliOutcome(exit_code={self.exit_code})"

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


class ChildProcess:
    """One program, started at once in its own process group (so `stop` also ends anything it started)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        events: threading.Condition,
        cwd: Path | None = None,
        stdin: bytes | None = None,
    ) -> None:
        self.name = name
        self.events = events
        self._chunks: list[tuple[str, bytes]] = []
        self._open_streams = 2
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write(stdin)
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=("stdout", self.proc.stdout), daemon=True),
            threading.Thread(target=self._read, args=("stderr", self.proc.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.proc.returncode}"
        return f"ChildProcess({self.name!r}, pid={self.pid}, {state})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        for chunk in iter(lambda: pipe.read1(4096), b""):  # type: ignore[attr-defined]
            with self.events:
                self._chunks.append((stream, chunk))
                self.events.notify_all()
        with self.events:
            self._open_streams -= 1
            self.events.notify_all()

    def _text(self, stream: str | None) -> str:
        with self.events:
            data = b"".join(chunk for name, chunk in self._chunks if stream is None or name == stream)
        return strip_ansi(data.decode("utf-8", "replace"))

    @property
    def output(self) -> str:
        return self._text(None)

    @property
    def stdout(self) -> str:
        return self._text("stdout")

    @property
    def stderr(self) -> str:
        return self._text("stderr")

    @property
    def ended(self) -> bool:
        """Both streams closed: the program has exited (or is exiting) and everything it wrote has been read."""
        with self.events:
            return self._open_streams == 0

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def search(self, pattern: re.Pattern[str], stream: str | None = None) -> re.Match[str] | None:
        return pattern.search(self._text(stream))

    def wait_for(self, pattern: re.Pattern[str], timeout: float, stream: str | None = None) -> re.Match[str]:
        """The first match of `pattern` in what the program printed; AssertionError (with everything it printed)
        when it ends or `timeout` passes without printing it."""
        with self.events:
            self.events.wait_for(lambda: self.search(pattern, stream) is not None or self.ended, timeout)
            match = self.search(pattern, stream)
        if match is None:
            state = "ended" if self.ended else f"was still running after {timeout} s"
            raise AssertionError(f"{self.name} {state} without printing {pattern.pattern!r}; it printed:\n"
                                 f"{self.output}")
        return match

    def wait_ended(self, timeout: float) -> bool:
        with self.events:
            return self.events.wait_for(lambda: self.ended, timeout)

    def finish(self, timeout: float) -> CliOutcome:
        """Wait for the program to exit; AssertionError (and the program stopped) when it does not in time."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.name} did not exit within {timeout} s; it printed:\n{self.output}") from None
        self.wait_ended(timeout)  # everything it wrote, up to its end
        return CliOutcome(code, self.output, self.stdout, self.stderr)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for reader in self._readers:
            reader.join(10)


class Occupant:
    """Another program listening on a port: Python's `http.server`, a program of its own, whose access log (on its
    stderr) says every path it was sent."""

    def __init__(self, process: ChildProcess, timeout: float) -> None:
        self.process = process
        self.port = int(process.wait_for(_SERVING, timeout, stream="stdout").group(1))
        self._probes = 0

    def __repr__(self) -> str:
        return f"Occupant(port={self.port})"

    def paths(self) -> list[str]:
        return _ACCESS_LOG.findall(self.process.stderr)

    def wait_sent(self, path: str, timeout: float) -> bool:
        pattern = re.compile(rf'"[A-Z]+ {re.escape(path)} HTTP/1\.[01]"')
        with contextlib.suppress(AssertionError):
            self.process.wait_for(pattern, timeout, stream="stderr")
            return True
        return False

    def everything_sent(self, timeout: float) -> list[str]:
        """Every path it was sent so far, for sure: a request of ours goes last, and once its line is in the log,
        every earlier request's line is too (the server logs a request before it answers it)."""
        self._probes += 1
        probe = f"/pairsim-lab-probe-{self._probes}"
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            http.get(f"http://127.0.0.1:{self.port}{probe}")
        if not self.wait_sent(probe, timeout):
            raise AssertionError(f"the program on port {self.port} never logged {probe}")
        seen = self.paths()
        return [path for path in seen[: seen.index(probe)] if not path.startswith("/pairsim-lab-probe-")]
