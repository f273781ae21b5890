"""What the phone shows of a turn while it runs, and of a turn that finished while the phone was away.

Plain values, rebuilt from what the daemon sent: the live notifications of this connection (`item/started`,
`item/commandExecution/outputDelta`, `item/completed`, `turn/completed`) or, after the phone comes back, the thread
as `thread/read` returns it. Both daemons send the same notifications, so a scenario reads the same view on either.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_SHELLS = frozenset({"bash", "sh", "zsh"})


def display_command(command: Any) -> str:
    """A command as a person reads it: the script of a `bash -c '...'` / `bash -lc '...'` wrapper, as Codex's own
    clients show it, else the command as sent (an argv list joined)."""
    if isinstance(command, list):
        command = shlex.join(str(part) for part in command)
    text = str(command or "")
    try:
        argv = shlex.split(text)
    except ValueError:
        return text
    if len(argv) == 3 and argv[0].rsplit("/", 1)[-1] in _SHELLS and argv[1] in ("-c", "-lc"):
        return argv[2]
    return text


@dataclass
class CommandView:
    item_id: str
    command: str  # as the person reads it
    status: str = "inProgress"
    output: str = ""  # what arrived so far: the deltas while it ran, the whole output once it ended
    deltas: int = 0  # output chunks that arrived while the command was still running
    exit_code: int | None = None


@dataclass
class FileChangeView:
    item_id: str
    diffs: dict[str, str]  # path -> unified diff
    status: str = "inProgress"


@dataclass
class TurnView:
    turn_id: str
    status: str = "inProgress"
    said: list[str] = field(default_factory=list)  # the request, then follow-ups that steered the turn
    answers: list[str] = field(default_factory=list)  # Codex's messages
    commands: list[CommandView] = field(default_factory=list)
    changes: list[FileChangeView] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # paths on the Mac of the images Codex showed

    def command(self, item_id: str) -> CommandView | None:
        return next((c for c in self.commands if c.item_id == item_id), None)

    def change(self, item_id: str) -> FileChangeView | None:
        return next((c for c in self.changes if c.item_id == item_id), None)

    def item_done(self, item_id: str) -> bool:
        found = self.command(item_id) or self.change(item_id)
        return found is not None and found.status != "inProgress"

    def take(self, item: dict[str, Any], *, completed: bool) -> None:
        kind, item_id = item.get("type"), str(item.get("id"))
        if kind == "userMessage" and completed:
            self.said.extend(str(part.get("text")) for part in item.get("content") or []
                             if isinstance(part, dict) and part.get("type") == "text")
        elif kind == "agentMessage" and completed:
            self.answers.append(str(item.get("text") or ""))
        elif kind == "imageView" and completed:
            self.images.append(str(item.get("path")))
        elif kind == "commandExecution":
            command = self.command(item_id)
            if command is None:
                command = CommandView(item_id, display_command(item.get("command")))
                self.commands.append(command)
            command.status = str(item.get("status"))
            if completed:
                command.output = str(item.get("aggregatedOutput") or "")
                command.exit_code = item.get("exitCode")
        elif kind == "fileChange":
            change = self.change(item_id)
            diffs = {str(c.get("path")): str(c.get("diff")) for c in item.get("changes") or [] if isinstance(c, dict)}
            if change is None:
                change = FileChangeView(item_id, diffs)
                self.changes.append(change)
            change.status = str(item.get("status"))

    def output_delta(self, item_id: str, delta: str) -> None:
        command = self.command(item_id)
        if command is not None and command.status == "inProgress":
            command.output += delta
            command.deltas += 1


def live_turns(notifications: Iterable[Any]) -> dict[str, TurnView]:
    """The turns this connection watched, by id, from its notifications (objects with `method` and `params`)."""
    turns: dict[str, TurnView] = {}
    for note in notifications:
        params = note.params if isinstance(note.params, dict) else {}
        turn_id = params.get("turnId") or (params.get("turn") or {}).get("id")
        if not isinstance(turn_id, str):
            continue
        turn = turns.setdefault(turn_id, TurnView(turn_id))
        item = params.get("item")
        if note.method in ("item/started", "item/completed") and isinstance(item, dict):
            turn.take(item, completed=note.method == "item/completed")
        elif note.method == "item/commandExecution/outputDelta":
            turn.output_delta(str(params.get("itemId")), str(params.get("delta", "")))
        elif note.method == "turn/completed":
            turn.status = str((params.get("turn") or {}).get("status"))
    return turns


def read_turns(thread: dict[str, Any]) -> dict[str, TurnView]:
    """The turns of a thread as `thread/read` (with `includeTurns`) returns it."""
    turns: dict[str, TurnView] = {}
    for wire in thread.get("turns") or []:
        if not isinstance(wire, dict):
            continue
        turn = TurnView(str(wire.get("id")), status=str(wire.get("status")))
        for item in wire.get("items") or []:
            if isinstance(item, dict):
                turn.take(item, completed=True)
        turns[turn.turn_id] = turn
    return turns
