"""The mock app-server's core, independent of any transport.

A transport (the WebSocket listener, or the remote-control relay's virtual clients) calls `AppServer.connect`
with an async `send(dict)` for outgoing messages and feeds each incoming message to
`AppServerConnection.receive`. The core runs the JSON-RPC session
(`simulators.protocol.jsonrpc.ServerSession`), answers `initialize` and `account/read` itself, and dispatches
every other method to handlers that other modules register.

Handlers run inside `receive`, so they must not wait for a client answer (that answer arrives through the same
`receive`); long work is scheduled with `RequestContext.after_response`, which runs once the response is sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import platform
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.clock import Clock
from simulators.protocol import jsonrpc
from simulators.protocol.errors import PairsimError
from simulators.protocol.jsonrpc import (
    ErrorResponse,
    MethodSpec,
    MethodTable,
    Notification,
    Request,
    Response,
    RpcError,
    RpcMethodError,
)

log = logging.getLogger("pairsim.daemon.app_server")

APP_SERVER_VERSION = "0.169.0"
PLATFORM_FAMILY = "unix"
PLATFORM_OS = "linux"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[["RequestContext"], Awaitable[Any]]
RemoteControlStatusProvider = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class ChatGptAccount:
    email: str
    plan_type: str
    user_id: str | None = None


@dataclass(frozen=True)
class ApiKeyAccount:
    pass


DesktopAccount = ChatGptAccount | ApiKeyAccount
AccountProvider = Callable[[], DesktopAccount | None]


def _signed_out() -> DesktopAccount | None:
    return None


@dataclass(frozen=True)
class HostPlatform:
    """The `(<OS> <version>; <arch>) <terminal>` part of the user agent."""

    os: str
    arch: str
    terminal: str

    @classmethod
    def detect(cls) -> HostPlatform:
        return cls(os=_describe_os(), arch=platform.machine() or "unknown", terminal=_describe_terminal())


def _describe_os() -> str:
    # The real server prints e.g. `Debian 12.0.0`: the distribution name and a three-part version.
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return platform.system() or "Linux"
    name = release.get("NAME", "Linux").split()[0]
    parts = [p for p in release.get("VERSION_ID", "").split(".") if p.isdigit()]
    if not parts:
        return name
    numbers = [str(int(p)) for p in parts[:3]] + ["0"] * (3 - min(len(parts), 3))
    return f"{name} {'.'.join(numbers)}"


def _describe_terminal() -> str:
    program = os.environ.get("TERM_PROGRAM")
    if program:
        version = os.environ.get("TERM_PROGRAM_VERSION")
        return f"{program}/{version}" if version else program
    return os.environ.get("TERM") or "unknown"


class ConnectionClosed(PairsimError):
    """The client went away while the server waited for its answer."""


@dataclass
class RequestContext:
    """What a method handler gets: the request, its connection, and a way to act after the response."""

    connection: AppServerConnection
    request: Request
    _after_response: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.request.params if isinstance(self.request.params, dict) else {}

    @property
    def server(self) -> AppServer:
        return self.connection.server

    def after_response(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` as a background task once the response has been handed to the transport."""
        self._after_response.append(callback)


