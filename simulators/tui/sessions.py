"""What a person does with the real Codex TUI, as named sessions, and the recording of each against a daemon.

    python -m simulators.tui.sessions --daemon codex --out tests/fixtures/tui_traffic [SESSION ...]

Each session starts a world (`World(daemon=...)`: the backend, and the Mac's daemon, real or mock), brings the
daemon into the session's starting state (`Setup`), starts `pairsim record` as its own process between the TUI and
the daemon, runs the real TUI through it in a pseudo-terminal and does what a person does. The recording (redacted
as it is written) is the fixture `tests/fixtures/tui_traffic/<session>.jsonl` that `simulators.tui.replay` plays
against the mock daemon. The same `Setup` brings the mock into the same starting state for the replay: who is
signed in on the Mac, whether Dana's account asks for her authenticator code, and what she asked Codex on the Mac
before (each a thread made by a real turn on the real daemon). What the person did outside the TUI (signing in with
ChatGPT in her browser, on the daemon's callback server at 127.0.0.1:1455) the replay does again
(`simulators.tui.coverage.browser_sign_in`). Recording `signed-in-start` takes about 20 s, `chatgpt-sign-in` 15 s.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.backend.model_scripts import EXPLAIN_TIMEOUT, FIX_FLAKY_TEST
from simulators.browser import Browser, Page
from simulators.login.lab import fixed_ports_lock
from simulators.login.user import Person, walk
from simulators.protocol.errors import PairsimError
from simulators.real.target import DaemonKind
from simulators.tui.codex_tui import CodexTui
from simulators.world import World

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "tui_traffic"
PERSON = "Dana"
TUI_CLIENT = "codex-tui 0.169.0"
PROXY_START_SECONDS = 30.0
# The world's temporary folder as a recording names it: paths under it (the project a thread runs in) are the
# same under any world's folder, so a replay puts its own in their place.
WORLD_ROOT = "{world}"
# What the daemon's callback server says after a sign-in that worked (0.169.0: page "Sign into Codex" reading
# "Signed in to Codex"; pairsim's login server: titled so).
SIGNED_IN = "Signed in to Codex"
ASKED = EXPLAIN_TIMEOUT  # a plain answer from the backend's model: a thread without approvals


@dataclass(frozen=True)
class Setup:
    """The daemon's state when the TUI connects: who is signed in on the Mac (nobody, or Dana with ChatGPT), and
    what Dana asked Codex on the Mac before (each a thread, made by a real turn on the real daemon)."""

    signed_in: bool = False
    # The backend's model keeps each response after `response.created` until released: Codex is "thinking" when
    # the person interrupts it, on the recording's daemon and on the replay's alike.
    model_held: bool = False
    asked: tuple[str, ...] = ()
    mfa: bool = False  # Dana's account asks for her authenticator code when she signs in

    def to_json(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"account": "chatgpt" if self.signed_in else "signed_out", "person": PERSON}
        if self.model_held:
            raw["model"] = "held"
        if self.asked:
            raw["asked"] = list(self.asked)
        if self.mfa:
            raw["mfa"] = True
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Setup:
        return cls(signed_in=raw.get("account") == "chatgpt", model_held=raw.get("model") == "held",
                   asked=tuple(raw.get("asked", ())), mfa=bool(raw.get("mfa")))

    def apply(self, world: World) -> None:
        world.people.create(PERSON, mfa=self.mfa)
        if self.signed_in:
            world.mac().sign_in(PERSON)
        for text in self.asked:
            world.mac().ask(text)
        if self.model_held:
            world.backend.hold_model()


@dataclass
class SessionRun:
    """A session in progress: the world, the TUI, and Dana's credentials for the browser."""

    world: World
    tui: CodexTui
    notes: list[str] = field(default_factory=list)

    def sign_in_in_browser(self, link: str) -> None:
        sign_in_in_browser(self.world, PERSON, link)


