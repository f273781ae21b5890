"""A place to run CLI-login scenarios: a backend on loopback, people with accounts, a home per CLI, and the CLI
itself, either pairsim's (`BrowserLogin`/`DeviceCodeLogin` on a loop thread) or the real `codex login` (a child
process of the installed @openai/codex). Steps call one method here and assert one thing.

Ports 1455/1457 are fixed by the product; whatever binds them holds `fixed_ports_lock()` (a file lock, so two
pytest-xdist workers never fight over them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from simulators.backend.accounts import AccountSpec, CreatedAccount
from simulators.backend.device_auth import DeviceAuthRegistry, registry
from simulators.backend.server import BackendServer, BackendState
from simulators.browser import Browser, Page
from simulators.login.callback_server import BindPolicy, LoginFailed
from simulators.login.client import ERROR_PREFIX, BrowserLogin, LoginSettings
from simulators.login.credential_store import CredentialStore, file_keyring, open_store
from simulators.login.device_code import DeviceCodeLogin
from simulators.login.user import Person, enter_device_code, walk
from simulators.runtime import LoopThread

LOCK_NAME = "pairsim-login-fixed-ports.lock"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_URL = re.compile(r"(https?://\S+/oauth/authorize\?\S+)")
_PORT = re.compile(r"http://localhost:(\d+)\.")
_USER_CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4,5})\b")


@contextlib.contextmanager
def fixed_ports_lock() -> Iterator[None]:
    """Exclusive use of 127.0.0.1:1455/1457 among pairsim's test processes."""
    path = Path(tempfile.gettempdir()) / LOCK_NAME
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Occupant:
    """Something else listening on a port (a stale login server, another program). Records what it was sent."""

    port: int
    paths: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None


@dataclass
class CliOutcome:
    exit_code: int
    output: str  # what the user saw, stdout and stderr, colours removed

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


