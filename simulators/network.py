"""One party's network path to a server on loopback, as a real TCP forwarder that can be cut and restored.

A `LoopbackForwarder` listens on its own 127.0.0.1 port and copies bytes both ways between each connection it
accepts and the server behind it. The world puts one in front of the backend for each party (the phones, each
Mac), so that "her phone is offline" is a real network failure on that party's path only, met by the real client
code (httpx, websockets, the daemon's relay client), never a flag the client reads:

- `cut()`: new connections are refused (ECONNREFUSED, as for a host that is down) and open ones are reset (RST),
  as when a phone loses its signal or a Mac its Wi-Fi;
- `restore()`: the same port serves again, so every URL a party already holds (a QR code's origin, a daemon's
  base URL) works again.

The port stays reserved while the path is cut: the listening socket is bound to its port explicitly and only
stops listening (Linux frees neither an explicitly bound port nor the socket on `shutdown`), so nobody else can
take the port in between. Further faults on a path (latency, a stalled or flaky link) belong here, beside `cut`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from enum import StrEnum

from simulators.protocol.errors import PairsimError

LOOPBACK = "127.0.0.1"
BACKLOG = 128
CHUNK_BYTES = 64 * 1024


class PathState(StrEnum):
    OPEN = "open"
    CUT = "cut"
    CLOSED = "closed"


class ForwarderError(PairsimError):
    """A forwarder used out of order (started twice, used after `close`), or a port it could not hold."""


@dataclass(eq=False)
class _Connection:
    """One accepted connection and its upstream; `reset()` ends both at once."""

    downstream: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def reset(self) -> None:
        _abort_with_reset(self.downstream)
        if self.upstream is not None:
            _abort_with_reset(self.upstream)


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    raw = writer.get_extra_info("socket")
    if raw is not None:
        # Linger on with a zero timeout: closing sends RST instead of FIN, as a dropped link looks to the peer.
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _reserve_port(host: str) -> socket.socket:
    """A socket bound to a free port chosen by the kernel, and bound to it *explicitly*.

    A port bound as port 0 is released again when the socket stops listening; one bound by number is not. The
    kernel's choice is held by a first socket while the second binds the same number (both with SO_REUSEPORT),
    so there is no moment at which another process could take it."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, 0))
        port = probe.getsockname()[1]
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            held.bind((host, port))
        except OSError as exc:
            held.close()
            raise ForwarderError(f"cannot hold port {port} for a forwarder ({exc.strerror})") from None
        return held
    finally:
        probe.close()


