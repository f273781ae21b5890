"""One phone with the ChatGPT app, as a scenario drives it: its camera (a QR image read from its pixels), its
own browser (sign-in, remembered device, sign-out), the pairing, and the live session with a Mac. Every method is
synchronous and acts on this phone alone; `simulators.phone.app.PhoneApp` does the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators import messages
from simulators.camera import Picture, take
from simulators.daemon.desktop import QrShown, Remediation
from simulators.phone.app import Approval, HostSession, PairingResult, PhoneApp
from simulators.phone.live import TurnView
from simulators.phone.screens import ComputerRow, Screen, computer_row
from simulators.world.people import People
from simulators.world.runner import Runner
from simulators.world.time import WorldTime

PERSONAL = "Personal"
SCREEN_TIMEOUT = 10.0
RECONNECT_TIMEOUT = 40.0  # the real daemon backs off for seconds before it reconnects


@dataclass(frozen=True)
class PairingOutcome:
    outcome: str  # "paired" or an ErrorCode value
    message: str
    screens: list[dict[str, Any]]
    host_name: str | None
    thread_count: int | None = None

    @classmethod
    def of(cls, result: PairingResult) -> PairingOutcome:
        return cls(outcome=result.outcome, message=result.message, screens=list(result.screens),
                   host_name=result.host_name, thread_count=result.thread_count)


@dataclass(frozen=True)
class Linger:
    """The person leaves one of the issuer's sign-in pages open for `seconds` before acting on it (the first time
    it is shown). `page` is the page's name: `sign_in`, `mfa`, `workspace` or `consent`."""

    page: str
    seconds: float

    def dweller(self, time: WorldTime) -> Callable[[str], None]:
        lingered: list[str] = []

        def dwell(page: str) -> None:
            if page == self.page and not lingered:
                lingered.append(page)
                time.passes(self.seconds)

        return dwell


@dataclass(frozen=True)
class PhoneView:
    """What a phone shows now: its paired hosts (in pairing order), the one in use, and the screen on top."""

    hosts: tuple[str, ...]
    active_host: str | None
    screen: dict[str, Any]


