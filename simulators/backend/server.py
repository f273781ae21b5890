"""The simulated ChatGPT backend as one real aiohttp server on loopback.

The app is assembled here from the backend's route modules, each given the part of `BackendState`
(`simulators/backend/state.py`) it serves: the issuer, the admin API, the remote-control service, its admin
routes, the device-code registry. Route names are also fault keys (`faults.py`). A test may add a *route group*,
a function `(app, state) -> None`, with `BackendServer(..., route_groups=[...])` or `add_route_group` before
`start()`.

URLs once started: `base_url` = `http://127.0.0.1:<port>` (also the OAuth issuer), `chatgpt_base_url` =
`{base_url}/backend-api/` (where the remote-control routes belong), admin API under
`{base_url}/_pairsim/admin/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from email.utils import formatdate
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger

from simulators.backend import admin, device_auth, rc_admin
from simulators.backend import issuer as issuer_routes
from simulators.backend.admin import BackendControl
from simulators.backend.faults import path_key
from simulators.backend.state import BackendState
from simulators.clock import Clock
from simulators.protocol.errors import PairsimError
from simulators.tls import WorldTls

logger = logging.getLogger(__name__)

CHATGPT_BASE_PATH = "/backend-api/"
ADMIN_PATH = "/_pairsim/"


RouteGroup = Callable[[web.Application, BackendState], None]
STATE_KEY = web.AppKey("pairsim_backend_state", BackendState)


def default_route_groups() -> list[RouteGroup]:
    """The backend's own route modules, each given the part of the state it serves."""
    return [
        lambda app, state: issuer_routes.add_routes(app, state.issuer, state.faults),
        admin.add_routes,
        lambda app, state: state.remote_control.add_routes(app),
        rc_admin.add_routes,
        lambda app, state: device_auth.add_routes(app, state.device_auth),
        lambda app, state: state.model.add_routes(app),
    ]


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
        if request.path.startswith(ADMIN_PATH):
            return await handler(request)
        # By path first (it names one route, or a path no route serves), then by the route's name.
        route = request.match_info.route
        name = route.resource.name if route.resource is not None else None
        for key in (path_key(request.path), name):
            if key:
                response = await state.faults.respond(key)
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

    async def stamp_date(_request: web.BaseRequest, response: web.StreamResponse) -> None:
        # Every answer says the time by the service's clock, not the host's: a client compares it with its own
        # clock to tell a clock that is off (aiohttp has set its own `Date` by now; this runs just before the
        # headers are written, on every answer, errors and WebSocket upgrades included).
        response.headers[hdrs.DATE] = formatdate(state.clock.now(), usegmt=True)

    app = web.Application(middlewares=[record_traffic, contain_errors, apply_faults])
    app.on_response_prepare.append(stamp_date)
    app[STATE_KEY] = state

    async def answer_waiting_requests(_app: web.Application) -> None:
        state.faults.close()

    app.on_shutdown.append(answer_waiting_requests)
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
        tls: WorldTls | None = None,
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
        # The same app also listens with TLS when given a certificate: the model's workspace origin must be HTTPS.
        self.tls = tls
        self.https_url: str | None = None

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def control(self) -> BackendControl:
        return BackendControl(self.state)

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
        if self.tls is not None:
            secure = web.TCPSite(runner, self.host, 0, ssl_context=self.tls.server_context())
            await secure.start()
            self.https_url = f"https://{self.host}:{runner.addresses[1][1]}"
            self.state.model.https_origin = self.https_url
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
    state = BackendState.create(seed=seed, typed_errors=typed_errors)
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
