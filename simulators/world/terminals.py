"""Codex in a terminal, as a scenario drives it: on a Mac, beside the desktop app and sharing its `auth.json`, or on
another computer the person copied her sign-in to (a dev server, a CI runner). Each terminal is one Codex CLI
process (`simulators.login.session.TerminalSession`) that reads the sign-in when it starts and keeps it in memory,
reads the clock of the computer it runs on, and reaches the backend through that computer's own network path.

Every method is synchronous and acts on this terminal (or this computer's CODEX_HOME) alone.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simulators.daemon.profiles import Profile
from simulators.login.credential_store import AUTH_FILENAME
from simulators.login.session import TerminalSession
from simulators.world.runner import Runner
from simulators.world.time import WorldTime


@dataclass(frozen=True)
class Computer:
    """Where a terminal runs: its CODEX_HOME, its clock's party, and the backend as it reaches it."""

    name: str  # as a scenario says it: "Dana's Mac", "Dana's dev server"
    home: Path
    clock_party: str
    backend_url: str


class TerminalDriver:
    def __init__(self, computer: Computer, session: TerminalSession, runner: Runner) -> None:
        self.computer = computer
        self.session = session
        self._runner = runner

    def ask(self) -> str:
        """The person asks Codex something in this terminal; what the terminal shows."""
        return self._runner.run(self.session.ask())

    @property
    def last_line(self) -> str | None:
        """The last line the terminal showed, or None before anything was asked."""
        return self.session.output[-1] if self.session.output else None

    async def close(self) -> None:
        await self.session.aclose()

    def issued_secrets(self) -> Iterator[str]:
        yield from self.session.issued_secrets()


class Terminals:
    """The terminals of a world, one per computer."""

    def __init__(self, runner: Runner, time: WorldTime, profile: Profile) -> None:
        self._runner = runner
        self._time = time
        self._profile = profile
        self._open: dict[str, TerminalDriver] = {}

    def copy_sign_in(self, source: Computer, target: Computer) -> None:
        """The person copies her Codex sign-in (auth.json, mode kept) from one computer to another, as the
        headless-login advice and CI set-ups do."""
        if source.home == target.home:
            raise ValueError(f"{source.name} and {target.name} share one CODEX_HOME: there is nothing to copy")
        original = source.home / AUTH_FILENAME
        if not original.is_file():
            raise ValueError(f"{source.name} has no Codex sign-in to copy")
        target.home.mkdir(parents=True, exist_ok=True)
        shutil.copy2(original, target.home / AUTH_FILENAME)

    def open(self, computer: Computer, issuer_url: str) -> TerminalDriver:
        """Codex starts in a terminal on this computer (reading its sign-in now); one terminal per computer."""
        if computer.name in self._open:
            raise ValueError(f"Codex is already open in a terminal on {computer.name}")
        session = TerminalSession(computer.home, issuer_url=issuer_url, backend_url=computer.backend_url,
                                  clock=self._time.of(computer.clock_party), profile=self._profile)
        try:
            session.start()
        except BaseException:
            self._runner.run(session.aclose())
            raise
        terminal = TerminalDriver(computer, session, self._runner)
        self._open[computer.name] = terminal
        return terminal

    def get(self, name: str) -> TerminalDriver:
        try:
            return self._open[name]
        except KeyError:
            raise ValueError(f"Codex is not open in a terminal on {name} (open: {', '.join(self._open) or 'none'})") \
                from None

    def open_terminals(self) -> dict[str, TerminalDriver]:
        return dict(self._open)

    async def close(self) -> None:
        for terminal in self._open.values():
            await terminal.close()

    def issued_secrets(self) -> Iterator[str]:
        for terminal in self._open.values():
            yield from terminal.issued_secrets()


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-") or "computer"
