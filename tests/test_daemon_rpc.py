"""JSON-RPC behaviour of the mock app-server over real WebSockets (observed §3.7, §7.7-7.9): initialize,
errors, notifications, account/read, concurrent clients, and the scripted agent's approval flow."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect

from simulators.backend.accounts import AccountSpec
from simulators.backend.model_scripts import (
    BRANCH,
    BRANCH_COMMAND,
    BRANCH_REASON,
    EDITED,
    FIX_FLAKY_TEST,
    NOT_EDITED,
    TIMEOUT_AFTER,
    TIMEOUT_BEFORE,
    edited_login_file,
    timeout_line,
)
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock, FrozenClock
from simulators.daemon.app_server import (
    APP_SERVER_VERSION,
    ApiKeyAccount,
    AppServer,
    ChatGptAccount,
    DesktopAccount,
    HostPlatform,
    RequestContext,
)
from simulators.daemon.enrollment_client import ChatGptCredentials
from simulators.daemon.listener import AppServerListener
from simulators.daemon.model_client import ModelAccess
from simulators.daemon.threads import ThreadService, install_threads
from simulators.daemon.workspace import LOGIN_FILE, MAIN_BRANCH, SEED_FILES, Workspace
from simulators.tls import make_world_tls

T = TypeVar("T")
NOW = 1_795_270_254.859
HOME = Path("/tmp/pairsim-codex-home")
PLATFORM = HostPlatform("Debian 12.0.0", "x86_64", "xterm")
TIMEOUT = 5.0
ABSENT = object()  # `Client.call` without a params field


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 20)

    return asyncio.run(bounded())


class World:
    def __init__(self, server: AppServer, threads: ThreadService, listener: AppServerListener) -> None:
        self.server, self.threads, self.listener = server, threads, listener
        self.account: DesktopAccount | None = None

    @property
    def workspace(self) -> Workspace:
        return self.threads.workspace

    def project_files(self) -> dict[str, bytes]:
        """Every file of the project's work tree on disk, by path relative to it (the repository's own `.git` is
        read through `workspace.branch()`: what a command did shows there)."""
        root = self.workspace.root
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != ".git"
        }


@contextlib.asynccontextmanager
async def world(config_warnings: tuple[str, ...] = (), *, signed_in: bool = True) -> AsyncIterator[World]:
    holder: dict[str, World] = {}
    folder = tempfile.TemporaryDirectory(prefix="pairsim-test-workspace-")
    # The model the turns talk to is the backend's, reached as the real daemon reaches it: workspace routing
    # discovery, then the Responses socket on the backend's TLS listener, with a ChatGPT sign-in's tokens.
    backend = BackendServer(BackendState.create(Clock(), seed=7), tls=make_world_tls(Path(folder.name) / "tls"))
    await backend.start()
    assert backend.tls is not None
    dana = backend.control.create_account(AccountSpec(email="dana@example.com"))
    tokens = backend.control.issue_tokens(dana.account.account_id)
    credentials = ChatGptCredentials(tokens.access_token, dana.account.account_id) if signed_in else None
    server = AppServer(
        HOME,
        FrozenClock(instant=NOW),
        "vm",
        "f0b2a875-0000-4000-8000-000000000001",
        host_platform=PLATFORM,
        account_provider=lambda: holder["world"].account,
        config_warnings=config_warnings,
    )
    threads = install_threads(
        server,
        workspace=Workspace.seed(Path(folder.name) / "project"),
        seed=7,
        model=ModelAccess(backend.chatgpt_base_url, lambda: credentials, backend.tls.ca_file),
    )
    listener = AppServerListener(server)
    await listener.start()
    holder["world"] = World(server, threads, listener)
    try:
        yield holder["world"]
    finally:
        await listener.stop()
        await threads.close()
        await server.close()
        await backend.stop()
        folder.cleanup()


class Client:
    """A minimal JSON-RPC client over one WebSocket, for asserting exact frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv_text(self) -> str:
        text = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        assert isinstance(text, str)
        return text

    async def recv(self) -> dict[str, Any]:
        return json.loads(await self.recv_text())

    async def call(self, request_id: int | str, method: str, params: Any = None) -> dict[str, Any]:
        """`params` None sends `{}` (the real server requires params); `ABSENT` leaves the field out."""
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not ABSENT:
            message["params"] = {} if params is None else params
        await self.send(message)
        return await self.recv()

    async def initialize(
        self, name: str = "phone", version: str = "1.0", **capabilities: Any
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"clientInfo": {"name": name, "title": None, "version": version}}
        if capabilities:
            params["capabilities"] = capabilities
        reply = await self.call("initialize", "initialize", params)
        if "remoteControl/status/changed" not in capabilities.get("optOutNotificationMethods", []):
            status = await self.recv()
            assert status["method"] == "remoteControl/status/changed"
        return reply


@contextlib.asynccontextmanager
async def client(w: World) -> AsyncIterator[Client]:
    async with connect(w.listener.url) as ws:
        yield Client(ws)


# ------------------------------------------------------------------------------------------------------------
# The handshake and its errors, frame for frame


def test_requests_before_initialize_get_not_initialized_with_the_id_echoed() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.send({"id": 7, "method": "account/read", "params": {}})
            assert await c.recv_text() == '{"error":{"code":-32600,"message":"Not initialized"},"id":7}'
            await c.send({"jsonrpc": "2.0", "id": "seven", "method": "thread/list", "params": {}})
            assert await c.recv_text() == '{"error":{"code":-32600,"message":"Not initialized"},"id":"seven"}'

    run(scenario)


def test_params_are_required_and_checked_before_the_initialize_state() -> None:
    missing = {"code": -32600, "message": "Invalid request: missing field `params`"}

    async def scenario() -> None:
        async with world() as w, client(w) as c:
            assert (await c.call(2, "account/read", ABSENT))["error"] == missing
            assert (await c.call(3, "thread/list", ABSENT))["error"] == missing
            assert (await c.call(4, "account/read", []))["error"]["message"] == "Not initialized"
            await c.initialize()
            for request_id, params in enumerate((ABSENT, None), start=5):
                message = {"id": request_id, "method": "account/read"}
                if params is not ABSENT:
                    message["params"] = params
                await c.send(message)
                assert (await c.recv())["error"] == missing
            assert (await c.call(7, "account/read", []))["result"]["account"] is None  # an empty list is fine
            assert (await c.call(8, "thread/list", []))["error"]["message"] == (
                "Invalid request: invalid length 0, expected struct ThreadListParams with 19 elements"
            )
            assert (await c.call(9, "thread/read", 5))["error"]["message"] == (
                "Invalid request: invalid type: integer `5`, expected struct ThreadReadParams"
            )

    run(scenario)


def test_initialize_result_and_the_notifications_that_follow() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.send(
                {
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "clientInfo": {"name": "probe_codex_ws", "title": "probe", "version": "0.0.1"}
                    },
                }
            )
            assert await c.recv_text() == (
                '{"id":1,"result":{"userAgent":"probe_codex_ws/0.169.0 (Debian 12.0.0; x86_64) xterm '
                '(probe_codex_ws; 0.0.1)","codexHome":"/tmp/pairsim-codex-home","platformFamily":"unix",'
                '"platformOs":"linux"}}'
            )
            # Sent without waiting for `initialized`, with a top-level emittedAtMs.
            assert await c.recv_text() == (
                '{"method":"remoteControl/status/changed","params":{"status":"disabled","serverName":"vm",'
                '"installationId":"f0b2a875-0000-4000-8000-000000000001","environmentId":null},'
                '"emittedAtMs":1795270254859}'
            )

    run(scenario)


def test_config_warnings_come_before_the_remote_control_status() -> None:
    async def scenario() -> None:
        async with world(config_warnings=("Codex could not find bubblewrap on PATH.",)) as w, client(w) as c:
            await c.send(
                {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "n", "version": "1"}}}
            )
            assert (await c.recv())["id"] == 1
            warning = await c.recv()
            assert warning == {
                "method": "configWarning",
                "params": {"summary": "Codex could not find bubblewrap on PATH.", "details": None},
                "emittedAtMs": 1795270254859,
            }
            assert (await c.recv())["method"] == "remoteControl/status/changed"

    run(scenario)


def test_initialize_errors() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.send({"id": 1, "method": "initialize", "params": {}})
            assert await c.recv_text() == (
                '{"error":{"code":-32600,"message":"Invalid request: missing field `clientInfo`"},"id":1}'
            )
            await c.initialize()
            await c.send(
                {"id": 2, "method": "initialize", "params": {"clientInfo": {"name": "a", "version": "1"}}}
            )
            assert await c.recv_text() == '{"error":{"code":-32600,"message":"Already initialized"},"id":2}'

    run(scenario)


def test_unknown_method_is_32600_listing_the_real_servers_methods() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            reply = await c.call(3, "no/such")
            assert reply["id"] == 3 and reply["error"]["code"] == -32600
            message = reply["error"]["message"]
            assert message.startswith(
                "Invalid request: unknown variant `no/such`, expected one of `initialize`, `server/diagnostics`, "
                "`userVerification/status`, "
            )
            assert message.endswith(", `fuzzyFileSearch/sessionUpdate`, `fuzzyFileSearch/sessionStop`")
            assert message.count("`") == 2 * 188  # the unknown name and the real server's 187 methods
            # A method of the real server that the mock does not serve is named as such.
            assert (await c.call(4, "config/read"))["error"] == {
                "code": -32601,
                "message": "`config/read` is a codex app-server method that pairsim's mock does not simulate",
            }

    run(scenario)


def test_no_output_ever_carries_jsonrpc_and_string_ids_are_echoed() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.send(
                {
                    "jsonrpc": "2.0",
                    "id": "init-x",
                    "method": "initialize",
                    "params": {"clientInfo": {"name": "n", "version": "1"}},
                }
            )
            frames = [await c.recv_text(), await c.recv_text()]
            await c.send({"jsonrpc": "2.0", "method": "initialized"})
            await c.send({"jsonrpc": "2.0", "id": "acct", "method": "account/read", "params": {}})
            frames.append(await c.recv_text())
            assert [json.loads(f).get("id") for f in frames] == ["init-x", None, "acct"]
            assert all("jsonrpc" not in f for f in frames)

    run(scenario)


def test_user_agent_prefix_is_the_first_client_ever_initialized() -> None:
    async def scenario() -> None:
        async with world() as w:
            async with client(w) as first:
                reply = await first.initialize("probe_codex_ws", "0.0.1")
                assert reply["result"]["userAgent"].startswith("probe_codex_ws/0.169.0 ")
            async with client(w) as second:
                reply = await second.initialize("t", "1")
                assert reply["result"]["userAgent"] == (
                    f"probe_codex_ws/{APP_SERVER_VERSION} (Debian 12.0.0; x86_64) xterm (t; 1)"
                )

    run(scenario)


def test_account_read_follows_the_desktop_sign_in() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            assert await c.call(4, "account/read", {}) == {
                "id": 4,
                "result": {
                    "account": None,
                    "userId": None,
                    "requiresOpenaiAuth": True,
                    "workspaceRouting": None,
                },
            }
            w.account = ChatGptAccount("dana@example.com", "pro", user_id="user-dana")
            assert (await c.call(5, "account/read", {"refreshToken": False}))["result"] == {
                "account": {"type": "chatgpt", "email": "dana@example.com", "planType": "pro", "workspaceName": None},
                "userId": "user-dana",
                "requiresOpenaiAuth": True,
                "workspaceRouting": None,
            }
            w.account = ApiKeyAccount()
            assert (await c.call(6, "account/read"))["result"]["account"] == {"type": "apiKey"}

    run(scenario)


def test_experimental_methods_need_the_capability() -> None:
    async def scenario() -> None:
        async with world() as w:

            async def status_read(ctx: RequestContext) -> dict[str, Any]:
                return ctx.server.remote_control_status()

            w.server.register_method("remoteControl/status/read", status_read, experimental=True)
            async with client(w) as plain, client(w) as opted_in:
                await plain.initialize()
                await opted_in.initialize(experimentalApi=True)
                assert (await plain.call(1, "remoteControl/status/read"))["error"] == {
                    "code": -32600,
                    "message": "remoteControl/status/read requires experimentalApi capability",
                }
                assert (await opted_in.call(1, "remoteControl/status/read"))["result"]["status"] == "disabled"

    run(scenario)


def test_broadcast_reaches_initialized_clients_that_did_not_opt_out() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as a, client(w) as b, client(w) as fresh, client(w) as quiet:
            await a.initialize()
            await b.initialize()
            await quiet.initialize(optOutNotificationMethods=["remoteControl/status/changed"])
            status = {
                "status": "connected",
                "serverName": "vm",
                "installationId": "i",
                "environmentId": "env-1",
            }
            w.server.set_remote_control_status_provider(lambda: status)
            await w.server.broadcast("remoteControl/status/changed", w.server.remote_control_status())
            for c in (a, b):
                assert await c.recv() == {
                    "method": "remoteControl/status/changed",
                    "params": status,
                    "emittedAtMs": 1795270254859,
                }
            # The uninitialized and opted-out clients got nothing: their next frame answers their request.
            assert (await fresh.call("f", "account/read"))["id"] == "f"
            assert (await quiet.call("q", "account/read"))["id"] == "q"
            # A later initialize reports the new status.
            await fresh.send(
                {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "n", "version": "1"}}}
            )
            await fresh.recv()
            assert (await fresh.recv())["params"] == status

    run(scenario)


def test_eight_concurrent_clients_keep_independent_initialize_state() -> None:
    async def one(w: World, index: int) -> None:
        async with client(w) as c:
            if index % 2:
                await c.initialize(name=f"c{index}")
                reply = await c.call(index, "account/read")
                assert reply["id"] == index and "result" in reply
                again = await c.call(100 + index, "initialize", {"clientInfo": {"name": "x", "version": "1"}})
                assert again["error"]["message"] == "Already initialized"
            else:
                reply = await c.call(index, "account/read")
                assert reply == {"error": {"code": -32600, "message": "Not initialized"}, "id": index}

    async def scenario() -> None:
        async with world() as w:
            await asyncio.gather(*(one(w, i) for i in range(8)))

    run(scenario)


