"""Threads as a client reads them back (`thread/list`, `thread/read`, `thread/turns/list`), shaped as codex
app-server 0.169.0 answers the TUI (`tests/fixtures/tui_traffic/signed-in-start.jsonl`).

The real daemon reads these from the thread's rollout and its state database, not from the live thread, so a
thread read back differs from the one `thread/start` announced: `threadSource` is null, `gitInfo` holds the
project's repository as the thread found it (commit, branch, origin), and `thread/list` leaves
`canAcceptDirectInput` null. Each read comes with a read state: the first turn nobody has marked read, and a
revision. Turns read back carry their times and `itemsView: "summary"`, their items the keys a rollout keeps.

What the recordings do not show is kept simple and said here: the mock marks nothing read (no client in the
recordings does), so the first unread turn is the thread's first; the revision changes when a turn is added;
`thread/turns/list` pages newest first with an offset cursor.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol


# What this module reads of `threads.ThreadRecord` and `TurnRecord` (described, not imported: `threads` uses this
# module, and the package keeps no import cycle).
class TurnRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> dict[str, Any] | None: ...
    @property
    def items(self) -> Sequence[dict[str, Any]]: ...
    @property
    def started_at(self) -> int | None: ...
    @property
    def completed_at(self) -> int | None: ...
    @property
    def duration_ms(self) -> int | None: ...


class ThreadRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def cwd(self) -> str: ...
    @property
    def updated_at(self) -> int: ...
    @property
    def turns(self) -> Sequence[TurnRecord]: ...
    def to_wire(self, include_turns: bool = False) -> dict[str, Any]: ...

_REVISIONS = uuid.UUID("6f1d0c2e-5d3b-4f7a-9a51-2c4e8b7d9f10")  # the namespace read-state revisions are made in
_USER_MESSAGE = {"clientId": None}
_AGENT_MESSAGE = {"moderation": None, "phase": None, "memoryCitation": None, "delivery": None, "questions": None}


async def git_info(folder: str) -> dict[str, Any] | None:
    """`{sha, branch, originUrl}` of the repository `folder` is in; None outside one (or without git)."""

    async def git(*args: str) -> str | None:
        try:
            process = await asyncio.create_subprocess_exec(
                "git", "-C", folder, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except OSError:
            return None
        out, _ = await process.communicate()
        return (out.decode().strip() or None) if process.returncode == 0 else None

    sha = await git("rev-parse", "HEAD")
    if sha is None:
        return None
    return {"sha": sha, "branch": await git("rev-parse", "--abbrev-ref", "HEAD"),
            "originUrl": await git("config", "--get", "remote.origin.url")}


def read_state(thread: ThreadRecord) -> dict[str, Any] | None:
    if not thread.turns:
        return None
    revision = uuid.uuid5(_REVISIONS, f"{thread.id}/{len(thread.turns)}")
    return {"firstUnread": {"type": "turn", "turnId": thread.turns[0].id}, "revision": str(revision)}


async def stored_thread(thread: ThreadRecord, *, listed: bool) -> dict[str, Any]:
    wire = thread.to_wire()
    wire.update(threadSource=None, gitInfo=await git_info(thread.cwd))
    if listed:
        wire["canAcceptDirectInput"] = None
    return wire


def backwards_cursor(threads: Sequence[ThreadRecord]) -> str | None:
    """Where a backward page would start: the first listed thread's recency, as an ISO time (None when empty)."""
    if not threads:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(threads[0].updated_at))


def stored_turn(turn: TurnRecord) -> dict[str, Any]:
    # Items keep their own times where the daemon stamped them; else the turn's (to the second).
    started = (turn.started_at or 0) * 1000
    completed = None if turn.completed_at is None else turn.completed_at * 1000
    items = []
    for item in turn.items:
        stored = dict(item)
        defaults = _USER_MESSAGE if item.get("type") == "userMessage" else \
            _AGENT_MESSAGE if item.get("type") == "agentMessage" else {}
        for key, value in defaults.items():
            stored.setdefault(key, value)
        if item.get("type") == "userMessage":
            stored["content"] = [{**part, "text_elements": part.get("text_elements", [])} if part.get("type") == "text"
                                 else part for part in item.get("content", [])]
        if item.get("type") in ("userMessage", "agentMessage"):
            stored.setdefault("startedAtMs", started)
            stored.setdefault("completedAtMs", completed if completed is not None else started)
        items.append(stored)
    return {
        "id": turn.id, "rootTurnId": turn.id, "items": items, "itemsView": "summary", "status": turn.status,
        "error": turn.error, "startedAt": turn.started_at, "completedAt": turn.completed_at,
        "durationMs": turn.duration_ms,
    }


def turns_page(thread: ThreadRecord, cursor: object, limit: object) -> dict[str, Any]:
    newest_first = list(reversed(thread.turns))
    start = int(cursor) if isinstance(cursor, str) and cursor.isdigit() else 0
    size = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else len(newest_first)
    page = newest_first[start : start + size]
    end = start + len(page)
    ordinal = len(thread.turns) - start
    backwards = json.dumps({"requestedThreadId": thread.id, "rolloutOrdinal": ordinal, "includeAnchor": True,
                            "scope": {"kind": "turns"}}, separators=(",", ":")) if page else None
    return {"data": [stored_turn(turn) for turn in page],
            "nextCursor": str(end) if end < len(newest_first) else None, "backwardsCursor": backwards}