class AppServerConnection:
    def __init__(self, server: AppServer, connection_id: int, send: Send, origin: str) -> None:
        self.server = server
        self.id = connection_id
        self.origin = origin
        self.session = jsonrpc.ServerSession(server.methods)
        self.closed = False
        self._send_fn = send
        self._answers: dict[jsonrpc.RequestId, asyncio.Future[Response | ErrorResponse]] = {}

    def __repr__(self) -> str:
        return f"AppServerConnection(id={self.id}, origin={self.origin!r})"

    async def receive_text(self, text: str | bytes) -> None:
        """One text frame from the transport. A frame that is not a JSON-RPC message is logged and dropped."""
        try:
            msg = jsonrpc.parse_message(text)
        except jsonrpc.JsonRpcError as exc:
            log.warning("dropping frame on %r: %s", self, exc.message)
            return
        await self._dispatch(msg)

    async def receive(self, message: dict[str, Any]) -> None:
        """One decoded message. Anything that is not a JSON-RPC message is logged and dropped."""
        try:
            msg = jsonrpc.parse_object(message)
        except jsonrpc.JsonRpcError as exc:
            log.warning("dropping message on %r: %s", self, exc.message)
            return
        await self._dispatch(msg)

    async def _dispatch(self, msg: jsonrpc.Message) -> None:
        if self.closed:
            return
        try:
            event = self.session.receive(msg)
        except jsonrpc.JsonRpcError as exc:
            log.warning("ignoring answer on %r: %s", self, exc.message)
            return
        if isinstance(event, jsonrpc.RequestRejected):
            await self._send(event.response)
        elif isinstance(event, jsonrpc.InitializeRequested):
            await self._answer_initialize(event)
        elif isinstance(event, jsonrpc.MethodCalled):
            await self._call(event.request)
        elif isinstance(event, jsonrpc.ServerRequestAnswered):
            future = self._answers.pop(event.request.id, None)
            if future is not None and not future.done():
                future.set_result(event.answer)
        # Client notifications (`initialized` and any other) need no answer.

    async def _answer_initialize(self, event: jsonrpc.InitializeRequested) -> None:
        result = self.server.initialize_result(event.client_info)
        await self._send(Response(event.request.id, result))
        # Sent straight after the response, whether or not the client sends `initialized`.
        for summary in self.server.config_warnings:
            await self.notify("configWarning", {"summary": summary, "details": None})
        await self.notify("remoteControl/status/changed", self.server.remote_control_status())
        # issue 11: signed in with ChatGPT, the real daemon (0.169.0) tells each new client so at once.
        account = self.server.account_provider()
        if isinstance(account, ChatGptAccount):
            await self.notify("account/updated", {"authMode": "chatgpt", "planType": account.plan_type})

    async def _call(self, request: Request) -> None:
        ctx = RequestContext(self, request)
        handler = self.server.handler(request.method)
        try:
            result = await handler(ctx)
        except RpcMethodError as exc:
            await self._send(ErrorResponse(request.id, exc.rpc_error))
            return
        except Exception:
            log.exception("handler for %s failed on %r", request.method, self)
            await self._send(ErrorResponse(request.id, RpcError(jsonrpc.INTERNAL_ERROR, "internal error")))
            return
        await self._send(Response(request.id, result))
        for callback in ctx._after_response:
            self.server.spawn(callback())

    async def _send(self, msg: jsonrpc.Message) -> None:
        if self.closed:
            return
        try:
            await self._send_fn(jsonrpc.to_wire(msg))
        except Exception as exc:
            # The transport is gone; what was queued for this client has nowhere to go.
            log.info("closing %r after a failed send: %s", self, type(exc).__name__)
            self.close()

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification stamped with `emittedAtMs`, unless the client is uninitialized or opted out."""
        if not self.session.wants_notification(method):
            return
        await self._send(Notification(method, params, emitted_at_ms=self.server.clock.now_ms()))

    async def request(self, method: str, params: Any) -> Response | ErrorResponse:
        """Send a server→client request and wait for the client's answer. Raises `ConnectionClosed`."""
        if self.closed:
            raise ConnectionClosed(f"{self!r} is closed")
        request = self.session.start_request(method, params)
        future: asyncio.Future[Response | ErrorResponse] = asyncio.get_running_loop().create_future()
        self._answers[request.id] = future
        await self._send(request)
        return await future

    def close(self) -> None:
        """Forget the client: fail its pending server requests so nothing waits on it forever."""
        if self.closed:
            return
        self.closed = True
        self.session.abandon_pending()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(ConnectionClosed(f"{self!r} closed before answering"))
                future.exception()  # marks it retrieved: an abandoned request is not an error to report
        self._answers.clear()
        self.server._forget(self)