class LoopbackForwarder:
    """A TCP forwarder on 127.0.0.1 in front of `target_host:target_port`. Runs on the caller's event loop."""

    def __init__(self, target_host: str, target_port: int, *, name: str = "path") -> None:
        self.target = (target_host, target_port)
        self.name = name
        self._socket: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._connections: set[_Connection] = set()
        self._serving: set[asyncio.Task[None]] = set()
        self._state = PathState.OPEN
        self._started = False
        # A middlebox that passes plain HTTP but holds a WebSocket upgrade request forever, never answering it
        # (the controlling Mac's "Opening handshake has timed out", openai/codex#34010).
        self._stalls_upgrades = False
        self.stalled_upgrades = 0
        self._stalled = asyncio.Event()  # replaced by a fresh one at every held upgrade, after waking its waiters

    # ----------------------------------------------------------------------------------------- observation

    @property
    def state(self) -> PathState:
        return self._state

    @property
    def port(self) -> int:
        if self._socket is None:
            raise ForwarderError(f"the {self.name} forwarder is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the target as this path reaches it."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def stall_websocket_upgrades(self, stalled: bool = True) -> None:
        """From the next connection on, hold (or carry again) every WebSocket upgrade request: it reaches no
        server and gets no answer, while other requests pass."""
        self._stalls_upgrades = stalled

    async def wait_upgrade_stalled(self, beyond: int = 0) -> None:
        """Until this path has held more than `beyond` upgrade requests."""
        while self.stalled_upgrades <= beyond:
            await self._stalled.wait()

    # ----------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> LoopbackForwarder:
        if self._started:
            raise ForwarderError(f"the {self.name} forwarder is already started")
        self._started = True
        self._socket = _reserve_port(LOOPBACK)
        self._socket.setblocking(False)
        self._listen()
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset every open one. Cutting a cut path changes nothing."""
        self._require_started()
        if self._state is PathState.CUT:
            return
        self._state = PathState.CUT
        await self._stop_accepting()
        assert self._socket is not None
        # Stops listening but keeps the port: connecting now gets ECONNREFUSED, and the backlog is reset.
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RD)
        await self._reset_all()

    async def restore(self) -> None:
        """Serve again on the same port. Restoring an open path changes nothing."""
        self._require_started()
        if self._state is PathState.OPEN:
            return
        self._listen()
        self._state = PathState.OPEN

    async def close(self) -> None:
        """Stop for good: reset what is open and give the port back. Closing twice is harmless."""
        if self._state is PathState.CLOSED:
            return
        self._state = PathState.CLOSED
        await self._stop_accepting()
        await self._reset_all()
        if self._socket is not None:
            self._socket.close()

    async def __aenter__(self) -> LoopbackForwarder:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------------------------------- internals

    def _require_started(self) -> None:
        if not self._started:
            raise ForwarderError(f"the {self.name} forwarder is not started")
        if self._state is PathState.CLOSED:
            raise ForwarderError(f"the {self.name} forwarder is closed")

    def _listen(self) -> None:
        assert self._socket is not None
        self._socket.listen(BACKLOG)
        self._accepting = asyncio.get_running_loop().create_task(self._accept(), name=f"forwarder-{self.name}")

    async def _stop_accepting(self) -> None:
        task, self._accepting = self._accepting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _reset_all(self) -> None:
        connections, self._connections = set(self._connections), set()
        # A connection still being set up has no entry yet; its task ends with it.
        tasks = [*self._serving, *(task for connection in connections for task in connection.tasks)]
        for connection in connections:
            connection.reset()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._socket is not None
        while True:
            try:
                accepted, _ = await loop.sock_accept(self._socket)
            except OSError:
                return  # the listening socket stopped listening under us (cut or close)
            accepted.setblocking(False)
            # asyncio sets TCP_NODELAY only on sockets created with IPPROTO_TCP, and an accepted socket says proto 0:
            # without it Nagle holds every small frame for the peer's delayed ACK (40 ms a message).
            accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._serve(accepted))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve(self, accepted: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=accepted)
        except BaseException:
            accepted.close()
            raise
        connection = _Connection(writer)
        connection.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        self._connections.add(connection)
        try:
            head = b""
            if self._stalls_upgrades:
                head = await _request_head(reader)
                if _is_websocket_upgrade(head):
                    self.stalled_upgrades += 1
                    stalled, self._stalled = self._stalled, asyncio.Event()
                    stalled.set()
                    await asyncio.Event().wait()  # held until the path is cut or closed (which cancels this task)
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                # The server behind the path is down: the party sees its connection reset, not a silent hang.
                connection.reset()
                return
            connection.upstream = up_writer
            if head:
                up_writer.write(head)
            loop = asyncio.get_running_loop()
            pipes = {
                loop.create_task(_copy(reader, up_writer)),
                loop.create_task(_copy(up_reader, writer)),
            }
            connection.tasks.update(pipes)
            await asyncio.gather(*pipes, return_exceptions=True)
            for end in (writer, up_writer):
                end.close()
        finally:
            self._connections.discard(connection)


async def _request_head(reader: asyncio.StreamReader) -> bytes:
    """The bytes up to the end of the first request's head (or whatever came before the peer stopped sending)."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < CHUNK_BYTES:
        data = await reader.read(CHUNK_BYTES)
        if not data:
            break
        head += data
    return head


def _is_websocket_upgrade(head: bytes) -> bool:
    lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")[1:]
    return any(line.split(b":", 1)[0].strip() == b"upgrade" and b"websocket" in line for line in lines)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on (an HTTP client may send EOF and still read)."""
    try:
        while data := await reader.read(CHUNK_BYTES):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


__all__ = ["ForwarderError", "LoopbackForwarder", "PathState"]
