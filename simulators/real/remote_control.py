"""The desktop app's handle on a real `codex app-server`: remote control driven over the daemon's own socket.

`RealRemoteControl` plays, for `simulators.daemon.desktop.DesktopApp`, the part `RemoteControlController` plays
for the mock daemon (status, enable/disable, recheck after a sign-in, pairing start), but the daemon is the real
binary in its own process, with `CODEX_HOME` holding `config.toml` (our backend) and the `auth.json` the desktop
writes. Everything it reports is what the daemon reports: the status from `remoteControl/status/changed`, the log
from its stderr, the enrollment from its own state database (opened read-only).

What the real daemon does, observed on 0.169.0 against our backend (docs/protocol.md §1.7):
* `remoteControl/enable` waits for the enroll call; a refused enroll answers the request with JSON-RPC error
  -32600 carrying the daemon's failure line, and the status stays `disabled`.
* It does not notice a new sign-in by itself: it keeps its server token, and disable + enable reconnects with it.
  So after a sign-in the desktop restarts the daemon (with `--remote-control` while "Allow other devices to
  connect" is on). The restarted daemon refreshes its persisted enrollment under the new sign-in; a refusal makes
  it `errored`, logs the failure line and retries with backoff (3 s, 7 s, 11 s ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.daemon.profiles import Profile, behaviour
from simulators.daemon.remote_control import EnrollmentStatus
from simulators.protocol import jsonrpc
from simulators.real.app_server_client import AppServerClient, AppServerGone, AppServerRpcError
from simulators.real.codex import write_config_toml
from simulators.real.target import DaemonTarget, RunningDaemon
from simulators.tls import CA_ENVIRONMENT_VARIABLE

STATUS_CHANGED = "remoteControl/status/changed"
# The app-server's own ChatGPT sign-in (`account/login/start`) goes to this issuer instead of auth.openai.com.
LOGIN_ISSUER_ENV = "CODEX_APP_SERVER_LOGIN_ISSUER"
DESKTOP_CLIENT_NAME = "pairsim_desktop"
DESKTOP_CLIENT_VERSION = "0.169.0"
STATE_DB = "state_5.sqlite"
AUTH_FILE = "auth.json"
SETTLE_TIMEOUT_SECONDS = 20.0
CLI_TIMEOUT_SECONDS = 30.0
# The daemon logs its remote-control failures at WARN; the default filter shows only errors. Its auth manager says at
# INFO whether auth recovery's reload found a new sign-in (`Reloaded auth, changed: false`, openai/codex#41747).
RUST_LOG = "warn,codex_login::auth::manager=info,codex_core_plugins=error,codex_models_manager=off"
_REMOTE_CONTROL_TARGET = "codex_app_server_transport::transport::remote_control"
_AUTH_MANAGER_TARGET = "codex_login::auth::manager"
_RELOADED_AUTH = re.compile(r"(Reloaded auth, changed: \w+)")
_ERROR_FIELD = re.compile(r"\berror=(.*?)(?: error_kind=| reconnect_attempt=|$)")
_CLI_STATUS = re.compile(r"(This machine is available for remote control as |Remote control is (?:enabled|disabled) on )")


@dataclass
class _Settings:
    allow_other_devices: bool = False
    keep_awake: bool = False


class _DesktopSettings:
    """Settings › Connections as the desktop app keeps them (the daemon only knows remote control on or off)."""

    def __init__(self) -> None:
        self._settings = _Settings()

    def settings(self) -> _Settings:
        return self._settings

    def update_settings(self, **changes: bool) -> None:
        for name, value in changes.items():
            setattr(self._settings, name, value)


@dataclass
class _ServerIdentity:
    server_name: str


class RealRemoteControl:
    """One real daemon behind the desktop app. All coroutines run on the world's loop."""

    def __init__(self, target: DaemonTarget, home: Path, *, chatgpt_base_url: str, issuer_url: str,
                 ca_file: Path | None = None, project: Path | None = None) -> None:
        self.target = target
        self.home = home
        self.chatgpt_base_url = chatgpt_base_url
        self.project = project  # the folder the desktop app opened Codex in: threads start there
        self.environment = {
            # Auth recovery refreshes the ChatGPT tokens at our issuer, not at auth.openai.com.
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer_url.rstrip("/") + "/oauth/token",
            "CODEX_REVOKE_TOKEN_URL_OVERRIDE": issuer_url.rstrip("/") + "/oauth/revoke",
            # A client's `account/login/start {type: chatgpt}` (the TUI's "Sign in with ChatGPT") signs in here.
            LOGIN_ISSUER_ENV: issuer_url.rstrip("/"),
            "RUST_LOG": RUST_LOG,
            "TERM": "xterm",
        }
        if ca_file is not None:
            # The model's workspace origin is the backend's HTTPS listener, under the world's own CA.
            self.environment[CA_ENVIRONMENT_VARIABLE] = str(ca_file)
        self.profile = Profile.LEGACY  # the real daemon is today's product
        self.behaviour = behaviour(self.profile)
        self.store = _DesktopSettings()
        self.app_server = _ServerIdentity(server_name="")
        self.daemon: RunningDaemon | None = None
        self.client: AppServerClient | None = None
        self.rpc_failures: list[str] = []  # what the desktop was told when a request failed
        self._earlier_stderr: list[str] = []  # the stderr of daemons this desktop restarted
        self._status = EnrollmentStatus.DISABLED
        self._environment_id: str | None = None
        self._seen = 0
        # Set once a daemon process has started and said what it does; a restart clears it until the new one has.
        self._started = asyncio.Event()
        write_config_toml(home, chatgpt_base_url=chatgpt_base_url)

    # -- the daemon process ------------------------------------------------------------------------------

    async def start(self) -> None:
        flags = ["--remote-control"] if self.store.settings().allow_other_devices else []
        self.daemon = await asyncio.to_thread(
            self.target.start_app_server, "ws://127.0.0.1:0", *flags, home=self.home, env=self.environment,
            cwd=self.project,
        )
        self.client = await AppServerClient.connect(
            self.daemon.url, client_name=DESKTOP_CLIENT_NAME, client_version=DESKTOP_CLIENT_VERSION
        )
        self._seen = 0
        # The daemon reports its status right after initialize.
        await self._next_status(timeout=SETTLE_TIMEOUT_SECONDS)
        if flags and (self.home / AUTH_FILE).is_file():
            # Told to connect and signed in, it may first say `disabled` while it reads its sign-in; a desktop
            # acting on that would think connections are off. Wait for what it says once it has started trying.
            with contextlib.suppress(TimeoutError):
                await self.wait_left(EnrollmentStatus.DISABLED.value)
        self._started.set()

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def close(self) -> None:
        self._started.clear()
        client, self.client = self.client, None
        if client is not None:
            await client.close()
        daemon, self.daemon = self.daemon, None
        if daemon is not None:
            await asyncio.to_thread(self.target.stop_daemon, daemon, 3.0)
            self._earlier_stderr.extend(daemon.stderr_lines)

    @property
    def _rpc(self) -> AppServerClient:
        assert self.client is not None, "the real daemon is not running"
        return self.client

    # -- status ------------------------------------------------------------------------------------------

    @property
    def status(self) -> EnrollmentStatus:
        self._absorb()
        return self._status

    @property
    def environment_id(self) -> str | None:
        self._absorb()
        return self._environment_id

    @property
    def enabled(self) -> bool:
        return self.store.settings().allow_other_devices

    def _absorb(self) -> None:
        """Take in the status notifications that arrived since last time."""
        client = self.client
        if client is None:
            return
        for note in client.notifications[self._seen :]:
            if note.method == STATUS_CHANGED:
                self._apply(note.params)
        self._seen = len(client.notifications)

    def _apply(self, wire: dict[str, Any]) -> None:
        self._status = EnrollmentStatus(str(wire.get("status")))
        environment = wire.get("environmentId")
        self._environment_id = environment if isinstance(environment, str) else None
        name = wire.get("serverName")
        if isinstance(name, str) and name:
            self.app_server.server_name = name

    async def _next_status(self, *, timeout: float) -> None:
        client = self._rpc
        await client.wait_for_notification(lambda n: n.method == STATUS_CHANGED, start=self._seen,
                                           timeout=timeout)
        self._absorb()

    async def read_status(self) -> dict[str, Any]:
        wire = await self._rpc.request("remoteControl/status/read")
        self._absorb()
        self._apply(wire)
        return dict(wire)

    async def wait_settled(self, timeout: float | None = SETTLE_TIMEOUT_SECONDS) -> EnrollmentStatus:
        """Wait until the daemon reports anything but `connecting` (`timeout=None`: however long the backend takes
        to answer its enrollment)."""
        self._absorb()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._status is EnrollmentStatus.CONNECTING:
            if deadline is None:
                with contextlib.suppress(TimeoutError):
                    await self._next_status(timeout=SETTLE_TIMEOUT_SECONDS)
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the real daemon stayed `connecting` for {timeout:.0f} s")
            await self._next_status(timeout=remaining)
        return self._status

    async def wait_left(self, status: str, timeout: float = SETTLE_TIMEOUT_SECONDS) -> EnrollmentStatus:
        """Wait until the daemon reports a status other than `status` (e.g. after its relay socket was closed)."""
        self._absorb()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._status.value == status:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the real daemon stayed `{status}` for {timeout:.0f} s")
            await self._next_status(timeout=remaining)
        return self._status

    async def wait_started(self) -> None:
        """Until the daemon the desktop (re)started has said what it does. Its enrollment can reach the backend
        (and be held there) before it says `connecting`; a status read in between is the one it had before."""
        await self._started.wait()

    async def wait_for_status(self, status: EnrollmentStatus | str,
                              timeout: float = SETTLE_TIMEOUT_SECONDS) -> EnrollmentStatus:
        """Wait until the daemon reports `status` (e.g. `connected` again once its Mac is back online)."""
        wanted = EnrollmentStatus(status)
        self._absorb()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._status is not wanted:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the real daemon did not report `{wanted.value}` within {timeout:.0f} s")
            await self._next_status(timeout=remaining)
        return self._status

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        result = await self._rpc.request(method, params or {})
        self._absorb()
        return result

    async def ask(self, cwd: str, words: str, timeout: float) -> str:
        """Start a thread in `cwd` and a turn on it with `words`, as the desktop app, and wait for the turn to end;
        the thread's id. The connection that started the thread hears its events (`thread/resume` is not needed,
        and 0.169.0 refuses it on a thread this fresh: `list_turns is not supported yet`)."""
        client = self._rpc
        started = await client.request("thread/start", {"cwd": cwd})
        thread_id = str(started["thread"]["id"])
        start = len(client.notifications)
        await client.request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": words}]})
        await client.wait_for_notification(
            lambda n: n.method == "turn/completed" and n.params.get("threadId") == thread_id, start=start,
            timeout=timeout)
        return thread_id

    async def wait_thread_idle(self, thread_id: str, timeout: float) -> None:
        """Until the thread has no turn running: subscribe this connection to it (`thread/resume` returns where it
        stands), then wait for its turn to complete."""
        client = self._rpc
        start = len(client.notifications)
        resumed = await client.request("thread/resume", {"threadId": thread_id, "excludeTurns": True})
        status = (resumed.get("thread") or {}).get("status") if isinstance(resumed, dict) else None
        if isinstance(status, dict) and status.get("type") != "active":
            return
        await client.wait_for_notification(
            lambda n: n.method == "turn/completed" and n.params.get("threadId") == thread_id, start=start,
            timeout=timeout)

    # -- what the desktop asks -----------------------------------------------------------------------------

    async def enable(self) -> str | None:
        """Turn remote control on; the daemon's error message when it refused (it does when the enrollment is
        refused), else None."""
        self.store.update_settings(allow_other_devices=True)
        try:
            self._apply(await self._rpc.request("remoteControl/enable", {}))
        except AppServerRpcError as exc:
            self.rpc_failures.append(f"remoteControl/enable failed: {exc.message}")
            await self.read_status()
            return exc.message
        return None

    async def disable(self) -> None:
        self.store.update_settings(allow_other_devices=False)
        self._apply(await self._rpc.request("remoteControl/disable", {}))

    async def recheck(self) -> None:
        """The desktop signed in, out, or again: the daemon reads the new auth.json when it starts."""
        if self.client is not None:
            await self.restart()

    async def start_pairing(self, *, manual_code: bool = False) -> dict[str, Any]:
        params = {"manualCode": True} if manual_code else {}
        try:
            result = await self._rpc.request("remoteControl/pairing/start", params)
        except AppServerRpcError as exc:
            raise jsonrpc.RpcMethodError(exc.rpc_code, exc.message) from None
        return dict(result)

    async def account(self) -> Any:
        return await self._rpc.request("account/read", {})

    # -- what can be read afterwards -------------------------------------------------------------------------

    @property
    def stderr_lines(self) -> tuple[str, ...]:
        current = () if self.daemon is None else self.daemon.stderr_lines
        return (*self._earlier_stderr, *current)

    def log_lines(self) -> list[str]:
        """The daemon's remote-control failures as it logged them (the `error=` field of its WARN lines), and what
        its auth recovery's reload found (`Reloaded auth, changed: false`)."""
        lines = []
        for line in self.stderr_lines:
            if _REMOTE_CONTROL_TARGET in line:
                lines.append(_failure(line))
            elif _AUTH_MANAGER_TARGET in line and (reloaded := _RELOADED_AUTH.search(line)) is not None:
                lines.append(reloaded.group(1))
        return lines

    def runs_version(self, version: str) -> None:
        """The real daemon is the installed binary: it reports its own version at enrollment and can run no other."""
        own = self.target.install.version if self.target.install is not None else "of an unknown version"
        if version != own:
            raise ValueError(f"the real daemon is codex {own}: it reports that version at enrollment, not {version}")

    async def wait_for_log(self, pattern: str, timeout: float = SETTLE_TIMEOUT_SECONDS) -> str | None:
        """The first remote-control log line matching `pattern`, waiting for the running daemon to write it."""
        compiled = re.compile(pattern)
        # What a failed request told the desktop is part of the daemon's log, as `RealDaemon.log_lines` has it.
        for line in [*self.log_lines(), *self.rpc_failures]:
            if compiled.search(line):
                return line
        if self.daemon is None:
            return None
        daemon = self.daemon
        found = await asyncio.to_thread(
            daemon.wait_for_stderr,
            f"(?:{re.escape(_REMOTE_CONTROL_TARGET)}|{re.escape(_AUTH_MANAGER_TARGET)}).*{pattern}",
            timeout,
        )
        if found is None:
            return None
        reloaded = _RELOADED_AUTH.search(found)
        return reloaded.group(1) if reloaded is not None and _AUTH_MANAGER_TARGET in found else _failure(found)

    def enrollment_rows(self) -> list[dict[str, Any]]:
        """The daemon's `remote_control_enrollments` table, read-only (no file is created if there is none)."""
        path = self.home / STATE_DB
        if not path.is_file():
            return []
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(
                "SELECT websocket_url, account_id, app_server_client_name, server_id, environment_id, server_name, "
                "remote_control_enabled, updated_at FROM remote_control_enrollments ORDER BY updated_at"
            ).fetchall()
        except sqlite3.Error:
            return []
        finally:
            connection.close()
        return [dict(row) for row in rows]

    async def cli_status(self) -> tuple[int | None, str]:
        """Run `codex remote-control --no-daemon` on the same CODEX_HOME: (exit code, the status line it printed).

        It starts its own app-server with remote control on and prints one status line; when connected it keeps
        running ("Press Ctrl-C to stop."), so it is stopped once the line is out (exit code None).
        """
        return await asyncio.to_thread(self._run_cli)

    def _run_cli(self) -> tuple[int | None, str]:
        install = self.target.install
        assert install is not None
        env = install.environment(self.home)
        env.update(self.environment)
        process = subprocess.Popen(
            [str(install.binary), "remote-control", "--no-daemon"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=self.home,
            start_new_session=True,
        )
        status_line = ""
        try:
            assert process.stdout is not None and process.stderr is not None
            out_lines = _read_until(process.stdout, _CLI_STATUS, CLI_TIMEOUT_SECONDS)
            status_line = next((line for line in out_lines if _CLI_STATUS.search(line)), "")
            if status_line:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.5)
                return process.poll(), status_line
            process.wait(timeout=CLI_TIMEOUT_SECONDS)
            errors = process.stderr.read().decode("utf-8", "replace").splitlines()
            status_line = next((line for line in errors if _CLI_STATUS.search(line)), "\n".join(errors))
            return process.returncode, status_line
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=10)


def _failure(line: str) -> str:
    match = _ERROR_FIELD.search(line)
    return match.group(1) if match else line.split(": ", 1)[-1]


def _read_until(stream: Any, pattern: re.Pattern[str], timeout: float) -> list[str]:
    """Lines from `stream` until one matches `pattern` or the stream ends (bounded by `timeout` via a thread)."""
    lines: list[str] = []

    def read() -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if pattern.search(line):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return lines


__all__ = ["AppServerGone", "RealRemoteControl"]
