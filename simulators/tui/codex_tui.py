"""The real Codex TUI (`codex --remote ws://… --remote-auth-token-env VAR`, the pinned 0.169.0) as a person uses it.

It runs in a pseudo-terminal (`Terminal`) against whichever daemon a scenario names, and everything here is what a
person does (choose a menu entry, paste an API key, type `/status`) or reads off the screen (the sign-in menu, the
account line of `/status`, the threads `/resume` lists, an approval prompt). Waits end on screen events.

The TUI has its own CODEX_HOME (a fresh one, outside /tmp where the binary prints a warning into the terminal):
its settings and its sign-in live on the daemon it connects to. `BROWSER` points at a one-line script that writes
the address the TUI opens into a file, so "her browser opens the sign-in page" is an event the person (the
scripted browser) can act on.
"""

from __future__ import annotations

import re
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from simulators.protocol.errors import PairsimError
from simulators.real.codex import RealDaemonInstall, locate_real_daemon, make_codex_home
from simulators.tui.terminal import ProgramExited, ScreenNeverShowed, Snapshot, Terminal

TOKEN_ENV = "PAIRSIM_TUI_TOKEN"
# The daemons pairsim starts listen on loopback without auth, so the token is never checked; the TUI refuses to
# start without one when `--remote-auth-token-env` is given, and a person connecting to a remote daemon gives one.
LOCAL_TOKEN = "pairsim-loopback"
STEP_SECONDS = 30.0

SIGN_IN_MENU = "Sign in with ChatGPT to use Codex"
OTHER_WAYS = "Sign in another way"
API_KEY_OPTION = "Pay for what you use"
API_KEY_FIELD = "Paste or type your API key below"
API_KEY_SAVE = "Press enter to save"
API_KEY_FAILED = "Failed to save API key"
COMPOSER = "Ask Codex to do anything"  # the empty composer: the main screen takes input
CHATGPT_WAITING = "Finish signing in via your browser"
CHATGPT_SIGNED_IN = "Signed in with your ChatGPT account"
CHATGPT_CANCEL = "Press esc to cancel"  # the last line of the sign-in link screen
STATUS_CARD_END = "Collaboration mode:"
RESUME_TITLE = "Resume a previous session"
# -- a turn (issue 11: approvals and interrupting) --
COMMAND_APPROVAL = "Would you like to run the following command?"
FILE_CHANGE_APPROVAL = "Would you like to make the following edits?"
APPROVE_KEY = "y"  # "1. Yes, proceed (y)"
# The prompt's first option: drawn last, so a prompt that shows it is whole (a long path's rows included).
APPROVE_OPTION = "1. Yes, proceed"
DECLINE_KEY = "3"  # "3. No, and tell Codex what to do differently (esc)": the TUI cancels the turn
WORKING = "esc to interrupt"
TURN_INTERRUPTED = "Conversation interrupted"
TURN_COMPLETED = "Worked for"
# Esc twice on an idle composer opens the TUI's "edit a previous message"; a person who pressed Esc once waits a
# good while for the turn to stop before pressing again.
INTERRUPT_AGAIN_SECONDS = 10.0


class TuiFailed(PairsimError):
    """The TUI stopped with an error a person would read (its last screen says what)."""


@dataclass(frozen=True)
class StatusCard:
    """The `/status` card as a person reads it: label → value (`Account`, `Model`, `Server`, ...)."""

    fields: dict[str, str]

    def __getitem__(self, label: str) -> str:
        return self.fields[label]


_STATUS_FIELD = re.compile(r"^\s*│?\s*([A-Z][A-Za-z. ]+?):\s{2,}(.+?)\s*│?\s*$")


def _has(text: str) -> Callable[[Snapshot], Snapshot | None]:
    return lambda screen: screen if screen.contains(text) else None


