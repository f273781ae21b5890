"""The daemon's end of the relay socket (`wham/remote/control/server`) and the virtual clients behind it.

Each (client_id, stream_id) the backend relays becomes one `AppServer` connection with origin `remoteControl`:
the phone's JSON-RPC goes in through `receive`, and whatever the app-server sends back leaves as numbered
`server_message` envelopes. Numbering, buffering until acked, chunking and replay are the sans-I/O `Outbox`;
this module only moves frames. Virtual clients and the outbox outlive one socket, so a reconnect replays
exactly what the backend had not acknowledged, and the subscribe cursor tells the backend where to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidProxyStatus, InvalidStatus

from simulators.daemon.app_server import AppServer, AppServerConnection
from simulators.protocol import relay as rp
from simulators.protocol.remote_control import websocket_connect_failure_message

log = logging.getLogger("pairsim.daemon.relay")

REMOTE_CONTROL_ORIGIN = "remoteControl"
PING_INTERVAL_SECONDS = 10.0
PONG_TIMEOUT_SECONDS = 60.0
OPEN_TIMEOUT_SECONDS = 10.0
# Close reason a daemon uses when it leaves because remote control was switched off, so the backend can tell
# the phone "connections are off" rather than "offline" (pairsim-defined; the backend's relay reads the same
# text).
DISABLED_CLOSE_REASON = "remote_control_disabled"
NORMAL_CLOSURE = 1000


@dataclass(frozen=True)
class RelayRefused:
    """The upgrade was answered with an HTTP status instead of 101."""

    status: int
    message: str


@dataclass(frozen=True)
class RelayClosed:
    """The socket ended. `code` is the close code (None when the connection failed or dropped without one)."""

    code: int | None
    reason: str
    opened: bool


@dataclass(frozen=True)
class RelayProxyRefused:
    """The proxy the daemon goes through refused the tunnel to the relay (`CONNECT` answered with `status`)."""

    status: int
    message: str


RelayOutcome = RelayRefused | RelayClosed | RelayProxyRefused


def proxy_refused_message(url: str, status: int) -> str:
    """The real daemon's line for a refused tunnel (observed on 0.169.0, its tungstenite's wording)."""
    return (f"failed to connect app-server remote control websocket `{url}`: URL error: Proxy connection failed: "
            f"HTTP CONNECT failed with status {status}")


class VirtualClient:
    """One phone stream as an app-server connection. Messages are handled in arrival order by one worker, so a
    slow handler delays only its own client."""

    def __init__(self, relay: RelayClient, client_id: str, stream_id: str) -> None:
        self.client_id = client_id
        self.stream_id = stream_id
        self._relay = relay
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connection: AppServerConnection = relay.app_server.connect(self.send, REMOTE_CONTROL_ORIGIN)
        self._worker = asyncio.ensure_future(self._work())

    async def send(self, message: dict[str, Any]) -> None:
        await self._relay.send_server_message(self.client_id, self.stream_id, message)

    def deliver(self, message: dict[str, Any]) -> None:
        self._inbox.put_nowait(message)

    async def _work(self) -> None:
        while True:
            message = await self._inbox.get()
            await self.connection.receive(message)

    async def close(self) -> None:
        self.connection.close()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker


class RelayClient:
    def __init__(
        self,
        app_server: AppServer,
        *,
        ping_interval: float = PING_INTERVAL_SECONDS,
        pong_timeout: float = PONG_TIMEOUT_SECONDS,
        open_timeout: float = OPEN_TIMEOUT_SECONDS,
    ) -> None:
        self.app_server = app_server
        # The proxy the relay socket goes through (a CONNECT tunnel), from the daemon's environment; None: direct.
        self.proxy: str | None = None
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.open_timeout = open_timeout
        self.outbox = rp.Outbox()
        self.cursor = rp.SubscribeCursor()
        self._reassembler = rp.Reassembler()
        self._clients: dict[tuple[str, str], VirtualClient] = {}
        self._ws: ClientConnection | None = None
        # Numbering in the outbox and writing to the socket happen under one lock, so frames leave in seq
        # order and a replay after reconnect never interleaves with (or duplicates) a live send.
        self._write_lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def virtual_clients(self) -> list[VirtualClient]:
        return list(self._clients.values())

    async def run(
        self, url: str, handshake: rp.RelayHandshake, on_open: Callable[[], Awaitable[None]]
    ) -> RelayOutcome:
        """Connect, replay, serve until the socket ends; never raises for network trouble."""
        headers = handshake.to_headers()
        try:
            ws = await connect(
                url,
                additional_headers=headers,
                ping_interval=self.ping_interval,
                ping_timeout=self.pong_timeout,
                open_timeout=self.open_timeout,
                max_size=None,
                compression=None,
                proxy=self.proxy,
            )
        except InvalidProxyStatus as exc:
            status = exc.response.status_code
            return RelayProxyRefused(status, proxy_refused_message(url, status))
        except InvalidStatus as exc:
            response = exc.response
            message = websocket_connect_failure_message(
                url, response.status_code, list(response.headers.raw_items()), response.body or b""
            )
            return RelayRefused(response.status_code, message)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return RelayClosed(None, f"cannot connect: {type(exc).__name__}", opened=False)
        try:
            async with self._write_lock:
                for frame in self.outbox.replay():
                    await ws.send(frame)
                self._ws = ws
            await on_open()
            await self._read(ws)
        except ConnectionClosed:
            pass
        finally:
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()
        return RelayClosed(ws.close_code, ws.close_reason or "", opened=True)

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if not isinstance(frame, str):
                continue  # binary frames are dropped, as the real daemon does
            try:
                envelope = rp.parse_client_envelope(frame)
            except rp.RelayProtocolError as exc:
                log.warning("dropping relay frame: %s", exc.message)
                continue
            self.cursor = self.cursor.observe(envelope)
            await self._handle(envelope)

    async def _handle(self, envelope: rp.ClientEnvelope) -> None:
        if isinstance(envelope, rp.ClientMessage):
            self._client(envelope.client_id, envelope.stream_id).deliver(envelope.message)
        elif isinstance(envelope, rp.ClientMessageChunk):
            try:
                message = self._reassembler.feed(envelope)
            except rp.ChunkError as exc:
                log.warning("dropping relay chunk: %s", exc.message)
                return
            if message is not None:
                self._client(envelope.client_id, envelope.stream_id).deliver(message)
        elif isinstance(envelope, rp.ClientAck):
            self.outbox.on_client_ack(envelope)
        elif isinstance(envelope, rp.Ping):
            stream_id = envelope.stream_id or ""
            known = (envelope.client_id, stream_id) in self._clients
            async with self._write_lock:
                pong = self.outbox.send_pong(
                    envelope.client_id, stream_id, rp.PongStatus.ACTIVE if known else rp.PongStatus.UNKNOWN
                )
                await self._write([pong])
        elif isinstance(envelope, rp.ClientClosed):
            await self.close_client(envelope.client_id, envelope.stream_id)

    def _client(self, client_id: str, stream_id: str | None) -> VirtualClient:
        key = (client_id, stream_id or "")
        client = self._clients.get(key)
        if client is None:
            client = VirtualClient(self, *key)
            self._clients[key] = client
        return client

    async def send_server_message(self, client_id: str, stream_id: str, message: dict[str, Any]) -> None:
        async with self._write_lock:
            envelopes = self.outbox.send_message(client_id, stream_id, message)
            await self._write(envelopes)

    async def _write(self, envelopes: list[rp.ServerEnvelope]) -> None:
        ws = self._ws
        if ws is None:
            return  # kept in the outbox; replayed on the next connect
        with contextlib.suppress(ConnectionClosed):
            for envelope in envelopes:
                await ws.send(rp.encode(envelope))

    async def close_client(self, client_id: str, stream_id: str | None) -> None:
        keys = [key for key in self._clients if key[0] == client_id and stream_id in (None, key[1])]
        for key in keys:
            await self._clients.pop(key).close()
        if stream_id is None:
            self._reassembler.discard_client(client_id)
        else:
            self._reassembler.discard_stream(client_id, stream_id)

    async def disconnect(self, reason: str = "") -> None:
        """Close the socket (the `run` in progress returns); virtual clients and the outbox are kept."""
        ws = self._ws
        if ws is not None:
            await ws.close(NORMAL_CLOSURE, reason)

    async def reset(self) -> None:
        """Forget every virtual client and everything unacknowledged (remote control was switched off, or the
        enrollment changed, so nothing buffered can be delivered any more)."""
        for client in list(self._clients.values()):
            await client.close()
        self._clients.clear()
        self.outbox = rp.Outbox()
        self.cursor = rp.SubscribeCursor()
        self._reassembler = rp.Reassembler()
