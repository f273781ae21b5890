"""A child process a scenario started (possibly inside a network namespace), whose output it reads as it comes.

Each child runs in its own session, so teardown ends the whole process group by its id (`ip netns exec` execs
the command, so the group is the command's). Readiness is observed, never slept for: a line appearing in the
output, or the process holding a listening socket (read from /proc), each with a bounded deadline.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from simulators.protocol.errors import PairsimError

POLL_INTERVAL = 0.02
_TCP_LISTEN = "0A"


class ProcessFailed(PairsimError):
    """A child ended or stayed silent where the scenario needed something from it."""


class ManagedProcess:
    """One child with its stdout and stderr collected line by line on reader threads."""

    def __init__(self, label: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, interactive: bool = False) -> None:
        self.label = label
        self.argv = tuple(argv)
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True, name=f"{label}-{name}")
            for name, stream in (("stdout", self._popen.stdout), ("stderr", self._popen.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def send_line(self, text: str) -> None:
        """One line on the child's stdin (started with `interactive=True`). Secrets (a password for the browser)
        travel this way, never in argv where `ps` shows them."""
        if self._popen.stdin is None:
            raise ProcessFailed(f"{self.label} was not started interactive")
        try:
            self._popen.stdin.write(text + "\n")
            self._popen.stdin.flush()
        except BrokenPipeError as exc:
            raise ProcessFailed(f"{self.label} exited with {self._popen.poll()} before reading its input") from exc

    def _read(self, name: str, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                self._lines[name].append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    @property
    def running(self) -> bool:
        return self._popen.poll() is None

    def lines(self, stream: str = "stderr") -> list[str]:
        with self._changed:
            return list(self._lines[stream])

    def output(self, stream: str = "stderr") -> str:
        return "\n".join(self.lines(stream))

    def wait_for_line(self, pattern: str, *, stream: str = "stderr", timeout: float = 10.0) -> re.Match[str]:
        """The first line matching `pattern` (a regex), waiting for it to be printed."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines[stream]:
                    match = compiled.search(line)
                    if match:
                        return match
                ended = self._popen.poll() is not None and not any(r.is_alive() for r in self._readers)
                remaining = deadline - time.monotonic()
                if ended or remaining <= 0:
                    why = f"exited with {self._popen.returncode}" if ended else f"said nothing like it in {timeout}s"
                    # Its last words say why; the children here print no secrets (the browser's password
                    # arrives on stdin and is never echoed).
                    tail = " | ".join(self._lines["stderr"][-3:])
                    raise ProcessFailed(f"{self.label} {why} (waiting for /{pattern}/ on {stream}); said: {tail}")
                self._changed.wait(min(remaining, 0.2))

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise ProcessFailed(f"{self.label} still running after {timeout}s") from exc
        for reader in self._readers:
            reader.join(timeout)
        return code

    def wait_listening(self, port: int, *, timeout: float = 10.0) -> None:
        """Return once this process holds a listening TCP socket on `port` (any address); fail if it exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self._popen.poll() is not None:
                raise ProcessFailed(f"{self.label} exited with {self._popen.returncode} before listening on {port}")
            if port in listening_ports(self.pid):
                return
            if time.monotonic() >= deadline:
                raise ProcessFailed(f"{self.label} was not listening on port {port} after {timeout}s")
            time.sleep(POLL_INTERVAL)

    def stop(self, timeout: float = 5.0) -> None:
        """End the process group: SIGTERM, then SIGKILL if it lingers. Safe to call twice."""
        if self._popen.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self._popen.wait(timeout)
        else:
            # The leader is gone; children it left in the group go too.
            _signal_group(self.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout)

    def kill(self) -> None:
        """End the process group at once, as a dropped connection or a closed laptop lid would."""
        _signal_group(self.pid, signal.SIGKILL)
        self._popen.wait(5.0)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def listening_ports(pid: int) -> set[int]:
    """TCP ports on which process `pid` holds a listening socket, read from /proc (IPv4 and IPv6).

    /proc/<pid>/net/tcp lists every socket of the process's network namespace; keeping only the inodes among the
    process's own file descriptors tells its listener apart from someone else's on the same port.
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, PermissionError):
        return set()
    inodes: set[str] = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == _TCP_LISTEN and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports
