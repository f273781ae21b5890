"""The mock app-server's WebSocket listener: the HTTP surface of `codex app-server --listen ws://IP:PORT`.

Check order, as observed on the real server: any `Origin` header → 403 (even on /readyz); `/readyz` and
`/healthz` (kept alive on HTTP/1.1); then the WebSocket handshake headers (method, Connection, Upgrade,
Sec-WebSocket-Key, Sec-WebSocket-Version) → 400; then auth → 401; then 101 on any path. One JSON-RPC
message per text frame; binary frames and frames that are not a JSON-RPC message are logged and dropped.

Closing: the real server never answers a client's close frame and never sends one on shutdown; the peer sees
1006. aiohttp answers close frames unless `autoclose=False`, and sends a close frame when a handler returns;
both are avoided by closing the TCP transport first, after which aiohttp's close-frame write fails quietly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMsgType, hdrs, web

from simulators.clock import Clock
from simulators.daemon.app_server import AppServer
from simulators.daemon.options import ListenAddress, parse_listen_url
from simulators.protocol.ws_auth import WsAuthConfig, authorize_upgrade

log = logging.getLogger("pairsim.daemon.listener")

HEALTH_PATHS = ("/readyz", "/healthz")
# tungstenite's default message limit; aiohttp's own default (4 MiB) is smaller than the real server's.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SHUTDOWN_TIMEOUT_SECONDS = 2.0


def upgrade_problem(method: str, headers: Any) -> tuple[int, str] | None:
    """The status and body with which the real server (axum's WebSocketUpgrade) refuses a handshake, checked
    in its order. `headers` is a case-insensitive mapping; only the first value of each header counts."""
    if method != "GET":
        return 405, "Request method must be `GET`"
    if "upgrade" not in headers.get(hdrs.CONNECTION, "").lower():
        return 400, "Connection header did not include 'upgrade'"
    if headers.get(hdrs.UPGRADE, "").lower() != "websocket":
        return 400, "`Upgrade` header did not include 'websocket'"
    if hdrs.SEC_WEBSOCKET_KEY not in headers:
        return 400, "`Sec-WebSocket-Key` header missing"
    if headers.get(hdrs.SEC_WEBSOCKET_VERSION) != "13":
        return 400, "`Sec-WebSocket-Version` header did not include '13'"
    return None


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")


def _peer(request: web.BaseRequest) -> str:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not peer:
        return "unknown"
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class AppServerListener:
    """Serves an `AppServer` over WebSockets on one address. Usable in-process (tests, the world fixture) and
    by `pairsim daemon serve`."""

    def __init__(
        self,
        app_server: AppServer,
        *,
        listen: ListenAddress | None = None,
        auth: WsAuthConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.app_server = app_server
        self.listen = listen or parse_listen_url("ws://127.0.0.1:0")
        self.auth = auth
        self.clock = clock or app_server.clock
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._transports: dict[web.WebSocketResponse, Any] = {}

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the listener is not started")
        return self._port

    @property
    def authority(self) -> str:
        return self.listen.authority(self.port)

    @property
    def url(self) -> str:
        return f"ws://{self.authority}"

    @property
    def http_url(self) -> str:
        return f"http://{self.authority}"

    async def start(self) -> int:
        """Bind and serve; returns the bound port. Raises OSError (e.g. EADDRINUSE) if the bind fails."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(_strip_server_header)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
        )
        await runner.setup()
        site = web.TCPSite(runner, self.listen.host, self.listen.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = _bound_port(runner.addresses)
        return self._port

    async def stop(self) -> None:
        """Drop every client without a close frame (queued frames are flushed first), then stop listening."""
        for transport in list(self._transports.values()):
            transport.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AppServerListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- HTTP ------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if hdrs.ORIGIN in request.headers:
            log.warning(
                "rejecting websocket listener request with Origin header method=%s uri=%s",
                request.method,
                request.rel_url,
            )
            return web.Response(status=403)
        if request.path in HEALTH_PATHS:
            if request.method not in ("GET", "HEAD"):
                return web.Response(status=405, headers={hdrs.ALLOW: "GET,HEAD"})
            # Kept alive on HTTP/1.1 as on the real server (aiohttp answers `connection: close` only to a
            # client that asked for it, and closes HTTP/1.0). aiohttp leaves content-length off a HEAD answer
            # unless told.
            return web.Response(status=200, headers={hdrs.CONTENT_LENGTH: "0"})
        problem = upgrade_problem(request.method, request.headers)
        if problem is not None:
            return _text(*problem)
        rejection = authorize_upgrade(self.auth, request.headers.items(), self.clock.now())
        if rejection is not None:
            log.warning(
                "rejecting websocket client during upgrade peer_addr=%s %s", _peer(request), rejection.message
            )
            return _text(rejection.status, rejection.message)
        return await self._serve_websocket(request)

    # -- WebSocket -------------------------------------------------------------------------------------------

    async def _serve_websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            autoclose=False, autoping=True, compress=False, heartbeat=None, max_msg_size=MAX_MESSAGE_BYTES
        )
        await ws.prepare(request)
        transport = request.transport
        peer = _peer(request)

        async def send(message: dict[str, Any]) -> None:
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client transport is closed")
            await ws.send_str(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

        connection = self.app_server.connect(send, origin=f"ws {peer}")
        self._transports[ws] = transport
        try:
            while True:
                msg = await ws.receive()
                if msg.type is WSMsgType.TEXT:
                    await connection.receive_text(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    log.warning("dropping unsupported binary websocket message from %s", peer)
                else:  # CLOSE, CLOSING, CLOSED or ERROR: the client is done
                    break
        finally:
            connection.close()
            self._transports.pop(ws, None)
            if transport is not None:
                transport.close()  # before aiohttp can answer with a close frame
        return ws


async def _strip_server_header(request: web.Request, response: web.StreamResponse) -> None:
    # The real server (hyper) sends no Server header.
    response.headers.popall(hdrs.SERVER, None)


def _bound_port(addresses: Iterable[Any]) -> int:
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the listener has no bound TCP address")
