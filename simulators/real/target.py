"""One way to start "the daemon" whichever it is: our mock (`pairsim daemon serve`) or the real `codex app-server`.

Both run as their own process with their own CODEX_HOME and are driven only through what a user has: flags,
stderr, the exit code and the listening socket. That is what lets the same scenarios hold the mock to the real
daemon.

Each process starts in a new session (its own process group). `stop()` terminates the group, and then every
process still carrying one of our CODEX_HOME paths in its environment: the real binary detaches helpers into their
own session (`codex remote-control stop` leaves `codex app-server daemon pid-update-loop` running), and a
per-start CODEX_HOME is a marker only our children carry.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from simulators.protocol.errors import PairsimError
from simulators.real.codex import RealDaemonInstall, locate_real_daemon, make_codex_home

DEFAULT_LISTEN = "ws://127.0.0.1:0"
STARTUP_TIMEOUT_SECONDS = 30.0
EXIT_TIMEOUT_SECONDS = 30.0
# The real daemon needs 1.2-1.9 s to exit after SIGTERM; past this it is killed.
STOP_GRACE_SECONDS = 3.0

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LISTENING = re.compile(r"^  listening on: (ws://(\[[0-9a-fA-F:.]+\]|[0-9.]+):([0-9]+))$")


class DaemonKind(StrEnum):
    MOCK = "mock"
    CODEX = "codex"


def imitated_version() -> str:
    """The Codex version the mock daemon imitates (and reports in its user agent and at enrollment)."""
    from simulators.daemon.app_server import APP_SERVER_VERSION  # the mock's module, only when asked

    return APP_SERVER_VERSION


def version_under_test(kind: DaemonKind) -> str:
    """The version a `--daemon` run's daemons report: the chosen real version, or the one the mock imitates."""
    if kind is DaemonKind.CODEX:
        from simulators.real.codex import chosen_version

        return chosen_version()
    return imitated_version()


class DaemonStartFailed(PairsimError):
    """The daemon exited, or printed no banner in time, when it was expected to serve."""

    def __init__(self, message: str, *, returncode: int | None, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class DaemonDidNotExit(PairsimError):
    """The daemon kept running when it was expected to refuse its flags and exit."""


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Banner:
    """The five start-up lines both daemons print on stderr."""

    lines: tuple[str, ...]
    listen_url: str
    host: str  # as printed: an IPv4 literal or a bracketed IPv6 literal
    port: int

    @property
    def note(self) -> str:
        return self.lines[-1].removeprefix("  note: ")

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


_BANNER_TITLE = "codex app-server (WebSockets)"
_BANNER_LENGTH = 5


def find_banner(lines: Sequence[str]) -> Banner | None:
    """The banner in `lines` (ANSI-stripped stderr lines), once all five lines have arrived."""
    for start, line in enumerate(lines):
        if line != _BANNER_TITLE:
            continue
        block = tuple(lines[start : start + _BANNER_LENGTH])
        if len(block) < _BANNER_LENGTH:
            return None
        match = _LISTENING.match(block[1])
        if match is None or not block[4].startswith("  note: "):
            return None
        return Banner(lines=block, listen_url=match.group(1), host=match.group(2), port=int(match.group(3)))
    return None


class _StderrReader:
    """Collects a child's stderr lines on a thread and wakes waiters on every line and at end of stream."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="daemon-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in self._stream:  # type: ignore[attr-defined]
            line = strip_ansi(raw.decode("utf-8", "replace")).rstrip("\r\n")
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        self._stream.close()  # type: ignore[attr-defined]
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def lines(self) -> tuple[str, ...]:
        with self._changed:
            return tuple(self._lines)

    def wait_for(self, predicate: Callable[[Sequence[str]], object], timeout: float) -> object:
        """The first truthy `predicate(lines)`, or None at end of stream or timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate(self._lines)
                if result or self._eof:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@dataclass(frozen=True)
class RunningDaemon:
    """A daemon process that printed its banner. `stderr_lines` keeps growing while it runs."""

    kind: DaemonKind
    pid: int
    home: Path
    banner: Banner
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)
    _stderr: _StderrReader = field(repr=False, compare=False)

    @property
    def url(self) -> str:
        return self.banner.listen_url

    @property
    def port(self) -> int:
        return self.banner.port

    @property
    def host(self) -> str:
        return self.banner.host.strip("[]")

    @property
    def http_url(self) -> str:
        return f"http://{self.banner.host}:{self.port}"

    @property
    def stderr_lines(self) -> tuple[str, ...]:
        return self._stderr.lines

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def wait_for_stderr(self, pattern: str, timeout: float = 10.0) -> str | None:
        """The first stderr line matching the regular expression `pattern`, waiting up to `timeout` for it."""
        compiled = re.compile(pattern)

        def first(lines: Sequence[str]) -> str | None:
            return next((line for line in lines if compiled.search(line)), None)

        found = self._stderr.wait_for(first, timeout)
        return found if isinstance(found, str) else None