def test_a_failing_handler_answers_internal_error_and_the_connection_survives() -> None:
    async def scenario() -> None:
        async with world() as w:

            async def broken(ctx: RequestContext) -> None:
                raise RuntimeError("boom with a secret-token-123")

            w.server.register_method("test/broken", broken)
            async with client(w) as c:
                await c.initialize()
                reply = await c.call(1, "test/broken")
                assert reply == {"error": {"code": -32603, "message": "internal error"}, "id": 1}
                assert (await c.call(2, "account/read"))["id"] == 2

    run(scenario)


# ------------------------------------------------------------------------------------------------------------
# Threads


def test_seeded_threads_page_through_thread_list() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            first = (await c.call(1, "thread/list", {"limit": 2}))["result"]
            assert len(first["data"]) == 2 and first["nextCursor"] is not None
            second = (await c.call(2, "thread/list", {"limit": 2, "cursor": first["nextCursor"]}))["result"]
            assert len(second["data"]) == 1 and second["nextCursor"] is None
            listed = [t["id"] for t in first["data"] + second["data"]]
            assert listed == [t.id for t in w.threads.threads]
            assert len(set(listed)) == 3
            updated = [t["updatedAt"] for t in first["data"] + second["data"]]
            assert updated == sorted(updated, reverse=True)
            bad = await c.call(3, "thread/list", {"cursor": "nope"})
            assert bad["error"]["code"] == -32600

    run(scenario)


def test_seeded_threads_are_deterministic() -> None:
    def ids(seed: int) -> list[str]:
        server = AppServer(HOME, FrozenClock(instant=NOW), "vm", "i", host_platform=PLATFORM)
        return [t.id for t in ThreadService(server, workspace=Workspace(Path("/nonexistent")), seed=seed).threads]

    assert ids(3) == ids(3)
    assert ids(3) != ids(4)


def test_thread_start_answers_then_announces() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            reply = await c.call(1, "thread/start", {"cwd": "/work/project"})
            thread = reply["result"]["thread"]
            assert thread["cwd"] == "/work/project" and thread["turns"] == []
            assert await c.recv() == {
                "method": "thread/started",
                "params": {"thread": thread},
                "emittedAtMs": 1795270254859,
            }
            # As on codex 0.169.0 (tests/fixtures/tui_traffic/api-key-sign-in.jsonl): a thread nobody has written
            # to is not listed yet.
            listed = (await c.call(2, "thread/list"))["result"]["data"]
            assert thread["id"] not in [t["id"] for t in listed]

    run(scenario)


def test_turn_start_errors() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            assert (await c.call(1, "turn/start", {"input": []}))["error"]["message"] == (
                "Invalid request: missing field `threadId`"
            )
            assert (await c.call(2, "turn/start", {"threadId": "nope", "input": []}))["error"] == {
                "code": -32600,
                "message": "thread not found: nope",
            }

    run(scenario)


# ------------------------------------------------------------------------------------------------------------
# The approval flow
#
# Every turn here asks the backend's model to "Fix the flaky login test" (`model_scripts.py`): it runs
# `git switch -c fix-flaky-login` outside the sandbox (asked first), then edits `src/login.py` (asked first), then
# says what it did.

# The mock daemon runs the model's command as `/bin/bash -c <cmd>` (the model asks with `login: false`); the
# approval request and the item show that argument vector, joined as a shell would quote it.
RUN_COMMAND = shlex.join(["/bin/bash", "-c", BRANCH_COMMAND])
DELTA = "item/commandExecution/outputDelta"
# What the daemon says about the thread around a turn (its status, token usage, the turn's diff so far, settings,
# read state): the real daemon's shapes for these are held by the TUI recordings' replay
# (tests/test_tui_traffic_replay.py); the tests here read the turn's own events.
THREAD_STATE = frozenset({"thread/status/changed", "thread/tokenUsage/updated", "turn/diff/updated",
                          "thread/settings/updated", "thread/readState/changed"})


def scripted_diff() -> str:
    """The change the accepted edit makes to `src/login.py`, as clients are shown it (one line of context, no file
    headers), worked out from the seeded file and the file the script leaves."""
    lines = difflib.unified_diff(
        SEED_FILES[LOGIN_FILE].splitlines(keepends=True), edited_login_file().splitlines(keepends=True), n=1
    )
    return "".join(list(lines)[2:])


async def start_turn(c: Client, thread_id: str, request_id: int = 10, words: str = FIX_FLAKY_TEST) -> str:
    reply = await c.call(
        request_id, "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": words}]}
    )
    turn = reply["result"]["turn"]
    assert turn["status"] == "inProgress" and turn["items"] == [] and turn["error"] is None
    return turn["id"]


async def play_turn(
    c: Client, decisions: dict[str, str], on_request: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Answer each approval request with `decisions[method]` (after `on_request`, when given); return every frame
    until turn/completed."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = await c.recv()
        frames.append(frame)
        method = frame.get("method", "")
        if "id" in frame and method.endswith("/requestApproval"):
            if on_request is not None:
                on_request(frame)
            await c.send({"id": frame["id"], "result": {"decision": decisions[method]}})
        if method == "turn/completed":
            return frames


async def next_approval(c: Client) -> dict[str, Any]:
    """The frames up to the turn's first approval request; returns that request."""
    while "id" not in (frame := await c.recv()):
        pass
    return frame


async def next_event(c: Client) -> dict[str, Any]:
    """The next frame that is not streamed command output (whose chunking is the process's)."""
    while (frame := await c.recv()).get("method") == DELTA or frame.get("method") in THREAD_STATE:
        pass
    return frame


def events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("method") != DELTA and f.get("method") not in THREAD_STATE]


def streamed(frames: list[dict[str, Any]]) -> str:
    """The command output the client saw stream, in order."""
    return "".join(f["params"]["delta"] for f in frames if f.get("method") == DELTA)


def turn_core(frame: dict[str, Any]) -> dict[str, Any]:
    """What a `turn/completed` says of the turn itself; its times and views are the real daemon's fields, held by
    the TUI recordings' replay."""
    turn = frame["params"]["turn"]
    return {key: turn[key] for key in ("id", "status", "items", "error")}


def shape(frames: list[dict[str, Any]]) -> list[str]:
    out = []
    for f in events(frames):
        item = f.get("params", {}).get("item")
        label = f["method"] + (f" {item['type']}:{item.get('status', '-')}" if item else "")
        out.append(("request " if "id" in f else "") + label)
    return out


COMMAND = "item/commandExecution/requestApproval"
FILE = "item/fileChange/requestApproval"


def test_accepting_both_approvals_completes_the_turn() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            thread_id = w.threads.threads[0].id
            turn_id = await start_turn(c, thread_id)
            frames = await play_turn(c, {COMMAND: "accept", FILE: "accept"})
            assert shape(frames) == [
                "turn/started",
                "item/started userMessage:-",
                "item/completed userMessage:-",
                "item/started commandExecution:inProgress",
                f"request {COMMAND}",
                "serverRequest/resolved",
                "item/completed commandExecution:completed",
                "item/started fileChange:inProgress",
                f"request {FILE}",
                "serverRequest/resolved",
                "item/completed fileChange:completed",
                "item/started agentMessage:-",
                "item/completed agentMessage:-",
                "turn/completed",
            ]
            seen = events(frames)
            assert seen[2]["params"]["item"]["content"] == [{"type": "text", "text": FIX_FLAKY_TEST}]
            approval = seen[4]
            # The real daemon's fields (tests/fixtures/tui_traffic/command-and-file-change-approved.jsonl).
            assert set(approval["params"]) == {
                "threadId",
                "turnId",
                "itemId",
                "reason",
                "command",
                "cwd",
                "commandActions",
                "availableDecisions",
                "environmentId",
                "kind",
                "proposedExecpolicyAmendment",
                "startedAtMs",
            }
            assert approval["params"]["threadId"] == thread_id and approval["params"]["turnId"] == turn_id
            assert approval["params"]["itemId"] == seen[3]["params"]["item"]["id"]
            assert approval["params"]["command"] == RUN_COMMAND
            assert approval["params"]["reason"] == BRANCH_REASON
            assert approval["params"]["commandActions"] == [{"type": "unknown", "command": BRANCH_COMMAND}]
            assert approval["params"]["cwd"] == str(w.workspace.root)
            assert seen[5]["params"] == {"threadId": thread_id, "requestId": approval["id"]}
            ran = seen[6]["params"]["item"]
            assert ran["exitCode"] == 0 and ran["aggregatedOutput"] == streamed(frames) != ""
            assert seen[7]["params"]["item"]["changes"] == [
                {
                    "path": str(w.workspace.root / LOGIN_FILE),
                    "kind": {"type": "update", "move_path": None},
                    "diff": scripted_diff(),
                }
            ]
            assert f"-{timeout_line(TIMEOUT_BEFORE)}\n+{timeout_line(TIMEOUT_AFTER)}\n" in scripted_diff()
            assert seen[8]["params"]["itemId"] == seen[7]["params"]["item"]["id"]
            assert seen[9]["params"]["requestId"] == seen[8]["id"] != approval["id"]
            assert seen[12]["params"]["item"]["text"] == EDITED
            assert seen[-1]["params"]["threadId"] == thread_id
            # A completed turn carries its answer as its summary, as the real daemon's does.
            assert turn_core(seen[-1]) == {"id": turn_id, "status": "completed", "items": [seen[12]["params"]["item"]],
                                           "error": None}
            assert seen[-1]["params"]["turn"]["itemsView"] == "summary"
            assert all(f["emittedAtMs"] == 1795270254859 for f in frames if "id" not in f)
            # What the Mac did: the project is on the new branch, with the file as the script leaves it.
            assert w.workspace.branch() == BRANCH
            assert (w.workspace.root / LOGIN_FILE).read_text() == edited_login_file()
            # The thread keeps the turn, each item as it completed.
            read = await c.call(20, "thread/read", {"threadId": thread_id, "includeTurns": True})
            [kept] = [t for t in read["result"]["thread"]["turns"] if t["id"] == turn_id]
            assert kept["status"] == "completed"
            assert [(i["type"], i.get("status")) for i in kept["items"]] == [
                ("userMessage", None),
                ("commandExecution", "completed"),
                ("fileChange", "completed"),
                ("agentMessage", None),
            ]

    run(scenario)


