"""The mock daemon's threads and turns: a turn is a conversation with the backend's model, as the real daemon has it.

A turn sends the person's words to the model (`model_client.py`: workspace routing discovery, then the Responses
socket) and does what the model asks, in the tool shape this daemon offers (`exec_command`, `apply_patch`,
`view_image`), until the model answers without a tool call. The model is the backend's scripted one
(`simulators/backend/model_scripts.py`), so the mock and the real daemon play the same scripts. The work is real: a
command the model asks for runs in the Mac's project folder (`Workspace`) as `/bin/bash -c <cmd>`, its output
streaming to the client as `item/commandExecution/outputDelta`; a patch is applied to the file on disk; an image is
read from the project. A command the model wants to run outside the sandbox, and every file change, waits for the
person's approval first; a declined command never starts and a declined edit never touches the file. The message
order per approval is the real server's: `item/started`, the approval request, the client's `{decision}`,
`serverRequest/resolved`, `item/completed`; `cancel` ends the turn `interrupted`. Around them, as the real server
(0.169.0, the TUI's recordings in tests/fixtures/tui_traffic): `thread/status/changed` (active, waiting on an
approval, idle), `thread/tokenUsage/updated` after each model response, `turn/diff/updated` once a file changed,
`thread/readState/changed` when a turn completed, and `turn/interrupt` closes the model socket mid-response and ends
the turn `interrupted`. A follow-up sent with `turn/steer`
while the model is answering interrupts that answer (`response.interrupt`) and goes with the next request. Turn
events go to the connection that started the turn; a turn goes on when that client leaves, unless it was waiting
for that client's approval. Threads are seeded deterministically, so a phone has something to list.
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import hashlib
import json
import logging
import random
import shlex
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.daemon import thread_history
from simulators.daemon.app_server import (
    APP_SERVER_VERSION,
    AppServer,
    AppServerConnection,
    ConnectionClosed,
    RequestContext,
)
from simulators.daemon.model_client import INTERRUPTED, ModelAccess, ModelClient, ModelUnavailable
from simulators.daemon.workspace import CommandNotStarted, EditNotApplied, Workspace
from simulators.protocol.apply_patch import PatchNotApplied, parse_patch, unified_diff
from simulators.protocol.jsonrpc import Response, invalid_request, invalid_request_shape, invalid_type
from simulators.protocol.responses import APPLY_PATCH, ESCALATED, EXEC_COMMAND, VIEW_IMAGE

log = logging.getLogger("pairsim.daemon.threads")

DEFAULT_PAGE_SIZE = 25
DEFAULT_MODEL = "gpt-6.1-sol"  # the catalogue's default model (simulators/daemon/data/model_catalogue.json)
MAX_PAGE_SIZE = 100

ACCEPT_DECISIONS = frozenset({"accept", "acceptForSession"})
DECISIONS = frozenset({"accept", "acceptForSession", "decline", "cancel"})

SEEDED_PREVIEWS = (
    "Fix the flaky login test",
    "Add retry with backoff to the sync client",
    "Explain the failing CI job on main",
    "Rename the settings module and update imports",
    "Write a migration for the sessions table",
)

# The tools this daemon offers the model: the real binary's tools for models without code mode.
FUNCTION_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": EXEC_COMMAND, "strict": False,
     "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
     "parameters": {"type": "object", "additionalProperties": False, "required": ["cmd"], "properties": {
         "cmd": {"type": "string"}, "justification": {"type": "string"}, "login": {"type": "boolean"},
         "sandbox_permissions": {"type": "string", "enum": ["use_default", ESCALATED]},
         "workdir": {"type": "string"}}}},
    {"type": "custom", "name": APPLY_PATCH,
     "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool."},
    {"type": "function", "name": VIEW_IMAGE, "strict": False,
     "description": "View a local image file from the filesystem when visual inspection is needed.",
     "parameters": {"type": "object", "additionalProperties": False, "required": ["path"],
                    "properties": {"path": {"type": "string"}}}},
]
REJECTED = "rejected by user"

# -- what the real server adds to a turn (issue 11, the TUI's recordings) ---------------------------------------------
DATA = Path(__file__).resolve().parent / "data"
MODEL_CONTEXT_WINDOW = 258_400  # the catalogue model's, as the real daemon reports it in token usage
ENVIRONMENT = "local"
WAITING_ON_APPROVAL = "waitingOnApproval"


def _collaboration_instructions() -> str:
    return (DATA / "collaboration_mode_default.md").read_text(encoding="utf-8")


def _git_blob(text: str) -> str:
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def turn_diff(root: Path, baselines: dict[Path, str]) -> str:
    """The turn's changes as `git diff` shows them (the real `turn/diff/updated`): each file the turn changed,
    against its content before the turn's first change to it."""
    parts = []
    for path, before in baselines.items():
        try:
            after = path.read_text(encoding="utf-8")
        except OSError:
            after = ""
        if after == before:
            continue
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        body = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=3)
        hunks = "".join(line for index, line in enumerate(body) if index >= 2)
        parts.append(f"diff --git a/{name} b/{name}\nindex {_git_blob(before)}..{_git_blob(after)}\n"
                     f"--- a/{name}\n+++ b/{name}\n{hunks}")
    return "".join(parts)


@dataclass
class TurnRecord:
    id: str
    status: str = "inProgress"
    error: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # each item as completed, in order
    started_at: int | None = None  # seconds, set when the turn starts running (`turn/started`)
    completed_at: int | None = None
    duration_ms: int | None = None
    baselines: dict[Path, str] = field(default_factory=dict)  # files the turn changed, as they were before
    interrupt_requested: bool = False  # `turn/interrupt` asked for it to stop

    def to_wire(self, include_items: bool = False, *, summary: bool = False) -> dict[str, Any]:
        # The real turn object: `itemsView` says which items it carries: none yet (`notLoaded`), the answer of a
        # completed turn (`summary`: its last agent message), or all of them (`full`, a thread read back).
        if include_items:
            items, view = list(self.items), "full"
        elif summary:
            answers = [item for item in self.items if item.get("type") == "agentMessage"]
            items, view = answers[-1:], "summary"
        else:
            items, view = [], "notLoaded"
        return {"id": self.id, "rootTurnId": self.id, "items": items, "itemsView": view, "status": self.status,
                "error": self.error, "startedAt": self.started_at, "completedAt": self.completed_at,
                "durationMs": self.duration_ms}


@dataclass
class ThreadRecord:
    id: str
    preview: str
    cwd: str
    created_at: int
    updated_at: int
    turns: list[TurnRecord] = field(default_factory=list)
    originator: str = "codex_vscode"
    path: str | None = None  # where the real daemon would keep its rollout (the mock keeps threads in memory)
    approved_for_session: set[str] = field(
        default_factory=set
    )  # item types the user accepted for the session
    followups: list[str] = field(default_factory=list)  # sent with turn/steer, for the model's next request
    model: ModelClient | None = None
    settings: dict[str, Any] | None = None  # as last announced (`thread/settings/updated`)
    turn_task: asyncio.Task[None] | None = None
    token_totals: tuple[int, int] = (0, 0)  # input, output tokens over the thread's model responses
    read_revision: str = ""

    @property
    def active_turn(self) -> TurnRecord | None:
        return next((t for t in self.turns if t.status == "inProgress"), None)

    def to_wire(self, include_turns: bool = False) -> dict[str, Any]:
        # The real daemon's thread object (0.169.0, tests/fixtures/tui_traffic): what pairsim does not simulate
        # (sections, projects, forks, sub-agents) is null, as on a thread that has none.
        return {
            "id": self.id,
            "environments": [{"environmentId": "local", "cwd": self.cwd, "runtimeWorkspaceRoots": [self.cwd]}],
            "extra": None,
            "sessionId": self.id,
            "forkedFromId": None,
            "attachedToThreadId": None,
            "parentThreadId": None,
            "preview": self.preview,
            "ephemeral": False,
            "section": None,
            "sectionEnteredAt": None,
            "projectId": None,
            "historyMode": "paginated",
            "modelProvider": "openai",
            "model": DEFAULT_MODEL,
            "reasoningEffort": None,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "recencyAt": self.updated_at,
            "status": {"type": "active", "activeFlags": []} if self.active_turn else {"type": "idle"},
            "path": self.path,
            "cwd": self.cwd,
            "cliVersion": APP_SERVER_VERSION,
            "originator": self.originator,
            "source": "vscode",  # what 0.169.0 records for a thread an app-server client started
            "canAcceptDirectInput": True,
            "threadSource": "user",
            "agentNickname": None,
            "agentRole": None,
            "gitInfo": None,
            "name": None,
            "daybreakEnabled": None,
            "turns": [t.to_wire(include_items=True) for t in self.turns] if include_turns else [],
        }


class _TurnCancelled(Exception):
    """The person answered `cancel`: the turn stops here and ends `interrupted`."""


