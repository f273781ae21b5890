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
from simulators.daemon.proxies import PROXY_VARIABLES
from simulators.daemon.threads import ThreadService
from simulators.daemon.workspace import CommandRun
from simulators.phone.app import COMMAND_APPROVAL, FILE_CHANGE_APPROVAL
from simulators.protocol.pairing_link import parse_pairing_link
from simulators.world.backend import BackendDriver
from simulators.world.daemons import DESKTOP_CLIENT, TURN_TIMEOUT, MacDaemon, MacPlace, daemon_for
from simulators.world.network import Network
from simulators.world.people import People
from simulators.world.relay import RelayParty
from simulators.world.runner import Runner
from simulators.world.time import WorldTime

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
    time: WorldTime  # for the authenticator codes the person types on this Mac: her phone's


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
                             clock=place.clock, profile=place.profile)
        # The desktop app asks its daemon over the daemon's own JSON-RPC socket, whichever daemon it is.
        desktop.daemon_rpc = daemon.request
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
        # She reads the code off the authenticator app on her phone, so it is the code of her phone's time.
        clock = self._n.time.authenticator(name)
        totp_code = None if person.totp_secret is None else pyotp.TOTP(person.totp_secret).at(clock.now())
        # After the sign-in the daemon checks its enrollment again; a backend holding that answer leaves the Mac
        # connecting (as turning connections on does), and the step returns.
        self._n.runner.run(self._until_answered_or_held(self.desktop.sign_in(
            person.email, person.password, totp_code,
            workspace=None if workspace == PERSONAL else workspace, remember_device=remember_device,
        )))
        self.wait_settled()

    def sign_out(self) -> str:
        """Codex on the Mac signs out of ChatGPT (the account menu's "Sign out"); returns the remote-control status
        once the daemon has settled without a sign-in and the backend has seen it leave the relay."""
        left = self.environment_id
        self._n.runner.run(self.desktop.sign_out())
        return self._settled_away_from(left)

    def switch_account(self, name: str, *, workspace: str = PERSONAL) -> str:
        """Codex on the Mac switches to `name`'s ChatGPT account, in `workspace` (the account menu's "Switch
        account": the browser asks who signs in, and the person enters her authenticator code if asked). The
        daemon's enrollment is per account: it looks for the new account's, and enrolls if it has none. Returns the
        remote-control status once the daemon has settled."""
        person = self._n.people.get(name)
        clock = self._n.time.authenticator(name)
        totp_code = None if person.totp_secret is None else pyotp.TOTP(person.totp_secret).at(clock.now())
        left = self.environment_id
        self._n.runner.run(self.desktop.switch_account(
            person.email, person.password, totp_code, workspace=None if workspace == PERSONAL else workspace,
        ))
        return self._settled_away_from(left)

    def _settled_away_from(self, environment_id: str | None) -> str:
        """Settle; when the daemon no longer serves `environment_id`, also wait until the backend has seen its relay
        socket for it end, so that what the backend says about that environment next (offline, since when) holds."""
        status = self.wait_settled()
        if environment_id is not None and self.environment_id != environment_id:
            self._n.runner.run(self._n.backend.remote_control.wait_daemon_disconnected(environment_id))
        return status

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

    async def switch_connections(self, allowed: bool) -> None:
        """`allow_connections` on the world's loop, for a party that does it as part of its own action."""
        await self._switch_connections(allowed)

    async def _switch_connections(self, allowed: bool) -> None:
        # The switch returns once the daemon has the backend's answer. While the backend holds the enrollment there
        # is none yet; the Settings window does not wait for it either, and shows "connecting" meanwhile.
        await self._until_answered_or_held(self.desktop.set_allow_other_devices(allowed))

    async def _until_answered_or_held(self, action: Any) -> None:
        """Run a desktop action until it is done, or until the backend holds an answer it waits for (it then goes
        on in the background, and `finish_switching` waits for it)."""
        switching = asyncio.ensure_future(action)
        self._switching.add(switching)
        switching.add_done_callback(self._switching.discard)
        held = asyncio.ensure_future(self._n.backend.wait_held())
        try:
            await asyncio.wait({switching, held}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            held.cancel()
            await asyncio.gather(held, return_exceptions=True)
        if switching.done():
            switching.result()
            await self._settle()
        else:
            # Held, the action goes on in the background; a daemon it restarts must still say what it does.
            started = asyncio.ensure_future(self.daemon.wait_started())
            try:
                await asyncio.wait({switching, started}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
                await asyncio.gather(started, return_exceptions=True)

    async def _settle(self) -> None:
        """Until the Mac's remote control is no longer `connecting`, or the backend holds its enrollment (then it
        stays `connecting` until the backend answers)."""
        settled = asyncio.ensure_future(self.daemon.controller.wait_settled())
        # No timeout of its own: how long settling may take is the controller's to say.
        held = asyncio.ensure_future(self._n.backend.wait_held())
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

    def wait_connected(self) -> str:
        """Until the daemon is connected to the relay again, after its own retries when a relay fault struck it (a
        refused or dropped socket), and reports `connected`; the status it reports then."""
        self._n.backend.relay.wait_reconnected(RelayParty.DAEMON)
        self._n.runner.run(self.daemon.wait_connected())
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

    def phones(self) -> list[str]:
        """The names of the phones that control this Mac, as Settings › Connections lists them."""
        return self._n.runner.run(self.desktop.phones())

    def remove_phone(self, name: str) -> None:
        """The person removes the phone called `name` in Settings › Connections; returns once the backend has
        closed that phone's connection."""
        client_id = self._n.runner.run(self.desktop.remove_phone(name))
        self._n.runner.run(self._n.backend.remote_control.wait_phone_disconnected(client_id))

    def show_pairing_qr(self) -> QrShown | Remediation:
        """Press "Pair phone": the QR code, or what the Mac shows instead. While the Mac waits for an answer the
        backend holds (or delays until time passes), that is what it shows meanwhile; `pairing_screen` reads it
        again later."""
        self._qr_count += 1
        path = self.directory / f"pairing-qr-{self._qr_count}.png"
        self._n.runner.run(self.desktop.open_pairing(path))
        return self.pairing_screen()

    def pairing_screen(self) -> QrShown | Remediation:
        """What "Pair phone" shows now, once the Mac has done what it can without the backend or time moving on."""
        return self._n.runner.run(self._pairing_now())

    async def _pairing_now(self) -> QrShown | Remediation:
        if self.desktop.pairing_pending():
            pairing = asyncio.ensure_future(self.desktop.wait_pairing())
            held = asyncio.ensure_future(self._n.backend.wait_held())
            try:
                await asyncio.wait({pairing, held}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                held.cancel()
                await asyncio.gather(held, return_exceptions=True)
            if pairing.done():
                pairing.result()  # the desktop's own failure, if it had one
            else:
                pairing.cancel()
                await asyncio.gather(pairing, return_exceptions=True)
        return self.desktop.pairing_now()

    @property
    def notice(self) -> tuple[str, str] | None:
        """The notice the desktop put up after the last switch of "Allow other devices to connect": (title, body)."""
        notice = self.desktop.notice
        return None if notice is None else (notice.title, notice.body)

    def desktop_log(self) -> list[str]:
        """What the desktop app itself logged (its requests to the daemon and what became of them)."""
        return list(self.desktop.log_lines)

    def runs_codex_version(self, version: str) -> None:
        """This Mac's Codex is `version` (what its daemon reports when it enrolls). The real daemon is the installed
        binary and reports its own: it refuses."""
        self._n.runner.call(self.daemon.controller.runs_version, version)

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

    # -- the agent's work on this Mac: the project on disk (either daemon), and the mock's own record -----------

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

    # -- issue 11 (the TUI's sessions): a thread made the way a person at the Mac makes one ----------------------
    def ask(self, text: str) -> str:
        """Someone at the Mac asks Codex `text` in a new thread, over a connection of their own as the desktop app
        does; returns the thread's id once the turn has ended (that connection started the thread, so it hears the
        turn end). On the real daemon this is a real turn (the backend's model answers), after which the thread is
        listed: a thread nobody has written to is not."""
        return self._n.runner.run(self._ask(text))

    async def _ask(self, text: str) -> str:
        from simulators.real.app_server_client import AppServerClient

        client = await AppServerClient.connect(self.url, client_name=DESKTOP_CLIENT[0],
                                               client_version=DESKTOP_CLIENT[1])
        try:
            thread_id = str((await client.request("thread/start", {}))["thread"]["id"])
            await client.request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
            await client.wait_for_notification(
                lambda n: n.method == "turn/completed" and n.params.get("threadId") == thread_id,
                timeout=TURN_TIMEOUT)
            return thread_id
        finally:
            await client.close()
    # -- end issue 11 ---------------------------------------------------------------------------------------------

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
        return self.daemon.workspace.root

    def project_branch(self) -> str | None:
        """The branch the project is on, read from its repository on the Mac's disk now."""
        return self.daemon.workspace.branch()

    def workspace_file(self, relative_path: str) -> str:
        """A file of the project the agent works in, read from the Mac's disk now."""
        root = self.daemon.workspace.root.resolve()
        path = (root / relative_path).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"{relative_path!r} is outside the project folder on the Mac")
        return path.read_bytes().decode("utf-8")

    def wait_turns_done(self, thread_id: str) -> None:
        """Until Codex on this Mac has no turn running on the thread, as the Mac itself knows it."""
        self._n.runner.run(self.daemon.wait_turns_done(thread_id))

    def wait_acted_on(self, item_id: str) -> None:
        """Until the agent has acted on the answer to the approval of `item_id` (run the command or not, changed
        the file or not), where the daemon lets that be seen."""
        self._n.runner.run(self.daemon.wait_acted_on(item_id))

    # -- the Mac's life ------------------------------------------------------------------------------------------

    def offline(self, *, for_seconds: float | None = None) -> None:
        """The Mac loses its internet connection: its desktop and daemon can no longer reach the backend. With
        `for_seconds`, the connection comes back once that much time has passed on the world's clock; the daemon
        then reconnects after its own retry delay."""
        self._n.network.cut(self.label, for_seconds=for_seconds)

    def online(self) -> None:
        """The Mac is back online; returns once its daemon, if it wants connections, has connected again (after
        its own retry delay)."""
        self._n.network.restore(self.label)
        if self.daemon.controller.enabled:
            self._n.runner.run(self.daemon.wait_connected())

    def go_through_proxy(self, variable: str = "HTTP_PROXY", *, breaks_websocket_upgrades: bool = True) -> str:
        """Codex on the Mac is started again from a shell that sets `variable` to the world's HTTP proxy (a real
        proxy process), which breaks WebSocket upgrades or carries them; returns the proxy's URL once the daemon has
        settled. Each daemon then goes through the proxy as its code decides (the real one: `HTTP_PROXY` carries its
        `http://` calls and its `ws://` relay socket, openai/codex#41549)."""
        if variable not in PROXY_VARIABLES:
            raise ValueError(f"{variable} is not a proxy variable (one of {', '.join(PROXY_VARIABLES)})")
        proxy = self._n.network.proxy()
        proxy.break_websocket_upgrades(breaks_websocket_upgrades)
        self._n.runner.run(self.daemon.inherit_environment({variable: proxy.url}))
        self.wait_settled()
        return proxy.url

    def restart_daemon(self) -> str:
        """Codex's daemon on this Mac restarts (it crashed, or was updated): its process ends, a new one starts
        with what the old one kept on disk (installation id, enrollment, "Allow other devices to connect"), and the
        desktop app connects to it again. Returns the remote-control status once it has settled."""
        self._n.runner.run(self.daemon.restart(self.desktop))
        return self.wait_settled()

    def quit_codex(self) -> None:
        """The person quits Codex: the desktop app and its daemon exit, and the backend sees the daemon's relay
        socket end. "Allow other devices to connect" stays on for the next start."""
        environment_id = self.environment_id
        self._n.runner.run(self.close())
        if environment_id is not None:
            self._n.runner.run(self._n.backend.remote_control.wait_daemon_disconnected(environment_id))

    async def cancel_switching(self) -> None:
        self.desktop.cancel_pairing()
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
