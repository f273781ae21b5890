"""A place to run CLI-login scenarios: a backend on loopback, people with accounts, a home for the CLI, and the CLI
itself as a child process, either pairsim's (`python -m simulators.cli login ...`) or the real `codex login` of
the installed @openai/codex. What a scenario says the person saw is read from that process (its stdout and stderr)
or from the page the browser got; the lab composes no output of its own. Steps call one method here and assert one
thing.

Time: the backend runs on a `LabClock` that stands still unless the lab moves it, and every pairsim process the lab
starts reads and sleeps on that same clock (`PAIRSIM_CLOCK`, see `shared_clock.py`). A step that lets time pass
either moves it (`advance`) or lets the CLI's current wait run out (`let_cli_wait_run_out`), which moves the clock
to exactly the instant the CLI asked to wake at. The real `codex` keeps its own clock.

Ports 1455/1457 are fixed by the product; whatever binds them holds `fixed_ports_lock()` (a file lock, so two
pytest-xdist workers never fight over them). Every other port is ephemeral: the CLI and the programs squatting on
ports bind port 0 and the lab reads the port they printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulators.backend.accounts import AccountSpec, CreatedAccount
from simulators.backend.device_auth import DeviceAuthRegistry
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.browser import Browser, Page
from simulators.login.callback_server import LOGIN_CANCELLED
from simulators.login.client import ERROR_PREFIX, SUCCESS
from simulators.login.credential_store import KEYRING_ENV, CredentialStoreMode, file_keyring, open_store
from simulators.login.processes import ChildProcess, CliOutcome, Occupant
from simulators.login.remote_lab import ConnectProxy, HandshakeRecorder, StandInAuthority
from simulators.login.shared_clock import CLOCK_ENV, LabClock
from simulators.login.user import Person, enter_device_code, walk
from simulators.protocol.errors import PairsimError
from simulators.protocol.redaction import secret_values
from simulators.runtime import LoopThread

REPO = Path(__file__).resolve().parents[2]
LOCK_NAME = "pairsim-login-fixed-ports.lock"
WAIT_S = 20.0
_URL = re.compile(r"(https?://\S+/oauth/authorize\?\S+)")
_PORT = re.compile(r"Starting local login server on http://localhost:(\d+)\.")
_USER_CODE = re.compile(r"^   ([A-Z0-9]{4}-[A-Z0-9]{4,5})$", re.MULTILINE)
_VERDICT = re.compile(rf"^(?:{re.escape(SUCCESS)}$|Error logging in)", re.MULTILINE)
_VERDICT_LINE = re.compile(rf"^(?:{re.escape(SUCCESS)}|Error logging in.*)$", re.MULTILINE)
_STARTED = re.compile(f"{_URL.pattern}|{_VERDICT.pattern}", re.MULTILINE)
_DEVICE_STARTED = re.compile(f"{_USER_CODE.pattern}|{_VERDICT.pattern}", re.MULTILINE)
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy", "socks_proxy")
WSS_STAND_IN = ("codex.example.com", 443)  # a wss:// host the scenarios name; reached through the lab's proxy
REMOTE_TOKEN_ENV = "PAIRSIM_REMOTE_TOKEN"


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


class Cli(StrEnum):
    PAIRSIM = "pairsim"
    REAL = "real codex"


@dataclass
class RemoteAttempt:
    """One run of `pairsim connect`: the URL it was given, how it ended, and what the network saw."""

    url: str
    outcome: CliOutcome
    token: str = field(repr=False)
    received: list[str | None] = field(repr=False)  # the Authorization headers the URL's listener got
    connections: list[tuple[str, int]]  # every host:port the client asked the proxy for


def _without_proxies(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.lower() not in _PROXY_VARIABLES}


class LoginLab:
    def __init__(self, root: Path, *, seed: int = 0) -> None:
        # As `pairsim`'s own entry point does: httpx logs whole URLs at INFO, and the CLI's success redirect
        # carries the id token in its query (as the real CLI's does).
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.root = root
        self.events = threading.Condition()
        self.loop = LoopThread("pairsim-login")
        # Today, to the second: the real codex judges the tokens it gets against its own wall clock, and a whole
        # second keeps every instant the lab computes exact.
        self.clock = LabClock(float(int(time.time())), self.events)
        self.clock_address = self.loop.run(self.clock.serve())
        self.state = BackendState.create(self.clock, seed=seed)
        self.backend = BackendServer(self.state)
        self.issuer = self.loop.run(self.backend.start())
        self.people: dict[str, CreatedAccount] = {}
        self.home = root / "codex-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli: ChildProcess | None = None  # the login the scenario is about
        self.cli_kind: Cli | None = None
        self.device_flow = False  # the CLI signs in with a device code (no callback server)
        self.first_cli: ChildProcess | None = None  # an earlier login, when a second one was started
        self.processes: list[ChildProcess] = []
        self.occupants: dict[int, Occupant] = {}
        self.browser_page: Page | None = None
        self.remote_attempt: RemoteAttempt | None = None
        self._remote: tuple[ConnectProxy, HandshakeRecorder, StandInAuthority] | None = None
        self._recorders: list[HandshakeRecorder] = []
        self._issued: list[str] = []  # access tokens and remote-client tokens the lab handed to a CLI
        self._closed = False

    def __repr__(self) -> str:
        return f"LoginLab(issuer={self.issuer!r}, cli={self.cli_kind and self.cli_kind.value!r})"

    # -- world ---------------------------------------------------------------------------------------------

    @property
    def devices(self) -> DeviceAuthRegistry:
        return self.state.device_auth

    def add_person(self, name: str, **spec: Any) -> CreatedAccount:
        created = self.backend.control.create_account(AccountSpec(name=name, **spec))
        self.people[name] = created
        return created

    def issue_access_token(self, name: str, workspace_id: str) -> str:
        """An access token for a person's workspace, as a CI job would create one for `--with-access-token`."""
        token = self.backend.control.issue_tokens(self.people[name].account.account_id, workspace_id=workspace_id)
        self._issued.append(token.access_token)
        return token.access_token

    def issued_secrets(self) -> Iterator[str]:
        """Every secret this lab handed out or that a CLI stored under its home, so reports can be checked for
        them: passwords, TOTP secrets, the tokens it gave a CLI, and the sign-ins saved in auth.json or the file
        keyring."""
        for created in self.people.values():
            yield created.password
            if created.totp_secret:
                yield created.totp_secret
        yield from self._issued
        for mode in (CredentialStoreMode.FILE, CredentialStoreMode.KEYRING):
            try:
                stored = open_store(mode, self.home, file_keyring(self.home)).load()
            except PairsimError:
                continue  # nothing readable stored there
            if stored is not None:
                yield from secret_values(stored.to_json())

    def person(self, name: str, *, deny: bool = False) -> Person:
        created = self.people[name]
        return Person(created.account.email, created.password, created.totp_secret, deny=deny)

    def occupy(self, port: int = 0) -> Occupant:
        """Another program listening on 127.0.0.1:`port` (0: any free port; `Occupant.port` says which)."""
        empty = self.root / "occupant-root"
        empty.mkdir(exist_ok=True)
        program = self._start(f"the program on port {port or 'any'}",
                              [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(empty)], env=_without_proxies(dict(os.environ)))
        occupant = Occupant(program, WAIT_S)
        self.occupants[occupant.port] = occupant
        return occupant

    # -- processes -------------------------------------------------------------------------------------------

    def _start(self, name: str, argv: list[str], *, env: dict[str, str], stdin: bytes | None = None) -> ChildProcess:
        process = ChildProcess(name, argv, env=env, events=self.events, cwd=REPO, stdin=stdin)
        self.processes.append(process)
        return process

    def pairsim_environment(self, *, keyring: bool = True, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = _without_proxies(dict(os.environ))
        env.update({"CODEX_HOME": str(self.home), CLOCK_ENV: self.clock_address,
                    KEYRING_ENV: "file" if keyring else "none"})
        env.update(extra or {})
        return env

    def start_pairsim(self, *args: str, stdin: bytes | None = None, keyring: bool = True,
                      env: dict[str, str] | None = None) -> ChildProcess:
        """`pairsim <args>` as its own process, with the venv's interpreter, on the lab's clock."""
        return self._start(f"pairsim {args[0]}", [sys.executable, "-m", "simulators.cli", *args],
                           env=self.pairsim_environment(keyring=keyring, extra=env), stdin=stdin)

    def run_pairsim(self, *args: str, stdin: bytes | None = None, keyring: bool = True,
                    env: dict[str, str] | None = None) -> CliOutcome:
        """`pairsim <args>` to its end. It becomes the lab's CLI, whose terminal the steps read."""
        process = self.start_pairsim(*args, stdin=stdin, keyring=keyring, env=env)
        self.cli, self.cli_kind = process, Cli.PAIRSIM
        return process.finish(WAIT_S)

    def start_real(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> ChildProcess:
        """The installed real `codex` (raises RealDaemonUnavailable, saying how to install it, when it is not)."""
        from simulators.real.codex import locate_real_daemon

        install = locate_real_daemon()
        environment = install.environment(self.home)
        environment["BROWSER"] = "/bin/true"  # print the URL, open nothing
        environment.update(env or {})
        process = self._start("real codex", [str(install.binary), *args], env=environment, stdin=stdin)
        self.cli, self.cli_kind = process, Cli.REAL
        return process

    def _login_args(self, *extra: str, store_mode: str = "file") -> list[str]:
        return ["login", "--issuer", self.issuer, "--home", str(self.home), "--credentials-store", store_mode,
                *extra]

    # -- pairsim's CLI -------------------------------------------------------------------------------------

    def start_browser_login(self, *, port: int = 0, fallback_port: int | None = None, store_mode: str = "file",
                            keyring: bool = True) -> ChildProcess:
        """`pairsim login` (browser), until it has printed its sign-in link or ended. Its pauses between tries
        of a busy port run on the lab's clock and are let run out."""
        extra = ["--no-browser", "--port", str(port)]
        if fallback_port is not None:
            extra += ["--fallback-port", str(fallback_port)]
        process = self.start_pairsim(*self._login_args(*extra, store_mode=store_mode), keyring=keyring)
        self.cli, self.cli_kind = process, Cli.PAIRSIM
        self._let_run_until(process, _STARTED)
        return process

    def start_second_browser_login(self) -> ChildProcess:
        """A second `pairsim login` on the port the first one serves. The second asks the first to cancel; its
        next try comes after the first has ended (the product's 200 ms pause is longer than that takes)."""
        first = self._running_cli()
        port = self.callback_port
        second = self.start_pairsim(*self._login_args("--no-browser", "--port", str(port)))
        self.first_cli, self.cli, self.cli_kind = first, second, Cli.PAIRSIM
        self._wait(lambda: second.search(_STARTED) is not None or second.ended
                   or self.clock.asleep(second.pid) is not None)
        first.wait_ended(WAIT_S)
        self._let_run_until(second, _STARTED)
        return second

    def start_device_login(self, *, store_mode: str = "file") -> ChildProcess:
        """`pairsim login --device-auth`, until it has printed the one-time code or ended."""
        process = self.start_pairsim(*self._login_args("--device-auth", store_mode=store_mode))
        self.cli, self.cli_kind, self.device_flow = process, Cli.PAIRSIM, True
        self._wait(lambda: process.search(_DEVICE_STARTED) is not None or process.ended)
        return process

    def _wait(self, condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
        with self.events:
            return self.events.wait_for(condition, timeout)

    def _let_run_until(self, process: ChildProcess, pattern: re.Pattern[str]) -> None:
        """Let `process`'s sleeps on the lab's clock run out, one by one, until it prints `pattern` or ends."""
        deadline = time.monotonic() + WAIT_S

        def done() -> bool:
            return process.search(pattern) is not None or process.ended

        while True:
            self._wait(lambda: done() or self.clock.asleep(process.pid) is not None,
                       max(0.0, deadline - time.monotonic()))
            if done():
                return
            sleeper = self.clock.asleep(process.pid)
            if sleeper is None:
                raise AssertionError(f"{process.name} neither printed {pattern.pattern!r} nor slept; it printed:\n"
                                     f"{process.output}")
            self.clock.advance_to(sleeper.deadline)

    def _running_cli(self) -> ChildProcess:
        assert self.cli is not None, "no CLI was started"
        return self.cli

    # -- time --------------------------------------------------------------------------------------------------

    def let_cli_wait_run_out(self) -> float | None:
        """pairsim's CLI: wait until it sleeps on the lab's clock, then move the clock to the instant it asked to
        wake at; returns that instant (None when it ended instead). The real CLI keeps its own time: None."""
        cli = self._running_cli()
        if self.cli_kind is not Cli.PAIRSIM:
            return None
        sleeper = self.clock.wait_until_asleep(cli.pid, timeout=WAIT_S, gone=lambda: cli.ended)
        if sleeper is None:
            return None
        self.clock.advance_to(sleeper.deadline)
        return sleeper.deadline

    def let_cli_ask(self, times: int) -> None:
        """Let pairsim's device login poll the backend `times` times, each wait running out on the lab's clock."""
        for count in range(1, times + 1):
            if not self.devices.wait_for_polls(count, WAIT_S):
                raise AssertionError(f"the CLI did not ask {count} times; it printed:\n{self._running_cli().output}")
            if count < times:
                self.let_cli_wait_run_out()

    # -- what the CLI shows ------------------------------------------------------------------------------------

    @property
    def terminal(self) -> str:
        return self._running_cli().output

    def wait_printed(self, text: str) -> bool:
        """True once the CLI printed `text` (waits while it runs, bounded)."""
        cli = self._running_cli()
        self._wait(lambda: text in cli.output or cli.ended)
        return text in cli.output

    @property
    def authorize_url(self) -> str:
        return self._running_cli().wait_for(_URL, WAIT_S).group(1)

    @property
    def callback_port(self) -> int:
        return int(self._running_cli().wait_for(_PORT, WAIT_S).group(1))

    def state_param(self) -> str:
        match = re.search(r"[?&]state=([^&]+)", self.authorize_url)
        assert match is not None
        return match.group(1)

    def user_code(self) -> str:
        return self._running_cli().wait_for(_USER_CODE, WAIT_S).group(1)

    def login_outcome(self, timeout: float = WAIT_S) -> CliOutcome:
        return self._running_cli().finish(timeout)

    def login_still_waiting(self) -> bool:
        """The login has printed no verdict and goes on waiting, shown the way each flow can show it:
        - a browser login is asked to stop (`GET /cancel`, the product's own request): it was still waiting exactly
          when the cancel is what ends it (had anything earlier ended it, its verdict would be another one);
        - pairsim's device login lets its current wait run out, asks the backend again, and goes back to waiting;
        - the real device login (its own clock) is running and has printed no verdict."""
        cli = self._running_cli()
        if cli.search(_VERDICT) is not None or not cli.running:
            return False
        if self.device_flow and self.cli_kind is Cli.PAIRSIM:
            asleep = self.clock.wait_until_asleep(cli.pid, timeout=WAIT_S, gone=lambda: cli.ended)
            if asleep is None:
                return False
            self.clock.advance_to(asleep.deadline)
            again = self.clock.wait_until_asleep(cli.pid, after=asleep.seq, timeout=WAIT_S, gone=lambda: cli.ended)
            return again is not None and cli.search(_VERDICT) is None
        if self.device_flow:
            return True
        try:
            self.visit_callback("/cancel")
        except httpx.HTTPError:
            return False
        verdicts = _VERDICT_LINE.findall(cli.finish(WAIT_S).output)
        return verdicts == [ERROR_PREFIX + LOGIN_CANCELLED]

    def printed_port(self, process: ChildProcess) -> int:
        return int(process.wait_for(_PORT, WAIT_S).group(1))

    def ask_status(self, *, store_mode: str = "file", keyring: bool = True) -> CliOutcome:
        """A new `pairsim login status` process for the same home (the scenario's CLI stays the one it was)."""
        process = self.start_pairsim("login", "status", "--home", str(self.home), "--credentials-store", store_mode,
                                     keyring=keyring)
        return process.finish(WAIT_S)

    # -- the real codex --------------------------------------------------------------------------------------

    def start_real_browser_login(self) -> None:
        self.start_real("login").wait_for(_URL, WAIT_S)

    def start_real_device_login(self) -> None:
        self.devices.configure(interval_s=1)
        real = self.start_real("login", "--experimental_issuer", self.issuer, "--device-auth")
        self.device_flow = True
        self._wait(lambda: real.search(_DEVICE_STARTED) is not None or real.ended)

    # -- the person's browser ------------------------------------------------------------------------------

    def browser_signs_in(self, name: str, *, deny: bool = False) -> Page:
        """The person opens the sign-in link the CLI printed and answers the issuer's pages."""
        url = self.authorize_url

        async def go() -> Page:
            async with Browser() as browser:
                return await walk(browser, url, self.person(name, deny=deny), self.clock)

        self.browser_page = self.loop.run(go())
        return self.browser_page

    def browser_enters_code(self, name: str, user_code: str, *, deny: bool = False,
                            then_cli_asks: bool = False) -> Page:
        """The person signs in on the device page and types `user_code`. With `then_cli_asks`, the CLI's current
        wait then runs out, so it asks the backend once more (what happens while a person reads the page)."""

        async def go() -> Page:
            async with Browser() as browser:
                return await enter_device_code(browser, self.issuer, user_code, self.person(name, deny=deny),
                                               self.clock)

        self.browser_page = self.loop.run(go())
        if then_cli_asks:
            self.let_cli_wait_run_out()
        return self.browser_page

    def visit_callback(self, path_and_query: str) -> httpx.Response:
        """A request to the CLI's callback server, as a stray browser tab (or an attacker's link) would send."""
        url = f"http://127.0.0.1:{self.callback_port}{path_and_query}"
        with httpx.Client(timeout=10, trust_env=False) as http:
            return http.get(url)

    # -- the remote client -------------------------------------------------------------------------------------

    def _remote_network(self) -> tuple[ConnectProxy, HandshakeRecorder, StandInAuthority]:
        if self._remote is None:
            authority = StandInAuthority.create(self.root / "stand-in-tls", WSS_STAND_IN[0])

            async def start() -> tuple[ConnectProxy, HandshakeRecorder]:
                stand_in = HandshakeRecorder("127.0.0.1")
                await stand_in.start(authority.server_context())
                proxy = ConnectProxy(routes={WSS_STAND_IN: ("127.0.0.1", stand_in.port)})
                await proxy.start()
                return proxy, stand_in

            proxy, stand_in = self.loop.run(start())
            self._remote = (proxy, stand_in, authority)
        return self._remote

    def run_remote_client(self, url: str) -> RemoteAttempt:
        """`pairsim connect --remote <url> --remote-auth-token-env ...` with a token the lab made. In `url`,
        `<port>` names a listener the lab starts on the URL's (loopback) host. The client's only way off this
        machine is the lab's proxy."""
        proxy, stand_in, authority = self._remote_network()
        recorder: HandshakeRecorder | None = None
        if "<port>" in url:
            host = urlsplit(url.replace("<port>", "1")).hostname or ""
            recorder = HandshakeRecorder("127.0.0.1" if host == "localhost" else host)
            self.loop.run(recorder.start())
            self._recorders.append(recorder)
            url = url.replace("<port>", str(recorder.port))
        elif (urlsplit(url).hostname, urlsplit(url).port) == WSS_STAND_IN:
            recorder = stand_in
        token = secrets.token_urlsafe(24)
        self._issued.append(token)
        env = {REMOTE_TOKEN_ENV: token, "https_proxy": proxy.url, "http_proxy": proxy.url,
               "SSL_CERT_FILE": str(authority.ca_path)}
        already_seen, already_received = len(proxy.targets), len(recorder.authorizations) if recorder else 0
        outcome = self.run_pairsim("connect", "--remote", url, "--remote-auth-token-env", REMOTE_TOKEN_ENV, env=env)
        self.remote_attempt = RemoteAttempt(
            url=url,
            outcome=outcome,
            token=token,
            received=recorder.authorizations[already_received:] if recorder else [],
            connections=proxy.targets[already_seen:],
        )
        return self.remote_attempt

    # -- teardown -------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for process in reversed(self.processes):
            process.stop()

        async def stop_all() -> None:
            if self._remote is not None:
                await self._remote[0].stop()
                await self._remote[1].stop()
            for recorder in self._recorders:
                await recorder.stop()
            await self.clock.aclose()
            await self.backend.stop()

        try:
            self.loop.run(stop_all())
        finally:
            self.loop.close()
