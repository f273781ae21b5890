"""A small scripted agent behind the mock app-server: threads, turns, and the approvals a phone answers.

Every turn runs the same script, so a scenario knows what to expect: the agent wants to run a command
(approval requested), then to edit a file (approval requested), then says what it did. The work is real: the
threads' folder is the Mac's `Workspace`, an accepted command runs there as a child process whose output, exit
code and duration go into `item/completed`, and an accepted edit is applied to the file on disk. A declined
command never starts and a declined edit never touches the file. The message order per approval is the real
server's: `item/started`, the approval request, the client's `{decision}`, `serverRequest/resolved`,
`item/completed`. A `cancel` decision ends the turn as `interrupted`. Turn events go to the connection that
started the turn. Threads are seeded deterministically, so a phone has something to list.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shlex
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.daemon.app_server import (
    APP_SERVER_VERSION,
    AppServer,
    AppServerConnection,
    ConnectionClosed,
    RequestContext,
)
from simulators.daemon.workspace import (
    LOGIN_FILE,
    SEED_FILES,
    CommandNotStarted,
    EditNotApplied,
    Workspace,
)
from simulators.protocol.jsonrpc import Response, invalid_request, invalid_type

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

# Cheap (a millisecond or two), present on every machine that runs pairsim, and what an agent would do first:
# find where the timeout is set. Shown to the person exactly as it is executed.
SCRIPT_ARGV = ("grep", "-n", "TIMEOUT", LOGIN_FILE)
SCRIPT_COMMAND = shlex.join(SCRIPT_ARGV)
SCRIPT_FILE = LOGIN_FILE
SCRIPT_DIFF = (
    "@@ -2,3 +2,3 @@\n"
    " \n"
    "-TIMEOUT = 1  # seconds to wait for the service to answer\n"
    "+TIMEOUT = 5  # seconds to wait for the service to answer\n"
    " \n"
)
# The project's files that the accepted edit changes, as they read afterwards.
SCRIPT_RESULT = {SCRIPT_FILE: SEED_FILES[SCRIPT_FILE].replace("TIMEOUT = 1 ", "TIMEOUT = 5 ")}
SCRIPT_MESSAGE_EDITED = f"I raised the login timeout in {SCRIPT_FILE} from 1 to 5 seconds."
SCRIPT_MESSAGE_NOT_EDITED = f"I left {SCRIPT_FILE} as it was."


@dataclass
class TurnRecord:
    id: str
    status: str = "inProgress"
    error: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "items": [], "error": self.error}


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
            "source": "appServer",
            "canAcceptDirectInput": True,
            "threadSource": "user",
            "agentNickname": None,
            "agentRole": None,
            "gitInfo": None,
            "name": None,
            "daybreakEnabled": None,
            "turns": [t.to_wire() for t in self.turns] if include_turns else [],
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


class ThreadService:
    """Threads and the scripted turn, registered on an `AppServer` by `install`. Threads work in `workspace`."""

    def __init__(
        self, server: AppServer, *, workspace: Workspace, seed: int = 0, seeded_threads: int = 3
    ) -> None:
        self.server = server
        self.workspace = workspace
        self.cwd = str(workspace.root)
        self._rng = random.Random(seed)
        self._threads: dict[str, ThreadRecord] = {}
        self._item_ids = 0
        self._turn_ids = 0
        self._settled: dict[str, asyncio.Event] = {}
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
        return self

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
        page = threads[start : start + limit]
        end = start + len(page)
        # The real result's keys and order; read state is not simulated, and there is no backward paging.
        return {
            "data": [t.to_wire() for t in page],
            "readStates": {},
            "nextCursor": str(end) if end < len(threads) else None,
            "backwardsCursor": None,
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
        return {"thread": thread.to_wire(include_turns=bool(ctx.params.get("includeTurns")))}

    async def _turn_start(self, ctx: RequestContext) -> dict[str, Any]:
        thread = self.thread(str(ctx.params["threadId"]))
        if thread.active_turn is not None:
            raise invalid_request(f"thread {thread.id} already has a turn in progress")
        self._turn_ids += 1
        turn = TurnRecord(f"turn-{self._turn_ids}")
        thread.turns.append(turn)
        thread.updated_at = self.server.clock.now_int()
        if not thread.preview:
            thread.preview = _first_text(ctx.params.get("input")) or ""
        connection = ctx.connection

        async def run() -> None:
            await self._run_turn(connection, thread, turn)

        ctx.after_response(run)
        return {"turn": turn.to_wire()}

    # -- the script ------------------------------------------------------------------------------------------

    async def _run_turn(
        self, connection: AppServerConnection, thread: ThreadRecord, turn: TurnRecord
    ) -> None:
        base = {"threadId": thread.id, "turnId": turn.id}
        try:
            await connection.notify("turn/started", {"threadId": thread.id, "turn": turn.to_wire()})
            await self._command_step(connection, thread, base)
            edited = await self._file_change_step(connection, thread, base)
            await self._agent_message_step(connection, base, edited)
            turn.status = "completed"
        except _TurnCancelled:
            turn.status = "interrupted"
        except ConnectionClosed:
            # The client left mid-approval: the turn ends and nobody waits for an answer that cannot come.
            turn.status = "interrupted"
            return
        finally:
            if turn.status == "inProgress":
                turn.status = "interrupted"
            thread.updated_at = self.server.clock.now_int()
        await connection.notify("turn/completed", {"threadId": thread.id, "turn": turn.to_wire()})

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
        decision = _decision(answer)
        if decision == "acceptForSession":
            thread.approved_for_session.add(kind)
        return decision

    async def _command_step(
        self, connection: AppServerConnection, thread: ThreadRecord, base: dict[str, Any]
    ) -> None:
        """Ask, then run or skip the command. Raises `_TurnCancelled` when the person cancelled the turn."""
        item_id = self._new_item_id()
        try:
            await self._command_item(connection, thread, base, item_id)
        finally:
            self._settled_event(item_id).set()

    async def _command_item(
        self, connection: AppServerConnection, thread: ThreadRecord, base: dict[str, Any], item_id: str
    ) -> None:
        actions = [{"type": "unknown", "command": SCRIPT_COMMAND}]
        item: dict[str, Any] = {
            "type": "commandExecution",
            "id": item_id,
            "command": SCRIPT_COMMAND,
            "cwd": thread.cwd,
            "processId": None,
            "status": "inProgress",
            "commandActions": actions,
            "aggregatedOutput": None,
            "exitCode": None,
            "durationMs": None,
        }
        await connection.notify("item/started", {**base, "item": item})
        decision = await self._approve(
            connection,
            thread,
            "commandExecution",
            "item/commandExecution/requestApproval",
            {
                **base,
                "itemId": item_id,
                "reason": "Find where the login timeout is set",
                "command": SCRIPT_COMMAND,
                "cwd": thread.cwd,
                "commandActions": actions,
            },
        )
        if decision in ACCEPT_DECISIONS:
            item.update(await self._run_command(thread.cwd))
        else:
            item.update(status="declined")
        await connection.notify("item/completed", {**base, "item": item})
        if decision == "cancel":
            raise _TurnCancelled

    async def _run_command(self, cwd: str) -> dict[str, Any]:
        """The item's outcome fields for the approved command, from the process the Mac really ran."""
        try:
            run = await self.workspace.run(SCRIPT_ARGV, cwd)
        except CommandNotStarted as exc:
            log.warning("the approved command did not start: %s", exc.message)
            return {"status": "failed", "aggregatedOutput": exc.message, "exitCode": None, "durationMs": None}
        return {
            "status": "completed" if run.exit_code == 0 else "failed",
            "aggregatedOutput": run.output,
            "exitCode": run.exit_code,
            "durationMs": run.duration_ms,
        }

    async def _file_change_step(
        self, connection: AppServerConnection, thread: ThreadRecord, base: dict[str, Any]
    ) -> bool:
        """Ask, then apply or skip the edit; True when the file was changed. Raises `_TurnCancelled` when the
        person cancelled the turn."""
        item_id = self._new_item_id()
        try:
            return await self._file_change_item(connection, thread, base, item_id)
        finally:
            self._settled_event(item_id).set()

    async def _file_change_item(
        self, connection: AppServerConnection, thread: ThreadRecord, base: dict[str, Any], item_id: str
    ) -> bool:
        path = Path(thread.cwd) / SCRIPT_FILE
        item: dict[str, Any] = {
            "type": "fileChange",
            "id": item_id,
            "changes": [
                {"path": str(path), "kind": {"type": "update", "move_path": None}, "diff": SCRIPT_DIFF}
            ],
            "status": "inProgress",
        }
        await connection.notify("item/started", {**base, "item": item})
        decision = await self._approve(
            connection,
            thread,
            "fileChange",
            "item/fileChange/requestApproval",
            {**base, "itemId": item_id, "reason": "Raise the login timeout", "grantRoot": None},
        )
        status = "declined"
        if decision in ACCEPT_DECISIONS:
            try:
                self.workspace.apply(path, SCRIPT_DIFF)
                status = "completed"
            except EditNotApplied as exc:
                # E.g. a second turn: the file already says what the diff would make it say.
                log.warning("the approved file change did not apply: %s", exc.message)
                status = "failed"
        item.update(status=status)
        await connection.notify("item/completed", {**base, "item": item})
        if decision == "cancel":
            raise _TurnCancelled
        return status == "completed"

    async def _agent_message_step(
        self, connection: AppServerConnection, base: dict[str, Any], edited: bool
    ) -> None:
        item = {"type": "agentMessage", "id": self._new_item_id(), "text": ""}
        text = SCRIPT_MESSAGE_EDITED if edited else SCRIPT_MESSAGE_NOT_EDITED
        await connection.notify("item/started", {**base, "item": item})
        await connection.notify("item/completed", {**base, "item": {**item, "text": text}})


def _first_text(items: object) -> str | None:
    if not isinstance(items, list):
        return None
    for entry in items:
        if isinstance(entry, dict) and entry.get("type") == "text" and isinstance(entry.get("text"), str):
            return entry["text"]
    return None


def install_threads(server: AppServer, *, workspace: Workspace, seed: int = 0) -> ThreadService:
    """Seed a few threads working in `workspace` and serve `thread/*` and `turn/start` on `server`."""
    return ThreadService(server, workspace=workspace, seed=seed).install()
