"""The Mac's SSH remote projects, carried to the phones paired with it (issue 12, openai/codex#23527).

The desktop app works in a remote project through its own session with the remote app-server
(`simulators.remote_projects.session`); the phone only ever talks to the Mac's daemon, through the relay. With the
fix, the daemon serves the desktop's remote projects to its clients (pairsim's model of it; the wire is [P],
docs/protocol.md §13):

* `remoteProjects/list {}` → `{data: [{id, name, host, cwd, transport, connected}]}`;
* `thread/start {remoteProjectId}` starts the thread on the remote, in the project's folder, and answers with the
  remote's thread; from then on `turn/start`, `turn/steer`, `turn/interrupt`, `thread/read` and `thread/resume` on
  that thread go to the remote;
* the remote's notifications about the thread reach the clients following it, and each approval the remote asks
  for is asked of the client that started the thread, as a request of the daemon's own; the answer goes back to
  the remote through the desktop's session, which keeps it across a dropped link.

Today's daemon knows nothing of the desktop's remote projects: none of this is installed, `remoteProjects/list` is
an unknown method, and the phone lists none of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from simulators.daemon.app_server import (
    AppServer,
    AppServerConnection,
    ConnectionClosed,
    Handler,
    RequestContext,
)
from simulators.protocol.jsonrpc import ErrorResponse, RpcMethodError, invalid_request
from simulators.remote_projects.core import DECISIONS, Approval, Notified
from simulators.remote_projects.link import TRANSPORT, RemoteLinkLost
from simulators.remote_projects.session import RemoteProjectSession, RemoteRpcError

log = logging.getLogger("pairsim.daemon.remote_projects")

LIST_METHOD = "remoteProjects/list"
PROJECT_PARAM = "remoteProjectId"
# The thread methods a remote thread's requests are carried to the remote by.
FORWARDED = ("turn/start", "turn/steer", "turn/interrupt", "thread/read", "thread/resume")

Projects = Callable[[], Mapping[str, RemoteProjectSession]]


class RemoteProjectBridge:
    """Serves the desktop's remote projects on the Mac's app-server. `projects()` is the desktop's list, by id."""

    def __init__(self, server: AppServer, projects: Projects) -> None:
        self.server = server
        self.projects = projects
        self._sessions: dict[str, RemoteProjectSession] = {}  # remote thread id -> its project's session
        self._followers: dict[str, list[AppServerConnection]] = {}  # remote thread id -> clients following it
        self._hooked: set[int] = set()

    def install(self) -> RemoteProjectBridge:
        self.server.register_method(LIST_METHOD, self._list, experimental=True)
        self.server.wrap_handler("thread/start", self._thread_start)
        for name in FORWARDED:
            if self.server.methods.get(name) is not None:  # what the Mac's daemon does not serve, it does not carry
                self.server.wrap_handler(name, self._forwarding)
        return self

    # -- listing -------------------------------------------------------------------------------------------------

    async def _list(self, ctx: RequestContext) -> dict[str, Any]:
        return {"data": [
            {"id": project_id, "name": session.project.name, "host": session.project.host,
             "cwd": session.project.cwd, "transport": TRANSPORT, "connected": session.connected}
            for project_id, session in self.projects().items()
        ]}

    # -- threads -------------------------------------------------------------------------------------------------

    def _thread_start(self, local: Handler) -> Handler:
        async def handle(ctx: RequestContext) -> Any:
            project_id = ctx.params.get(PROJECT_PARAM)
            if project_id is None:
                return await local(ctx)
            session = self.projects().get(project_id) if isinstance(project_id, str) else None
            if session is None:
                raise invalid_request(f"unknown remote project: {project_id}")
            self._hook(session)
            thread = await self._call(session, session.start_thread())
            thread_id = str(thread["id"])
            self._sessions[thread_id] = session
            self._follow(thread_id, ctx.connection)
            return {"thread": thread}

        return handle

    def _forwarding(self, local: Handler) -> Handler:
        async def handle(ctx: RequestContext) -> Any:
            thread_id = ctx.params.get("threadId")
            session = self._sessions.get(thread_id) if isinstance(thread_id, str) else None
            if session is None:
                return await local(ctx)
            self._follow(str(thread_id), ctx.connection)
            session.core.follow(str(thread_id))
            return await self._call(session, session.request(ctx.request.method, ctx.params))

        return handle

    @staticmethod
    async def _call(session: RemoteProjectSession, call: Any) -> Any:
        """The remote's answer; its refusal, or a dropped link, is this request's error."""
        try:
            return await call
        except RemoteRpcError as exc:
            raise RpcMethodError(exc.rpc_code, exc.message) from None
        except RemoteLinkLost:
            raise invalid_request(f"{session.project.host} is not connected") from None

    def _follow(self, thread_id: str, connection: AppServerConnection) -> None:
        followers = self._followers.setdefault(thread_id, [])
        if connection not in followers:
            followers.append(connection)

    # -- what the remote says --------------------------------------------------------------------------------------

    def _hook(self, session: RemoteProjectSession) -> None:
        if id(session) in self._hooked:
            return
        self._hooked.add(id(session))
        session.on_notification.append(self._notified)
        session.on_approval.append(lambda approval: self._ask(session, approval))

    def _live_followers(self, thread_id: str) -> list[AppServerConnection]:
        followers = [c for c in self._followers.get(thread_id, []) if not c.closed]
        self._followers[thread_id] = followers
        return followers

    async def _notified(self, notification: Notified) -> None:
        thread_id = _thread_of(notification.params)
        if thread_id is None or thread_id not in self._sessions:
            return
        for connection in self._live_followers(thread_id):
            await connection.notify(notification.method, notification.params)

    def _ask(self, session: RemoteProjectSession, approval: Approval) -> None:
        # Asked in a task of its own: the person takes her time, and the session keeps reading meanwhile.
        self.server.spawn(self._ask_follower(session, approval))

    async def _ask_follower(self, session: RemoteProjectSession, approval: Approval) -> None:
        followers = self._live_followers(approval.key.thread_id)
        if not followers:
            log.info("no client follows %s; the approval waits for the desktop", approval.key.thread_id)
            return
        try:
            answer = await followers[0].request(approval.method, approval.params)
        except ConnectionClosed:
            return  # the phone left before deciding: the approval still waits on the remote
        decision = None
        if not isinstance(answer, ErrorResponse) and isinstance(answer.result, dict):
            decision = answer.result.get("decision")
        # An error or an unreadable answer counts as decline, as on the app-server (docs/protocol.md §1.5).
        with contextlib.suppress(RemoteLinkLost):
            await session.decide(approval.key, decision if decision in DECISIONS else "decline")


def _thread_of(params: Mapping[str, Any]) -> str | None:
    thread_id = params.get("threadId")
    if isinstance(thread_id, str):
        return thread_id
    thread = params.get("thread")
    if isinstance(thread, dict) and isinstance(thread.get("id"), str):
        return str(thread["id"])
    return None
