"""The product's stories, played end to end on a fresh World, with what each person saw at every beat.

`pairsim reproduce` runs them (and `make demo` runs `password-change`). Each story is a short script of plain World
calls, the way a person would live it; after each action it notes what the phone, the Mac, `doctor` and the
backend showed, so a terminal reader can follow the story and an engineer can see where it went wrong.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulators import messages
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.world.backend import Operation

if TYPE_CHECKING:
    from simulators.world import PairingOutcome, QrShown, Remediation, World

PERSON = "Dana"
OTHER_PERSON = "Sam"
TRACE_FILE = "trace.json"
# A cause no phone release knows, so the phone must fall back to the generic copy.
UNMAPPED_CLAIM_FAILURE = (422, json.dumps({"detail": "Environment snapshot is stale",
                                           "code": "environment_snapshot_stale"}))


class UnknownScenario(PairsimError):
    """No story has that name."""


@dataclass(frozen=True)
class Beat:
    """One thing that happened, and what the people involved saw right after it."""

    action: str
    saw: tuple[str, ...] = ()


@dataclass(frozen=True)
class Surfaces:
    """Every place a person can look, read at one moment (the moment pairing succeeded or failed)."""

    phone_outcome: str
    phone_title: str
    phone_message: str
    phone_screens: list[dict[str, Any]]
    desktop_status: str
    desktop_message: str
    doctor: list[str]
    enrollment_rows: list[dict[str, Any]]
    enrollment_response: tuple[int, str] | None


@dataclass(frozen=True)
class Reproduction:
    scenario: str
    summary: str
    profile: str
    daemon: str
    expected: ErrorCode | None  # the cause the phone should name; None when the story should end paired
    beats: list[Beat]
    surfaces: Surfaces
    recovery: str | None  # how a retry ended after the person followed the advice, when the story has one
    recovery_action: str | None
    trace_path: Path
    qr_path: Path | None

    @property
    def outcome(self) -> str:
        return self.surfaces.phone_outcome

    def verdict(self) -> str:
        """Judged on what the phone showed: the cause's own copy, or a generic message."""
        if self.expected is None:
            return "Paired, as expected." if self.outcome == "paired" else f"Expected to pair, ended {self.outcome}."
        shown = self.surfaces.phone_message
        generic = shown in (messages.GENERIC_SETUP_FAILURE, messages.GENERIC_PAIRING_FAILURE)
        if self.expected is ErrorCode.UNKNOWN:
            if generic:
                return "The phone showed the generic message: the right copy for a cause it does not know."
            return f"Expected the generic message for a cause no phone knows, the phone said {shown!r}."
        if shown == messages.PHONE_ERRORS[self.expected].body:
            return f"The phone named the cause ({self.expected.value}) and said what to do."
        if generic:
            return (f"The phone fell back to a generic message instead of naming the cause "
                    f"({self.expected.value}): the bug pairsim reproduces.")
        return f"Expected the phone to name {self.expected.value}, it said {shown!r}."

    def to_json(self) -> dict[str, Any]:
        s = self.surfaces
        response = s.enrollment_response
        return {
            "scenario": self.scenario,
            "profile": self.profile,
            "daemon": self.daemon,
            "outcome": self.outcome,
            "expected": self.expected.value if self.expected else "paired",
            "recovery": {"action": self.recovery_action, "outcome": self.recovery} if self.recovery else None,
            "phone": {"title": s.phone_title, "message": s.phone_message, "screens": s.phone_screens},
            "desktop": {"status": s.desktop_status, "message": s.desktop_message},
            "doctor": s.doctor,
            "backend": {
                "enrollment_rows": s.enrollment_rows,
                "last_enrollment_response": {"status": response[0], "body": response[1]} if response else None,
            },
            "story": [{"action": b.action, "saw": list(b.saw)} for b in self.beats],
            "qr_image": str(self.qr_path) if self.qr_path else None,
            "trace": str(self.trace_path),
        }


