"""The daemon behind a Mac's desktop app, chosen once per world: pairsim's mock or the real `codex app-server`.

Both present the same surface to the Mac's driver (`MacDaemon`): the remote-control controller the desktop app
drives, the daemon's JSON-RPC socket, its enrollment table, its log, and what only one of them can do (the mock's
agent is observable from inside; only the real one has the `codex remote-control` command). Where they differ,
the difference lives here, once, instead of as branches in every caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from simulators.clock import Clock
from simulators.daemon.app_server import AppServer
from simulators.daemon.chatgpt_account import ChatGptLogin, WorkspaceRouting, install_rate_limits
from simulators.daemon.desktop import DesktopApp
from simulators.daemon.doctor import run_doctor
from simulators.daemon.listener import AppServerListener
from simulators.daemon.model_client import ModelAccess
from simulators.daemon.profiles import Profile, behaviour
from simulators.daemon.remote_control import EnrollmentStatus, RemoteControlController
from simulators.daemon.remote_projects import RemoteProjectBridge
from simulators.daemon.store import DaemonStore
from simulators.daemon.threads import ThreadService
from simulators.daemon.tui_surface import install_tui_surface
from simulators.daemon.workspace import PROJECT, Workspace
from simulators.protocol.errors import PairsimError
from simulators.real.remote_control import RealRemoteControl
from simulators.real.target import DaemonKind, DaemonTarget

ACTED_ON_TIMEOUT = 10.0  # seconds for a decision to cross the relay and the Mac to act on it
TURN_TIMEOUT = 30.0  # seconds for a scripted turn to end once the model has answered
ENROLL_ROUTE = "rc.server.enroll"
REFRESH_ROUTE = "rc.server.refresh"
DESKTOP_CLIENT = ("pairsim_desktop", "0.169.0")


class NotObservable(PairsimError):
    """What a scenario asked to see happens inside the real daemon, where pairsim cannot look."""


@dataclass(frozen=True)
class MacPlace:
    """Where a Mac's daemon lives and how it reaches the world."""

    name: str  # the server name the Mac is known by
    directory: Path
    clock: Clock
    chatgpt_base_url: str  # the backend, as this Mac reaches it
    issuer_url: str
    profile: Profile
    seed: int
    threads: int
    ca_file: Path | None = None  # the world's CA: the model's HTTPS origin is signed by it


class MacDaemon(Protocol):
    """A Mac's daemon: made for a place (its home exists at once, for the desktop app), then started."""

    kind: DaemonKind
    # Whether the daemon decides by its Mac's clock in the world (which a scenario may set off), or by the machine's.
    reads_the_macs_clock: bool
    home: Path
    workspace: Workspace  # the project the desktop app opened Codex in, on the Mac's disk

    async def start(self, desktop: DesktopApp) -> None: ...

    async def restart(self, desktop: DesktopApp) -> None:
        """The daemon's process ends and a new one starts on the same home: what it kept on disk comes back."""

    @property
    def controller(self) -> RemoteControlController | RealRemoteControl: ...

    @property
    def server_name(self) -> str: ...

    @property
    def url(self) -> str: ...

    # The backend routes whose newest answer is the Mac's last enrollment answer.
    enrollment_routes: tuple[str, ...]

    async def request(self, method: str, params: dict[str, Any]) -> Any: ...

    def enrollment_rows(self) -> list[dict[str, Any]]: ...

    def log_lines(self) -> list[str]: ...

    async def wait_for_log(self, pattern: str) -> str | None: ...

    def doctor_lines(self, profile: Profile) -> list[str]: ...

    async def cli_status(self) -> tuple[int | None, str]: ...

    async def after_relay_revoked(self) -> None: ...

    async def inherit_environment(self, variables: dict[str, str]) -> None: ...

    async def wait_acted_on(self, item_id: str) -> None: ...

    async def wait_connected(self) -> None: ...

    async def wait_started(self) -> None:
        """Until a daemon process the desktop (re)started has said what it is doing (nothing to wait for when the
        daemon was not restarted)."""
        ...

    async def wait_turns_done(self, thread_id: str) -> None: ...

    @property
    def agent(self) -> ThreadService: ...

    async def stop(self) -> None: ...

    def release(self) -> None: ...


def one_mac_only(kind: DaemonKind) -> bool:
    """Whether a world of this kind has a single Mac: the real daemon runs one per machine."""
    return kind is DaemonKind.CODEX


