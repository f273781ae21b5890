"""One Mac with Codex, as a scenario drives it: the desktop app (sign-in in the Mac's browser, Settings ›
Connections, "Pair phone"), the daemon behind it (`daemons.py`: the mock or the real one), doctor, and the Mac's own
network path to the backend. Every method is synchronous and acts on this Mac alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp

from simulators.daemon.desktop import DesktopApp, QrShown, Remediation
from simulators.daemon.doctor import run_doctor
from simulators.daemon.profiles import Profile
from simulators.daemon.threads import ThreadService
from simulators.daemon.workspace import CommandRun
from simulators.phone.app import COMMAND_APPROVAL, FILE_CHANGE_APPROVAL
from simulators.protocol.pairing_link import parse_pairing_link
from simulators.world.backend import BackendDriver
from simulators.world.daemons import MacDaemon, MacPlace, daemon_for
from simulators.world.network import Network
from simulators.world.people import People
from simulators.world.runner import Runner

PERSONAL = "Personal"
APPROVAL_KINDS = {COMMAND_APPROVAL: "command", FILE_CHANGE_APPROVAL: "file_change"}


@dataclass(frozen=True)
class MacNeighbours:
    """What a Mac reaches outside itself: the world's loop, its backend, the people, the network."""

    runner: Runner
    backend: BackendDriver
    people: People
    network: Network
    phone_backend_url: str  # the origin its pairing codes name: the backend as the phones reach it


