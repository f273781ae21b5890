"""Codex's `apply_patch` format, read and applied as plain values (the mock daemon's half of the file-change tool).

A patch is `*** Begin Patch`, then per file `*** Update File: <path>` followed by hunks (`@@` then lines starting
" " for context, "-" to remove, "+" to add), then `*** End Patch`. A hunk applies where its old lines (context and
removed) appear in the file, first match after the previous hunk. Only updates are read: the scripted model never
adds or deletes files, and anything else is a typed error, as is a hunk that does not match. The change is shown to
clients as the unified diff the real daemon shows (one line of context, no file headers).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from simulators.protocol.errors import ErrorCode, PairsimError

BEGIN, END, UPDATE = "*** Begin Patch", "*** End Patch", "*** Update File: "


class PatchNotApplied(PairsimError):
    """A patch that cannot be read, or whose lines do not match the file; nothing is written."""

    code = ErrorCode.PROTOCOL_VIOLATION


@dataclass(frozen=True)
class FileUpdate:
    path: str
    hunks: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (old lines, new lines), without newlines

    def apply(self, text: str) -> str:
        """`text` with every hunk applied, or PatchNotApplied."""
        lines = text.split("\n")
        trailing_newline = text.endswith("\n")
        if trailing_newline:
            lines.pop()
        position = 0
        for old, new in self.hunks:
            at = _find(lines, old, position)
            if at is None:
                raise PatchNotApplied(f"apply_patch verification failed: failed to find expected lines in {self.path}")
            lines[at : at + len(old)] = list(new)
            position = at + len(new)
        return "\n".join(lines) + ("\n" if trailing_newline else "")


def _find(lines: list[str], wanted: tuple[str, ...], start: int) -> int | None:
    for index in range(start, len(lines) - len(wanted) + 1):
        if tuple(lines[index : index + len(wanted)]) == wanted:
            return index
    return None


def parse_patch(patch: str) -> list[FileUpdate]:
    rows = patch.strip("\n").split("\n")
    if not rows or rows[0].strip() != BEGIN or rows[-1].strip() != END:
        raise PatchNotApplied("invalid patch: it must start with '*** Begin Patch' and end with '*** End Patch'")
    updates: list[FileUpdate] = []
    path: str | None = None
    hunks: list[tuple[list[str], list[str]]] = []
    for row in rows[1:-1]:
        if row.startswith(UPDATE):
            if path is not None:
                updates.append(_update(path, hunks))
            path, hunks = row[len(UPDATE):].strip(), []
        elif row.startswith("*** "):
            raise PatchNotApplied(f"invalid patch: unsupported operation {row.strip()!r}")
        elif path is None:
            raise PatchNotApplied("invalid patch: lines before any '*** Update File:'")
        elif row.startswith("@@"):
            hunks.append(([], []))
        else:
            if not hunks:
                hunks.append(([], []))
            tag, body = row[:1], row[1:]
            if tag not in (" ", "-", "+"):
                raise PatchNotApplied(f"invalid patch: unexpected line {row!r}")
            if tag != "+":
                hunks[-1][0].append(body)
            if tag != "-":
                hunks[-1][1].append(body)
    if path is None:
        raise PatchNotApplied("invalid patch: it changes no file")
    updates.append(_update(path, hunks))
    return updates


def _update(path: str, hunks: list[tuple[list[str], list[str]]]) -> FileUpdate:
    if not path:
        raise PatchNotApplied("invalid patch: an update names no file")
    return FileUpdate(path, tuple((tuple(old), tuple(new)) for old, new in hunks if old or new))


def unified_diff(before: str, after: str) -> str:
    """The change as clients are shown it: hunks with one line of context, no `---`/`+++` headers."""
    lines = list(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=1))
    return "".join(lines[2:])
