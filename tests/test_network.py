"""The loopback forwarder over real sockets: it carries bytes both ways, a cut refuses and resets, a restore serves
again on the same port, and a server that is down behind it reads as a reset, never a hang."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest
from aiohttp import WSMsgType, web
from websockets.asyncio.client import connect

from simulators.network import ForwarderError, LoopbackForwarder, PathState

TIMEOUT = 5.0


async def _echo_server() -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Echo until the client half-closes, then answer how much it sent: a half-close must reach the server.
        received = 0
        while data := await reader.read(1024):
            received += len(data)
            writer.write(data)
            await writer.drain()
        writer.write(f"bye after {received}".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


def _run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


def test_bytes_go_both_ways_and_a_half_close_reaches_the_server() -> None:
    async def body() -> None:
        server = await _echo_server()
        async with server, LoopbackForwarder("127.0.0.1", _port(server), name="test") as path:
            assert path.port != _port(server)
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            writer.write(b"hello")
            await writer.drain()
            assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"hello"
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"bye after 5"
            writer.close()

    _run(body)


def test_both_legs_send_small_frames_at_once() -> None:
    # Nagle on either leg would hold each small WebSocket frame for the peer's delayed ACK (about 40 ms).
    async def body() -> None:
        server = await _echo_server()
        async with server, LoopbackForwarder("127.0.0.1", _port(server)) as path:
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            writer.write(b"x")
            assert await asyncio.wait_for(reader.readexactly(1), TIMEOUT) == b"x"
            (connection,) = path._connections
            for leg in (connection.downstream, connection.upstream):
                assert leg is not None
                raw = leg.get_extra_info("socket")
                assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            writer.close()

    _run(body)


def test_a_cut_refuses_new_connections_and_a_restore_serves_on_the_same_port() -> None:
    async def body() -> None:
        server = await _echo_server()
        async with server, LoopbackForwarder("127.0.0.1", _port(server)) as path:
            port = path.port
            await path.cut()
            assert path.state is PathState.CUT
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)
            # Nobody else can take the port while the path is down.
            other = socket.socket()
            with pytest.raises(OSError) as taken:
                other.bind(("127.0.0.1", port))
            other.close()
            assert taken.value.errno == errno.EADDRINUSE
            await path.restore()
            assert (path.state, path.port) == (PathState.OPEN, port)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"again")
            assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"again"
            writer.close()

    _run(body)


def test_a_cut_resets_the_connections_that_are_open() -> None:
    async def body() -> None:
        server = await _echo_server()
        async with server, LoopbackForwarder("127.0.0.1", _port(server)) as path:
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == b"ping"
            assert path.open_connections == 1
            await path.cut()
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), TIMEOUT)
            assert path.open_connections == 0
            writer.close()

    _run(body)


def test_http_and_websockets_fail_as_unreachable_while_cut_and_work_after_restore() -> None:
    """What the phone and the daemon meet: httpx gets a ConnectError, websockets an OSError, then both work."""

    async def body() -> None:
        async def hello(_request: web.Request) -> web.Response:
            return web.Response(text="hello")

        async def ws(request: web.Request) -> web.WebSocketResponse:
            socket_ = web.WebSocketResponse()
            await socket_.prepare(request)
            async for message in socket_:
                if message.type == WSMsgType.TEXT:
                    await socket_.send_str(message.data.upper())
            return socket_

        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/ws", ws)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        backend_port = runner.addresses[0][1]
        try:
            async with LoopbackForwarder("127.0.0.1", backend_port) as path, httpx.AsyncClient() as http:
                assert (await http.get(path.url)).text == "hello"
                async with connect(f"ws://127.0.0.1:{path.port}/ws") as open_socket:
                    await open_socket.send("hi")
                    assert await open_socket.recv() == "HI"
                    await path.cut()
                    with pytest.raises(Exception) as ended:
                        await asyncio.wait_for(open_socket.recv(), TIMEOUT)
                    assert type(ended.value).__name__.startswith("ConnectionClosed")
                with pytest.raises(httpx.ConnectError):
                    await http.get(path.url)
                with pytest.raises(OSError):
                    await connect(f"ws://127.0.0.1:{path.port}/ws")
                await path.restore()
                assert (await http.get(path.url)).text == "hello"
        finally:
            await runner.cleanup()

    _run(body)


def test_a_server_that_is_down_behind_the_path_resets_the_connection() -> None:
    async def body() -> None:
        server = await _echo_server()
        port = _port(server)
        server.close()
        await server.wait_closed()
        async with LoopbackForwarder("127.0.0.1", port) as path:
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), TIMEOUT)
            writer.close()
            # The forwarder itself keeps serving: the next connection is accepted (and reset the same way).
            reader, writer = await asyncio.open_connection("127.0.0.1", path.port)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), TIMEOUT)
            writer.close()

    _run(body)


def test_cut_and_restore_are_idempotent_and_a_closed_forwarder_refuses_them() -> None:
    async def body() -> None:
        server = await _echo_server()
        async with server:
            path = await LoopbackForwarder("127.0.0.1", _port(server), name="phones").start()
            await path.restore()
            await path.cut()
            await path.cut()
            await path.restore()
            assert path.state is PathState.OPEN
            with pytest.raises(ForwarderError, match="already started"):
                await path.start()
            await path.close()
            await path.close()
            assert path.state is PathState.CLOSED
            with pytest.raises(ForwarderError, match="phones forwarder is closed"):
                await path.cut()
            with pytest.raises(ForwarderError, match="closed"):
                await path.restore()
        with pytest.raises(ForwarderError, match="not started"):
            _ = LoopbackForwarder("127.0.0.1", 1).port

    _run(body)
