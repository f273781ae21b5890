"""Playing a story end to end on a fresh World, with what each person saw at every beat.

A story (`Story`; the stories themselves live in `simulators/stories/`) is a short script of World calls, the way a
person would live it, naming the public reports it reproduces and the surface where the person read what went
wrong (`Surface`). After each action it notes what the phone, the Mac, `doctor` and the backend showed, so a terminal
reader can follow the story and an engineer can see where it went wrong. At the moment that mattered it records
what that surface said (`Said`), which `pairsim reproduce` compares with what users reported (today's product, the
`legacy` profile) or with the message that names the cause (the typed-error fix, `fixed`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulators import messages
from simulators.protocol.errors import PairsimError

if TYPE_CHECKING:
    from simulators.world import PairingOutcome, QrShown, Remediation, World

PERSON = "Dana"
TRACE_FILE = "trace.json"


class UnknownScenario(PairsimError):
    """No story has that name."""


class Surface(StrEnum):
    """Where a person reads what went wrong."""

    PHONE = "phone"  # the phone's screen: its body (and title)
    DESKTOP = "desktop"  # Codex on the Mac: Settings › Connections, or what it shows instead of a pairing code
    CLI = "cli"  # a terminal: `codex remote-control`, `codex login`, ...
    DAEMON_LOG = "daemon_log"  # the daemon's log, where only an engineer looks


@dataclass(frozen=True)
class Said:
    """What a surface said at the moment that mattered."""

    surface: Surface
    text: str
    title: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"surface": self.surface.value, "title": self.title, "text": self.text}


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
    reports: tuple[str, ...]
    profile: str
    daemon: str
    expected: str | None  # what the story's surface should say under this profile; None: it should end paired
    said: Said | None
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
        """Judged on what the story's surface said: what users reported (today's product) or the message that names
        the cause (the fix)."""
        if self.expected is None:
            return "Paired, as expected." if self.outcome == "paired" else f"Expected to pair, ended {self.outcome}."
        if self.said is None:
            return f"Expected {self.expected!r}; the story ended before its surface showed anything."
        where = self.said.surface.value.replace("_", " ")
        if self.said.text != self.expected:
            return f"Expected the {where} to say {self.expected!r}; it said {self.said.text!r}."
        if self.said.text in (messages.GENERIC_SETUP_FAILURE, messages.GENERIC_PAIRING_FAILURE) and self.profile == \
                "legacy":
            return f"The {where} fell back to a generic message, as users reported: the bug pairsim reproduces."
        if self.profile == "legacy":
            return f"The {where} said what users reported: {self.said.text!r}."
        return f"The {where} named the cause and said what to do: {self.said.text!r}."

    def to_json(self) -> dict[str, Any]:
        s = self.surfaces
        response = s.enrollment_response
        return {
            "scenario": self.scenario,
            "summary": self.summary,
            "reports": list(self.reports),
            "profile": self.profile,
            "daemon": self.daemon,
            "outcome": self.outcome,
            "expected": self.expected,
            "said": self.said.to_json() if self.said else None,
            "verdict": self.verdict(),
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
class Play:
    """A story being played: the world, the beats noted so far, and what the story's surface said."""

    world: World
    beats: list[Beat] = field(default_factory=list)
    qr: QrShown | Remediation | None = None
    qr_path: Path | None = None
    failure: Surfaces | None = None
    said: Said | None = None
    recovery: str | None = None
    recovery_action: str | None = None

    def note(self, action: str, *saw: str) -> None:
        self.beats.append(Beat(action, tuple(saw)))

    def record(self, surface: Surface, text: str, title: str | None = None) -> None:
        """What the story's surface says now, the moment that matters; the first record stands."""
        if self.said is None:
            self.said = Said(surface, text, title)

    def record_phone(self, outcome: PairingOutcome) -> None:
        self.record(Surface.PHONE, outcome.message, outcome.screens[-1].get("title") if outcome.screens else None)

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

    def read_surfaces(self, outcome: PairingOutcome | None) -> Surfaces:
        world = self.world
        screens = list(outcome.screens) if outcome else []
        return Surfaces(
            phone_outcome=outcome.outcome if outcome else "not scanned",
            phone_title=screens[-1].get("title", "") if screens else "",
            phone_message=outcome.message if outcome else "",
            phone_screens=screens,
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


@dataclass(frozen=True)
class Story:
    """A failure people reported, or a path that works, as a script a world plays.

    `reports` are the public reports it reproduces (`"openai/codex#39959"`); `surface` is where the person read what
    went wrong; `legacy_text` is what they read there today (the reports' words) and `fixed_text` what the
    typed-error fix says instead (both None for a story that should end paired)."""

    name: str
    summary: str
    reports: tuple[str, ...]
    surface: Surface
    legacy_text: str | None
    fixed_text: str | None
    play: Callable[[Play], PairingOutcome | None]
    # The story plays with the real `codex app-server` behind the Mac too (`--daemon codex`), and under `legacy` it
    # shows there what users reported. False only for a story no daemon takes part in.
    on_real_daemon: bool = True
    # What today's product shows with the installed real daemon (codex 0.169.0) behind the Mac, where that version
    # words it otherwise than the codex source the story quotes; None: the same as `legacy_text`. Each such text is
    # a known difference of the real daemon (simulators/real/known_differences.py).
    legacy_text_on_codex: str | None = None

    def expected(self, profile: str, daemon: str = "mock") -> str | None:
        """What the person reads, with `{codex version}` and `{next version}` filled from the daemon under test."""
        from simulators.real.target import DaemonKind, version_under_test
        from simulators.real.versions import fill_versions

        if profile == "legacy" and daemon == "codex" and self.legacy_text_on_codex is not None:
            text: str | None = self.legacy_text_on_codex
        else:
            text = self.legacy_text if profile == "legacy" else self.fixed_text
        return None if text is None else fill_versions(text, version_under_test(DaemonKind(daemon)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "reports": list(self.reports),
                "surface": self.surface.value, "legacy_text": self.legacy_text, "fixed_text": self.fixed_text,
                "on_real_daemon": self.on_real_daemon, "legacy_text_on_codex": self.legacy_text_on_codex}


def reproduce(chosen: Story, *, profile: str = "fixed", daemon: str = "mock", out: Path,
              seed: int = 1234) -> Reproduction:
    """Play `chosen` on a fresh World under `out/<name>-<profile>/` and write its redacted trace there."""
    from simulators.daemon.profiles import Profile
    from simulators.world import World

    root = out / f"{chosen.name}-{profile}"
    shutil.rmtree(root, ignore_errors=True)  # our own output from an earlier run of the same story
    root.mkdir(parents=True)
    world = World(profile=Profile(profile), seed=seed, root=root, daemon=daemon).start()
    try:
        play = Play(world)
        outcome = chosen.play(play)
        surfaces = play.failure or play.read_surfaces(outcome)
        if play.said is None and outcome is not None and chosen.surface is Surface.PHONE:
            play.record_phone(outcome)
        trace_path = root / TRACE_FILE
        trace_path.write_text(json.dumps(world.trace, indent=2, default=str) + "\n", encoding="utf-8")
    finally:
        world.stop()  # also removes the Mac's working state: a report keeps the QR images and the trace
    return Reproduction(
        scenario=chosen.name, summary=chosen.summary, reports=chosen.reports, profile=str(profile), daemon=daemon,
        expected=chosen.expected(profile, daemon), said=play.said, beats=play.beats, surfaces=surfaces,
        recovery=play.recovery, recovery_action=play.recovery_action, trace_path=trace_path, qr_path=play.qr_path,
    )