@dataclass
class _Play:
    """A story being played: the world, and the beats noted so far."""

    world: World
    beats: list[Beat] = field(default_factory=list)
    qr: QrShown | Remediation | None = None
    qr_path: Path | None = None
    failure: Surfaces | None = None
    recovery: str | None = None
    recovery_action: str | None = None

    def note(self, action: str, *saw: str) -> None:
        self.beats.append(Beat(action, tuple(saw)))

    # ---- what people saw, as lines

    def mac(self) -> str:
        status = self.world.mac().wait_settled()
        return f"Mac      {status} · {self.world.mac().connections_text}"

    def enrollment(self) -> tuple[str, ...]:
        response = self.world.mac().last_enrollment_response()
        rows = self.world.mac().enrollment_rows()
        table = f"Table    {len(rows)} enrollment row(s)" if rows else "Table    no enrollment rows"
        if response is None:
            return (table,)
        status, body = response
        verb = "accepted" if status < 300 else "refused"
        return (f"Backend  enrollment {verb}: HTTP {status} {body}", table)

    def show_code(self) -> str:
        self.qr = self.world.mac().show_pairing_qr()
        image = getattr(self.qr, "png_path", None)
        if image is None:
            return f"Mac      instead of a code: {getattr(self.qr, 'text', '')}"
        self.qr_path = image
        return f"QR code  {image}"

    def scan(self, name: str = PERSON, **options: Any) -> PairingOutcome:
        return self.world.phone().pair(name, getattr(self.qr, "png_path", None), **options)

    @staticmethod
    def phone(outcome: PairingOutcome) -> str:
        title = outcome.screens[-1].get("title", "") if outcome.screens else ""
        return f"Phone    {title} · {outcome.message}"

    def read_surfaces(self, outcome: PairingOutcome) -> Surfaces:
        world = self.world
        return Surfaces(
            phone_outcome=outcome.outcome,
            phone_title=outcome.screens[-1].get("title", "") if outcome.screens else "",
            phone_message=outcome.message,
            phone_screens=list(outcome.screens),
            desktop_status=world.mac().status,
            desktop_message=world.mac().connections_text,
            doctor=world.mac().doctor_lines(),
            enrollment_rows=world.mac().enrollment_rows(),
            enrollment_response=world.mac().last_enrollment_response(),
        )

    # ---- shared openings

    def ready_mac(self) -> None:
        world = self.world
        world.people.create(PERSON, mfa=True)
        self.note(f"{PERSON} has a ChatGPT account with multi-factor authentication (an authenticator app).")
        world.mac().sign_in(PERSON, remember_device=True)
        world.mac().allow_connections(True)
        self.note("Codex on her Mac signs in with MFA; she lets the browser remember her device, and turns on "
                  f'"{messages.DESKTOP_ALLOW_CONNECTIONS}".', self.mac(), *self.enrollment())
        self.note("Her Mac shows a pairing code.", self.show_code())


# ---------------------------------------------------------------------------------------------------- stories


def _happy_path(play: _Play) -> PairingOutcome:
    play.ready_mac()
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone and signs in with her password and MFA code.",
              play.phone(outcome))
    return outcome