def daemon_for(kind: DaemonKind, place: MacPlace) -> MacDaemon:
    """The daemon of this kind for a Mac, not started yet."""
    return RealDaemon(place) if kind is DaemonKind.CODEX else MockDaemon(place)


def reads_the_macs_clock(kind: DaemonKind) -> bool:
    """Whether a daemon of this kind decides by its Mac's clock in the world (known before any Mac starts)."""
    return (RealDaemon if kind is DaemonKind.CODEX else MockDaemon).reads_the_macs_clock


class MockDaemon:
    kind = DaemonKind.MOCK
    enrollment_routes = (ENROLL_ROUTE,)
    reads_the_macs_clock = True

    def __init__(self, place: MacPlace) -> None:
        self.place = place
        self.home = place.directory / "codex-home"
        self._earlier_log: list[str] = []  # what the daemon's earlier processes logged
        self._open()

    def _open(self) -> None:
        """A daemon process's objects, made from what is on disk in its home (a first start creates it)."""
        place = self.place
        self.store = DaemonStore.open(self.home, place.clock)
        self.app_server = AppServer(self.home, place.clock, place.name, self.store.installation_id())
        self.workspace = Workspace.seed(place.directory / "workspace" / PROJECT)
        self.threads = ThreadService(self.app_server, workspace=self.workspace, seed=place.seed,
                                     seeded_threads=place.threads).install()
        install_tui_surface(self.app_server, chatgpt_base_url=place.chatgpt_base_url,
                            loaded_threads=lambda: list(self.threads.loaded))
        self.listener = AppServerListener(self.app_server, clock=place.clock)
        self._controller: RemoteControlController | None = None

    async def start(self, desktop: DesktopApp) -> None:
        place = self.place
        self.app_server.account_provider = desktop.account
        # Turns reach the backend's model as the real daemon does: with the desktop's sign-in, over HTTPS.
        self.threads.model = ModelAccess(place.chatgpt_base_url, desktop.chatgpt_credentials, place.ca_file)
        # issue 11: account/read carries workspace routing, and clients (the TUI) can sign the Mac in with ChatGPT.
        access = self.threads.model
        self.app_server.workspace_routing = WorkspaceRouting(access)
        ChatGptLogin(self.app_server, place.issuer_url, desktop.adopt_tokens).install()
        install_rate_limits(self.app_server, access)
        self._controller = RemoteControlController(
            self.app_server, self.store, desktop, base_url=place.chatgpt_base_url, profile=place.profile,
            clock=place.clock,
        )
        desktop.attach(self._controller)
        if behaviour(place.profile).phone_sees_remote_projects:
            RemoteProjectBridge(self.app_server, lambda: desktop.remote_projects).install()
        await self._controller.start()
        await self.listener.start()

    async def restart(self, desktop: DesktopApp) -> None:
        # For real: every socket and the state database are closed, and the new objects read the database anew
        # (installation id, enrollment, "Allow other devices to connect"); nothing passes between them in memory.
        self._earlier_log.extend(self.log_lines())
        await self.stop()
        self.release()
        self._open()
        await self.start(desktop)

    @property
    def controller(self) -> RemoteControlController:
        assert self._controller is not None, "the daemon is not started"
        return self._controller

    @property
    def server_name(self) -> str:
        return self.app_server.server_name

    @property
    def url(self) -> str:
        return self.listener.url

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        from simulators.real.app_server_client import AppServerClient

        client = await AppServerClient.connect(self.url, client_name=DESKTOP_CLIENT[0],
                                               client_version=DESKTOP_CLIENT[1])
        try:
            return await client.request(method, params)
        finally:
            await client.close()

    def enrollment_rows(self) -> list[dict[str, Any]]:
        return [row.to_row() for row in self.store.enrollments()]

    def log_lines(self) -> list[str]:
        current = [] if self._controller is None else self._controller.log_lines
        return [*self._earlier_log, *current]

    async def wait_for_log(self, pattern: str) -> str | None:
        return await self.controller.wait_for_log(pattern)

    def doctor_lines(self, profile: Profile) -> list[str]:
        return run_doctor(self.home, profile=profile).lines()

    async def cli_status(self) -> tuple[int | None, str]:
        raise ValueError("the mock daemon has no `codex remote-control` command")

    async def after_relay_revoked(self) -> None:
        return None  # the mock settles as it learns, nothing more to wait for

    async def inherit_environment(self, variables: dict[str, str]) -> None:
        await self.controller.inherit_environment(variables)

    async def wait_acted_on(self, item_id: str) -> None:
        await asyncio.wait_for(self.threads.wait_item_settled(item_id), ACTED_ON_TIMEOUT)

    async def wait_connected(self) -> None:
        await self.controller.wait_for_status(EnrollmentStatus.CONNECTED)

    async def wait_started(self) -> None:
        return None  # the mock's controller changes its status before it sends anything

    async def wait_turns_done(self, thread_id: str) -> None:
        await asyncio.wait_for(self.threads.wait_idle(thread_id), TURN_TIMEOUT)

    @property
    def agent(self) -> ThreadService:
        return self.threads

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.listener.stop()
        with contextlib.suppress(Exception):
            await self.threads.close()
        if self._controller is not None:
            with contextlib.suppress(Exception):
                await self._controller.close()
        with contextlib.suppress(Exception):
            await self.app_server.close()

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self.store.close()