def sign_in_in_browser(world: World, name: str, link: str) -> None:
    """`name` opens the sign-in link in her browser and signs in, with her authenticator code if her account asks
    for one (the browser follows the redirect to the daemon's callback server on 127.0.0.1:1455)."""
    persona = world.people.get(name)
    person = Person(persona.email, persona.password, persona.totp_secret)

    async def sign_in() -> Page:
        async with Browser() as browser:
            return await walk(browser, link, person, world.clock)

    page = world._runner.run(sign_in())
    # The daemon's callback server answers the issuer's redirect with its own page: success, or what failed.
    if SIGNED_IN not in page.title + page.text:
        raise PairsimError(f"the sign-in in the browser ended on {page.title!r}, not saying {SIGNED_IN!r}")


@dataclass(frozen=True)
class Session:
    name: str
    summary: str
    setup: Setup
    act: Callable[[SessionRun], None]
    uses_fixed_ports: bool = False
    # The TUI starts in the Mac's project (a person `cd`s there first), so its threads' turns run in that project.
    in_project: bool = False


def _signed_out_start(run: SessionRun) -> None:
    run.tui.wait_for_sign_in_menu()


def _api_key_sign_in(run: SessionRun) -> None:
    run.tui.sign_in_with_api_key("sk-proj-" + secrets.token_urlsafe(24))
    run.tui.wait_for_main_screen()
    run.tui.status_card()


def _chatgpt_sign_in(run: SessionRun) -> None:
    run.tui.start_chatgpt_sign_in()
    run.sign_in_in_browser(run.tui.wait_for_browser())
    run.tui.wait_for_chatgpt_signed_in()
    run.tui.status_card()


def _signed_in_start(run: SessionRun) -> None:
    run.tui.wait_for_main_screen()
    run.tui.status_card()
    run.tui.resume_picker()
    run.tui.leave_picker()


# -- turns: approvals and interrupting (issue 11) -------------------------------------------------------------------


def _command_and_file_change_approved(run: SessionRun) -> None:
    run.tui.ask(FIX_FLAKY_TEST)
    run.tui.wait_for_command_approval()
    run.tui.approve()
    run.tui.wait_for_file_change_approval()
    run.tui.approve()
    run.tui.wait_for_turn_end()


def _command_declined(run: SessionRun) -> None:
    run.tui.ask(FIX_FLAKY_TEST)
    run.tui.wait_for_command_approval()
    run.tui.decline()
    run.tui.wait_for_turn_end()


def _file_change_declined(run: SessionRun) -> None:
    run.tui.ask(FIX_FLAKY_TEST)
    run.tui.wait_for_command_approval()
    run.tui.approve()
    run.tui.wait_for_file_change_approval()
    run.tui.decline()
    run.tui.wait_for_turn_end()


def _turn_interrupted(run: SessionRun) -> None:
    run.tui.ask(EXPLAIN_TIMEOUT)
    run.world.backend.wait_model_held()
    run.tui.interrupt()
    run.world.backend.wait_model_interrupted(1)
    run.world.backend.release_model()


TURN_SESSIONS = (
    Session("command-and-file-change-approved", f"signed in with ChatGPT, in the Mac's project, Dana asks "
            f"{FIX_FLAKY_TEST!r}; she approves the command, then the file change, and the turn completes",
            Setup(signed_in=True), _command_and_file_change_approved, in_project=True),
    Session("command-declined", f"signed in with ChatGPT, in the Mac's project, Dana asks {FIX_FLAKY_TEST!r} and "
            "declines the command (No, and tell Codex what to do differently): the turn ends",
            Setup(signed_in=True), _command_declined, in_project=True),
    Session("file-change-declined", f"signed in with ChatGPT, in the Mac's project, Dana asks {FIX_FLAKY_TEST!r}, "
            "approves the command and declines the file change: the turn ends", Setup(signed_in=True),
            _file_change_declined, in_project=True),
    Session("turn-interrupted", f"signed in with ChatGPT, in the Mac's project, Dana asks {EXPLAIN_TIMEOUT!r} and "
            "presses Esc while the model is answering", Setup(signed_in=True, model_held=True), _turn_interrupted,
            in_project=True),
)