class AppServer:
    def __init__(
        self,
        home: Path,
        clock: Clock,
        server_name: str,
        installation_id: str,
        *,
        host_platform: HostPlatform | None = None,
        account_provider: AccountProvider = _signed_out,
        config_warnings: Sequence[str] = (),
    ) -> None:
        self.home = home
        self.clock = clock
        self.server_name = server_name
        self.installation_id = installation_id
        self.host_platform = host_platform or HostPlatform.detect()
        self.account_provider = account_provider
        self.config_warnings = tuple(config_warnings)
        self.methods = MethodTable()
        self._handlers: dict[str, Handler] = {}
        self._connections: dict[int, AppServerConnection] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._first_client_name: str | None = None
        self._remote_control_status: RemoteControlStatusProvider = self._remote_control_disabled
        self._api_key_saved = _api_key_saved(home)
        # issue 11: what the daemon learns from the backend for a ChatGPT sign-in (workspace routing discovery) and
        # its own ChatGPT sign-in for clients; both only where the daemon knows its backend and issuer (a world).
        self.workspace_routing: Callable[[], Awaitable[dict[str, Any]]] | None = None
        self.chatgpt_login: Callable[[RequestContext], Awaitable[dict[str, Any]]] | None = None
        self.register_method("account/read", self._account_read)
        self.register_method("account/login/start", self._account_login_start, required_params=("type",))

    # -- registry --------------------------------------------------------------------------------------------

    def register_method(
        self,
        name: str,
        handler: Handler,
        experimental: bool = False,
        *,
        required_params: tuple[str, ...] = (),
    ) -> None:
        """Serve `name`. `required_params` get serde's `missing field` error before the initialize check."""
        self.methods.add(MethodSpec(name, experimental, required_params))
        self._handlers[name] = handler

    def handler(self, name: str) -> Handler:
        return self._handlers[name]

    def wrap_handler(self, name: str, wrap: Callable[[Handler], Handler]) -> None:
        """Serve a registered method through `wrap(current handler)`: its params checks stay as registered (issue
        12: the desktop's remote projects take over the thread methods for their own threads)."""
        self._handlers[name] = wrap(self._handlers[name])

    def set_remote_control_status_provider(self, provider: RemoteControlStatusProvider) -> None:
        self._remote_control_status = provider

    def remote_control_status(self) -> dict[str, Any]:
        """`{status, serverName, installationId, environmentId}` as sent in `remoteControl/status/changed`."""
        return self._remote_control_status()

    def _remote_control_disabled(self) -> dict[str, Any]:
        return {
            "status": "disabled",
            "serverName": self.server_name,
            "installationId": self.installation_id,
            "environmentId": None,
        }

    # -- connections -----------------------------------------------------------------------------------------

    def connect(self, send: Send, origin: str) -> AppServerConnection:
        """A new client. `origin` names the transport and peer for logs (e.g. `ws 127.0.0.1:50412`)."""
        connection = AppServerConnection(self, next(self._ids), send, origin)
        self._connections[connection.id] = connection
        log.info("client connected: %r", connection)
        return connection

    def _forget(self, connection: AppServerConnection) -> None:
        self._connections.pop(connection.id, None)
        log.info("client disconnected: %r", connection)

    @property
    def connections(self) -> list[AppServerConnection]:
        return list(self._connections.values())

    async def broadcast(self, method: str, params: Any) -> None:
        """Notify every initialized connection (each one's opt-outs apply)."""
        await asyncio.gather(*(c.notify(method, params) for c in self.connections))

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        """Run background work owned by the server; `close` cancels what is still running."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def close(self) -> None:
        for connection in self.connections:
            connection.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- built-in methods ------------------------------------------------------------------------------------

    @property
    def originator(self) -> str:
        """The first client ever initialized on this server: the real daemon's originator for what it starts."""
        return self._first_client_name or "codex_vscode"

    def initialize_result(self, client: jsonrpc.ClientInfo) -> dict[str, Any]:
        # The prefix is the first client ever initialized on this server (process-wide in the real one).
        if self._first_client_name is None:
            self._first_client_name = client.name
        p = self.host_platform
        user_agent = (
            f"{self._first_client_name}/{APP_SERVER_VERSION} ({p.os}; {p.arch}) {p.terminal} "
            f"({client.name}; {client.version})"
        )
        return {
            "userAgent": user_agent,
            "codexHome": str(self.home),
            "platformFamily": PLATFORM_FAMILY,
            "platformOs": PLATFORM_OS,
        }

    async def _account_read(self, ctx: RequestContext) -> dict[str, Any]:
        account = self.account_provider()
        if account is None and self._api_key_saved:
            account = ApiKeyAccount()
        wire: dict[str, Any] | None
        user_id = None
        if isinstance(account, ChatGptAccount):
            wire = {"type": "chatgpt", "email": account.email, "planType": account.plan_type, "workspaceName": None}
            user_id = account.user_id
            if self.workspace_routing is not None:
                # The real daemon answers only after its discovery; a failed one fails account/read.
                return {"account": wire, "userId": user_id, "requiresOpenaiAuth": True,
                        "workspaceRouting": await self.workspace_routing()}
        elif isinstance(account, ApiKeyAccount):
            wire = {"type": "apiKey"}
        else:
            wire = None
        return {"account": wire, "userId": user_id, "requiresOpenaiAuth": True, "workspaceRouting": None}

    async def _account_login_start(self, ctx: RequestContext) -> dict[str, Any]:
        """Sign-in from a client (the TUI's API-key screen): the key is saved in the daemon's auth.json, as the real
        daemon saves it, then the caller hears `account/login/completed` and every client `account/updated`."""
        kind = ctx.params.get("type")
        if kind == "chatgpt" and self.chatgpt_login is not None:
            return await self.chatgpt_login(ctx)
        if kind != "apiKey":
            raise RpcMethodError(
                jsonrpc.METHOD_NOT_FOUND,
                f"`account/login/start` with type {kind!r} is a sign-in that pairsim's mock does not simulate",
            )
        api_key = ctx.params.get("apiKey")
        if not isinstance(api_key, str):
            raise jsonrpc.invalid_request_shape("missing field `apiKey`")
        _save_api_key(self.home, api_key)
        self._api_key_saved = True
        connection = ctx.connection

        async def announce() -> None:
            await connection.notify(
                "account/login/completed",
                {"loginId": None, "success": True, "error": None, "onboardingEntrypoint": None},
            )
            await self.broadcast("account/updated", {"authMode": "apikey", "planType": None})

        ctx.after_response(announce)
        return {"type": "apiKey"}


AUTH_FILE = "auth.json"


def _api_key_saved(home: Path) -> bool:
    """Whether the home's auth.json holds an API-key sign-in (what `codex login --with-api-key` writes)."""
    try:
        document = json.loads((home / AUTH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("auth_mode") == "apikey" and bool(document.get("OPENAI_API_KEY"))


def _save_api_key(home: Path, api_key: str) -> None:
    path = home / AUTH_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"auth_mode": "apikey", "OPENAI_API_KEY": api_key}, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)
