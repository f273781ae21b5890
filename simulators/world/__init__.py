"""One mocked world: the ChatGPT backend, the Macs with Codex, the phones, the network between them, and time.

`World` is a thin facade. Each party has its own driver with a small public surface, and steps call the driver
of the party they are about:

- `world.people` (`people.py`): who exists and what they do to their accounts on the web;
- `world.backend` (`backend.py`): the backend server, what it answered, and the faults put in it;
- `world.mac(name)` (`macs.py`): a Mac's desktop app and the daemon behind it, mock or real (`daemons.py`: the
  kind is chosen once, for the whole world);
- `world.phone(label)` (`phones.py`): a phone, its camera, its browser and its session with a Mac;
- `world.network` (`network.py`): each party's real path to the backend;
- `world.time` (`time.py`): the world's clock and each party's own.

What involves several parties at once (a password change every Mac and phone must notice, an approval the Mac must
have acted on) is a method here. Every server is real (aiohttp on 127.0.0.1, port 0) and runs on the world's own
event-loop thread, so servers keep serving between steps and scenarios run in parallel without sharing anything.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulators.controller.app import ControllingMac
from simulators.daemon.desktop import QrShown, Remediation
from simulators.daemon.profiles import Profile
from simulators.netns.hosts import CLOUD_ADDRESS
from simulators.phone.app import Approval, PhoneApp, PhoneProfile
from simulators.phone.screens import FailureCopy, Screen
from simulators.phone.storage import PhoneStorage
from simulators.protocol.redaction import SecretMask, redact_secrets
from simulators.real.target import DaemonKind
from simulators.runtime import LoopThread
from simulators.tls import LOOPBACK, make_world_tls
from simulators.world.backend import BackendDriver
from simulators.world.controllers import ControllingMacDriver, control_profile
from simulators.world.daemons import MacPlace, one_mac_only, reads_the_macs_clock
from simulators.world.macs import MacDriver, MacNeighbours, doctor_lines_of_a_folder_without_codex
from simulators.world.network import PHONES, Network
from simulators.world.people import People, Persona
from simulators.world.phones import Linger, PairingOutcome, PhoneDriver, PhoneView
from simulators.world.remote_projects import RemoteProjects
from simulators.world.runner import Runner
from simulators.world.terminals import Computer, TerminalDriver, Terminals, slug
from simulators.world.time import SERVICE, ClockOutOfReach, WorldTime, machine_party, phone_party

__all__ = [
    "Linger", "MacDriver", "PairingOutcome", "Persona", "PhoneDriver", "PhoneView", "Profile", "QrShown", "Remediation",
    "World",
]

DEFAULT_SERVER_NAME = "Dana's MacBook Pro"
SEEDED_THREADS = 3
FIRST_MAC = "mac"


class World:
    """A fresh backend, Macs and phones. Synchronous; use as a context manager."""

    def __init__(
        self,
        *,
        profile: Profile | str = Profile.FIXED,
        seed: int = 1234,
        root: Path | None = None,
        daemon: DaemonKind | str = DaemonKind.MOCK,
        server_name: str = DEFAULT_SERVER_NAME,
        threads: int = SEEDED_THREADS,
    ) -> None:
        try:
            self.daemon = DaemonKind(daemon)
        except ValueError:
            kinds = ", ".join(kind.value for kind in DaemonKind)
            raise ValueError(f"unknown daemon target {daemon!r}; choose one of {kinds}") from None
        self.profile = Profile(profile)
        self.seed = seed
        self._first_mac_name = server_name
        self._seeded_threads = threads  # the mock's seeded threads on the first Mac (a fresh real home has none)
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="pairsim-world-")) if root is None else root
        self.time = WorldTime()
        self._loop: LoopThread | None = None
        self._macs: list[MacDriver] = []
        self._phones: dict[str, PhoneDriver] = {}
        self._controllers: dict[str, ControllingMacDriver] = {}
        self._started = False

    @property
    def clock(self) -> Any:
        """The world's time (the ChatGPT service's too, unless a scenario set its clock off)."""
        return self.time.clock

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> World:
        self._loop = LoopThread(name=f"pairsim-world-{self.seed}")
        self._runner = Runner(self._loop)
        try:
            self._runner.run(self._start())
        except BaseException:
            self._loop.close()
            raise
        self._started = True
        return self

    async def _start(self) -> None:
        # The leaf also names the cloud host of the SSH lab's namespaces, where a remote host reaches the backend.
        self.tls = make_world_tls(self.root / "tls", addresses=(LOOPBACK, CLOUD_ADDRESS))
        self.backend = BackendDriver(self._runner, self.time.service, seed=self.seed,
                                     typed_errors=self.profile is Profile.FIXED, tls=self.tls)
        await self.backend.start()
        self.people = People(self._runner, self.backend.control, seed=self.seed)
        self.network = Network(self._runner, self.backend.url, self.time, self.root, self.backend.https_url)
        await self.network.open(PHONES)
        self.terminals = Terminals(self._runner, self.time, self.profile)
        # issue 12: remote computers with SSH remote projects, made when a scenario names one.
        self.remote_projects = RemoteProjects(self._runner, self.network, self.backend, self.tls, self.root)
        await self._start_mac(self._first_mac_name, FIRST_MAC, self.root / "mac", seed=self.seed,
                              threads=self._seeded_threads)

    async def _start_mac(self, name: str, label: str, directory: Path, *, seed: int, threads: int) -> MacDriver:
        route = await self.network.open(label)
        https_url = self.network.https_url(label)
        if https_url is not None:
            # Discovery names the model's HTTPS origin as this Mac reaches it: its model traffic uses its own path.
            self.backend.model.workspace_origins[f"127.0.0.1:{route.port}"] = https_url
        place = MacPlace(
            name=name, directory=directory, clock=self.time.of(label),
            chatgpt_base_url=f"{route.url}/backend-api/", issuer_url=route.url,
            profile=self.profile, seed=seed, threads=threads, ca_file=self.tls.ca_file,
        )
        neighbours = MacNeighbours(self._runner, self.backend, self.people, self.network, self.phone_backend_url,
                                   self.time)
        mac = await MacDriver.start(place, label, self.daemon, neighbours)
        self._macs.append(mac)
        return mac

    def add_mac(self, name: str, *, threads: int | None = None) -> MacDriver:
        """Another Mac of the same household, with its own daemon, desktop app and CODEX_HOME, on the same backend.
        `threads` seeds its thread list; by default one more than the Mac added before it, so two Macs never list
        the same number of threads."""
        if one_mac_only(self.daemon):
            raise ValueError("the codex target runs one real daemon; a second Mac needs the mock daemon")
        if any(mac.name == name for mac in self._macs):
            raise ValueError(f"this world already has a Mac named {name!r}")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-") or f"mac-{len(self._macs) + 1}"
        directory = self.root / slug
        if any(mac.directory == directory for mac in self._macs):
            raise ValueError(f"the Mac name {name!r} clashes with another Mac's folder {slug!r}")
        count = SEEDED_THREADS + len(self._macs) if threads is None else threads
        return self._runner.run(
            self._start_mac(name, f"mac:{slug}", directory, seed=self.seed + len(self._macs), threads=count)
        )

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            if self._started:
                self._runner.run(self._stop())
        finally:
            self._loop.close()
            self._loop = None
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                # What a caller keeps from a given root is the QR images and whatever it wrote there.
                for mac in self._macs:
                    mac.remove_working_state()
                # Other computers' CODEX_HOMEs hold copied sign-ins: as secret as the Macs'.
                shutil.rmtree(self.root / "computers", ignore_errors=True)
                for phone in self._phones.values():
                    phone.erase()

    async def _stop(self) -> None:
        for mac in self._macs:
            await mac.cancel_switching()
        for phone in self._phones.values():
            with contextlib.suppress(Exception):
                await phone.close()
        for controller in self._controllers.values():
            with contextlib.suppress(Exception):
                await controller.close()
        with contextlib.suppress(Exception):
            await self.terminals.close()
        for mac in self._macs:
            await mac.close()
        if hasattr(self, "remote_projects"):
            await self.remote_projects.close()
        await self.backend.stop()
        await self.network.close()
        for mac in self._macs:
            mac.release()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ the parties

    def person(self, name: str) -> Persona:
        return self.people.get(name)

    def mac(self, name: str | None = None) -> MacDriver:
        """A Mac by its server name; the first Mac without one."""
        if name is None:
            return self._macs[0]
        for mac in self._macs:
            if mac.name == name:
                return mac
        # A phone names a Mac by the server name its daemon reports: the real daemon reports the host name.
        for mac in self._macs:
            if mac.server_name == name:
                return mac
        raise ValueError(f"this world has no Mac named {name!r} (it has: {', '.join(self.macs)})")

    @property
    def macs(self) -> list[str]:
        """The Macs' server names, the first one first."""
        return [mac.name for mac in self._macs]

    def phone(self, label: str = "phone") -> PhoneDriver:
        """A phone by its label ("Dana's phone"), made on first use; it fails with today's copy in the legacy
        profile and names causes in the fixed one."""
        if label not in self._phones:
            fixed = self.profile is Profile.FIXED
            copy = FailureCopy.NAMES_CAUSE if fixed else FailureCopy.STAGE_ONLY
            # What the app keeps on the phone, so that it survives the app being killed (`PhoneDriver.relaunch`).
            slug = re.sub(r"[^a-z0-9]+", "-", label.lower().replace("'", "")).strip("-") or "phone"
            storage = PhoneStorage(self.root / "phones" / slug)
            app = PhoneApp(self.time.of(phone_party(label)), profile=PhoneProfile(display_name=label),
                           issuer_url=self.phone_backend_url, failure_copy=copy, storage=storage,
                           replaces_stored_connection=fixed)
            self._phones[label] = PhoneDriver(label, app, self._runner, self.people, self.root / "camera", self.time)
        return self._phones[label]

    # -- Settings › Connections › Control other devices (issue 12) ----------------------------------------------

    def controlling_mac(self, name: str | None = None) -> ControllingMacDriver:
        """A Mac that controls others through the relay, by its name ("Dana's MacBook Air"), made on first use;
        without a name, the first one made. A name that is one of this world's Macs makes that Mac a controller too
        (turning on "Control other devices" turns on its own remote control first); any other name is a Mac with
        Codex that hosts nothing, on its own clock and network path."""
        if name is None:
            if not self._controllers:
                raise ValueError("this world has no controlling Mac yet")
            return next(iter(self._controllers.values()))
        if name not in self._controllers:
            self._controllers[name] = self._runner.run(self._new_controller(name))
        return self._controllers[name]

    async def _new_controller(self, name: str) -> ControllingMacDriver:
        own = next((mac for mac in self._macs if name in (mac.name, mac.server_name)), None)
        party = own.label if own is not None else machine_party(name)
        try:
            path = self.network.path(party)
        except ValueError:
            path = await self.network.open(party)
        app = ControllingMac(own.server_name if own is not None else name, self.time.of(party), path.url,
                             profile=control_profile(self.profile is Profile.FIXED))

        def cut(for_seconds: float | None) -> None:
            self.network.cut(party, for_seconds=for_seconds)

        enable = None if own is None else (lambda: own.switch_connections(True))
        return ControllingMacDriver(name, party, app, self._runner, self.people, path, self.time, cut, enable)

    @property
    def backend_url(self) -> str:
        """The backend's own address (its admin API, the world's control)."""
        return self.backend.url

    @property
    def phone_backend_url(self) -> str:
        """The backend as the phones reach it: the origin the Macs' QR codes name."""
        return self.network.path(PHONES).url

    # ------------------------------------------------------------------------------------------------ across parties

    def change_password(self, name: str) -> None:
        """The person changes her password on the web: every session, token and server enrollment of the account is
        revoked, on every Mac, and every phone she paired is signed out. Returns once each Mac has settled and
        each phone that was connected has seen its socket close."""
        user_id = self.person(name).user_id
        phone_sockets = [
            session.socket
            for phone in self._phones.values()
            for session in phone.sessions()
            if session.socket is not None and session.tokens is not None and session.tokens.user_id == user_id
        ]
        relay = self.backend.remote_control.relay
        connected = {
            mac.label: mac.environment_id
            for mac in self._macs
            if mac.environment_id is not None and relay.daemon_connected(mac.environment_id)
        }
        self.people.change_password(name)
        for mac in self._macs:
            environment_id = connected.get(mac.label)
            if environment_id is not None:
                # The backend closes the daemon's relay socket (4401); wait for that, then for the daemon to settle.
                self._runner.run(self.backend.remote_control.wait_daemon_disconnected(environment_id))
                self._runner.run(mac.daemon.after_relay_revoked())
            mac.wait_settled()
        for socket in phone_sockets:
            self._runner.run(socket.wait_closed())

    def decide(self, approval: Approval, decision: str, *, phone: str = "phone") -> Screen:
        """The person answers an approval on the phone; returns once the Mac that asked has acted on the answer
        (run the command or not, changed the file or not) and said so (`item/completed`, which both daemons send
        only then), so what a step reads from that Mac next is the outcome of this decision."""
        deciding = self.phone(phone)
        screen = deciding.decide(approval, decision)
        if approval.item_id is not None:
            deciding.wait_item_completed(approval.item_id)
        return screen

    def restore_phone_backup(self, *, from_phone: str, to_phone: str) -> PairingOutcome:
        """A new phone set up from a device backup of another: same credentials, its own device key."""
        if to_phone in self._phones:
            raise ValueError(f"{to_phone} is not a new phone")
        return self.phone(to_phone).restore_from(self.phone(from_phone))

    def answer_held_enrollments(self) -> None:
        """The backend answers the enrollments it held; returns once every Mac has settled."""
        self.backend.release_held_enrollments()
        for mac in self._macs:
            mac.finish_switching()

    def let_time_pass(self, seconds: float) -> None:
        self.time.passes(seconds)

    def set_clock_off(self, who: str, seconds: float) -> None:
        """The clock of `who` ("Dana's phone", "Dana's Mac", "the Mac", "Dana's dev server", "the ChatGPT service")
        is `seconds` ahead of the world's time (behind when negative). A Mac's clock is its daemon's: the real daemon
        reads the machine's clock, which a world cannot move, so a Mac whose clock is off needs the mock daemon; the
        service's clock being off the other way is the same disagreement, and reaches the real daemon too."""
        self.time.set_off(self._clock_party(who), seconds)

    def _clock_party(self, who: str) -> str:
        if re.fullmatch(r"(?:the )?(?:ChatGPT service|ChatGPT|backend)", who):
            return SERVICE
        mac = re.fullmatch(r"(?:the|\w+'s) Mac", who)
        if mac is not None:
            if not reads_the_macs_clock(self.daemon):
                raise ClockOutOfReach("the real daemon reads this machine's clock, which a world cannot move; a Mac "
                                      "whose clock is off needs the mock daemon")
            return self.mac().label
        if re.fullmatch(r"\w+'s (?:phone|tablet|old phone|new phone|laptop)", who):
            return phone_party(who)
        if re.fullmatch(r"\w+'s [\w ]+", who):
            return machine_party(who)
        raise ValueError(f"whose clock is {who!r}? Say \"Dana's phone\", \"Dana's Mac\" or \"Dana's dev server\"")

    # ------------------------------------------------------------------------------------------- Codex in a terminal

    def computer(self, name: str) -> Computer:
        """A computer by what a scenario calls it: "the Mac" or "Dana's Mac" is the first Mac (its CODEX_HOME is the
        desktop app's); any other "Dana's <computer>" is a computer of its own, with its own CODEX_HOME, clock
        and network path, made on first use."""
        if re.fullmatch(r"(?:the|\w+'s) Mac", name):
            mac = self.mac()
            return Computer(name, mac.home, mac.label, self.network.path(mac.label).url)
        if not re.fullmatch(r"\w+'s [\w ]+", name):
            raise ValueError(f"which computer is {name!r}? Say \"Dana's Mac\" or \"Dana's dev server\"")
        party = machine_party(name)
        try:
            path = self.network.path(party)
        except ValueError:
            path = self._runner.run(self.network.open(party))
        return Computer(name, self.root / "computers" / slug(name) / "codex-home", party, path.url)

    def copy_sign_in(self, source: str, target: str) -> None:
        """The person copies her Codex sign-in (auth.json) from one computer to another."""
        self.terminals.copy_sign_in(self.computer(source), self.computer(target))

    def open_terminal(self, on: str) -> TerminalDriver:
        """Codex starts in a terminal on this computer, reading the sign-in its CODEX_HOME holds now."""
        computer = self.computer(on)
        return self.terminals.open(computer, issuer_url=computer.backend_url)

    def terminal(self, on: str) -> TerminalDriver:
        return self.terminals.get(on)

    def doctor_lines_of_a_folder_without_codex(self) -> list[str]:
        folder = Path(tempfile.mkdtemp(prefix="no-codex-", dir=self.root))
        return doctor_lines_of_a_folder_without_codex(folder, self.profile)

    # ---------------------------------------------------------------------------------------------------- trace

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Every party's traffic and log, redacted: the phones' HTTP/WebSocket trace, each Mac's daemon log and
        every HTTP exchange the backend served."""
        entries: list[dict[str, Any]] = []
        for label, phone in self._phones.items():
            # The phone's own entries say which of its parts spoke (`phone` or its `browser`); keep that as
            # `via` so `party` can name which phone it was.
            entries.extend({**entry, "party": f"phone:{label}", "via": entry.get("party")} for entry in phone.trace())
        for label, controller in self._controllers.items():
            entries.extend({**entry, "party": f"controller:{label}", "via": entry.get("party")}
                           for entry in controller.trace())
        for mac in self._macs:
            entries.extend({"party": f"{mac.label}:daemon-log", "line": line} for line in mac.daemon_log())
        entries.extend({"party": f"remote:{alias}:app-server-log", "line": line}
                       for alias, line in self.remote_projects.log_lines())
        for name, terminal in self.terminals.open_terminals().items():
            entries.extend({"party": f"terminal:{name}", "line": line} for line in terminal.session.output)
        # The backend's view: every HTTP exchange any party (Mac, phone, browser) had with it.
        entries.extend({"party": "backend", **entry} for entry in self.backend.traffic())
        # By key first; then by value, for what no key names (a daemon log line, an error message's text).
        return SecretMask(self.issued_secrets()).value(redact_secrets(entries))

    def issued_secrets(self) -> Iterator[str]:
        """Every secret this world handed out, so a test can prove none of them leaked into a report."""
        yield from self.people.issued_secrets()
        for mac in self._macs:
            yield from mac.issued_secrets()
        for phone in self._phones.values():
            yield from phone.issued_secrets()
        for controller in self._controllers.values():
            yield from controller.issued_secrets()
        yield from self.terminals.issued_secrets()
        yield from self.backend.issued_secrets()