class RealDaemon:
    kind = DaemonKind.CODEX
    reads_the_macs_clock = False  # a process with this machine's clock, which a world cannot move
    # The real daemon renews a persisted enrollment with `server/refresh` instead of enrolling again.
    enrollment_routes = (ENROLL_ROUTE, REFRESH_ROUTE)

    def __init__(self, place: MacPlace) -> None:
        self.target = DaemonTarget(DaemonKind.CODEX)
        # Outside /tmp, where the real daemon refuses to install its helpers; `target.stop()` removes it.
        self.home = self.target.new_home()
        self.workspace = Workspace.seed(place.directory / "workspace" / PROJECT)
        self.controller = RealRemoteControl(self.target, self.home, chatgpt_base_url=place.chatgpt_base_url,
                                            issuer_url=place.issuer_url, ca_file=place.ca_file,
                                            project=self.workspace.root)

    async def start(self, desktop: DesktopApp) -> None:
        desktop.attach(self.controller)
        await self.controller.start()

    async def restart(self, desktop: DesktopApp) -> None:
        await self.controller.restart()

    @property
    def server_name(self) -> str:
        return self.controller.app_server.server_name

    @property
    def url(self) -> str:
        assert self.controller.daemon is not None, "the real daemon is not running"
        return self.controller.daemon.url

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        return await self.controller.request(method, params)

    def enrollment_rows(self) -> list[dict[str, Any]]:
        return self.controller.enrollment_rows()

    def log_lines(self) -> list[str]:
        return [*self.controller.log_lines(), *self.controller.rpc_failures]

    async def wait_for_log(self, pattern: str) -> str | None:
        return await self.controller.wait_for_log(pattern)

    def doctor_lines(self, profile: Profile) -> list[str]:
        # `codex doctor` has no remote-control check (openai/codex#24328); pairsim's doctor reads only the mock's
        # state database, so there is nothing to say about the real daemon's enrollment here.
        return []

    async def cli_status(self) -> tuple[int | None, str]:
        return await self.controller.cli_status()

    async def inherit_environment(self, variables: dict[str, str]) -> None:
        # A process inherits its environment when it starts: start the daemon again with these variables.
        self.controller.environment.update(variables)
        await self.controller.restart()

    async def after_relay_revoked(self) -> None:
        # The real daemon reconnects after its backoff (about 3 s) and is refused: wait for it to say so.
        await self.controller.wait_left(EnrollmentStatus.CONNECTED.value)

    async def wait_acted_on(self, item_id: str) -> None:
        return None  # nothing inside the real daemon to wait on; its turns are the model's, not a script's

    async def wait_connected(self) -> None:
        await self.controller.wait_for_status(EnrollmentStatus.CONNECTED)

    async def wait_started(self) -> None:
        await self.controller.wait_started()

    async def wait_turns_done(self, thread_id: str) -> None:
        # The desktop's own connection follows the thread (`thread/resume` subscribes it and says where the
        # thread stands), then hears its turn end.
        await self.controller.wait_thread_idle(thread_id, TURN_TIMEOUT)

    @property
    def agent(self) -> ThreadService:
        raise NotObservable("the real daemon's approvals and turns are not observable from inside it")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.controller.close()
        await asyncio.to_thread(self.target.stop)

    def release(self) -> None:
        return None
