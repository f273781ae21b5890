"""One mocked world: the account backend and the Macs' daemons on loopback, people, phones, and faults.

`World` is the synchronous, product-level facade that Gherkin steps and `pairsim reproduce` drive. Every server is
real (aiohttp on 127.0.0.1, port 0) and runs on the world's own event loop thread, so servers keep serving between
steps and scenarios can run in parallel without sharing anything.

A world starts with one Mac; `add_mac` adds more (mock daemon only), all sharing the one backend and clock.
Methods about a Mac take `mac=` (its server name) and act on the first Mac without it.

Each party reaches the backend through its own network path (`simulators.network.LoopbackForwarder`): one for the
phones (the QR code names the backend as the phones reach it) and one per Mac (its desktop's sign-in and its
daemon's enrollment and relay socket). Cutting a path is a real network failure for that party alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyotp

from simulators.backend.accounts import AccountSpec, CreatedAccount, Plan, Region, TeamWorkspaceSpec
from simulators.backend.remote_control import EnrollFault
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.camera import Picture, take
from simulators.clock import Clock
from simulators.daemon.app_server import AppServer
from simulators.daemon.desktop import DesktopApp, QrShown, Remediation
from simulators.daemon.doctor import run_doctor
from simulators.daemon.listener import AppServerListener
from simulators.daemon.profiles import Profile
from simulators.daemon.remote_control import EnrollmentStatus, RemoteControlController
from simulators.daemon.store import DaemonStore
from simulators.daemon.threads import ThreadService
from simulators.daemon.workspace import PROJECT, CommandRun, Workspace
from simulators.network import LoopbackForwarder
from simulators.phone.app import (
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    Approval,
    HostSession,
    PairingResult,
    PhoneApp,
    PhoneProfile,
)
from simulators.phone.screens import FailureCopy
from simulators.protocol.pairing_link import parse_pairing_link
from simulators.protocol.redaction import SecretMask, redact_body, redact_secrets
from simulators.runtime import LoopThread

if TYPE_CHECKING:
    from simulators.real.remote_control import RealRemoteControl
    from simulators.real.target import DaemonTarget

__all__ = ["PairingOutcome", "Persona", "PhoneView", "Profile", "QrShown", "Remediation", "World"]

PERSONAL = "Personal"
DEFAULT_SERVER_NAME = "Dana's MacBook Pro"
SETTLED_STATUSES = ("connected", "errored", "disabled")
DAEMONS = ("mock", "codex")
ENROLLMENT_ROUTES = ("rc.server.enroll", "rc.server.refresh")
SEEDED_THREADS = 3
APPROVAL_KINDS = {COMMAND_APPROVAL: "command", FILE_CHANGE_APPROVAL: "file_change"}
ACTED_ON_TIMEOUT = 10.0  # seconds for a decision to cross the relay and the Mac to act on it


class _LatestLast(dict[str, tuple[int, str]]):
    """The backend's last answer per route, kept in the order they were last written (newest last)."""

    def __setitem__(self, key: str, value: tuple[int, str]) -> None:
        self.pop(key, None)
        super().__setitem__(key, value)


@dataclass(frozen=True)
class Persona:
    """A person in a scenario. The secrets are for the simulated hands only; they never reach a report."""

    name: str
    email: str
    password: str = field(repr=False)
    totp_secret: str | None = field(repr=False)
    user_id: str
    account_id: str
    workspace_ids: dict[str, str]


@dataclass(frozen=True)
class PairingOutcome:
    outcome: str  # "paired" or an ErrorCode value
    message: str
    screens: list[dict[str, Any]]
    host_name: str | None
    thread_count: int | None = None


@dataclass(frozen=True)
class PhoneView:
    """What a phone shows now: its paired hosts (in pairing order), the one in use, and the screen on top."""

    hosts: tuple[str, ...]
    active_host: str | None
    screen: dict[str, Any]


@dataclass
class _Mac:
    """One Mac with Codex: the desktop app, the daemon behind it (mock pieces or the real target), its files."""

    name: str
    label: str  # names the Mac in paths and the trace: "mac" for the first, "mac:<slug>" for the others
    directory: Path
    home: Path
    desktop: DesktopApp
    controller: RemoteControlController | RealRemoteControl
    store: DaemonStore | None = None
    app_server: AppServer | None = None
    threads: ThreadService | None = None
    listener: AppServerListener | None = None
    target: DaemonTarget | None = None
    route: LoopbackForwarder | None = None  # this Mac's network path to the backend
    qr_count: int = 0
    tokens_seen: list[tuple[str, ...]] = field(default_factory=list, repr=False)