class DaemonTarget:
    """Starts daemons of one kind and stops all of them (and everything they spawned) in `stop()`."""

    def __init__(
        self,
        kind: DaemonKind | str,
        *,
        install: RealDaemonInstall | None = None,
        home_base: Path | None = None,
        python: str = sys.executable,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.kind = DaemonKind(kind)
        if self.kind is DaemonKind.CODEX and install is None:
            install = locate_real_daemon()  # raises RealDaemonUnavailable naming the install command
        self.install = install
        self.home_base = home_base
        self.python = python
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._homes: list[Path] = []  # every CODEX_HOME this target handed out
        self._owned_homes: list[Path] = []  # the ones it made, removed by stop()

    def __repr__(self) -> str:
        return f"DaemonTarget(kind={self.kind.value!r})"

    @property
    def version(self) -> str:
        """The Codex version this target's daemons report: the real binary's own, or the one the mock imitates."""
        if self.install is not None:
            return self.install.version
        return imitated_version()

    # -- homes -------------------------------------------------------------------------------------------------

    def new_home(self) -> Path:
        """A fresh CODEX_HOME that `stop()` removes. Write config.toml / auth.json into it before starting."""
        home = make_codex_home(self.home_base)
        with self._lock:
            self._homes.append(home)
            self._owned_homes.append(home)
        return home

    # -- processes ---------------------------------------------------------------------------------------------

    def command(self, *args: str) -> list[str]:
        """The argv for `codex app-server ARGS` on this target."""
        if self.kind is DaemonKind.CODEX:
            assert self.install is not None
            return [str(self.install.binary), "app-server", *args]
        return [self.python, "-m", "simulators.cli", "daemon", "serve", *args]

    def _environment(self, home: Path, env: Mapping[str, str | None] | None) -> dict[str, str]:
        base = dict(os.environ)
        for name, value in (env or {}).items():
            if value is None:
                base.pop(name, None)
            else:
                base[name] = value
        if self.kind is DaemonKind.CODEX:
            assert self.install is not None
            return self.install.environment(home, base)
        base["CODEX_HOME"] = str(home)
        return base

    def _spawn(self, args: Sequence[str], home: Path | None, env: Mapping[str, str | None] | None,
               cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        if home is None:
            home = self.new_home()
        else:
            with self._lock:
                self._homes.append(home.resolve())
        process = subprocess.Popen(
            self.command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self._environment(home, env),
            # Relative secret-file paths resolve against the home, never against the repo; a daemon given a `cwd`
            # (the project it was opened in) starts its threads there.
            cwd=cwd or home,
            start_new_session=True,
        )
        with self._lock:
            self._processes.append(process)
        return process, home

    def start_app_server(
        self,
        listen: str = DEFAULT_LISTEN,
        *flags: str,
        home: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> RunningDaemon:
        """Start `app-server --listen LISTEN FLAGS` and wait for its banner. Raises DaemonStartFailed.

        `home` is a CODEX_HOME to use (e.g. one from `new_home()` with config.toml and auth.json written); by
        default a fresh one. `env` adds or overrides environment variables; a None value unsets one.
        """
        process, home = self._spawn(["--listen", listen, *flags], home, env, cwd)
        reader = _StderrReader(process.stderr)
        banner = reader.wait_for(find_banner, self.startup_timeout)
        if not isinstance(banner, Banner):
            returncode = process.poll()
            if returncode is None:
                self._stop_process(process, grace=0.0)
                reason = f"printed no banner within {self.startup_timeout:.0f} s"
            else:
                reason = f"exited with {returncode} before printing its banner"
            reader.join(timeout=5.0)
            raise DaemonStartFailed(
                f"{self.kind.value} daemon {reason}", returncode=process.poll(), stderr="\n".join(reader.lines)
            )
        return RunningDaemon(
            kind=self.kind, pid=process.pid, home=home, banner=banner, _process=process, _stderr=reader
        )

    def run_app_server_expecting_exit(
        self,
        *flags: str,
        home: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = EXIT_TIMEOUT_SECONDS,
    ) -> tuple[int, str]:
        """Run `app-server FLAGS` (include `--listen`), expecting it to exit by itself: (exit code, stderr).

        Standard input is empty, so a `--listen stdio://` server exits at end of input. Raises DaemonDidNotExit
        (after killing it) if it is still running after `timeout`.
        """
        process, _ = self._spawn(list(flags), home, env)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop_process(process, grace=0.0)
            raise DaemonDidNotExit(f"{self.kind.value} app-server was still running after {timeout:.0f} s") from None
        return process.returncode, strip_ansi(stderr.decode("utf-8", "replace"))

    def stop_daemon(self, daemon: RunningDaemon, grace: float = STOP_GRACE_SECONDS) -> int:
        """SIGTERM the daemon's process group, SIGKILL it after `grace` seconds; returns the exit code."""
        return self._stop_process(daemon._process, grace)

    def _stop_process(self, process: subprocess.Popen[bytes], grace: float) -> int:
        # Signalling the group by its id is safe only while the leader is not reaped (until then the id cannot be
        # reused); after that, what is left of the group (e.g. a git child of the real daemon) is found in /proc.
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                process.wait(timeout=grace if grace > 0 else 10.0)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10.0)
        _kill_and_wait(processes_in_group(process.pid))
        # The stderr pipe is left to its reader thread, which closes it at end of stream: closing it here would
        # wait for that thread's read, i.e. for every process still holding the pipe's write end.
        return process.returncode

    def stop(self, grace: float = 0.0) -> None:
        """Stop every daemon this target started, every process they spawned, and remove the homes it made.

        `grace` > 0 sends SIGTERM first and waits that long (all daemons at once); 0 kills at once, which is all a
        test's teardown needs: the homes are thrown away.
        """
        with self._lock:
            processes, self._processes = self._processes, []
            homes, self._homes = self._homes, []
            owned, self._owned_homes = self._owned_homes, []
        running = [p for p in processes if p.poll() is None]
        if grace > 0:
            for process in running:
                _signal_group(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for process in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes:
            self._stop_process(process, grace=0.0)
        _kill_and_wait(processes_with_environment("CODEX_HOME", {str(h) for h in homes}))
        for home in owned:
            shutil.rmtree(home, ignore_errors=True)

    def __enter__(self) -> DaemonTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _kill_and_wait(pids: Iterable[int], timeout: float = 5.0) -> None:
    """SIGKILL each process and wait until the kernel has ended it: `stop()` must not return while a process it
    killed is still only about to die. A pidfd turns readable when its process exits, so this waits on an event."""
    fds: list[int] = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except OSError:
            continue  # already gone
        _kill(pid)
    try:
        pending, deadline = list(fds), time.monotonic() + timeout
        while pending and (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(pending, [], [], remaining)
            pending = [fd for fd in pending if fd not in ready]
    finally:
        for fd in fds:
            os.close(fd)


def _own_processes() -> Iterator[Path]:
    uid = os.getuid()
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid == uid:
                yield entry
        except OSError:
            continue  # gone


def processes_in_group(pgid: int) -> list[int]:
    """Pids of our own user's live processes in process group `pgid` (Linux /proc)."""
    found = []
    for entry in _own_processes():
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        # `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses, so split after the last `)`.
        fields = stat_line[stat_line.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def processes_with_environment(name: str, values: set[str]) -> list[int]:
    """Pids of our own user's processes whose environment sets `name` to one of `values` (Linux /proc)."""
    if not values:
        return []
    wanted = {f"{name}={value}".encode() for value in values}
    found = []
    for entry in _own_processes():
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours to read
        if wanted.intersection(environ.split(b"\0")):
            found.append(int(entry.name))
    return found
