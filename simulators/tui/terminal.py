"""A program in a pseudo-terminal, and the screen a person would be looking at.

The program (the real `codex` TUI) runs as a child in its own pty (`ptyprocess`); everything it writes is fed to a
VT emulator (`pyte`), whose screen is what steps read. Nothing sleeps: a wait reads the pty until the screen shows
what it waits for, so each chunk of output is an event and the wait ends on the chunk that draws the awaited
text (or at its bound, or when the program exits, with the last screen in the error).

The emulator answers the terminal queries a TUI sends at start-up (cursor position, device attributes); a terminal
that stays silent makes crossterm wait for its own time-out before drawing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyte
from ptyprocess import PtyProcess

from simulators.protocol.errors import PairsimError

T = TypeVar("T")

DEFAULT_COLUMNS = 120
DEFAULT_ROWS = 40
DEFAULT_WAIT_SECONDS = 30.0
_READ_BYTES = 65536

# What a key sends: the legacy bytes a terminal sends for the press, and the key's code for the release event the
# kitty keyboard protocol adds when the program asked for event types (`CSI <code>;1:3 <final>`).
@dataclass(frozen=True)
class Key:
    press: str
    code: int
    final: str = "u"

    def release(self) -> str:
        return f"\x1b[{self.code};1:3{self.final}"


KEYS: Mapping[str, Key] = {
    "enter": Key("\r", 13),
    "escape": Key("\x1b", 27),
    "tab": Key("\t", 9),
    "backspace": Key("\x7f", 127),
    "up": Key("\x1b[A", 1, "A"),
    "down": Key("\x1b[B", 1, "B"),
    "right": Key("\x1b[C", 1, "C"),
    "left": Key("\x1b[D", 1, "D"),
    "ctrl-c": Key("\x03", 99),  # released as `c` with ctrl: close enough for a program that only acts on presses
}
_DISAMBIGUATE = 0b1
_REPORT_EVENT_TYPES = 0b10
_PASTE_START, _PASTE_END = "\x1b[200~", "\x1b[201~"


class ScreenNeverShowed(PairsimError):
    """The awaited text did not appear in time. The message holds what the screen showed instead."""


class ProgramExited(PairsimError):
    """The program ended while a wait was still looking for something on its screen."""

    def __init__(self, message: str, *, status: int | None, screen: str) -> None:
        super().__init__(message)
        self.status = status
        self.screen = screen


# The kitty keyboard protocol's control sequences (push `>`, pop `<`, set `=`, query `?`), which pyte does not know.
_KITTY_KEYBOARD = re.compile(r"\x1b\[([<>=?])([0-9;]*)u")
# An escape sequence cut off at the end of a chunk: kept until the next chunk completes it.
_PARTIAL_CSI = re.compile(r"\x1b(\[[<>=?0-9;:]*)?$")


class _KittyKeyboard:
    """The flags of the kitty keyboard protocol, as a terminal that speaks it keeps them.

    The codex TUI pushes flags at start-up and asks for them (`CSI ? u`) whenever it discards typed-ahead input: it
    reads and drops input until the answer arrives. A terminal that never answers makes it drop keys for a second
    and then, at times, give up with `Error: timed out discarding buffered terminal input` (observed on 0.169.0)."""

    def __init__(self) -> None:
        self._stack: list[int] = []

    @property
    def flags(self) -> int:
        return self._stack[-1] if self._stack else 0

    def control(self, kind: str, args: str) -> str | None:
        """Apply one control sequence; the answer to send back, if it asks for one."""
        numbers = [int(part) for part in args.split(";") if part.isdigit()]
        if kind == ">":
            self._stack.append(numbers[0] if numbers else 0)
        elif kind == "<":
            for _ in range(numbers[0] if numbers else 1):
                if self._stack:
                    self._stack.pop()
        elif kind == "=":
            flags = numbers[0] if numbers else 0
            mode = numbers[1] if len(numbers) > 1 else 1  # 1 sets, 2 adds, 3 removes
            current = self.flags
            updated = flags if mode == 1 else current | flags if mode == 2 else current & ~flags
            if self._stack:
                self._stack[-1] = updated
            else:
                self._stack.append(updated)
        elif kind == "?":
            return f"\x1b[?{self.flags}u"
        return None


class _AnsweringScreen(pyte.Screen):
    """A pyte screen that writes its answers to terminal queries back to the program."""

    def __init__(self, columns: int, rows: int, answer: Callable[[str], None]) -> None:
        super().__init__(columns, rows)
        self._answer = answer

    def write_process_input(self, data: str) -> None:
        self._answer(data)


@dataclass(frozen=True)
class Snapshot:
    """The screen at one moment: its rows with trailing blanks removed."""

    rows: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.rows).rstrip("\n")

    def joined(self) -> str:
        """The rows as one string with no breaks: a long line the terminal wrapped reads whole again."""
        return "".join(self.rows)

    def contains(self, text: str) -> bool:
        return any(text in row for row in self.rows)

    def find(self, pattern: str | re.Pattern[str]) -> re.Match[str] | None:
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        for row in self.rows:
            match = compiled.search(row)
            if match is not None:
                return match
        return None


class Terminal:
    """One program on one emulated terminal. Not thread-safe: one caller drives it."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        columns: int = DEFAULT_COLUMNS,
        rows: int = DEFAULT_ROWS,
    ) -> None:
        self.argv = list(argv)
        self.columns, self.rows = columns, rows
        self._process = PtyProcess.spawn(self.argv, env=dict(env), cwd=str(cwd), dimensions=(rows, columns))
        self._screen = _AnsweringScreen(columns, rows, self._write)
        self._stream = pyte.Stream(self._screen)
        self._decoder_tail = b""
        self._pending_escape = ""
        self._keyboard = _KittyKeyboard()
        self._eof = False
        self.output_bytes = 0

    def __repr__(self) -> str:
        return f"Terminal(pid={self.pid}, {self.columns}x{self.rows})"

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    @property
    def exit_status(self) -> int | None:
        """The program's exit status once it has ended (None while it runs)."""
        if self._process.isalive():
            return None
        return self._process.exitstatus if self._process.exitstatus is not None else self._process.signalstatus

    # -- the screen --------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(line.rstrip() for line in self._screen.display))

    def wait_until(
        self, predicate: Callable[[Snapshot], T | bool | None], what: str, timeout: float = DEFAULT_WAIT_SECONDS
    ) -> T:
        """Read the program's output until `predicate(screen)` is truthy; return that value.

        Raises `ScreenNeverShowed` after `timeout` seconds and `ProgramExited` if the program ends first; both
        carry the last screen.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.snapshot())
            if found:
                return found  # type: ignore[return-value]
            if self._eof:
                raise ProgramExited(
                    f"the program exited (status {self.exit_status}) before the screen showed {what}; it showed:\n"
                    f"{self.snapshot().text}",
                    status=self.exit_status,
                    screen=self.snapshot().text,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ScreenNeverShowed(
                    f"the screen did not show {what} within {timeout:.0f} s; it showed:\n{self.snapshot().text}"
                )
            self._read(remaining)

    def press_until(
        self, key: str, predicate: Callable[[Snapshot], T | bool | None], what: str,
        *, again_after: float = 1.0, timeout: float = DEFAULT_WAIT_SECONDS,
    ) -> T:
        """Press `key` until the screen shows what `predicate` looks for, again each `again_after` seconds without it.

        Only for keys whose repetition is harmless (a menu's digit, Enter on a step that moves on). The codex TUI
        drops typed-ahead input when a screen takes over the keyboard (observed on 0.169.0: a key sent a few
        milliseconds after its sign-in menu appeared did nothing); a person who sees nothing happen presses again.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.press(key)
            remaining = deadline - time.monotonic()
            try:
                return self.wait_until(predicate, what, min(again_after, max(remaining, 0.0)))
            except ScreenNeverShowed:
                if time.monotonic() >= deadline:
                    raise

    def wait_for_text(self, text: str, timeout: float = DEFAULT_WAIT_SECONDS) -> Snapshot:
        return self.wait_until(lambda s: s if s.contains(text) else None, f"{text!r}", timeout)

    def wait_for_exit(self, timeout: float = DEFAULT_WAIT_SECONDS) -> int | None:
        """Read until the program ends (its pty closes); its exit status."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ScreenNeverShowed(f"the program was still running after {timeout:.0f} s")
            self._read(remaining)
        with contextlib.suppress(Exception):
            self._process.wait()
        return self.exit_status

    def _read(self, timeout: float) -> None:
        fd = self._process.fd
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(fd, _READ_BYTES)
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: the child side of the pty is closed
                raise
            chunk = b""
        if not chunk:
            self._eof = True
            return
        self.output_bytes += len(chunk)
        data = self._decoder_tail + chunk
        text, self._decoder_tail = _decode_complete(data)
        self._feed(text)

    def _feed(self, text: str) -> None:
        """Feed pyte, handling the keyboard-protocol sequences it does not know in their place in the stream (so
        answers go out in the order the program asked)."""
        text = self._pending_escape + text
        partial = _PARTIAL_CSI.search(text)
        if partial is not None:
            text, self._pending_escape = text[: partial.start()], text[partial.start() :]
        else:
            self._pending_escape = ""
        position = 0
        for match in _KITTY_KEYBOARD.finditer(text):
            self._stream.feed(text[position : match.start()])
            answer = self._keyboard.control(match.group(1), match.group(2))
            if answer is not None:
                self._write(answer)
            position = match.end()
        self._stream.feed(text[position:])

    # -- the keyboard ------------------------------------------------------------------------------------

    def _write(self, data: str) -> None:
        if self._eof:
            return
        with contextlib.suppress(OSError):
            self._process.write(data.encode("utf-8"))

    def press(self, key: str) -> None:
        """One named key (`KEYS`, e.g. `enter`, `down`, `escape`) or one character, pressed and released.

        The release matters: with the kitty protocol's event types on, the codex TUI takes a second press of a key
        it saw no release of for the key still being held, and ignores it (observed on 0.169.0)."""
        named = KEYS.get(key)
        if named is None:
            if len(key) != 1:
                raise ValueError(f"not a key: {key!r}; the named keys are {', '.join(KEYS)}")
            named = Key(key, ord(key))
        if named.code == KEYS["escape"].code and self._keyboard.flags & _DISAMBIGUATE:
            # A lone ESC byte followed by the release's CSI reads as the start of one sequence: a terminal in the
            # kitty protocol's disambiguate mode sends Esc as `CSI 27 u` (observed: `[27;` typed into the composer).
            self._write("\x1b[27u")
        else:
            self._write(named.press)
        if self._keyboard.flags & _REPORT_EVENT_TYPES:
            self._write(named.release())

    def paste(self, text: str) -> None:
        """Text pasted in one go (bracketed paste), as a person pastes a key or a long prompt."""
        self._write(_PASTE_START + text + _PASTE_END)

    # -- the end -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """End the program (SIGTERM, then SIGKILL) and its pty."""
        if self._process.isalive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(Exception):
                self._drain(2.0)
            if self._process.isalive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._process.close(force=True)

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._eof and (remaining := deadline - time.monotonic()) > 0:
            self._read(remaining)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode_complete(data: bytes) -> tuple[str, bytes]:
    """Decode what is complete UTF-8 and keep an incomplete trailing sequence for the next chunk."""
    for cut in range(len(data), max(len(data) - 4, -1), -1):
        try:
            return data[:cut].decode("utf-8"), data[cut:]
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace"), b""