class World:
    """A fresh backend + daemon + desktop, with people and phones. Synchronous; use as a context manager."""

    def __init__(
        self,
        *,
        profile: Profile | str = Profile.FIXED,
        seed: int = 1234,
        root: Path | None = None,
        daemon: str = "mock",
        server_name: str = DEFAULT_SERVER_NAME,
    ) -> None:
        if daemon not in DAEMONS:
            raise ValueError(f"unknown daemon target {daemon!r}; choose one of {', '.join(DAEMONS)}")
        self.daemon = daemon
        self.profile = Profile(profile)
        self.seed = seed
        self.server_name = server_name
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="pairsim-world-")) if root is None else root
        self.clock = Clock()
        self._random = random.Random(seed)
        self._loop: LoopThread | None = None
        self._people: dict[str, CreatedAccount] = {}
        self._replaced_secrets: list[str] = []  # passwords and TOTP secrets a change replaced: still secrets
        self._phones: dict[str, PhoneApp] = {}
        self._macs: list[_Mac] = []
        self._phone_route: LoopbackForwarder | None = None
        self._routes: list[LoopbackForwarder] = []  # every path made, closed with the world
        # Settings switches still waiting for the backend's answer (a held enrollment), as the desktop's UI does.
        self._switching: set[asyncio.Task[Any]] = set()
        self._started = False

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> World:
        self._loop = LoopThread(name=f"pairsim-world-{self.seed}")
        try:
            self._run(self._start())
        except BaseException:
            self._loop.close()
            raise
        self._started = True
        return self

    async def _start(self) -> None:
        state = BackendState.create(self.clock, seed=self.seed, typed_errors=self.profile is Profile.FIXED)
        self.rc = state.remote_control
        self.backend = BackendServer(state)
        await self.backend.start()
        self._phone_route = await self._route_to_backend("phones")
        if self.daemon == "codex":
            self._macs.append(await self._start_real_daemon())
            self.server_name = self._macs[0].name
            return
        self._macs.append(
            await self._start_mock_mac(self.server_name, "mac", self.root / "mac", seed=self.seed,
                                       threads=SEEDED_THREADS)
        )

    async def _route_to_backend(self, name: str) -> LoopbackForwarder:
        parts = urlsplit(self.backend_url)
        assert parts.hostname is not None and parts.port is not None
        route = await LoopbackForwarder(parts.hostname, parts.port, name=name).start()
        self._routes.append(route)
        return route

    async def _start_mock_mac(self, name: str, label: str, directory: Path, *, seed: int, threads: int) -> _Mac:
        home = directory / "codex-home"
        route = await self._route_to_backend(label)
        store = DaemonStore.open(home, self.clock)
        app_server = AppServer(home, self.clock, name, store.installation_id())
        workspace = Workspace.seed(directory / "workspace" / PROJECT)
        thread_service = ThreadService(app_server, workspace=workspace, seed=seed, seeded_threads=threads).install()
        desktop = DesktopApp(
            home, issuer_url=route.url, backend_origin=self.phone_backend_url, clock=self.clock
        )
        app_server.account_provider = desktop.account
        controller = RemoteControlController(
            app_server,
            store,
            desktop,
            base_url=f"{route.url}/backend-api/",
            profile=self.profile,
            clock=self.clock,
        )
        desktop.attach(controller)
        listener = AppServerListener(app_server, clock=self.clock)
        mac = _Mac(name, label, directory, home, desktop, controller, store=store, app_server=app_server,
                   threads=thread_service, listener=listener, route=route)
        try:
            await controller.start()
            await listener.start()
        except BaseException:
            await self._close_mac(mac)
            self._release_mac(mac)
            raise
        return mac

    async def _start_real_daemon(self) -> _Mac:
        """The desktop app in front of the real `codex app-server`: the same DesktopApp (sign-in through the
        issuer's pages, settings, Connections text, the QR code), writing auth.json into the daemon's CODEX_HOME."""
        from simulators.real.remote_control import RealRemoteControl
        from simulators.real.target import DaemonTarget

        # The real daemon's refresh and enroll refusals both renew the enrollment; keep the newest answer.
        self.rc.last_responses = _LatestLast(self.rc.last_responses)
        route = await self._route_to_backend("mac")
        target = DaemonTarget("codex")
        home = target.new_home()
        controller = RealRemoteControl(
            target, home, chatgpt_base_url=f"{route.url}/backend-api/", issuer_url=route.url
        )
        desktop = DesktopApp(
            home, issuer_url=route.url, backend_origin=self.phone_backend_url, clock=self.clock
        )
        desktop.attach(controller)
        await controller.start()
        return _Mac(controller.app_server.server_name, "mac", self.root / "mac", home, desktop, controller,
                    target=target, route=route)

    def add_mac(self, name: str, *, threads: int | None = None) -> None:
        """Another Mac of the same household, with its own daemon, desktop app and CODEX_HOME, on the same backend
        and clock. `threads` seeds its thread list; by default one more than the Mac added before it, so two
        Macs never list the same number of threads."""
        if self.daemon == "codex":
            raise ValueError("the codex target runs one real daemon; a second Mac needs the mock daemon")
        if any(mac.name == name for mac in self._macs):
            raise ValueError(f"this world already has a Mac named {name!r}")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-") or f"mac-{len(self._macs) + 1}"
        directory = self.root / slug
        if any(mac.directory == directory for mac in self._macs):
            raise ValueError(f"the Mac name {name!r} clashes with another Mac's folder {slug!r}")
        count = SEEDED_THREADS + len(self._macs) if threads is None else threads
        self._macs.append(self._run(
            self._start_mock_mac(name, f"mac:{slug}", directory, seed=self.seed + len(self._macs), threads=count)
        ))

    @property
    def macs(self) -> list[str]:
        """The Macs' server names, the first one first."""
        return [mac.name for mac in self._macs]

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            if self._started:
                self._run(self._stop())
        finally:
            self._loop.close()
            self._loop = None
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                # A Mac's working state (its auth.json holds the desktop's tokens) lives only as long as the
                # world; what a caller keeps from a given root is the QR images and whatever it wrote there.
                for mac in self._macs:
                    shutil.rmtree(mac.home, ignore_errors=True)
                    shutil.rmtree(mac.directory / "workspace", ignore_errors=True)

    async def _stop(self) -> None:
        for switching in self._switching:
            switching.cancel()
        await asyncio.gather(*self._switching, return_exceptions=True)
        for phone in self._phones.values():
            with contextlib.suppress(Exception):
                await phone.close()
        for mac in self._macs:
            await self._close_mac(mac)
        await self.backend.stop()
        for route in self._routes:
            await route.close()
        for mac in self._macs:
            if mac.target is not None:
                await asyncio.to_thread(mac.target.stop)
            else:
                self._release_mac(mac)

    @staticmethod
    async def _close_mac(mac: _Mac) -> None:
        if mac.listener is not None:
            with contextlib.suppress(Exception):
                await mac.listener.stop()
        with contextlib.suppress(Exception):
            await mac.controller.close()
        with contextlib.suppress(Exception):
            await mac.desktop.aclose()
        if mac.app_server is not None:
            with contextlib.suppress(Exception):
                await mac.app_server.close()

    @staticmethod
    def _release_mac(mac: _Mac) -> None:
        if mac.store is not None:
            with contextlib.suppress(Exception):
                mac.store.close()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _control(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the backend's test-control handle on the loop thread, where the backend's state lives."""
        return self._on_loop(getattr(self.backend.control, method), *args, **kwargs)

    def _on_loop(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return func(*args, **kwargs)

        return self._run(call())

    def _run(self, coro: Any, timeout: float | None = 60.0) -> Any:
        assert self._loop is not None, "the world is not started"
        return self._loop.run(coro, timeout=timeout)

    @property
    def backend_url(self) -> str:
        """The backend's own address (its admin API, the world's control)."""
        assert self.backend.base_url is not None
        return self.backend.base_url

    @property
    def phone_backend_url(self) -> str:
        """The backend as the phones reach it: the origin the Macs' QR codes name."""
        assert self._phone_route is not None
        return self._phone_route.url

    @property
    def daemon_url(self) -> str:
        """The first Mac's daemon."""
        mac = self._mac(None)
        if mac.listener is None:
            assert mac.controller.daemon is not None
            return mac.controller.daemon.url
        return mac.listener.url

    def _mac(self, name: str | None) -> _Mac:
        if name is None:
            return self._macs[0]
        for mac in self._macs:
            if mac.name == name:
                return mac
        raise ValueError(f"this world has no Mac named {name!r} (it has: {', '.join(self.macs)})")

    def _mock_mac(self, name: str | None) -> _Mac:
        mac = self._mac(name)
        if mac.app_server is None:
            raise ValueError("the real daemon's approvals and turns are not observable from inside it")
        return mac

    # --------------------------------------------------------------------------------------------------- people

    def create_persona(
        self,
        name: str,
        *,
        mfa: bool = True,
        plan: str = "plus",
        workspaces: Sequence[str] = (),
        region: str = "us",
    ) -> Persona:
        if name in self._people:
            raise ValueError(f"{name} already exists in this world")
        email = f"{name.lower()}.{self._random.randrange(10_000, 99_999)}@example.com"
        created = self._control("create_account",
            AccountSpec(
                email=email,
                name=name,
                plan=Plan(plan),
                mfa=mfa,
                team_workspaces=tuple(TeamWorkspaceSpec(name=team) for team in workspaces),
                region=Region(region),
            )
        )
        self._people[name] = created
        return self.persona(name)

    def persona(self, name: str) -> Persona:
        created = self._people[name]
        account = self._control("account", created.account.account_id)
        return Persona(
            name=name,
            email=account.email,
            password=created.password,
            totp_secret=created.totp_secret,
            user_id=account.user_id,
            account_id=account.account_id,
            workspace_ids={ws.name: ws.id for ws in account.workspaces},
        )

    def _account_id(self, name: str) -> str:
        return self._people[name].account.account_id

    def _update(self, name: str, **changes: Any) -> None:
        old = self._people[name]
        self._replaced_secrets.extend(secret for secret in (old.password, old.totp_secret) if secret)
        self._people[name] = replace(old, **changes)

    def enable_mfa(self, name: str) -> None:
        secret = self._control("enable_mfa", self._account_id(name))
        self._update(name, totp_secret=secret)

    def forget_trusted_devices(self, name: str) -> int:
        """The person signs out of every remembered browser in her account's security settings."""
        return self._on_loop(self.backend.state.accounts.forget_trusted_devices, self._account_id(name))

    def change_password(self, name: str) -> None:
        """Dana changes her password on the web: every session, token and server enrollment is revoked, on every
        Mac, and every phone she paired is signed out. Returns once each Mac has settled and each phone that was
        connected has seen its socket close."""
        user_id = self.persona(name).user_id
        phone_sockets = [
            session.socket
            for phone in self._phones.values()
            for session in _sessions(phone)
            if session.socket is not None and session.tokens is not None and session.tokens.user_id == user_id
        ]
        connected = {
            id(mac): mac.controller.environment_id
            for mac in self._macs
            if mac.controller.environment_id is not None
            and self.rc.relay.daemon_connected(mac.controller.environment_id)
        }
        new_password = self._control("change_password", self._account_id(name))
        self._update(name, password=new_password)
        for mac in self._macs:
            environment_id = connected.get(id(mac))
            if environment_id is not None:
                # The backend closes the daemon's relay socket (4401); wait for that, then for the daemon to settle.
                self._run(self.rc.wait_daemon_disconnected(environment_id))
                if self.daemon == "codex":
                    # The real daemon reconnects after its backoff (about 3 s) and is refused: wait for it to say so.
                    self._run(mac.controller.wait_left("connected"))
            self._run(mac.controller.wait_settled())
        for socket in phone_sockets:
            self._run(socket.wait_closed())

    def set_workspace_policy(self, name: str, workspace: str, allowed: bool) -> None:
        workspace_id = self.persona(name).workspace_ids[workspace]
        self._control("set_workspace_policy", workspace_id, remote_control_allowed=allowed)

    def set_region(self, name: str, region: str) -> None:
        self._control("set_region", self._account_id(name), region)

    # -------------------------------------------------------------------------------------------------- desktop

    def desktop_sign_in(
        self, name: str, *, remember_device: bool = False, workspace: str = PERSONAL, mac: str | None = None
    ) -> None:
        """Codex on the Mac signs in through the issuer's pages in the Mac's browser. The person enters her
        authenticator code whenever the issuer asks for it; `remember_device` ticks "Remember this device", after
        which the issuer stops asking this browser (that skip is what leaves a later sign-in without MFA)."""
        person = self.persona(name)
        signing_in = self._mac(mac)
        totp_code = None if person.totp_secret is None else pyotp.TOTP(person.totp_secret).at(self.clock.now())
        self._run(
            signing_in.desktop.sign_in(
                person.email,
                person.password,
                totp_code,
                workspace=None if workspace == PERSONAL else workspace,
                remember_device=remember_device,
            )
        )
        self._remember_desktop_tokens(signing_in)
        self.wait_desktop_settled(mac=mac)

    def quit_desktop_browser(self, *, mac: str | None = None) -> None:
        """The person quits the Mac's browser: its sign-in cookie goes, a remembered device stays."""
        self._on_loop(self._mac(mac).desktop.browser.end_session)

    def desktop_sign_in_pages(self, *, mac: str | None = None) -> tuple[str, ...]:
        """The issuer's pages the Mac's browser showed in its last sign-in (`sign_in`, `mfa`, `consent`, ...)."""
        return self._mac(mac).desktop.sign_in_pages

    @staticmethod
    def _remember_desktop_tokens(mac: _Mac) -> None:
        stored = getattr(mac.desktop, "_tokens", None)
        if stored is not None:
            mac.tokens_seen.append(
                tuple(getattr(stored, key) for key in ("access_token", "refresh_token", "id_token"))
            )

    def allow_connections(self, allowed: bool = True, *, mac: str | None = None) -> None:
        self._run(self._switch_connections(self._mac(mac), allowed))

    async def _switch_connections(self, mac: _Mac, allowed: bool) -> None:
        # The switch returns once the daemon has the backend's answer. While the backend holds the enrollment there
        # is none yet; the Settings window does not wait for it either, and shows "connecting" meanwhile.
        switching = asyncio.ensure_future(mac.desktop.set_allow_other_devices(allowed))
        self._switching.add(switching)
        switching.add_done_callback(self._switching.discard)
        held = asyncio.ensure_future(self.rc.wait_enrollment_held(timeout=None))
        try:
            await asyncio.wait({switching, held}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            held.cancel()
            await asyncio.gather(held, return_exceptions=True)
        if switching.done():
            switching.result()
            await self._settle(mac)

    async def _settle(self, mac: _Mac) -> None:
        """Until the Mac's remote control is no longer `connecting`, or the backend holds its enrollment (then it
        stays `connecting` until the world answers it: `answer_held_enrollments`)."""
        settled = asyncio.ensure_future(mac.controller.wait_settled())
        # No timeout of its own: how long settling may take is the controller's to say.
        held = asyncio.ensure_future(self.rc.wait_enrollment_held(timeout=None))
        try:
            done, _ = await asyncio.wait({settled, held}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (settled, held):
                task.cancel()
            await asyncio.gather(settled, held, return_exceptions=True)

    def wait_desktop_settled(self, *, mac: str | None = None) -> str:
        self._run(self._settle(self._mac(mac)))
        return self.desktop_status(mac=mac)

    def desktop_environment_id(self, *, mac: str | None = None) -> str | None:
        return self._mac(mac).controller.environment_id

    def desktop_status(self, *, mac: str | None = None) -> str:
        return str(self._mac(mac).controller.status.value)

    def connections_text(self, *, mac: str | None = None) -> str:
        return self._mac(mac).desktop.connections_text()

    def show_pairing_qr(self, *, mac: str | None = None) -> QrShown | Remediation:
        shown_on = self._mac(mac)
        shown_on.qr_count += 1
        path = shown_on.directory / f"pairing-qr-{shown_on.qr_count}.png"
        return self._run(shown_on.desktop.show_pairing_qr(path))

    def doctor_lines(self, *, mac: str | None = None) -> list[str]:
        if self.daemon == "codex":
            # `codex doctor` has no remote-control check (openai/codex#24328); pairsim's doctor reads only the
            # mock's state database, so there is nothing to say about the real daemon's enrollment here.
            return []
        return run_doctor(self._mac(mac).home, profile=self.profile).lines()

    def doctor_lines_of_a_folder_without_codex(self) -> list[str]:
        """`pairsim doctor --home` pointed at a folder where Codex has never run (a mistyped --home, say)."""
        folder = Path(tempfile.mkdtemp(prefix="no-codex-", dir=self.root))
        return run_doctor(folder, profile=self.profile).lines()

    def enrollment_rows(self, *, mac: str | None = None) -> list[dict[str, Any]]:
        rows_of = self._mac(mac)
        if rows_of.store is None:
            return rows_of.controller.enrollment_rows()
        return [row.to_row() for row in rows_of.store.enrollments()]

    def last_enrollment_response(self) -> tuple[int, str] | None:
        """(status, body) of the backend's last answer to an enrollment, from any Mac, with the server token masked.

        The real daemon renews a persisted enrollment with `server/refresh` instead of enrolling again, so on the
        codex target the newest answer to either call counts."""
        routes = ENROLLMENT_ROUTES if self.daemon == "codex" else ENROLLMENT_ROUTES[:1]
        answered = [name for name in self.rc.last_responses if name in routes]
        if not answered:
            return None
        status, body = self.rc.last_responses[answered[-1]]
        return status, redact_body(body)

    def daemon_log(self, *, mac: str | None = None) -> list[str]:
        controller = self._mac(mac).controller
        if self.daemon == "codex":
            return [*controller.log_lines(), *controller.rpc_failures]
        return list(controller.log_lines)

    def wait_for_daemon_log(self, pattern: str) -> str | None:
        """The first line of the first Mac's remote-control log matching the regular expression `pattern`."""
        if self.daemon == "codex":
            return self._run(self._mac(None).controller.wait_for_log(pattern))
        return next((line for line in self.daemon_log() if re.search(pattern, line)), None)

    def remote_control_cli(self) -> tuple[int | None, str]:
        """`codex remote-control --no-daemon` on the Mac's CODEX_HOME: (exit code, its status line). Real only."""
        if self.daemon != "codex":
            raise ValueError("the mock daemon has no `codex remote-control` command")
        return self._run(self._mac(None).controller.cli_status())

    def daemon_request(self, method: str, params: dict[str, Any] | None = None, *, mac: str | None = None) -> Any:
        """Send one JSON-RPC request to the Mac's daemon as the desktop app; the result or AppServerRpcError /
        RpcError."""
        target = self._mac(mac)
        if target.listener is None:
            return self._run(target.controller.request(method, params))
        return self._run(self._mock_request(target.listener.url, method, params or {}))

    @staticmethod
    async def _mock_request(url: str, method: str, params: dict[str, Any]) -> Any:
        from simulators.real.app_server_client import AppServerClient

        client = await AppServerClient.connect(url, client_name="pairsim_desktop", client_version="0.169.0")
        try:
            return await client.request(method, params)
        finally:
            await client.close()

    def approvals_waiting(self, *, mac: str | None = None) -> list[str]:
        """The kinds ("command", "file_change") of the approvals the Mac's daemon has asked for and not yet had an
        answer to, as it stands now. Mock daemon only."""
        server = self._mock_mac(mac).app_server
        assert server is not None

        def read() -> list[str]:
            return [
                APPROVAL_KINDS[request.method]
                for connection in server.connections
                for request in connection.session.pending_requests.values()
                if request.method in APPROVAL_KINDS
            ]

        return self._on_loop(read)

    def turns_run(self, *, mac: str | None = None) -> int:
        """How many turns anyone has started on the Mac's daemon. Mock daemon only."""
        threads = self._mock_mac(mac).threads
        assert threads is not None
        return self._on_loop(lambda: sum(len(thread.turns) for thread in threads.threads))

    def commands_run(self, *, mac: str | None = None) -> list[CommandRun]:
        """Every process Codex on the Mac has run for its agent, oldest first, as the daemon recorded it when it
        spawned each one (command, working directory, exit code). Mock daemon only."""
        threads = self._mock_mac(mac).threads
        assert threads is not None
        return self._on_loop(lambda: list(threads.workspace.commands_run))

    def approved_for_the_session(self, *, mac: str | None = None) -> set[str]:
        """The kinds of request ("commandExecution", "fileChange") Codex on the Mac may now do without asking,
        because the person approved them for the rest of the session. Mock daemon only."""
        threads = self._mock_mac(mac).threads
        assert threads is not None
        return self._on_loop(lambda: {kind for thread in threads.threads for kind in thread.approved_for_session})

    def project_folder(self, *, mac: str | None = None) -> Path:
        """Where the project Codex works in lives on the Mac. Mock daemon only."""
        threads = self._mock_mac(mac).threads
        assert threads is not None
        return threads.workspace.root

    def workspace_file(self, relative_path: str, *, mac: str | None = None) -> str:
        """A file of the project Codex works in on the Mac, read from the Mac's disk now. Mock daemon only."""
        threads = self._mock_mac(mac).threads
        assert threads is not None
        root = threads.workspace.root.resolve()
        path = (root / relative_path).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"{relative_path!r} is outside the project folder on the Mac")
        return path.read_bytes().decode("utf-8")

    # ---------------------------------------------------------------------------------------------------- phone

    def phone(self, label: str = "phone") -> PhoneApp:
        if label not in self._phones:
            copy = FailureCopy.NAMES_CAUSE if self.profile is Profile.FIXED else FailureCopy.STAGE_ONLY
            self._phones[label] = PhoneApp(
                self.clock, profile=PhoneProfile(display_name=label), issuer_url=self.phone_backend_url,
                failure_copy=copy,
            )
        return self._phones[label]

    def phone_remembers_device(self, name: str, *, phone: str = "phone") -> None:
        """Some time ago the person signed in to ChatGPT in this phone's browser with her authenticator code and
        ticked "Remember this device"; the app has been closed since, so only the remembered device is left."""
        person = self.persona(name)
        app = self.phone(phone)
        self._run(app.sign_in_to_chatgpt(person.email, person.password, person.totp_secret, remember_device=True))
        self._on_loop(app.close_browser_session)

    def phone_sign_out_of_chatgpt(self, *, phone: str = "phone") -> None:
        self._run(self.phone(phone).sign_out_of_chatgpt())

    def phone_sign_in_pages(self, *, phone: str = "phone") -> tuple[str, ...]:
        """The issuer's pages this phone's browser showed in its last sign-in."""
        return self.phone(phone).sign_in_pages

    def pairing_code_claimed(self, qr: QrShown, *, mac: str | None = None) -> bool:
        """What the Mac's daemon says when asked whether the code it showed has been claimed."""
        link = parse_pairing_link(qr.link)
        answer = self.daemon_request("remoteControl/pairing/status", {"pairingCode": link.pairing_code}, mac=mac)
        return bool(answer["claimed"])

    def pair_phone(
        self,
        name: str,
        *,
        phone: str = "phone",
        qr: Path | None = None,
        workspace: str = PERSONAL,
        mistype_password: bool = False,
        wrong_mfa_codes: int = 0,
        cancel_sign_in: bool = False,
    ) -> PairingOutcome:
        """The person scans the code with this phone, signs in (with a TOTP code when asked) and connects. A phone
        already paired with a Mac adds this one to its hosts and switches to it. The person's slips: a mistyped
        password, wrong authenticator codes typed before the right one, "Cancel" on the consent page."""
        if qr is None:
            raise ValueError("there is no pairing code to scan: the Mac showed none")
        person = self.persona(name)
        app = self.phone(phone)
        pair = app.pair_host if app.hosts else app.pair
        result = self._run(
            pair(
                Path(qr),
                person.email,
                person.password + "!" if mistype_password else person.password,
                person.totp_secret,
                workspace=None if workspace == PERSONAL else workspace,
                wrong_mfa_codes=wrong_mfa_codes,
                cancel_sign_in=cancel_sign_in,
            )
        )
        return _outcome(result)

    def pair_phone_repeatedly(self, name: str, times: int, *, phone: str = "phone",
                              qr: Path | None = None) -> PairingOutcome:
        """The person scans the same code `times` times in a row, at once (no time passes); the last outcome."""
        if times < 1:
            raise ValueError("scan at least once")
        outcomes = [self.pair_phone(name, phone=phone, qr=qr) for _ in range(times)]
        return outcomes[-1]

    def scan_picture(self, name: str, picture: Picture, *, phone: str = "phone",
                     shown: QrShown | Remediation | None = None) -> PairingOutcome:
        """The person points this phone at something other than a good view of the Mac's code (see
        `simulators.camera`); `shown` is what the Mac showed, for the pictures made of its pairing code."""
        qr = shown if isinstance(shown, QrShown) else None
        image = take(picture, self.root / "camera" / f"{picture.value}.png",
                     pairing_qr=None if qr is None else qr.png_path, pairing_link=None if qr is None else qr.link)
        return self.pair_phone(name, phone=phone, qr=image)

    def restore_phone_backup(self, *, from_phone: str, to_phone: str) -> PairingOutcome:
        """A new phone set up from a device backup of `from_phone`, then the app opened on it: it holds the paired
        Macs' credentials but has its own device key (the key cannot leave the phone it was made on)."""
        if to_phone in self._phones:
            raise ValueError(f"{to_phone} is not a new phone")
        backup = self._on_loop(self.phone(from_phone).backup)
        restored = self.phone(to_phone)
        self._on_loop(restored.restore, backup)
        return _outcome(self._run(restored.reopen()))

    def phone_switch_host(self, name: str, *, phone: str = "phone") -> PhoneView:
        """The person picks another paired Mac on this phone, which lists that Mac's threads afresh."""
        app = self.phone(phone)
        self._on_loop(app.switch_host, name)
        self._run(app.load_live_state())
        return self.phone_view(phone)

    def phone_view(self, phone: str = "phone") -> PhoneView:
        app = self.phone(phone)
        return self._on_loop(lambda: PhoneView(tuple(app.hosts), app.active_host, app.screen.to_dict()))

    def phone_start_turn(self, text: str, *, phone: str = "phone") -> str:
        return self._run(self.phone(phone).start_turn(text))

    def phone_wait_for_approval(self, kind: str, *, phone: str = "phone") -> Approval:
        return self._run(self.phone(phone).wait_for_approval(kind))

    def phone_decide(self, approval: Approval, decision: str, *, phone: str = "phone") -> Any:
        """The person answers on the phone; the phone's confirmation screen. With the mock daemon this returns once
        the Mac that asked has acted on the answer that reached it (run the command or not, changed the file or
        not), so what a step reads from that Mac next is the outcome of this decision."""
        app = self.phone(phone)
        screen = self._run(app.decide(approval, decision))
        if self.daemon == "mock" and approval.item_id is not None:
            threads = self._mock_mac(self._on_loop(lambda: app.active_host)).threads
            assert threads is not None
            self._run(asyncio.wait_for(threads.wait_item_settled(approval.item_id), ACTED_ON_TIMEOUT))
        return screen

    # --------------------------------------------------------------------------------------------------- faults

    def expire_pairing_codes(self) -> None:
        self._on_loop(self.rc.expire_pairing_codes_now)

    def inject_enrollment_failure(self, kind: str = "mfa_required", times: int = 1) -> None:
        self._on_loop(self.rc.fail_next_enrollments, EnrollFault(kind), count=times)

    def inject_claim_failure(self, status: int, body: str, times: int = 1) -> None:
        from simulators.backend.faults import Fault

        self._control("inject_fault", "rc.client.claim", Fault(status=status, body=body, times=times))

    def hold_enrollments(self) -> None:
        """The backend answers the next enrollment only when `answer_held_enrollments` says so."""
        self._on_loop(self.rc.fail_next_enrollments, EnrollFault.HOLD)

    def answer_held_enrollments(self) -> None:
        """The backend answers the enrollments it held; returns once every Mac has settled."""
        self._on_loop(self.rc.release_held_enrollments)
        switching = list(self._switching)
        if switching:
            self._run(asyncio.wait(switching))
        for mac in self._macs:
            self._run(self._settle(mac))

    def garble_next_relay_message(self) -> None:
        """The relay cuts its next message to a phone short, as a faulty proxy on the way would."""
        self._on_loop(self.rc.garble_next_phone_messages)

    def phones_offline(self) -> None:
        """The phones lose their internet connection: their path to the backend refuses and resets."""
        assert self._phone_route is not None
        self._run(self._phone_route.cut())

    def phones_online(self) -> None:
        assert self._phone_route is not None
        self._run(self._phone_route.restore())

    def mac_offline(self, *, mac: str | None = None) -> None:
        """The Mac loses its internet connection: its desktop and daemon can no longer reach the backend."""
        route = self._mac(mac).route
        assert route is not None
        self._run(route.cut())

    def mac_online(self, *, mac: str | None = None) -> None:
        """The Mac is back online; returns once its daemon, if it wants connections, has connected again (after
        its own retry delay)."""
        back = self._mac(mac)
        assert back.route is not None
        self._run(back.route.restore())
        if back.controller.enabled and isinstance(back.controller, RemoteControlController):
            self._run(back.controller.wait_for_status(EnrollmentStatus.CONNECTED))

    def quit_codex(self, *, mac: str | None = None) -> None:
        """The person quits Codex on the Mac: the desktop app and its daemon exit, and the backend sees the daemon's
        relay socket end. "Allow other devices to connect" stays on for the next start."""
        quitting = self._mac(mac)
        environment_id = quitting.controller.environment_id
        self._run(self._close_mac(quitting))
        if environment_id is not None:
            self._run(self.rc.wait_daemon_disconnected(environment_id))

    def let_time_pass(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # ---------------------------------------------------------------------------------------------------- trace

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Every party's traffic and log, redacted: the phones' HTTP/WebSocket trace, each Mac's daemon log and
        every HTTP exchange the backend served."""
        entries: list[dict[str, Any]] = []
        for label, phone in self._phones.items():
            # The phone's own entries say which of its parts spoke (`phone` or its `browser`); keep that as
            # `via` so `party` can name which phone it was.
            entries.extend(
                {**entry, "party": f"phone:{label}", "via": entry.get("party")} for entry in phone.trace.entries
            )
        for mac in self._macs:
            log = self.daemon_log(mac=mac.name)
            entries.extend({"party": f"{mac.label}:daemon-log", "line": line} for line in log)
        # The backend's view: every HTTP exchange any party (Mac, phone, browser) had with it.
        entries.extend({"party": "backend", **entry} for entry in self.backend.state.traffic.entries)
        # By key first; then by value, for what no key names (a daemon log line, an error message's text).
        return SecretMask(self.issued_secrets()).value(redact_secrets(entries))

    def issued_secrets(self) -> Iterator[str]:
        """Every secret this world handed out, so a test can prove none of them leaked into a report."""
        for created in self._people.values():
            yield created.password
            if created.totp_secret:
                yield created.totp_secret
        yield from self._replaced_secrets
        for mac in self._macs:
            for tokens in mac.tokens_seen:
                yield from tokens
        for phone in self._phones.values():
            for session in _sessions(phone):
                yield from _session_secrets(session)
        # The backend's side: every remote-control token, pairing code and client session token it handed out,
        # including those no party kept (superseded, refused, expired).
        yield from self.rc.store.issued_secrets()


def _outcome(result: PairingResult) -> PairingOutcome:
    return PairingOutcome(
        outcome=result.outcome,
        message=result.message,
        screens=list(result.screens),
        host_name=result.host_name,
        thread_count=result.thread_count,
    )


def _sessions(phone: PhoneApp) -> list[HostSession]:
    """Every host session a phone holds: the paired hosts and the one in use (which may not be paired)."""
    return list({id(session): session for session in [*phone.hosts.values(), phone.session]}.values())


def _session_secrets(session: HostSession) -> Iterator[str]:
    if session.tokens is not None:
        yield session.tokens.access_token
        if session.tokens.refresh_token is not None:
            yield session.tokens.refresh_token
    if session.claim is not None:
        yield session.claim.client_session_token
    if session.link is not None:
        yield session.link.pairing_code
