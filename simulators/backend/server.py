"""The simulated ChatGPT backend as one real aiohttp server on loopback.

Extension point: the app is built from *route groups*. A route group is a function

    def add_routes(app: web.Application, state: BackendState) -> None

that adds named routes (the route name is also the fault key, see `admin.py`). Built-in groups are the modules
in `ROUTE_GROUP_MODULES` (each exposes `add_routes`); another area adds its module name there, or passes extra
groups to `BackendServer(..., route_groups=[...])` / `server.add_route_group(fn)` before `start()`. A group
keeps its own state in `state.extensions[<its name>]` and verifies bearer tokens with
`state.issuer.verify_access_token` (or `issuer.bearer_claims(request, state.issuer)`); `issuer.read_body`
reads a body with a size limit.

URLs once started: `base_url` = `http://127.0.0.1:<port>` (also the OAuth issuer), `chatgpt_base_url` =
`{base_url}/backend-api/` (where the remote-control routes belong), admin API under
`{base_url}/_pairsim/admin/`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hmac
import importlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from simulators.backend.accounts import AccountFactory, AccountStore
from simulators.backend.admin import BackendControl, FaultRegistry
from simulators.backend.issuer import Issuer, IssuerSettings
from simulators.clock import Clock
from simulators.protocol.errors import PairsimError
from simulators.protocol.oauth import RandomBytes, b64url_encode, system_random_bytes
from simulators.protocol.redaction import redact_headers, redact_secrets, redact_url

logger = logging.getLogger(__name__)

CHATGPT_BASE_PATH = "/backend-api/"
ROUTE_GROUP_MODULES: tuple[str, ...] = (
    "simulators.backend.issuer",
    "simulators.backend.admin",
    "simulators.backend.remote_control",
    "simulators.backend.rc_admin",
    "simulators.backend.device_auth",
)


class TrafficLog:
    """A bounded, redacted record of the HTTP exchanges the backend served (newest last)."""

    def __init__(self, limit: int = 2000) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)

    def record(self, request: web.Request, response: web.StreamResponse) -> None:
        self.entries.append(
            {
                "kind": "backend_http",
                "method": request.method,
                "url": redact_url(str(request.rel_url)),
                "request_headers": redact_headers(
                    {k: v for k, v in request.headers.items() if k.lower() in _TRACED_HEADERS}
                ),
                "status": response.status,
                "response_body": _redacted_json_body(response),
            }
        )


def _redacted_json_body(response: web.StreamResponse) -> Any:
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or response.content_type != "application/json":
        return None
    try:
        return redact_secrets(json.loads(body))
    except ValueError:
        return None


_TRACED_HEADERS = frozenset(
    {"authorization", "chatgpt-account-id", "x-codex-installation-id", "x-codex-protocol-version",
     "x-codex-server-id", "x-codex-name", "x-codex-client-id", "x-codex-client-session-token", "content-type"}
)


@dataclass
class BackendState:
    """Everything the backend knows. Route groups receive it; scenarios reach it through `control`."""

    clock: Clock
    accounts: AccountStore
    issuer: Issuer
    faults: FaultRegistry
    admin_token: str = field(repr=False)
    extensions: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    traffic: TrafficLog = field(default_factory=lambda: TrafficLog())

    @classmethod
    def create(
        cls,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        random_bytes: RandomBytes = system_random_bytes,
        settings: IssuerSettings | None = None,
    ) -> BackendState:
        clock = clock or Clock()
        accounts = AccountStore(clock, AccountFactory(seed), random_bytes=random_bytes)
        return cls(
            clock=clock,
            accounts=accounts,
            issuer=Issuer(accounts, clock, settings=settings, random_bytes=random_bytes),
            faults=FaultRegistry(),
            admin_token=b64url_encode(random_bytes(32)),
        )

    @property
    def control(self) -> BackendControl:
        return BackendControl(self)

    def admin_token_matches(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("utf-8", "replace"), self.admin_token.encode("ascii")
        )


RouteGroup = Callable[[web.Application, BackendState], None]
STATE_KEY = web.AppKey("pairsim_backend_state", BackendState)


def default_route_groups() -> list[RouteGroup]:
    return [importlib.import_module(name).add_routes for name in ROUTE_GROUP_MODULES]


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log without query strings or headers: queries carry codes and state, headers carry tokens."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.1fms", request.method, request.path, response.status, time * 1000)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(state: BackendState, route_groups: Iterable[RouteGroup]) -> web.Application:

    @web.middleware
    async def contain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Type and route only: exception text could quote request data.
            logger.error("unhandled %s in %s %s", type(exc).__name__, request.method, request.path)
            return web.json_response({"error": "server_error"}, status=500)

    @web.middleware
    async def apply_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        name = route.resource.name if route.resource is not None else None
        if name and not name.startswith("admin."):
            response = await state.faults.respond(name)
            if response is not None:
                return response
        return await handler(request)

    @web.middleware
    async def record_traffic(request: web.Request, handler: Handler) -> web.StreamResponse:
        # What every party sent the backend and got back, redacted, for scenario traces. WebSocket upgrades are
        # recorded as their handshake only; relay frames belong to the parties' own traces.
        if request.path.startswith("/_pairsim/"):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # aiohttp answers unrouted paths (404) and wrong methods (405) by raising; record those too, since
            # "the daemon called something we do not serve" is exactly what a trace reader looks for.
            state.traffic.record(request, exc)
            raise
        state.traffic.record(request, response)
        return response

    app = web.Application(middlewares=[record_traffic, contain_errors, apply_faults])
    app[STATE_KEY] = state
    for group in route_groups:
        group(app, state)
    return app


class BackendServer:
    """One loopback aiohttp server serving every route group over one `BackendState`."""

    def __init__(
        self,
        state: BackendState,
        clock: Clock | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        route_groups: Iterable[RouteGroup] | None = None,
    ) -> None:
        if clock is not None and clock is not state.clock:
            raise ValueError("the server and its state must share one clock")
        self.state = state
        self.host = host
        self.port = port
        self._groups: list[RouteGroup] = default_route_groups()
        self._groups.extend(route_groups or ())
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.base_url: str | None = None

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def control(self) -> BackendControl:
        return self.state.control

    @property
    def issuer_url(self) -> str:
        return self._started_url()

    @property
    def chatgpt_base_url(self) -> str:
        return self._started_url() + CHATGPT_BASE_PATH

    def _started_url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("the backend server is not started")
        return self.base_url

    def add_route_group(self, group: RouteGroup) -> None:
        if self._runner is not None:
            raise RuntimeError("route groups are added before start()")
        self._groups.append(group)

    async def start(self) -> str:
        if self._runner is not None:
            raise RuntimeError("the backend server is already started")
        self.app = build_app(self.state, self._groups)
        runner = web.AppRunner(self.app, access_log_class=PathOnlyAccessLogger, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{port}"
        self.state.base_url = self.base_url
        self.state.issuer.bind(self.base_url)
        return self.base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> BackendServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# ------------------------------------------------------------------------------------------------------------
# `pairsim backend`: the backend as its own process


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "backend", help="run the simulated ChatGPT backend (accounts, OAuth issuer, admin API) on loopback"
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed for generated accounts")
    parser.add_argument(
        "--profile",
        choices=("fixed", "legacy"),
        default="fixed",
        help="fixed: refusals carry the typed `code`; legacy: today's backend, `detail` only",
    )
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        help="write the admin API token to this file (created with mode 0600)",
    )
    parser.set_defaults(func=_run_backend_command)


def _run_backend_command(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise PairsimError(f"--port must be between 0 and 65535, not {args.port}")
    return asyncio.run(_serve(args.port, args.seed, args.admin_token_file, typed_errors=args.profile == "fixed"))


async def _serve(port: int, seed: int, admin_token_file: Path | None, *, typed_errors: bool = True) -> int:
    from simulators.backend import remote_control

    state = BackendState.create(seed=seed)
    remote_control.configure(state, typed_errors=typed_errors)
    server = BackendServer(state, port=port)
    try:
        base_url = await server.start()
    except OSError as exc:
        raise PairsimError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    if admin_token_file is not None:
        fd = os.open(admin_token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(server.state.admin_token + "\n")
    print(f"backend: {base_url}", flush=True)
    print(f"chatgpt_base_url: {server.chatgpt_base_url}", flush=True)
    print(f"issuer: {server.issuer_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