class PhoneDriver:
    def __init__(self, label: str, app: PhoneApp, runner: Runner, people: People, camera_roll: Path,
                 time: WorldTime) -> None:
        self.label = label
        self.app = app
        self._runner = runner
        self._people = people
        self._camera_roll = camera_roll
        self._time = time

    # -- pairing ---------------------------------------------------------------------------------------------------

    def pair(self, name: str, qr: Path | None, *, workspace: str = PERSONAL, mistype_password: bool = False,
             wrong_mfa_codes: int = 0, cancel_sign_in: bool = False, linger: Linger | None = None) -> PairingOutcome:
        """The person scans the code with this phone, signs in (with her authenticator code when asked) and
        connects. A phone already paired with a Mac adds this one to its hosts and switches to it. Her slips: a
        mistyped password, wrong authenticator codes typed before the right one, "Cancel" on the consent page, a
        sign-in page left open a while (`linger`: the world's time passes while that page is shown)."""
        if qr is None:
            raise ValueError("there is no pairing code to scan: the Mac showed none")
        person = self._people.get(name)
        pair = self.app.pair_host if self.app.hosts else self.app.pair
        options = {} if linger is None else {"dwell": linger.dweller(self._time)}
        result = self._runner.run(pair(
            Path(qr),
            person.email,
            person.password + "!" if mistype_password else person.password,
            person.totp_secret,
            workspace=None if workspace == PERSONAL else workspace,
            wrong_mfa_codes=wrong_mfa_codes,
            cancel_sign_in=cancel_sign_in,
            **options,
        ))
        return PairingOutcome.of(result)

    def pair_repeatedly(self, name: str, times: int, qr: Path | None) -> PairingOutcome:
        """The person scans the same code `times` times in a row, at once (no time passes); the last outcome."""
        if times < 1:
            raise ValueError("scan at least once")
        outcomes = [self.pair(name, qr) for _ in range(times)]
        return outcomes[-1]

    def scan_picture(self, name: str, picture: Picture, shown: QrShown | Remediation | None = None) -> PairingOutcome:
        """The person points this phone at something other than a good view of the Mac's code (see
        `simulators.camera`); `shown` is what the Mac showed, for the pictures made of its pairing code."""
        qr = shown if isinstance(shown, QrShown) else None
        image = take(picture, self._camera_roll / f"{picture.value}.png",
                     pairing_qr=None if qr is None else qr.png_path, pairing_link=None if qr is None else qr.link)
        return self.pair(name, image)

    # -- the phone's browser ---------------------------------------------------------------------------------------

    def remembers_device(self, name: str) -> None:
        """Some time ago the person signed in to ChatGPT in this phone's browser with her authenticator code and
        ticked "Remember this device"; the app has been closed since, so only the remembered device is left."""
        person = self._people.get(name)
        self._runner.run(self.app.sign_in_to_chatgpt(person.email, person.password, person.totp_secret,
                                                     remember_device=True))
        self._runner.call(self.app.close_browser_session)

    def sign_out_of_chatgpt(self) -> None:
        self._runner.run(self.app.sign_out_of_chatgpt())

    @property
    def sign_in_pages(self) -> tuple[str, ...]:
        """The issuer's pages this phone's browser showed in its last sign-in."""
        return self.app.sign_in_pages

    # -- what it shows, and the live session ------------------------------------------------------------------------

    def view(self) -> PhoneView:
        app = self.app
        self._runner.run(app.settle())
        return self._runner.call(lambda: PhoneView(tuple(app.hosts), app.active_host, app.screen.to_dict()))

    def wait_for_screen(self, title: str, body: str, timeout: float = SCREEN_TIMEOUT) -> dict[str, Any]:
        """The screen on top once it is this one, or after `timeout` whatever is on top: what the relay already
        said (the Mac left, and why) may still be on its way to the phone when the person looks."""
        screen = self._runner.run(self.app.wait_for_screen(lambda s: (s.title, s.body) == (title, body), timeout))
        return screen.to_dict()

    def wait_live(self, timeout: float = RECONNECT_TIMEOUT) -> bool:
        """Whether the phone is live with its Mac again within `timeout`: once the Mac is back on the relay (after
        its own retry delay), the relay tells the phone and it carries on."""
        return self._runner.run(self.app.wait_live(timeout), timeout=timeout + 5)

    def switch_host(self, name: str) -> PhoneView:
        """The person picks another paired Mac on this phone, which lists that Mac's threads afresh."""
        self._runner.call(self.app.switch_host, name)
        self._runner.run(self.app.load_live_state())
        return self.view()

    def start_turn(self, text: str) -> str:
        return self._runner.run(self.app.start_turn(text))

    def open_remote_projects(self) -> list[str]:
        """The person looks at the Mac's remote projects on this phone; each row as the phone words it."""
        rows = self._runner.run(self.app.list_remote_projects())
        copy = messages.PHONE_SCREENS["remote_projects"]
        return [copy.body.format(project=row.name, host=row.host) for row in rows]

    def remote_projects_title(self) -> str:
        return messages.PHONE_SCREENS["remote_projects"].title.format(server_name=self.view().active_host)

    def start_remote_turn(self, text: str, project: str) -> str:
        """The person asks Codex, from this phone, to do something in one of the Mac's remote projects."""
        self._runner.run(self.app.list_remote_projects())
        return self._runner.run(self.app.start_remote_turn(text, project))

    def wait_for_approval(self, kind: str) -> Approval:
        return self._runner.run(self.app.wait_for_approval(kind))

    def decide(self, approval: Approval, decision: str) -> Screen:
        """The person answers on the phone; the phone's confirmation screen."""
        return self._runner.run(self.app.decide(approval, decision))

    # -- the computers it lists, and its chats ---------------------------------------------------------------------

    def open_computers(self) -> list[ComputerRow]:
        """The person opens the list of her computers on this phone (the app loads it from the backend)."""
        self._runner.run(self.app.list_computers())
        return self.computers()

    def computers(self) -> list[ComputerRow]:
        """The list of computers as the phone shows it now: when each offline one was last seen is worded from
        the phone's own clock."""
        app = self.app

        def rows() -> list[ComputerRow]:
            now = app.clock.now()
            return [computer_row(c.name, online=c.online, last_seen_at=c.last_seen_at, offline_reason=c.offline_reason,
                                 now=now, copy=app.failure_copy) for c in app.computers]

        return self._runner.call(rows)

    def open_chat(self) -> Screen:
        """The person opens her last chat with the computer in use; what the phone shows then."""
        return self._runner.run(self.app.open_chat())

    def wait_item_completed(self, item_id: str) -> None:
        """Until the Mac reports the item done: what the person decided on it has been acted on."""
        self._runner.run(self.app.wait_item_completed(item_id))

    def wait_item_started(self, item_type: str) -> None:
        """Until the current turn shows an item of `item_type` (`fileChange`, `commandExecution`, ...)."""
        self._runner.run(self.app.wait_item_started(item_type))

    def wait_turn_completed(self) -> dict[str, Any]:
        """Until the current turn ends, as the phone sees it; the turn as reported."""
        return self._runner.run(self.app.wait_turn_completed())

    def turn_view(self) -> TurnView:
        """What the phone shows of the current turn (live, or as read back after being away)."""
        return self._runner.call(self.app.turn_view)

    def steer(self, text: str) -> str:
        """The person sends a follow-up while the turn runs: it goes into that turn."""
        return self._runner.run(self.app.steer(text))

    def reopen_thread(self) -> TurnView:
        """The person opens the app again (after being offline): it reconnects to the Mac and reads the thread it
        was showing, turns included; the current turn as read."""
        result = self._runner.run(self.app.reopen())
        if not result.paired:
            raise AssertionError(f"the phone could not reconnect: {result.message}")
        return self._runner.run(self.app.catch_up())

    def fetch_image(self, path: str) -> bytes:
        """An image on the Mac, as the phone loads it to show it."""
        return self._runner.run(self.app.fetch_image(path))

    # -- the device -------------------------------------------------------------------------------------------------

    def relaunch(self) -> PairingOutcome:
        """The phone app is killed (swiped away, or the phone restarts) and opened again: whatever it held only in
        memory is gone, what it stored on the phone (its device key, the computers it paired with and their last
        chats) comes back, and it reconnects to the computer it was using."""
        old = self.app
        self._runner.run(old.kill())
        self.app = self._runner.call(old.relaunched)
        if self.app.session.claim is None:
            return PairingOutcome.of(self._runner.call(self.app.result))
        return PairingOutcome.of(self._runner.run(self.app.reopen()))

    def erase(self) -> None:
        """The phone leaves the world: what its app stored on it (keychain, credentials) goes with it."""
        if self.app.storage is not None:
            self.app.storage.erase()

    def restore_from(self, other: PhoneDriver) -> PairingOutcome:
        """This new phone, set up from a device backup of `other`, with the app opened: it holds the paired Macs'
        credentials but its own device key (the key cannot leave the phone it was made on)."""
        backup = self._runner.call(other.app.backup)
        self._runner.call(self.app.restore, backup)
        return PairingOutcome.of(self._runner.run(self.app.reopen()))

    async def close(self) -> None:
        await self.app.close()

    def trace(self) -> list[dict[str, Any]]:
        """The phone's redacted HTTP/WebSocket trace; each entry says which part spoke (`phone` or `browser`)."""
        return list(self.app.trace.entries)

    def issued_secrets(self) -> Iterator[str]:
        for session in self.sessions():
            yield from _session_secrets(session)

    def sessions(self) -> list[HostSession]:
        """Every host session the phone holds: the paired hosts and the one in use (which may not be paired)."""
        app = self.app
        return list({id(session): session for session in [*app.hosts.values(), app.session]}.values())


def _session_secrets(session: HostSession) -> Iterator[str]:
    if session.tokens is not None:
        yield session.tokens.access_token
        if session.tokens.refresh_token is not None:
            yield session.tokens.refresh_token
    if session.claim is not None:
        yield session.claim.client_session_token
    if session.link is not None:
        yield session.link.pairing_code