class CodexTui:
    """One running TUI. Close it (or use it as a context manager) to end the process."""

    def __init__(self, terminal: Terminal, home: Path, browser_log: Path) -> None:
        self.terminal = terminal
        self.home = home
        self._browser_log = browser_log
        self._asked: str | None = None  # the last request asked in the composer

    @classmethod
    def launch(
        cls,
        daemon_url: str,
        *,
        cwd: Path,
        install: RealDaemonInstall | None = None,
        home: Path | None = None,
        env: Mapping[str, str] | None = None,
        columns: int = 120,
        rows: int = 40,
    ) -> CodexTui:
        install = install or locate_real_daemon()
        home = home or make_codex_home()
        browser_log = home / "browser-opened.txt"
        browser = home / "browser"
        # The TUI runs `$BROWSER URL`; this one only notes the address for the person's scripted browser.
        browser.write_text('#!/bin/sh\nprintf "%s\\n" "$1" >> "$(dirname "$0")/browser-opened.txt"\n')
        browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
        environment = install.environment(home, env)
        environment.update({"TERM": "xterm-256color", TOKEN_ENV: LOCAL_TOKEN, "BROWSER": str(browser),
                            "COLUMNS": str(columns), "LINES": str(rows)})
        environment.pop("NO_COLOR", None)
        argv = [str(install.binary), "--remote", daemon_url, "--remote-auth-token-env", TOKEN_ENV]
        return cls(Terminal(argv, env=environment, cwd=cwd, columns=columns, rows=rows), home, browser_log)

    # -- reading the screen ------------------------------------------------------------------------------------

    @property
    def screen(self) -> str:
        return self.terminal.snapshot().text

    def shows(self, text: str) -> bool:
        return self.terminal.snapshot().contains(text)

    def wait_for(self, text: str, timeout: float = STEP_SECONDS) -> Snapshot:
        """Until the screen shows `text`; `TuiFailed` with the TUI's last words if it exits first."""
        try:
            return self.terminal.wait_for_text(text, timeout)
        except ProgramExited as exc:
            raise TuiFailed(f"the TUI exited (status {exc.status}) instead of showing {text!r}: "
                            f"{last_words(exc.screen)}") from None

    def wait_for_exit(self, timeout: float = STEP_SECONDS) -> str:
        """Until the TUI ends; what it said last (its error line, for a TUI that gave up)."""
        self.terminal.wait_for_exit(timeout)
        return last_words(self.screen)

    def wait_for_sign_in_menu(self) -> None:
        self.wait_for(SIGN_IN_MENU)

    def wait_for_main_screen(self) -> None:
        self.wait_for(COMPOSER)

    # -- signing in --------------------------------------------------------------------------------------------

    def _choose(self, digit: str, then: str) -> None:
        """Pick a numbered menu entry; the TUI drops keys sent the moment a menu appears, so a person may have to
        press again, which is harmless for a digit."""
        self.terminal.press_until(digit, _has(then), repr(then), timeout=STEP_SECONDS)

    def sign_in_with_api_key(self, api_key: str) -> None:
        """From the sign-in menu: "Sign in another way" › "Use an OpenAI API key", paste the key, Enter."""
        self.wait_for_sign_in_menu()
        self._choose("3", API_KEY_OPTION)
        self._choose("1", API_KEY_FIELD)
        self.terminal.paste(api_key)
        self.terminal.wait_until(_has(api_key[-8:]), "the pasted key")
        # Enter right after a paste is taken as part of it for a moment; the key field leaves the screen when the
        # TUI has acted on the Enter (the main screen, or an error under the field).
        self.terminal.press_until("enter", lambda s: s if not s.contains(API_KEY_SAVE) or s.contains(API_KEY_FAILED)
                                  else None, "the API key saved", timeout=STEP_SECONDS)

    def start_chatgpt_sign_in(self) -> None:
        """From the sign-in menu: "Sign in with ChatGPT"; the TUI asks the daemon for a sign-in link and opens it."""
        self.wait_for_sign_in_menu()
        self._choose("1", CHATGPT_WAITING)

    def wait_for_chatgpt_signed_in(self) -> None:
        """After the browser's sign-in: the TUI says so and shows what the plan includes; Enter (pressed again if
        the TUI dropped it, as it drops keys sent the moment a screen appears) leads to the main screen."""
        self.wait_for(CHATGPT_SIGNED_IN)
        self.terminal.press_until("enter", _has(COMPOSER), repr(COMPOSER), timeout=STEP_SECONDS)

    def opened_addresses(self) -> list[str]:
        """What the TUI asked the browser to open, in order."""
        try:
            return [line for line in self._browser_log.read_text().splitlines() if line]
        except FileNotFoundError:
            return []

    def wait_for_browser(self, timeout: float = STEP_SECONDS) -> str:
        """The address the TUI opened in the browser (it does so when it shows the sign-in link)."""
        deadline = time.monotonic() + timeout
        self.wait_for(CHATGPT_WAITING, timeout)
        # In `--remote` mode the TUI opens no browser: the link on screen is what a person uses. It is drawn over
        # several output chunks; the line under it ends the frame, so the link is whole once that shows.
        return self.terminal.wait_until(
            lambda screen: _sign_in_link(screen) if screen.contains(CHATGPT_CANCEL) else None, "the sign-in link",
            max(0.0, deadline - time.monotonic()))

    # -- the composer ------------------------------------------------------------------------------------------

    def enter(self, text: str) -> None:
        """Type `text` into the composer (pasted in one go) and press Enter."""
        self.wait_for_main_screen()
        self.terminal.paste(text)
        self.wait_for(text if len(text) < 60 else text[:60])
        self.terminal.press("enter")

    def slash(self, command: str) -> None:
        self.enter(command)

    def status_card(self) -> StatusCard:
        self.slash("/status")
        screen = self.wait_for(STATUS_CARD_END)
        fields: dict[str, str] = {}
        for row in screen.rows:
            match = _STATUS_FIELD.match(row)
            if match:
                fields[match.group(1).strip()] = match.group(2).strip()
        return StatusCard(fields)

    def resume_picker(self, expect: str | None = None) -> list[str]:
        """Open `/resume`; the rows of its list (waiting for `expect`, or for the count line)."""
        self.slash("/resume")
        self.wait_for(RESUME_TITLE)
        screen = self.terminal.wait_until(
            lambda s: s if (expect is None and _picker_counted(s)) or (expect is not None and s.contains(expect))
            else None, f"the session list{' with ' + repr(expect) if expect else ''}",
        )
        return [row.strip() for row in screen.rows]

    def leave_picker(self) -> None:
        self.terminal.press("escape")
        self.wait_for_main_screen()

    # -- a turn: approvals and interrupting (issue 11) --------------------------------------------------------

    def ask(self, request: str) -> None:
        """Ask Codex for something in the composer: a new turn on the TUI's thread."""
        self.enter(request)
        self._asked = request

    def wait_for_command_approval(self, timeout: float = STEP_SECONDS) -> Approval:
        return self._wait_for_approval(COMMAND_APPROVAL, timeout)

    def wait_for_file_change_approval(self, timeout: float = STEP_SECONDS) -> Approval:
        return self._wait_for_approval(FILE_CHANGE_APPROVAL, timeout)

    def _wait_for_approval(self, question: str, timeout: float) -> Approval:
        self.wait_for(question, timeout)
        # The prompt may be drawn over more than one frame: wait for what it is about too.
        return self.terminal.wait_until(lambda s: (a := Approval.read(question, s)).subject and a,
                                        f"what {question!r} is about", timeout)

    def _answer_approval(self, key: str) -> None:
        """Press `key` until the approval prompt has gone (the TUI drops a key sent as the prompt appears)."""
        self.terminal.press_until(
            key, lambda s: s if not s.contains(COMMAND_APPROVAL) and not s.contains(FILE_CHANGE_APPROVAL) else None,
            "the approval prompt answered", timeout=STEP_SECONDS,
        )

    def approve(self) -> None:
        self._answer_approval(APPROVE_KEY)

    def decline(self) -> None:
        self._answer_approval(DECLINE_KEY)

    def wait_until_moved_on(self, timeout: float = STEP_SECONDS) -> None:
        """After a decision: until Codex has acted on it and gone on (the next approval prompt, or the turn's end).
        The daemon acts on a decision before it asks anything else or ends the turn, so from here the Mac's
        project shows what it did."""
        self.terminal.wait_until(
            lambda s: s.contains(COMMAND_APPROVAL) or s.contains(FILE_CHANGE_APPROVAL) or self._ended(s) is not None,
            "Codex going on after the decision", timeout,
        )

    def interrupt(self) -> None:
        """Esc while Codex is working: the TUI interrupts the turn and says so."""
        self.wait_for(WORKING)
        self.terminal.press_until("escape", _has(TURN_INTERRUPTED), repr(TURN_INTERRUPTED),
                                  again_after=INTERRUPT_AGAIN_SECONDS, timeout=STEP_SECONDS)

    def wait_for_turn_end(self, timeout: float = STEP_SECONDS) -> str:
        """Until the turn has ended; how, as the TUI says it (`TURN_COMPLETED` or `TURN_INTERRUPTED`)."""
        return self.terminal.wait_until(self._ended, "the turn's end", timeout)

    def _ended(self, screen: Snapshot) -> str | None:
        """How the turn asked last ended, if the screen says so. Only what follows that request counts: an earlier
        turn's end may still be on the screen."""
        rows = list(screen.rows)
        asked = [index for index, row in enumerate(rows) if self._asked and f"› {self._asked}" in row]
        for row in rows[asked[-1] + 1 :] if asked else rows:
            if TURN_INTERRUPTED in row:
                return TURN_INTERRUPTED
            if TURN_COMPLETED in row:
                return TURN_COMPLETED
        return None

    # -- the end -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.terminal.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> CodexTui:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Approval:
    """An approval prompt as a person reads it: the question, and what it is about (the command after `$`, or
    the file after `Destination:`)."""

    question: str
    subject: str

    @property
    def kind(self) -> str:
        """`command` or `file_change`, as the phone names the approvals it shows."""
        return "command" if self.question == COMMAND_APPROVAL else "file_change"

    @classmethod
    def read(cls, question: str, screen: Snapshot) -> Approval:
        rows = [row.strip() for row in screen.rows]
        start = next((index for index, row in enumerate(rows) if question in row), len(rows))
        if not any(APPROVE_OPTION in row for row in rows[start:]):
            # Not drawn in full yet: a frame can hold half a path, with the composer still below it.
            return cls(question, "")
        for index, row in enumerate(rows[start:], start):
            if row.startswith("$ "):
                return cls(question, row[2:])
            if row.startswith("Destination:"):
                # A long path goes on the next row, and wraps onto further rows that hold nothing else.
                path = row.removeprefix("Destination:").strip()
                for following in rows[index + 1 :]:
                    if not following or " " in following:
                        break
                    path += following
                return cls(question, path)
        return cls(question, "")


def _sign_in_link(screen: Snapshot) -> str | None:
    """The sign-in link as shown: it starts on the row holding `/oauth/authorize?` and the terminal wraps it onto
    the following rows, which start at the first column (the TUI's own lines are indented)."""
    for index, row in enumerate(screen.rows):
        start = row.find("http")
        if start < 0 or "/oauth/authorize?" not in row:
            continue
        link = row[start:].strip()
        for following in screen.rows[index + 1 :]:
            if not following or following.startswith(" "):
                break
            link += following.strip()
        return link
    return None


_PICKER_COUNT = re.compile(r"\b\d+ / \d+\b")


def _picker_counted(screen: Snapshot) -> bool:
    return screen.find(_PICKER_COUNT) is not None


def last_words(screen: str) -> str:
    """The last non-blank line on a screen: what a TUI that exited printed last."""
    lines = [line.strip() for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


__all__ = ["Approval", "CodexTui", "ScreenNeverShowed", "StatusCard", "TuiFailed", "last_words"]