def _mfa_required(play: _Play) -> PairingOutcome:
    play.ready_mac()
    play.world.mac().quit_browser()
    play.world.mac().sign_in(PERSON)
    play.note("She quits the browser; Codex on her Mac signs in again. The browser is remembered, so only the "
              "password is asked: the sign-in carries no multi-factor authentication.", *play.enrollment(), play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    return outcome


def _password_change(play: _Play) -> PairingOutcome:
    world = play.world
    play.ready_mac()
    world.change_password(PERSON)
    play.note(f"{PERSON} changes her ChatGPT password. Every session is revoked; Codex on her Mac is signed out.")
    world.mac().sign_in(PERSON)
    play.note("Codex on her Mac signs in again. The browser is remembered, so only the new password is asked: "
              "the sign-in carries no multi-factor authentication.", *play.enrollment(), play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    play.failure = play.read_surfaces(outcome)

    world.people.set_up_mfa(PERSON)
    world.mac().sign_in(PERSON)
    play.note("She does what the message says: sets up MFA again (which forgets every remembered browser) and "
              "signs in to Codex on her Mac, this time with her authenticator code.", *play.enrollment(), play.mac())
    play.note("Her Mac shows a new pairing code.", play.show_code())
    retry = play.scan()
    play.note(f"{PERSON} scans the new code with her phone.", play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = "Retry after Dana signed in to Codex on her Mac with MFA again"
    return outcome


def _remote_control_disabled(play: _Play) -> PairingOutcome:
    play.ready_mac()
    play.world.mac().allow_connections(False)
    play.note(f'{PERSON} turns off "{messages.DESKTOP_ALLOW_CONNECTIONS}" on her Mac.', play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code that is still on her screen.", play.phone(outcome))
    return outcome


def _unknown_error(play: _Play) -> PairingOutcome:
    play.ready_mac()
    play.world.backend.answer_next(Operation.CLAIM, *UNMAPPED_CLAIM_FAILURE)
    play.note("The backend answers the phone's claim with an error no phone release knows.")
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    return outcome


@dataclass(frozen=True)
class Story:
    name: str
    summary: str
    expected: ErrorCode | None
    play: Callable[[_Play], PairingOutcome]


STORIES: dict[str, Story] = {
    story.name: story
    for story in (
        Story("happy-path", "Dana, with MFA, pairs her phone with Codex on her Mac.", None, _happy_path),
        Story("mfa-required", "Codex on the Mac signs in without MFA; the backend refuses remote control.",
              ErrorCode.MFA_REQUIRED, _mfa_required),
        Story("password-change", "The seed story: after a password change the Mac signs in without MFA.",
              ErrorCode.MFA_REQUIRED, _password_change),
        Story("remote-control-disabled", 'Dana turns off "Allow other devices to connect", then scans.',
              ErrorCode.REMOTE_CONTROL_DISABLED, _remote_control_disabled),
        Story("unknown-error", "The backend fails with a cause no phone knows: the generic message, rightly.",
              ErrorCode.UNKNOWN, _unknown_error),
    )
}


def story(name: str) -> Story:
    try:
        return STORIES[name]
    except KeyError:
        raise UnknownScenario(f"unknown scenario {name!r}; known: {', '.join(STORIES)}") from None


def reproduce(name: str, *, profile: str = "fixed", daemon: str = "mock", out: Path, seed: int = 1234) -> Reproduction:
    """Play the story `name` on a fresh World under `out/<name>-<profile>/` and write its redacted trace there."""
    chosen = story(name)
    from simulators.daemon.profiles import Profile
    from simulators.world import World

    root = out / f"{name}-{profile}"
    shutil.rmtree(root, ignore_errors=True)  # our own output from an earlier run of the same story
    root.mkdir(parents=True)
    world = World(profile=Profile(profile), seed=seed, root=root, daemon=daemon).start()
    try:
        play = _Play(world)
        outcome = chosen.play(play)
        surfaces = play.failure or play.read_surfaces(outcome)
        trace_path = root / TRACE_FILE
        trace_path.write_text(json.dumps(world.trace, indent=2, default=str) + "\n", encoding="utf-8")
    finally:
        world.stop()  # also removes the Mac's working state: a report keeps the QR images and the trace
    return Reproduction(
        scenario=name, summary=chosen.summary, profile=str(profile), daemon=daemon, expected=chosen.expected,
        beats=play.beats, surfaces=surfaces, recovery=play.recovery,
        recovery_action=play.recovery_action, trace_path=trace_path, qr_path=play.qr_path,
    )