class MacDriver:
    def __init__(self, place: MacPlace, label: str, daemon: MacDaemon, desktop: DesktopApp,
                 neighbours: MacNeighbours) -> None:
        self.name = place.name
        self.label = label  # names the Mac in paths and the trace: "mac" for the first, "mac:<slug>" for others
        self.directory = place.directory
        self.profile = place.profile
        self.daemon = daemon
        self.desktop = desktop
        self._n = neighbours
        self._qr_count = 0
        # Settings switches still waiting for the backend's answer (a held enrollment), as the desktop's UI does.
        self._switching: set[asyncio.Task[Any]] = set()

    @classmethod
    async def start(cls, place: MacPlace, label: str, kind: Any, neighbours: MacNeighbours) -> MacDriver:
        """Open the Mac's network path, then start its daemon and desktop app (on the world's loop)."""
        daemon = daemon_for(kind, place)
        desktop = DesktopApp(daemon.home, issuer_url=place.issuer_url, backend_origin=neighbours.phone_backend_url,
                             clock=place.clock)
        mac = cls(place, label, daemon, desktop, neighbours)
        try:
            await daemon.start(desktop)
        except BaseException:
            await mac.close()
            mac.release()
            raise
        return mac

    @property
    def home(self) -> Path:
        return self.daemon.home

    @property
    def url(self) -> str:
        """The daemon's own app-server socket."""
        return self.daemon.url

    @property
    def server_name(self) -> str:
        return self.daemon.server_name

    # -- the desktop's sign-in ---------------------------------------------------------------------------------

    def sign_in(self, name: str, *, remember_device: bool = False, workspace: str = PERSONAL) -> None:
        """Codex on the Mac signs in through the issuer's pages in the Mac's browser. The person enters her
        authenticator code whenever the issuer asks for it; `remember_device` ticks "Remember this device", after
        which the issuer stops asking this browser (that skip is what leaves a later sign-in without MFA)."""
        person = self._n.people.get(name)
        clock = self.desktop.clock
        totp_code = None if person.totp_secret is None else pyotp.TOTP(person.totp_secret).at(clock.now())
        self._n.runner.run(self.desktop.sign_in(
            person.email, person.password, totp_code,
            workspace=None if workspace == PERSONAL else workspace, remember_device=remember_device,
        ))
        self.wait_settled()

    def quit_browser(self) -> None:
        """The person quits the Mac's browser: its sign-in cookie goes, a remembered device stays."""
        self._n.runner.call(self.desktop.browser.end_session)

    @property
    def sign_in_pages(self) -> tuple[str, ...]:
        """The issuer's pages the Mac's browser showed in its last sign-in (`sign_in`, `mfa`, `consent`, ...)."""
        return self.desktop.sign_in_pages

    # -- Settings › Connections ---------------------------------------------------------------------------------

    def allow_connections(self, allowed: bool = True) -> None:
        self._n.runner.run(self._switch_connections(allowed))

    async def _switch_connections(self, allowed: bool) -> None:
        # The switch returns once the daemon has the backend's answer. While the backend holds the enrollment there
        # is none yet; the Settings window does not wait for it either, and shows "connecting" meanwhile.
        switching = asyncio.ensure_future(self.desktop.set_allow_other_devices(allowed))
        self._switching.add(switching)
        switching.add_done_callback(self._switching.discard)
        held = asyncio.ensure_future(self._n.backend.remote_control.wait_enrollment_held(timeout=None))
        try:
            await asyncio.wait({switching, held}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            held.cancel()
            await asyncio.gather(held, return_exceptions=True)
        if switching.done():
            switching.result()
            await self._settle()

    async def _settle(self) -> None:
        """Until the Mac's remote control is no longer `connecting`, or the backend holds its enrollment (then it
        stays `connecting` until the backend answers)."""
        settled = asyncio.ensure_future(self.daemon.controller.wait_settled())
        # No timeout of its own: how long settling may take is the controller's to say.
        held = asyncio.ensure_future(self._n.backend.remote_control.wait_enrollment_held(timeout=None))
        try:
            done, _ = await asyncio.wait({settled, held}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (settled, held):
                task.cancel()
            await asyncio.gather(settled, held, return_exceptions=True)

    def finish_switching(self) -> None:
        """Wait for the switches the backend was holding, then for the Mac to settle."""
        switching = list(self._switching)
        if switching:
            self._n.runner.run(asyncio.wait(switching))
        self._n.runner.run(self._settle())

    def wait_settled(self) -> str:
        self._n.runner.run(self._settle())
        return self.status

    @property
    def status(self) -> str:
        """The remote-control status the daemon reports (a wire value: `connected`, `errored`, ...)."""
        return str(self.daemon.controller.status.value)

    @property
    def environment_id(self) -> str | None:
        return self.daemon.controller.environment_id

    @property
    def connections_text(self) -> str:
        return self.desktop.connections_text()

    def show_pairing_qr(self) -> QrShown | Remediation:
        self._qr_count += 1
        path = self.directory / f"pairing-qr-{self._qr_count}.png"
        return self._n.runner.run(self.desktop.show_pairing_qr(path))

    # -- the daemon, as the desktop and doctor see it ------------------------------------------------------------

    def doctor_lines(self) -> list[str]:
        return self.daemon.doctor_lines(self.profile)

    def enrollment_rows(self) -> list[dict[str, Any]]:
        return self.daemon.enrollment_rows()

    def last_enrollment_response(self) -> tuple[int, str] | None:
        """(status, body) of the backend's newest answer to an enrollment (or, for the real daemon, a renewal),
        server token masked."""
        return self._n.backend.last_response(self.daemon.enrollment_routes)

    def daemon_log(self) -> list[str]:
        return self.daemon.log_lines()

    def wait_for_daemon_log(self, pattern: str) -> str | None:
        """The first line of the daemon's remote-control log matching the regular expression `pattern`."""
        return self._n.runner.run(self.daemon.wait_for_log(pattern))

    def remote_control_cli(self) -> tuple[int | None, str]:
        """`codex remote-control --no-daemon` on the Mac's CODEX_HOME: (exit code, its status line)."""
        return self._n.runner.run(self.daemon.cli_status())

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC request to the daemon, as the desktop app; the result or the daemon's error."""
        return self._n.runner.run(self.daemon.request(method, params or {}))

    def pairing_code_claimed(self, qr: QrShown) -> bool:
        """What the daemon says when asked whether the code it showed has been claimed."""
        link = parse_pairing_link(qr.link)
        return bool(self.request("remoteControl/pairing/status", {"pairingCode": link.pairing_code})["claimed"])

    # -- the agent's work on this Mac (the mock daemon's; the real one cannot be looked into) -----------------

    @property
    def _agent(self) -> ThreadService:
        return self.daemon.agent

    def approvals_waiting(self) -> list[str]:
        """The kinds ("command", "file_change") of the approvals the daemon has asked for and not yet had an
        answer to."""
        server = self._agent.server

        def read() -> list[str]:
            return [
                APPROVAL_KINDS[request.method]
                for connection in server.connections
                for request in connection.session.pending_requests.values()
                if request.method in APPROVAL_KINDS
            ]

        return self._n.runner.call(read)

    def thread_previews(self) -> list[str]:
        """The threads the daemon lists (their previews, most recent first), asked over its own socket as any
        client asks, so the answer is the real daemon's too."""
        result = self._n.runner.run(self.daemon.request("thread/list", {"limit": 25}))
        data = result.get("data", []) if isinstance(result, dict) else []
        return [thread["preview"] for thread in data if isinstance(thread, dict) and thread.get("preview")]

    def turns_run(self) -> int:
        threads = self._agent
        return self._n.runner.call(lambda: sum(len(thread.turns) for thread in threads.threads))

    def commands_run(self) -> list[CommandRun]:
        """Every process the agent ran on this Mac, oldest first, as the daemon recorded it when it spawned it."""
        threads = self._agent
        return self._n.runner.call(lambda: list(threads.workspace.commands_run))

    def approved_for_the_session(self) -> set[str]:
        """The kinds of request ("commandExecution", "fileChange") the agent may now do without asking."""
        threads = self._agent
        return self._n.runner.call(lambda: {kind for thread in threads.threads for kind in thread.approved_for_session})

    @property
    def project_folder(self) -> Path:
        return self._agent.workspace.root

    def workspace_file(self, relative_path: str) -> str:
        """A file of the project the agent works in, read from the Mac's disk now."""
        root = self._agent.workspace.root.resolve()
        path = (root / relative_path).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"{relative_path!r} is outside the project folder on the Mac")
        return path.read_bytes().decode("utf-8")

    def wait_acted_on(self, item_id: str) -> None:
        """Until the agent has acted on the answer to the approval of `item_id` (run the command or not, changed
        the file or not), where the daemon lets that be seen."""
        self._n.runner.run(self.daemon.wait_acted_on(item_id))

    # -- the Mac's life ------------------------------------------------------------------------------------------

    def offline(self) -> None:
        """The Mac loses its internet connection: its desktop and daemon can no longer reach the backend."""
        self._n.network.cut(self.label)

    def online(self) -> None:
        """The Mac is back online; returns once its daemon, if it wants connections, has connected again (after
        its own retry delay)."""
        self._n.network.restore(self.label)
        if self.daemon.controller.enabled:
            self._n.runner.run(self.daemon.wait_connected())

    def quit_codex(self) -> None:
        """The person quits Codex: the desktop app and its daemon exit, and the backend sees the daemon's relay
        socket end. "Allow other devices to connect" stays on for the next start."""
        environment_id = self.environment_id
        self._n.runner.run(self.close())
        if environment_id is not None:
            self._n.runner.run(self._n.backend.remote_control.wait_daemon_disconnected(environment_id))

    async def cancel_switching(self) -> None:
        for switching in self._switching:
            switching.cancel()
        await asyncio.gather(*self._switching, return_exceptions=True)

    async def close(self) -> None:
        await self.daemon.stop()
        with contextlib.suppress(Exception):
            await self.desktop.aclose()

    def release(self) -> None:
        self.daemon.release()

    def remove_working_state(self) -> None:
        """A Mac's working state (its auth.json holds the desktop's tokens) lives only as long as the world."""
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.directory / "workspace", ignore_errors=True)

    def issued_secrets(self) -> Iterator[str]:
        yield from self.desktop.issued_secrets()


def doctor_lines_of_a_folder_without_codex(folder: Path, profile: Profile) -> list[str]:
    """`pairsim doctor --home` pointed at a folder where Codex has never run (a mistyped --home, say)."""
    return run_doctor(folder, profile=profile).lines()