def test_declining_marks_items_declined_and_the_turn_still_completes() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            await start_turn(c, w.threads.threads[1].id)
            seeded = w.project_files()
            frames = await play_turn(c, {COMMAND: "decline", FILE: "decline"})
            assert "item/completed commandExecution:declined" in shape(frames)
            assert "item/completed fileChange:declined" in shape(frames)
            declined_command = next(
                f for f in frames if shape([f]) == ["item/completed commandExecution:declined"]
            )
            item = declined_command["params"]["item"]
            assert (item["exitCode"], item["aggregatedOutput"], item["durationMs"]) == (None, None, None)
            assert streamed(frames) == ""
            assert events(frames)[-2]["params"]["item"]["text"] == NOT_EDITED
            assert events(frames)[-1]["params"]["turn"]["status"] == "completed"
            assert w.workspace.branch() == MAIN_BRANCH and w.project_files() == seeded

    run(scenario)


def test_cancel_interrupts_the_turn() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            seeded = w.project_files()
            frames = await play_turn(c, {COMMAND: "cancel"})
            assert shape(frames)[-2:] == ["item/completed commandExecution:declined", "turn/completed"]
            assert FILE not in [f.get("method") for f in frames]
            assert frames[-1]["params"]["turn"]["status"] == "interrupted"
            assert w.workspace.commands_run == [] and w.project_files() == seeded
            assert w.workspace.branch() == MAIN_BRANCH

    run(scenario)


def test_a_turn_on_a_mac_not_signed_in_to_chatgpt_fails_and_does_nothing() -> None:
    async def scenario() -> None:
        async with world(signed_in=False) as w, client(w) as c:
            await c.initialize()
            thread_id = w.threads.threads[0].id
            turn_id = await start_turn(c, thread_id)
            frames = await play_turn(c, {})
            assert shape(frames) == [
                "turn/started",
                "item/started userMessage:-",
                "item/completed userMessage:-",
                "error",
                "turn/completed",
            ]
            error = {"message": "Codex is not signed in to ChatGPT", "codexErrorInfo": "other",
                     "additionalDetails": None}
            seen = events(frames)
            assert seen[3]["params"] == {"error": error, "willRetry": False, "threadId": thread_id,
                                         "turnId": turn_id}
            assert turn_core(seen[-1]) == {"id": turn_id, "status": "failed", "items": [], "error": error}
            assert w.workspace.commands_run == [] and w.workspace.branch() == MAIN_BRANCH

    run(scenario)


def test_accept_for_session_skips_the_next_approval_of_that_kind() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            thread_id = w.threads.threads[0].id
            await start_turn(c, thread_id, 10)
            await play_turn(c, {COMMAND: "acceptForSession", FILE: "accept"})
            # The project as it began (on `main`, the file unedited), so the script's command and edit both apply
            # again; the thread keeps what was accepted for its session.
            Workspace.seed(w.workspace.root)
            await start_turn(c, thread_id, 11)
            frames = await play_turn(c, {FILE: "decline"})
            methods = [f.get("method") for f in frames]
            assert COMMAND not in methods and FILE in methods
            assert "item/completed commandExecution:completed" in shape(frames)
            # Not asked, and run all the same.
            assert len(w.workspace.commands_run) == 2 and w.workspace.branch() == BRANCH

    run(scenario)


def test_a_client_leaving_mid_approval_never_hangs_the_server() -> None:
    async def scenario() -> None:
        async with world() as w:
            thread_id = w.threads.threads[0].id
            async with client(w) as leaving:
                await leaving.initialize()
                await start_turn(leaving, thread_id)
                while (await leaving.recv()).get("method") != COMMAND:
                    pass
            async with client(w) as other:
                await other.initialize()
                read = await other.call(1, "thread/read", {"threadId": thread_id, "includeTurns": True})
                # The close is processed before this second client's requests: the turn was interrupted.
                assert read["result"]["thread"]["turns"][-1]["status"] == "interrupted"
                assert w.workspace.commands_run == [] and w.workspace.branch() == MAIN_BRANCH
                assert (await other.call(2, "thread/list"))["id"] == 2
                await start_turn(other, thread_id, 3)  # the thread is free again
                frames = await play_turn(other, {COMMAND: "accept", FILE: "accept"})
                assert frames[-1]["params"]["turn"]["status"] == "completed"
            await asyncio.wait_for(w.server.close(), TIMEOUT)

    run(scenario)