def _decision(answer: Response | Any) -> str:
    """The client's decision; anything unreadable counts as `decline` (the safe side)."""
    if not isinstance(answer, Response) or not isinstance(answer.result, dict):
        return "decline"
    decision = answer.result.get("decision")
    if isinstance(decision, str) and decision in DECISIONS:
        return decision
    if isinstance(decision, dict) and len(decision) == 1:
        # acceptWithExecpolicyAmendment / applyNetworkPolicyAmendment: an accept with a rule attached.
        return "accept"
    log.warning("unreadable approval decision; treating it as decline")
    return "decline"


def _user_input(words: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": words}]}


class ThreadService:
    """Threads and their turns, registered on an `AppServer` by `install`. Threads work in `workspace`; turns reach
    the model through `model` (set once the Mac knows its backend and sign-in; without it a turn fails)."""

    def __init__(
        self, server: AppServer, *, workspace: Workspace, seed: int = 0, seeded_threads: int = 3,
        model: ModelAccess | None = None,
    ) -> None:
        self.server = server
        self.workspace = workspace
        self.model = model
        self.cwd = str(workspace.root)
        self._rng = random.Random(seed)
        self._threads: dict[str, ThreadRecord] = {}
        self._item_ids = 0
        self._turn_ids = 0
        self._settled: dict[str, asyncio.Event] = {}
        self._turns_ended = asyncio.Condition()
        self.loaded: list[str] = []  # threads started in this process (`thread/loaded/list`)
        now = server.clock.now_int()
        for index in range(seeded_threads):
            created = now - 86_400 * (seeded_threads - index) - self._rng.randrange(3_600)
            thread = ThreadRecord(
                self._new_thread_id(),
                SEEDED_PREVIEWS[index % len(SEEDED_PREVIEWS)],
                self.cwd,
                created,
                created + 600,
            )
            self._threads[thread.id] = thread

    def install(self) -> ThreadService:
        self.server.register_method("thread/list", self._thread_list)
        self.server.register_method("thread/start", self._thread_start)
        self.server.register_method("thread/read", self._thread_read, required_params=("threadId",))
        self.server.register_method("turn/start", self._turn_start, required_params=("threadId", "input"))
        self.server.register_method("turn/steer", self._turn_steer,
                                    required_params=("threadId", "expectedTurnId", "input"))
        self.server.register_method("fs/readFile", self._fs_read_file, required_params=("path",))
        # -- issue 11: what the TUI calls around a turn
        self.server.register_method("turn/interrupt", self._turn_interrupt, required_params=("threadId", "turnId"))
        self.server.register_method("thread/readState/update", self._read_state_update,
                                    required_params=("threadId",))
        self.server.register_method("thread/turns/list", self._turns_list, required_params=("threadId",))
        return self

    async def close(self) -> None:
        """Close the threads' model sockets."""
        for thread in self._threads.values():
            if thread.model is not None:
                await thread.model.close()

    @property
    def threads(self) -> list[ThreadRecord]:
        """Most recently updated first, the order `thread/list` pages through."""
        return sorted(self._threads.values(), key=lambda t: (-t.updated_at, t.id))

    def thread(self, thread_id: str) -> ThreadRecord:
        try:
            return self._threads[thread_id]
        except KeyError:
            raise invalid_request(f"thread not found: {thread_id}") from None

    def _new_thread_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_item_id(self) -> str:
        self._item_ids += 1
        return f"item-{self._item_ids}"

    def _settled_event(self, item_id: str) -> asyncio.Event:
        return self._settled.setdefault(item_id, asyncio.Event())

    async def wait_item_settled(self, item_id: str) -> None:
        """Until the item is done with: the decision on it acted on (the command run or not, the edit applied or
        not) and recorded, or its turn ended without one."""
        await self._settled_event(item_id).wait()

    async def wait_idle(self, thread_id: str) -> None:
        """Until the thread has no turn in progress."""
        thread = self.thread(thread_id)
        async with self._turns_ended:
            await self._turns_ended.wait_for(lambda: thread.active_turn is None)

    # -- methods ---------------------------------------------------------------------------------------------

    async def _thread_list(self, ctx: RequestContext) -> dict[str, Any]:
        cursor, limit = ctx.params.get("cursor"), ctx.params.get("limit")
        start = 0
        if cursor is not None:
            if not isinstance(cursor, str) or not cursor.isdigit():
                raise invalid_request(f"invalid cursor: {cursor}")
            start = int(cursor)
        if limit is None:
            limit = DEFAULT_PAGE_SIZE
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise invalid_type(limit, "u32")
        limit = min(max(limit, 1), MAX_PAGE_SIZE)
        # A thread nobody has written to yet is not listed (the real daemon lists threads from their rollouts).
        threads = [thread for thread in self.threads if thread.preview]
        # issue 11: the TUI's filters. No mock thread is in a section; each has the source its client gave it.
        sources = ctx.params.get("sourceKinds")
        if ctx.params.get("sortKey") == "section_position":
            threads = []
        elif isinstance(sources, list) and sources:
            threads = [thread for thread in threads if thread.to_wire()["source"] in sources]
        page = threads[start : start + limit]
        end = start + len(page)
        states = {t.id: state for t in page if (state := thread_history.read_state(t)) is not None}
        return {
            "data": [await thread_history.stored_thread(t, listed=True) for t in page],
            "readStates": states,
            "nextCursor": str(end) if end < len(threads) else None,
            "backwardsCursor": thread_history.backwards_cursor(page),
        }

    async def _thread_start(self, ctx: RequestContext) -> dict[str, Any]:
        cwd = ctx.params.get("cwd")
        now = self.server.clock.now_int()
        thread_id = self._new_thread_id()
        day = time.strftime("%Y/%m/%d", time.gmtime(now))
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(now))
        thread = ThreadRecord(thread_id, "", cwd if isinstance(cwd, str) else self.cwd, now, now,
                              originator=self.server.originator,
                              path=str(self.server.home / "sessions" / day / f"rollout-{stamp}-{thread_id}.jsonl"))
        self._threads[thread.id] = thread
        self.loaded.append(thread.id)
        wire = thread.to_wire()

        async def announce() -> None:
            await ctx.connection.notify("thread/started", {"thread": wire})

        ctx.after_response(announce)
        # The settings the thread runs with, as the real daemon reports them for a default configuration.
        return {
            "thread": wire, "model": DEFAULT_MODEL, "modelProvider": "openai", "serviceTier": None,
            "disabledPluginIds": [], "cwd": thread.cwd, "runtimeWorkspaceRoots": [thread.cwd],
            "instructionSources": [], "approvalPolicy": "on-request", "approvalsReviewer": "user",
            "sandbox": {"type": "readOnly", "networkAccess": False}, "activePermissionProfile": None,
            "reasoningEffort": None, "multiAgentMode": "explicitRequestOnly",
        }

    async def _thread_read(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        wire = thread.to_wire(include_turns=bool(ctx.params.get("includeTurns")))
        if not thread.preview:
            return {"thread": wire}  # nothing written yet: the live thread is all there is
        # issue 11: a thread with a rollout is read back from it, with its read state.
        stored = await thread_history.stored_thread(thread, listed=False)
        return {"thread": {**stored, "turns": wire["turns"]}, "readState": thread_history.read_state(thread)}

    async def _turns_list(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        return thread_history.turns_page(thread, ctx.params.get("cursor"), ctx.params.get("limit"))

    async def _turn_start(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        if thread.active_turn is not None:
            raise invalid_request(f"thread {thread.id} already has a turn in progress")
        self._turn_ids += 1
        turn = TurnRecord(f"turn-{self._turn_ids}")
        thread.turns.append(turn)
        thread.updated_at = self.server.clock.now_int()
        words = _first_text(ctx.params.get("input")) or ""
        if not thread.preview:
            thread.preview = words
        connection = ctx.connection
        message = _first_input(ctx.params.get("input"))
        client_id = ctx.params.get("clientUserMessageId")
        settings = self._turn_settings(thread, ctx.params)
        if settings != (thread.settings or self._thread_settings(thread)):
            # Before the answer, as the real server: the client's turn settings now hold for the thread.
            thread.settings = settings
            await connection.notify("thread/settings/updated", {"threadId": thread.id, "threadSettings": settings})

        async def run() -> None:
            thread.turn_task = asyncio.current_task()
            await self._run_turn(connection, thread, turn, words, message=message,
                                 client_id=client_id if isinstance(client_id, str) else None)

        ctx.after_response(run)
        return {"turn": turn.to_wire()}

    def _thread_settings(self, thread: ThreadRecord) -> dict[str, Any]:
        """A new thread's settings (what `thread/start` answered)."""
        return {
            "disabledPluginIds": [], "cwd": thread.cwd,
            "environments": [{"environmentId": ENVIRONMENT, "cwd": thread.cwd, "runtimeWorkspaceRoots": [thread.cwd]}],
            "approvalPolicy": "on-request", "approvalsReviewer": "user",
            "sandboxPolicy": {"type": "readOnly", "networkAccess": False}, "activePermissionProfile": None,
            "model": DEFAULT_MODEL, "modelProvider": "openai", "serviceTier": None, "effort": None, "summary": None,
            "collaborationMode": None, "multiAgentMode": "explicitRequestOnly", "personality": None,
        }

    def _turn_settings(self, thread: ThreadRecord, params: dict[str, Any]) -> dict[str, Any]:
        """The thread's settings with what a `turn/start` overrides (a key given as null keeps the setting)."""
        settings = dict(thread.settings or self._thread_settings(thread))
        for key, setting in (("model", "model"), ("serviceTier", "serviceTier"), ("effort", "effort"),
                             ("summary", "summary"), ("approvalPolicy", "approvalPolicy"),
                             ("personality", "personality")):
            if params.get(key) is not None:
                settings[setting] = params[key]
        mode = params.get("collaborationMode")
        if isinstance(mode, dict) and isinstance(mode.get("mode"), str):
            chosen = mode.get("settings") if isinstance(mode.get("settings"), dict) else {}
            instructions = chosen.get("developer_instructions")
            settings["collaborationMode"] = {"mode": mode["mode"], "settings": {
                "model": chosen.get("model") or settings["model"],
                "reasoning_effort": chosen.get("reasoning_effort"),
                # The server fills in the mode's own instructions when the client sends none.
                "developer_instructions": instructions if isinstance(instructions, str)
                else _collaboration_instructions() if mode["mode"] == "default" else None,
            }}
        return settings

    async def _turn_interrupt(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        turn = thread.active_turn
        if turn is None or turn.id != ctx.params.get("turnId"):
            raise invalid_request(f"no active turn {ctx.params.get('turnId')} to interrupt on thread {thread.id}")
        turn.interrupt_requested = True
        task = thread.turn_task

        async def stop() -> None:
            if task is not None and not task.done():
                task.cancel()

        ctx.after_response(stop)
        return {}

    async def _read_state_update(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        thread.read_revision = str(uuid.uuid4())
        state = {"firstUnread": None, "revision": thread.read_revision}
        await ctx.connection.notify("thread/readState/changed", {"threadId": thread.id, "readState": state})
        return {"readState": state}

    async def _turn_steer(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        turn = thread.active_turn
        expected = ctx.params.get("expectedTurnId")
        if turn is None or turn.id != expected:
            raise invalid_request(f"no active turn {expected} to steer on thread {thread.id}")
        words = _first_text(ctx.params.get("input"))
        if not words:
            raise invalid_request("input must not be empty")
        thread.followups.append(words)
        await self._user_message(ctx.connection, {"threadId": thread.id, "turnId": turn.id}, turn, words)
        if thread.model is not None:
            await thread.model.interrupt()
        return {"turnId": turn.id}

    async def _fs_read_file(self, ctx: RequestContext) -> dict[str, Any]:
        path = ctx.params["path"]
        if not isinstance(path, str) or not Path(path).is_absolute():
            raise invalid_request_shape("AbsolutePathBuf deserialized without a base path")
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            raise invalid_request(f"failed to read {path}: {exc.strerror}") from None
        return {"dataBase64": base64.b64encode(data).decode("ascii")}

    # -- a turn: the model says, the Mac does ----------------------------------------------------------------------

    def _model_for(self, thread: ThreadRecord) -> ModelClient:
        if self.model is None:
            raise ModelUnavailable("Codex is not signed in to ChatGPT")
        if thread.model is None:
            thread.model = ModelClient(self.model, thread.id)
        return thread.model

    async def _status(self, connection: AppServerConnection, thread: ThreadRecord, *flags: str,
                      idle: bool = False) -> None:
        status = {"type": "idle"} if idle else {"type": "active", "activeFlags": list(flags)}
        await connection.notify("thread/status/changed", {"threadId": thread.id, "status": status})

    async def _token_usage(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                           base: dict[str, Any], usage: tuple[int, int]) -> None:
        """After each model response: what it used, and the thread's total; then the turn's diff again, if any."""
        total_in, total_out = thread.token_totals[0] + usage[0], thread.token_totals[1] + usage[1]
        thread.token_totals = (total_in, total_out)

        def breakdown(inputs: int, outputs: int) -> dict[str, int]:
            return {"totalTokens": inputs + outputs, "inputTokens": inputs, "cachedInputTokens": 0,
                    "cacheWriteInputTokens": 0, "outputTokens": outputs, "reasoningOutputTokens": 0}

        await connection.notify("thread/tokenUsage/updated", {**base, "tokenUsage": {
            "total": breakdown(total_in, total_out), "last": breakdown(*usage),
            "modelContextWindow": MODEL_CONTEXT_WINDOW}})
        await self._diff(connection, turn, base)

    async def _diff(self, connection: AppServerConnection, turn: TurnRecord, base: dict[str, Any]) -> None:
        if turn.baselines:
            diff = await asyncio.to_thread(turn_diff, self.workspace.root, turn.baselines)
            await connection.notify("turn/diff/updated", {**base, "diff": diff})

    async def _run_turn(
        self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord, words: str,
        *, message: dict[str, Any] | None = None, client_id: str | None = None,
    ) -> None:
        base = {"threadId": thread.id, "turnId": turn.id}
        started = time.monotonic()
        try:
            await self._status(connection, thread)
            turn.started_at = self.server.clock.now_int()
            await connection.notify("turn/started", {"threadId": thread.id, "turn": turn.to_wire()})
            await self._user_message(connection, base, turn, words, message=message, client_id=client_id)
            model = self._model_for(thread)
            pending = [_user_input(words)]
            while True:
                answer = await model.respond(turn.id, pending, FUNCTION_TOOLS)
                pending = []
                if answer is not INTERRUPTED:
                    assert isinstance(answer, list)
                    try:
                        for item in answer:
                            output = await self._act(connection, thread, turn, base, item)
                            if output is not None:
                                pending.append(output)
                    finally:
                        # The response was complete: its usage counts even when the person cancelled the turn.
                        if not turn.interrupt_requested:
                            await self._token_usage(connection, thread, turn, base, model.last_usage)
                pending.extend(_user_input(followup) for followup in thread.followups)
                thread.followups.clear()
                if not pending and answer is not INTERRUPTED:
                    break
            turn.status = "completed"
        except _TurnCancelled:
            turn.status = "interrupted"
        except ConnectionClosed:
            # The client left mid-approval: the turn ends and nobody waits for an answer that cannot come.
            turn.status = "interrupted"
            return
        except ModelUnavailable as exc:
            turn.status = "failed"
            turn.error = {"message": exc.message, "codexErrorInfo": "other", "additionalDetails": None}
            await connection.notify("error", {"error": turn.error, "willRetry": False, **base})
        except asyncio.CancelledError:
            if not turn.interrupt_requested:
                raise
            # `turn/interrupt`: as the real daemon, drop the model's socket mid-response (the model sees the
            # interruption) and end the turn.
            turn.status = "interrupted"
            if thread.model is not None:
                model_client, thread.model = thread.model, None
                await model_client.close()
        finally:
            if turn.status == "inProgress":
                turn.status = "interrupted"
            turn.completed_at = self.server.clock.now_int()
            turn.duration_ms = round((time.monotonic() - started) * 1000)
            thread.followups.clear()
            thread.turn_task = None
            thread.updated_at = self.server.clock.now_int()
            async with self._turns_ended:
                self._turns_ended.notify_all()
        if turn.status == "completed":
            thread.read_revision = str(uuid.uuid4())
            await connection.notify("thread/readState/changed", {"threadId": thread.id, "readState": {
                "firstUnread": {"type": "turn", "turnId": turn.id}, "revision": thread.read_revision}})
        await self._status(connection, thread, idle=True)
        await connection.notify("turn/completed", {"threadId": thread.id,
                                                   "turn": turn.to_wire(summary=turn.status == "completed")})

    async def _started(self, connection: AppServerConnection, base: dict[str, Any], item: dict[str, Any]) -> None:
        now = self.server.clock.now_ms()
        item.setdefault("startedAtMs", now)
        item.setdefault("completedAtMs", None)
        await connection.notify("item/started", {**base, "item": dict(item), "startedAtMs": item["startedAtMs"]})

    async def _completed(self, connection: AppServerConnection, base: dict[str, Any], turn: TurnRecord,
                         item: dict[str, Any]) -> None:
        item["completedAtMs"] = now = self.server.clock.now_ms()
        turn.items.append(dict(item))
        await connection.notify("item/completed", {**base, "item": dict(item), "contentTokenCount": None,
                                                   "completedAtMs": now})

    async def _user_message(self, connection: AppServerConnection, base: dict[str, Any], turn: TurnRecord,
                            words: str, *, message: dict[str, Any] | None = None,
                            client_id: str | None = None) -> None:
        elements = (message or {}).get("text_elements")
        content: dict[str, Any] = {"type": "text", "text": words}
        if isinstance(elements, list):
            content["text_elements"] = elements
        item: dict[str, Any] = {"type": "userMessage", "id": self._new_item_id()}
        if client_id is not None:
            item["clientId"] = client_id
        item["content"] = [content]
        await self._started(connection, base, item)
        await self._completed(connection, base, turn, item)

    async def _act(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                   base: dict[str, Any], item: dict[str, Any]) -> dict[str, Any] | None:
        """Do one output item of the model's; the tool output to send back, or None for a message."""
        kind, name, call_id = item.get("type"), item.get("name"), str(item.get("call_id", ""))
        if kind == "message":
            text = "".join(part.get("text", "") for part in item.get("content") or [] if isinstance(part, dict))
            message = {"type": "agentMessage", "moderation": None, "id": self._new_item_id(), "text": text,
                       "phase": None, "memoryCitation": None, "delivery": None, "questions": None}
            await self._started(connection, base, message)
            await self._completed(connection, base, turn, message)
            return None
        if kind == "function_call" and name == EXEC_COMMAND:
            output = await self._command(connection, thread, turn, base, _arguments(item))
            return {"type": "function_call_output", "call_id": call_id, "output": output}
        if kind == "custom_tool_call" and name == APPLY_PATCH:
            output = await self._file_change(connection, thread, turn, base, str(item.get("input", "")))
            return {"type": "custom_tool_call_output", "call_id": call_id, "output": output}
        if kind == "function_call" and name == VIEW_IMAGE:
            output = await self._view_image(connection, thread, turn, base, _arguments(item))
            return {"type": "function_call_output", "call_id": call_id, "output": output}
        if kind in ("function_call", "custom_tool_call"):
            return {"type": f"{kind}_output", "call_id": call_id, "output": f"unsupported call: {name}"}
        return None

    async def _approve(
        self,
        connection: AppServerConnection,
        thread: ThreadRecord,
        kind: str,
        method: str,
        params: dict[str, Any],
    ) -> str:
        if kind in thread.approved_for_session:
            return "acceptForSession"
        answer = await connection.request(method, params)
        await connection.notify("serverRequest/resolved", {"threadId": thread.id, "requestId": answer.id})
        await self._status(connection, thread)
        decision = _decision(answer)
        if decision == "acceptForSession":
            thread.approved_for_session.add(kind)
        return decision

    async def _command(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                       base: dict[str, Any], arguments: dict[str, Any]) -> str:
        """Ask (when the model wants it run outside the sandbox), then run or skip the command. Raises
        `_TurnCancelled` when the person cancelled the turn."""
        item_id = self._new_item_id()
        try:
            return await self._command_item(connection, thread, turn, base, item_id, arguments)
        finally:
            self._settled_event(item_id).set()

    async def _command_item(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                            base: dict[str, Any], item_id: str, arguments: dict[str, Any]) -> str:
        cmd = str(arguments.get("cmd", ""))
        argv = ["/bin/bash", "-lc" if arguments.get("login", True) else "-c", cmd]
        command = shlex.join(argv)
        actions = [{"type": "unknown", "command": cmd}]
        item: dict[str, Any] = {
            "type": "commandExecution",
            "id": item_id,
            "pluginId": None,
            "scriptPath": None,
            "command": command,
            "cwd": thread.cwd,
            "processId": None,
            "source": "agent",
            "status": "inProgress",
            "commandActions": actions,
            "aggregatedOutput": None,
            "exitCode": None,
            "durationMs": None,
        }
        escalated = arguments.get("sandbox_permissions") == ESCALATED
        asks = escalated and "commandExecution" not in thread.approved_for_session
        if asks:
            await self._status(connection, thread, WAITING_ON_APPROVAL)
        await self._started(connection, base, item)
        decision = "accept"
        if escalated:
            try:
                amendment = shlex.split(cmd)
            except ValueError:
                amendment = [cmd]
            decision = await self._approve(
                connection,
                thread,
                "commandExecution",
                "item/commandExecution/requestApproval",
                {"kind": "command", **base, "itemId": item_id, "startedAtMs": item["startedAtMs"],
                 "environmentId": ENVIRONMENT, "reason": arguments.get("justification"), "command": command,
                 "cwd": thread.cwd, "commandActions": actions, "proposedExecpolicyAmendment": amendment,
                 "availableDecisions": ["accept", {"acceptWithExecpolicyAmendment": {
                     "execpolicy_amendment": amendment}}, "cancel"]},
            )
        if decision in ACCEPT_DECISIONS:

            async def stream(delta: str) -> None:
                await connection.notify("item/commandExecution/outputDelta", {**base, "itemId": item_id,
                                                                              "delta": delta})

            item.update(await self._run_command(argv, thread.cwd, stream))
            output = f"Exit code: {item['exitCode']}\nOutput:\n{item['aggregatedOutput']}"
        else:
            item.update(status="declined")
            output = f"exec_command failed: {REJECTED}"
        await self._completed(connection, base, turn, item)
        if decision == "cancel":
            raise _TurnCancelled
        return output

    async def _run_command(self, argv: list[str], cwd: str, stream: Any) -> dict[str, Any]:
        """The item's outcome fields for the approved command, from the process the Mac really ran."""
        try:
            run = await self.workspace.run(argv, cwd, on_output=stream)
        except CommandNotStarted as exc:
            log.warning("the approved command did not start: %s", exc.message)
            return {"status": "failed", "aggregatedOutput": exc.message, "exitCode": None, "durationMs": None}
        return {
            "status": "completed" if run.exit_code == 0 else "failed",
            "aggregatedOutput": run.output,
            "exitCode": run.exit_code,
            "durationMs": run.duration_ms,
            # As the real daemon reports a command it ran: the process, started by its unified exec.
            "processId": None if run.pid is None else str(run.pid),
            "source": "unifiedExecStartup",
        }

    async def _file_change(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                           base: dict[str, Any], patch: str) -> str:
        """Ask, then apply or skip the patch. Raises `_TurnCancelled` when the person cancelled the turn."""
        item_id = self._new_item_id()
        try:
            return await self._file_change_item(connection, thread, turn, base, item_id, patch)
        finally:
            self._settled_event(item_id).set()

    async def _file_change_item(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                                base: dict[str, Any], item_id: str, patch: str) -> str:
        try:
            updates = parse_patch(patch)
            edits = []
            for update in updates:
                path = Path(thread.cwd) / update.path
                before = path.read_text(encoding="utf-8")
                edits.append((path, unified_diff(before, update.apply(before))))
        except (PatchNotApplied, OSError, UnicodeDecodeError) as exc:
            # Like the real daemon: a patch that does not verify is refused before anyone is asked.
            return f"apply_patch verification failed: {getattr(exc, 'message', type(exc).__name__)}"
        item: dict[str, Any] = {
            "type": "fileChange",
            "id": item_id,
            "changes": [{"path": str(path), "kind": {"type": "update", "move_path": None}, "diff": diff}
                        for path, diff in edits],
            "status": "inProgress",
        }
        await self._started(connection, base, item)
        if "fileChange" not in thread.approved_for_session:
            await self._status(connection, thread, WAITING_ON_APPROVAL)
        decision = await self._approve(
            connection,
            thread,
            "fileChange",
            "item/fileChange/requestApproval",
            {**base, "itemId": item_id, "startedAtMs": item["startedAtMs"], "reason": None, "grantRoot": None},
        )
        status, output = "declined", f"patch {REJECTED}"
        if decision in ACCEPT_DECISIONS:
            try:
                for path, diff in edits:
                    if path not in turn.baselines:
                        turn.baselines[path] = path.read_text(encoding="utf-8")
                    self.workspace.apply(path, diff)
                status = "completed"
                output = "Success. Updated the following files:\n" + "\n".join(f"M {path}" for path, _ in edits)
            except EditNotApplied as exc:
                # E.g. the file changed since the model read it.
                log.warning("the approved file change did not apply: %s", exc.message)
                status, output = "failed", f"apply_patch failed: {exc.message}"
        item.update(status=status)
        await self._completed(connection, base, turn, item)
        if status == "completed":
            await self._diff(connection, turn, base)
        if decision == "cancel":
            raise _TurnCancelled
        return output

    async def _view_image(self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord,
                          base: dict[str, Any], arguments: dict[str, Any]) -> str:
        path = Path(thread.cwd) / str(arguments.get("path", ""))
        if not path.is_file():
            return f"unable to locate image at `{path}`"
        item = {"type": "imageView", "id": self._new_item_id(), "path": str(path)}
        await self._started(connection, base, item)
        await self._completed(connection, base, turn, item)
        return f"viewed {path}"


def _arguments(item: dict[str, Any]) -> dict[str, Any]:
    try:
        arguments = json.loads(str(item.get("arguments") or "{}"))
    except ValueError:
        return {}
    return arguments if isinstance(arguments, dict) else {}


def _first_input(items: object) -> dict[str, Any] | None:
    """The first text entry of a turn's input, as the client sent it."""
    if not isinstance(items, list):
        return None
    return next((entry for entry in items if isinstance(entry, dict) and entry.get("type") == "text"), None)


def _first_text(items: object) -> str | None:
    if not isinstance(items, list):
        return None
    for entry in items:
        if isinstance(entry, dict) and entry.get("type") == "text" and isinstance(entry.get("text"), str):
            return entry["text"]
    return None


def install_threads(server: AppServer, *, workspace: Workspace, seed: int = 0,
                    model: ModelAccess | None = None) -> ThreadService:
    """Seed a few threads working in `workspace` and serve `thread/*`, `turn/*` and `fs/readFile` on `server`."""
    return ThreadService(server, workspace=workspace, seed=seed, model=model).install()