SESSIONS: dict[str, Session] = {
    session.name: session
    for session in (
        Session("signed-out-start", "the TUI starts against a daemon nobody is signed in to and shows its sign-in "
                "menu", Setup(signed_in=False), _signed_out_start),
        Session("api-key-sign-in", "signed out, Dana signs in with an API key (Sign in another way › Use an "
                "OpenAI API key), reaches the main screen and opens /status", Setup(signed_in=False),
                _api_key_sign_in),
        Session("chatgpt-sign-in", "signed out, Dana chooses Sign in with ChatGPT, signs in in her browser, "
                "reaches the main screen and opens /status", Setup(signed_in=False, mfa=True), _chatgpt_sign_in,
                uses_fixed_ports=True),
        Session("signed-in-start", "the Mac is signed in with ChatGPT; the TUI starts on its main screen, Dana "
                "opens /status, then /resume (her threads) and leaves it",
                Setup(signed_in=True, asked=(ASKED,), mfa=True), _signed_in_start),
    )
}
SESSIONS.update({session.name: session for session in TURN_SESSIONS})


# -------------------------------------------------------------------------------------------------- the relay


@contextlib.contextmanager
def recording_relay(upstream: str, out: Path, session: Session, daemon: str) -> Iterator[str]:
    """`pairsim record` as its own process, relaying to `upstream` and writing `out`; yields its ws:// URL."""
    import json

    command = [
        sys.executable, "-m", "simulators.cli", "record", "--upstream", upstream, "--out", str(out),
        "--session", session.name, "--summary", session.summary, "--client", TUI_CLIENT, "--daemon", daemon,
        "--setup", json.dumps(session.setup.to_json()),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the relay prints its address once it accepts connections
        if not line.startswith("recording "):
            process.kill()
            raise PairsimError(f"pairsim record did not start: {line or process.stderr.read() if process.stderr else ''}")
        yield line.split()[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def record(session: Session, kind: DaemonKind, out_dir: Path) -> Path:
    """Play `session` against a daemon of `kind` through the relay; the recording's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{session.name}.jsonl"
    daemon = "codex app-server 0.169.0" if kind is DaemonKind.CODEX else "pairsim mock daemon"
    lock = fixed_ports_lock() if session.uses_fixed_ports else contextlib.nullcontext()
    with tempfile.TemporaryDirectory(prefix="pairsim-tui-") as root, lock:
        world = World(daemon=kind, seed=zlib.crc32(session.name.encode()), root=Path(root)).start()
        try:
            session.setup.apply(world)
            with recording_relay(world.mac().url, out, session, daemon) as url:
                cwd = world.mac().project_folder if session.in_project else Path(root)
                tui = CodexTui.launch(url, cwd=cwd)
                try:
                    session.act(SessionRun(world, tui))
                finally:
                    tui.close()
        finally:
            world.stop()
        out.write_text(out.read_text(encoding="utf-8").replace(root, WORLD_ROOT), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.tui.sessions", description=__doc__)
    parser.add_argument("--daemon", choices=[kind.value for kind in DaemonKind], default=DaemonKind.CODEX.value)
    parser.add_argument("--out", type=Path, default=FIXTURES)
    parser.add_argument("sessions", nargs="*", help=f"default: every session ({', '.join(SESSIONS)})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.sessions if name not in SESSIONS]
    if unknown:
        parser.error(f"no session is called {', '.join(unknown)}; the sessions are {', '.join(SESSIONS)}")
    for name in args.sessions or SESSIONS:
        path = record(SESSIONS[name], DaemonKind(args.daemon), args.out)
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