class RealCodex:
    """The installed real `codex` binary as a child process."""

    def __init__(self, home: Path) -> None:
        from simulators.real.codex import locate_real_daemon

        self.install = locate_real_daemon()  # raises RealDaemonUnavailable saying how to install it
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self._chunks: list[bytes] = []
        self._seen = threading.Condition()

    def start(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> None:
        environment = self.install.environment(self.home)
        environment["BROWSER"] = "/bin/true"  # print the URL, open nothing
        environment.update(env or {})
        self.proc = subprocess.Popen(
            [str(self.install.binary), *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            with self._seen:
                self._chunks.append(chunk)
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    @property
    def output(self) -> str:
        with self._seen:
            return strip_ansi(b"".join(self._chunks).decode("utf-8", "replace"))

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 15.0) -> re.Match[str]:
        with self._seen:
            ok = self._seen.wait_for(
                lambda: pattern.search(self.output) is not None or (self.proc is not None and self.proc.poll() is not None),
                timeout,
            )
        match = pattern.search(self.output)
        if not ok or match is None:
            raise AssertionError(f"real codex never printed {pattern.pattern!r}; it printed:\n{self.output}")
        return match

    def finish(self, timeout: float = 15.0) -> CliOutcome:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"real codex did not exit within {timeout} s; it printed:\n{self.output}") from None
        self._reader.join(timeout)  # everything the process wrote, up to its end
        return CliOutcome(code, self.output)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class LoginLab:
    def __init__(self, root: Path, *, seed: int = 0) -> None:
        # As `pairsim`'s own entry point does: httpx logs whole URLs at INFO, and the CLI's success redirect
        # carries the id token in its query (as the real CLI's does).
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.root = root
        self.loop = LoopThread("pairsim-login")
        self.state = BackendState.create(seed=seed)
        self.backend = BackendServer(self.state)
        self.issuer = self.loop.run(self.backend.start())
        self.people: dict[str, CreatedAccount] = {}
        self.output: list[str] = []
        self.login: BrowserLogin | None = None
        self.first_login: BrowserLogin | None = None
        self.first_task: Any = None
        self.device: DeviceCodeLogin | None = None
        self._device_task: Any = None
        self._login_task: Any = None
        self.real: RealCodex | None = None
        self.occupants: list[Occupant] = []
        self.browser_page: Page | None = None
        self.home = root / "codex-home"
        self._closed = False
        self.home.mkdir(parents=True, exist_ok=True)

    # -- world ---------------------------------------------------------------------------------------------

    @property
    def devices(self) -> DeviceAuthRegistry:
        return registry(self.state)

    def add_person(self, name: str, **spec: Any) -> CreatedAccount:
        created = self.state.control.create_account(AccountSpec(name=name, **spec))
        self.people[name] = created
        return created

    def person(self, name: str, *, deny: bool = False) -> Person:
        created = self.people[name]
        return Person(created.account.email, created.password, created.totp_secret, deny=deny)

    def store(self, mode: str = "file", *, keyring: bool = True) -> CredentialStore:
        return open_store(mode, self.home, file_keyring(self.home) if keyring else None)

    def occupy(self, port: int) -> Occupant:
        occupant = Occupant(port)

        async def any_path(request: web.Request) -> web.Response:
            occupant.paths.append(request.path)
            return web.Response(status=404, text="occupied")

        async def start() -> web.AppRunner:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", any_path)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
            await site.start()
            return runner

        occupant.runner = self.loop.run(start())
        self.occupants.append(occupant)
        return occupant

    # -- pairsim's CLI ---------------------------------------------------------------------------------------

    def start_browser_login(self, *, port: int = 0, fallback_port: int | None = None, store_mode: str = "file",
                            real_timing: bool = False, keyring: bool = True) -> BrowserLogin:
        settings = LoginSettings(issuer=self.issuer, bind=BindPolicy(port=port, fallback_port=fallback_port))
        if self.login is not None:
            # A second `login` while one runs: the first keeps its own outcome.
            self.first_login, self.first_task = self.login, self._login_task
        login = BrowserLogin(settings, self.store(store_mode, keyring=keyring), clock=self.state.clock,
                             sleep=asyncio.sleep if real_timing else _no_wait, on_output=self.output.append)
        self.login = login

        async def start() -> None:
            try:
                await login.start()
            except LoginFailed as exc:
                self.output.append(ERROR_PREFIX + exc.message)
                raise

        self.loop.run(start())
        self._login_task = asyncio.run_coroutine_threadsafe(self._wait_login(login), self.loop.loop)
        return login

    async def _wait_login(self, login: BrowserLogin) -> int:
        try:
            await login.wait()
        except LoginFailed as exc:
            self.output.append(ERROR_PREFIX + exc.message)
            return 1
        return 0

    def try_browser_login(self, **kwargs: Any) -> CliOutcome:
        """Start a login that may fail at once (ports busy); the outcome of the start."""
        try:
            self.start_browser_login(**kwargs)
        except LoginFailed:
            return CliOutcome(1, "\n".join(self.output))
        return CliOutcome(-1, "\n".join(self.output))

    def login_outcome(self, timeout: float = 15.0) -> CliOutcome:
        if self.real is not None:
            return self.real.finish(timeout)
        task = self._device_task or self._login_task
        assert task is not None, "no login is running"
        code = task.result(timeout)
        return CliOutcome(code, "\n".join(self.output))

    def login_still_waiting(self) -> bool:
        if self.real is not None:
            assert self.real.proc is not None
            return self.real.proc.poll() is None
        task = self._device_task or self._login_task
        return task is not None and not task.done()

    # -- pairsim's device-code CLI ------------------------------------------------------------------------

    def start_device_login(self, *, store_mode: str = "file") -> str:
        device = DeviceCodeLogin(self.issuer, self.store(store_mode), clock=self.state.clock, sleep=self._device_sleep,
                                 on_output=self.output.append)
        self.device = device
        try:
            code = self.loop.run(device.request_code())
        except LoginFailed as exc:
            self.output.append(ERROR_PREFIX + exc.message)
            failed: concurrent.futures.Future[int] = concurrent.futures.Future()
            failed.set_result(1)
            self._device_task = failed
            raise

        async def run() -> int:
            try:
                await device.complete()
            except LoginFailed as exc:
                self.output.append(ERROR_PREFIX + exc.message)
                return 1
            return 0

        self._device_task = asyncio.run_coroutine_threadsafe(run(), self.loop.loop)
        return code.user_code

    # Scenarios do not wait the poll interval for real: the waits are recorded (`device.waits`) and kept short.
    async def _device_sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.01)

    # -- the real codex --------------------------------------------------------------------------------------

    def start_real(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> RealCodex:
        real = RealCodex(self.home)
        real.start(*args, stdin=stdin, env=env)
        self.real = real
        return real

    def start_real_browser_login(self) -> None:
        real = self.start_real("login")
        real.wait_for(_URL)
        self.output = []

    def start_real_device_login(self) -> str:
        self.devices.configure(interval_s=1)
        real = self.start_real("login", "--experimental_issuer", self.issuer, "--device-auth")
        return real.wait_for(_USER_CODE).group(1)

    @property
    def authorize_url(self) -> str:
        if self.real is not None:
            return self.real.wait_for(_URL).group(1)
        assert self.login is not None and self.login.authorize_url is not None
        return self.login.authorize_url

    @property
    def callback_port(self) -> int:
        if self.real is not None:
            return int(self.real.wait_for(_PORT).group(1))
        assert self.login is not None
        return self.login.port

    @property
    def banner(self) -> str:
        if self.real is not None:
            return self.real.output
        return "\n".join(self.output)

    # -- the person's browser ------------------------------------------------------------------------------

    def browser_signs_in(self, name: str, *, deny: bool = False) -> Page:
        async def go() -> Page:
            async with Browser() as browser:
                return await walk(browser, self.authorize_url, self.person(name, deny=deny), self.state.clock)

        self.browser_page = self.loop.run(go())
        return self.browser_page

    def browser_enters_code(self, name: str, user_code: str, *, deny: bool = False) -> Page:
        async def go() -> Page:
            async with Browser() as browser:
                return await enter_device_code(browser, self.issuer, user_code, self.person(name, deny=deny),
                                               self.state.clock)

        self.browser_page = self.loop.run(go())
        return self.browser_page

    def visit_callback(self, path_and_query: str) -> httpx.Response:
        """A request to the CLI's callback server, as a stray browser tab (or an attacker's link) would send."""
        url = f"http://127.0.0.1:{self.callback_port}{path_and_query}"
        with httpx.Client(timeout=10, trust_env=False) as http:
            return http.get(url)

    def state_param(self) -> str:
        match = re.search(r"[?&]state=([^&]+)", self.authorize_url)
        assert match is not None
        return match.group(1)

    # -- teardown -------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.real is not None:
            self.real.stop()

        async def stop_all() -> None:
            for login in (self.login, self.first_login):
                if login is not None:
                    await login.close()
            if self.device is not None:
                await self.device.aclose()
            for occupant in self.occupants:
                if occupant.runner is not None:
                    await occupant.runner.cleanup()
            await self.backend.stop()

        try:
            self.loop.run(stop_all())
        finally:
            self.loop.close()