# ------------------------------------------------------------------------------------------------------------
# What the Mac really does with a decision: a real process in the project folder, a real edit of a real file


def spy_on_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` first on PATH that notes where and how it was executed, then runs the real one: evidence, apart
    from the daemon's own record, of whether the Mac spawned the command's process. Returns the file it notes in.
    Installed once the project is seeded, so that only the agent's command can run it."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "bin"
    folder.mkdir()
    noted = tmp_path / "git-executions"
    spy = folder / "git"
    spy.write_text(f'#!/bin/sh\necho "$(pwd -P) git $*" >> {shlex.quote(str(noted))}\nexec {shlex.quote(real)} "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return noted


def git(workspace: Workspace, *arguments: str) -> None:
    """Change the project's repository as a person at the Mac would, before the turn."""
    subprocess.run(["git", *arguments], cwd=workspace.root, check=True, capture_output=True)


def completed_item(frames: list[dict[str, Any]], item_type: str) -> dict[str, Any]:
    return next(
        f["params"]["item"]
        for f in frames
        if f.get("method") == "item/completed" and f["params"]["item"]["type"] == item_type
    )


def test_an_accepted_command_really_runs_and_its_item_carries_the_process_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git's own words, whatever the machine's language.
    monkeypatch.setenv("LC_ALL", "C")
    project: list[Path] = []
    noted: list[Path] = []

    async def scenario() -> None:
        async with world() as w, client(w) as c:
            project.append(w.workspace.root.resolve())
            noted.append(spy_on_git(tmp_path, monkeypatch))
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: "accept", FILE: "decline"})
            item = completed_item(frames, "commandExecution")
            assert item["status"] == "completed" and item["command"] == RUN_COMMAND
            # git says so on stderr; the item carries it with stdout, as it streamed.
            assert item["aggregatedOutput"] == f"Switched to a new branch '{BRANCH}'\n" == streamed(frames)
            [record] = w.workspace.commands_run
            assert (record.command, record.cwd, record.exit_code) == (RUN_COMMAND, str(w.workspace.root), 0)
            assert (item["exitCode"], item["durationMs"]) == (record.exit_code, record.duration_ms)
            assert isinstance(item["durationMs"], int) and item["durationMs"] >= 0
            # Read back from the repository on disk: only running the command could leave the project there.
            assert w.workspace.branch() == BRANCH

    run(scenario)
    assert noted[0].read_text().splitlines() == [f"{project[0]} {BRANCH_COMMAND}"]


@pytest.mark.parametrize("decision", ["decline", "cancel"])
def test_a_command_not_accepted_never_spawns_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decision: str
) -> None:
    noted: list[Path] = []

    async def scenario() -> None:
        async with world() as w, client(w) as c:
            noted.append(spy_on_git(tmp_path, monkeypatch))
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: decision, FILE: "decline"})
            assert completed_item(frames, "commandExecution")["status"] == "declined"
            assert w.workspace.commands_run == [] and w.workspace.branch() == MAIN_BRANCH

    run(scenario)
    assert not noted[0].exists()


def _branch_exists(workspace: Workspace) -> None:
    git(workspace, "branch", BRANCH)
    # And a file that no longer says what the edit expects.
    (workspace.root / LOGIN_FILE).write_text(SEED_FILES[LOGIN_FILE].replace("TIMEOUT", "WAIT"))


def _no_repository(workspace: Workspace) -> None:
    shutil.rmtree(workspace.root / ".git")
    # And no file to edit at all.
    (workspace.root / LOGIN_FILE).unlink()


@pytest.mark.parametrize(
    ("prepare", "complaint"),
    [
        (_branch_exists, f"a branch named '{BRANCH}' already exists"),
        (_no_repository, "not a git repository"),
    ],
    ids=["branch-exists", "no-repository"],
)
def test_a_command_that_exits_non_zero_is_reported_failed_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, prepare: Callable[[Workspace], None], complaint: str
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    git_fatal = 128  # what git exits with when it refuses

    async def scenario() -> None:
        async with world() as w, client(w) as c:
            # Without its repository the project must not fall back on one around it (a temporary folder inside a
            # checkout): git looks no higher than the project's folder.
            monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(w.workspace.root.parent))
            prepare(w.workspace)
            before, branch = w.project_files(), w.workspace.branch()
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: "accept", FILE: "accept"})
            item = completed_item(frames, "commandExecution")
            assert (item["status"], item["exitCode"]) == ("failed", git_fatal)
            assert [r.exit_code for r in w.workspace.commands_run] == [git_fatal]
            # git's complaint goes to stderr; the item carries it with stdout.
            assert complaint in item["aggregatedOutput"] and item["aggregatedOutput"] == streamed(frames)
            # An edit that does not apply to the file as it is (or to no file) is refused before anyone is asked:
            # nothing to approve, nothing written.
            assert FILE not in [f.get("method") for f in frames]
            assert "fileChange" not in [f["params"]["item"]["type"] for f in frames if "item" in f.get("params", {})]
            assert w.project_files() == before and w.workspace.branch() == branch
            assert completed_item(frames, "agentMessage")["text"] == NOT_EDITED
            assert frames[-1]["params"]["turn"]["status"] == "completed"

    run(scenario)


def test_an_accepted_edit_changes_the_file_exactly_as_its_diff_says() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            seeded = w.project_files()
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: "decline", FILE: "accept"})
            change = completed_item(frames, "fileChange")
            assert change["status"] == "completed"
            after = w.project_files()
            assert after == {**seeded, LOGIN_FILE: edited_login_file().encode()}
            # Read back from disk, the change is the diff the item showed, hunk for hunk, and nothing else.
            on_disk = difflib.unified_diff(
                seeded[LOGIN_FILE].decode().splitlines(keepends=True),
                after[LOGIN_FILE].decode().splitlines(keepends=True),
                n=1,
            )
            [shown] = change["changes"]
            assert "".join(list(on_disk)[2:]) == shown["diff"] == scripted_diff()
            assert completed_item(frames, "agentMessage")["text"] == EDITED

    run(scenario)


def test_a_declined_edit_leaves_the_file_byte_for_byte() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            login = w.workspace.root / LOGIN_FILE
            seeded, touched = w.project_files(), login.stat().st_mtime_ns
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: "accept", FILE: "decline"})
            assert completed_item(frames, "fileChange")["status"] == "declined"
            assert w.project_files() == seeded and login.stat().st_mtime_ns == touched
            assert w.workspace.branch() == BRANCH  # the accepted command did run

    run(scenario)


def test_an_edit_whose_file_changed_while_it_waited_fails_and_writes_nothing() -> None:
    changed = SEED_FILES[LOGIN_FILE].replace(timeout_line(TIMEOUT_BEFORE), timeout_line(2))

    async def scenario() -> None:
        async with world() as w, client(w) as c:
            login = w.workspace.root / LOGIN_FILE

            def someone_edits_the_file(request: dict[str, Any]) -> None:
                if request["method"] == FILE:
                    login.write_text(changed)

            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            frames = await play_turn(c, {COMMAND: "decline", FILE: "accept"}, someone_edits_the_file)
            # The diff the person accepted no longer applies to the file on disk: nothing is written over it.
            assert completed_item(frames, "fileChange")["status"] == "failed"
            assert login.read_text() == changed
            assert completed_item(frames, "agentMessage")["text"] == NOT_EDITED
            assert frames[-1]["params"]["turn"]["status"] == "completed"

    run(scenario)


def test_an_edit_already_made_does_not_apply_twice() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            thread_id = w.threads.threads[0].id
            await c.initialize()
            await start_turn(c, thread_id, 10)
            await play_turn(c, {COMMAND: "decline", FILE: "accept"})
            edited = w.project_files()
            assert edited[LOGIN_FILE] == edited_login_file().encode()
            await start_turn(c, thread_id, 11)
            frames = await play_turn(c, {COMMAND: "decline", FILE: "accept"})
            # The line the edit replaces is gone: the patch does not verify, so nobody is asked and nothing is
            # written again.
            assert FILE not in [f.get("method") for f in frames]
            assert "item/started fileChange:inProgress" not in shape(frames)
            assert completed_item(frames, "agentMessage")["text"] == NOT_EDITED
            assert w.project_files() == edited

    run(scenario)


def test_stray_and_duplicate_answers_are_ignored() -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            approval = await next_approval(c)
            assert approval["method"] == COMMAND
            await c.send({"id": 12345, "result": {"decision": "accept"}})
            await c.send({"id": approval["id"], "result": {"decision": "accept"}})
            await c.send({"id": approval["id"], "result": {"decision": "decline"}})
            assert (await next_event(c))["method"] == "serverRequest/resolved"
            assert (await next_event(c))["params"]["item"]["status"] == "completed"
            assert len(w.workspace.commands_run) == 1

    run(scenario)


@pytest.mark.parametrize(
    "answer", [{"result": {}}, {"result": {"decision": "maybe"}}, {"error": {"code": 1, "message": "no"}}]
)
def test_unreadable_answers_count_as_decline(answer: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with world() as w, client(w) as c:
            await c.initialize()
            await start_turn(c, w.threads.threads[0].id)
            approval = await next_approval(c)
            assert approval["method"] == COMMAND
            await c.send({"id": approval["id"], **answer})
            assert (await next_event(c))["method"] == "serverRequest/resolved"
            assert (await next_event(c))["params"]["item"]["status"] == "declined"

    run(scenario)
