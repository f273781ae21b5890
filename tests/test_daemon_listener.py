"""The mock app-server's listener over real sockets: HTTP surface (observed §3.2), upgrade auth (§3.3-3.5) and
frame handling (§3.7, §7.9)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulators.clock import FrozenClock
from simulators.daemon.app_server import AppServer, HostPlatform
from simulators.daemon.listener import AppServerListener, upgrade_problem
from simulators.daemon.options import parse_listen_url
from simulators.daemon.stdio_transport import serve_stdio
from simulators.daemon.threads import install_threads
from simulators.daemon.workspace import Workspace
from simulators.protocol.ws_auth import CapabilityTokenAuth, SignedBearerTokenAuth, WsAuthConfig

T = TypeVar("T")
NOW = 1_800_000_000
TOKEN = "listener-capability-token"
SECRET = b"listener-shared-secret-0123456789abcdef-0123456789abcdef-01234567"
CAPABILITY = CapabilityTokenAuth(hashlib.sha256(TOKEN.encode()).digest())
SIGNED = SignedBearerTokenAuth(SECRET, issuer="test-issuer", audience="test-aud", max_clock_skew_seconds=30)
INIT = {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "probe", "version": "0.0.1"}}}
TIMEOUT = 5.0
UNSEEDED = Workspace(Path("/nonexistent/pairsim-workspace"))  # these tests list threads but run no turn


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 20)

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def serving(
    auth: WsAuthConfig | None = None, listen: str = "ws://127.0.0.1:0"
) -> AsyncIterator[AppServerListener]:
    clock = FrozenClock(instant=NOW)
    server = AppServer(
        Path("/tmp/pairsim-home"), clock, "vm", "inst-0001", host_platform=HostPlatform("L", "x", "t")
    )
    install_threads(server, workspace=UNSEEDED)
    listener = AppServerListener(server, listen=parse_listen_url(listen), auth=auth)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()
        await server.close()


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def initialize(ws: ClientConnection) -> None:
    await ws.send(json.dumps(INIT))
    assert (await recv_json(ws))["id"] == 1
    assert (await recv_json(ws))["method"] == "remoteControl/status/changed"


# ------------------------------------------------------------------------------------------------------------
# Raw HTTP


class RawResponse:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


async def raw_request(port: int, request: str) -> RawResponse:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request.encode("latin-1"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines)]
        status = int(status_line.split()[1])
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT) if status != 101 else b""
        return RawResponse(status, headers, body)
    finally:
        writer.close()


def http(method: str, path: str, *headers: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return "\r\n".join(lines) + "\r\n\r\n"


UPGRADE_HEADERS = ("Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13")
KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(path: str = "/", *extra: str, key: bool = True, method: str = "GET") -> str:
    return http(method, path, *UPGRADE_HEADERS, *((KEY,) if key else ()), *extra)


TEXT_PLAIN = "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
@pytest.mark.parametrize("auth", [None, CAPABILITY], ids=["no-auth", "capability"])
def test_health_endpoints_need_no_auth(path: str, auth: WsAuthConfig | None) -> None:
    async def scenario() -> None:
        async with serving(auth) as listener:
            response = await raw_request(listener.port, http("GET", path))
            assert (response.status, response.body) == (200, b"")
            assert response.header("content-length") == "0"
            assert response.header("server") is None
            head = await raw_request(listener.port, http("HEAD", path))
            assert (head.status, head.header("content-length")) == (200, "0")
            closing = await raw_request(listener.port, http("GET", path, "Connection: close"))
            assert (closing.status, closing.header("connection")) == (200, "close")

    run(scenario)


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines)]
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    return RawResponse(int(status_line.split()[1]), headers, await reader.readexactly(length))


def test_health_checks_keep_an_http11_connection_open_and_close_http10() -> None:
    async def scenario() -> None:
        async with serving() as listener:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            try:
                for path in ("/readyz", "/healthz", "/readyz"):
                    writer.write(http("GET", path).encode())
                    response = await read_response(reader)
                    assert (response.status, response.body, response.header("connection")) == (200, b"", None)
            finally:
                writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            try:
                writer.write(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                assert (await read_response(reader)).status == 200
                assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed by the server
            finally:
                writer.close()

    run(scenario)


def test_post_readyz_is_405() -> None:
    async def scenario() -> None:
        async with serving() as listener:
            response = await raw_request(listener.port, http("POST", "/readyz", "Content-Length: 0"))
            assert (response.status, response.body) == (405, b"")

    run(scenario)


@pytest.mark.parametrize("path", ["/", "/foo", "/some/path"])
@pytest.mark.parametrize("auth", [None, CAPABILITY, SIGNED], ids=["no-auth", "capability", "signed"])
def test_non_upgrade_requests_are_400(path: str, auth: WsAuthConfig | None) -> None:
    async def scenario() -> None:
        async with serving(auth) as listener:
            response = await raw_request(listener.port, http("GET", path))
            assert response.status == 400
            assert response.header("content-type") == TEXT_PLAIN
            assert response.body == b"Connection header did not include 'upgrade'"

    run(scenario)


@pytest.mark.parametrize("auth", [None, CAPABILITY], ids=["no-auth", "capability"])
def test_upgrade_without_key_is_400_before_auth(auth: WsAuthConfig | None) -> None:
    async def scenario() -> None:
        async with serving(auth) as listener:
            response = await raw_request(listener.port, upgrade("/", key=False))
            assert response.status == 400
            assert response.header("content-type") == TEXT_PLAIN
            assert response.body == b"`Sec-WebSocket-Key` header missing"

    run(scenario)


@pytest.mark.parametrize(
    "origin", ["null", "http://localhost", "http://127.0.0.1:{port}", "https://evil.example"]
)
def test_any_origin_header_is_403_first(origin: str) -> None:
    async def scenario() -> None:
        async with serving(CAPABILITY) as listener:
            value = origin.format(port=listener.port)
            for request in (
                upgrade("/", f"Origin: {value}", f"Authorization: Bearer {TOKEN}"),
                upgrade("/", f"Origin: {value}"),
                http("GET", "/readyz", f"Origin: {value}"),
                http("GET", "/", f"Origin: {value}"),
            ):
                response = await raw_request(listener.port, request)
                assert (response.status, response.body) == (403, b"")
                assert response.header("content-length") == "0"

    run(scenario)


@pytest.mark.parametrize("path", ["/", "/foo", "/some/path"])
def test_upgrade_on_any_path_without_subprotocol_or_compression(path: str) -> None:
    async def scenario() -> None:
        async with serving() as listener:
            response = await raw_request(
                listener.port,
                upgrade(
                    path,
                    "Sec-WebSocket-Protocol: chat, codex",
                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                    "x-codex-app-server-compression: zstd-stream-v1",
                ),
            )
            assert response.status == 101
            assert response.header("upgrade") == "websocket"
            assert response.header("connection") == "upgrade"
            assert response.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
            assert response.header("date") is not None
            for absent in ("sec-websocket-protocol", "sec-websocket-extensions", "server"):
                assert response.header(absent) is None, absent
            assert response.header("x-codex-app-server-compression") is None

    run(scenario)


@pytest.mark.parametrize(
    ("request_text", "status", "body"),
    [
        (upgrade("/", method="POST"), 405, "Request method must be `GET`"),
        (
            http("GET", "/", "Connection: Upgrade", "Upgrade: h2c", "Sec-WebSocket-Version: 13", KEY),
            400,
            "`Upgrade` header did not include 'websocket'",
        ),
        (
            http("GET", "/", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 8", KEY),
            400,
            "`Sec-WebSocket-Version` header did not include '13'",
        ),
    ],
)
def test_other_handshake_refusals(request_text: str, status: int, body: str) -> None:
    async def scenario() -> None:
        async with serving() as listener:
            response = await raw_request(listener.port, request_text)
            assert (response.status, response.body.decode()) == (status, body)

    run(scenario)


def test_upgrade_problem_is_checked_in_axum_order() -> None:
    assert upgrade_problem("GET", {}) == (400, "Connection header did not include 'upgrade'")
    # Neither Sec-WebSocket-Key nor -Version: the key is checked first.
    assert upgrade_problem("GET", {"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}) == (
        400,
        "`Sec-WebSocket-Key` header missing",
    )
    headers = {"Connection": "upgrade", "Upgrade": "websocket", "Sec-WebSocket-Key": "k"}
    assert upgrade_problem("GET", headers) == (400, "`Sec-WebSocket-Version` header did not include '13'")
    assert upgrade_problem("GET", {**headers, "Sec-WebSocket-Version": "13"}) is None


# ------------------------------------------------------------------------------------------------------------
# Auth over real sockets: every 401 row of observed §3.4 and §3.5


def jwt_token(secret: bytes = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    base: dict[str, object] = {"iss": "test-issuer", "aud": "test-aud", "iat": NOW, "exp": NOW + 300}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm=algorithm)


def bearer(value: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {value}")]


OTHER_SECRET = b"some-other-secret-that-is-long-enough-0123456789abcdef-012345"

AUTH_ROWS: list[
    tuple[str, WsAuthConfig | None, Sequence[tuple[str, str]], str, list[str] | None, int | str]
] = [
    # (id, config, headers, path, subprotocols, expected: 101 or the 401 body)
    ("none: no header", None, [], "/", None, 101),
    ("none: stray bearer", None, bearer("anything"), "/", None, 101),
    ("cap: no header", CAPABILITY, [], "/", None, "missing websocket bearer token"),
    ("cap: wrong token", CAPABILITY, bearer("wrong-token"), "/", None, "invalid websocket bearer token"),
    ("cap: right token", CAPABILITY, bearer(TOKEN), "/", None, 101),
    ("cap: lower-case scheme", CAPABILITY, [("Authorization", f"bearer {TOKEN}")], "/", None, 101),
    ("cap: upper-case scheme", CAPABILITY, [("Authorization", f"BEARER {TOKEN}")], "/", None, 101),
    ("cap: two spaces", CAPABILITY, [("Authorization", f"Bearer  {TOKEN}")], "/", None, 101),
    ("cap: trailing space", CAPABILITY, [("Authorization", f"Bearer {TOKEN} ")], "/", None, 101),
    ("cap: no scheme", CAPABILITY, [("Authorization", TOKEN)], "/", None, "invalid authorization header"),
    ("cap: basic", CAPABILITY, [("Authorization", "Basic dTpw")], "/", None, "invalid authorization header"),
    (
        "cap: bare bearer",
        CAPABILITY,
        [("Authorization", "Bearer")],
        "/",
        None,
        "invalid authorization header",
    ),
    (
        "cap: empty bearer",
        CAPABILITY,
        [("Authorization", "Bearer ")],
        "/",
        None,
        "invalid authorization header",
    ),
    ("cap: query token", CAPABILITY, [], f"/?token={TOKEN}", None, "missing websocket bearer token"),
    ("cap: subprotocol token", CAPABILITY, [], "/", [TOKEN], "missing websocket bearer token"),
    (
        "cap: wrong then right",
        CAPABILITY,
        [*bearer("wrong"), *bearer(TOKEN)],
        "/",
        None,
        "invalid websocket bearer token",
    ),
    ("cap: right then wrong", CAPABILITY, [*bearer(TOKEN), *bearer("wrong")], "/", None, 101),
    (
        "cap: digest as token",
        CAPABILITY,
        bearer(hashlib.sha256(TOKEN.encode()).hexdigest()),
        "/",
        None,
        "invalid websocket bearer token",
    ),
    ("jwt: valid", SIGNED, bearer(jwt_token()), "/", None, 101),
    ("jwt: aud list", SIGNED, bearer(jwt_token(aud=["x", "test-aud"])), "/", None, 101),
    ("jwt: no iss", SIGNED, bearer(jwt_token(iss=None)), "/", None, "websocket jwt issuer mismatch"),
    ("jwt: no aud", SIGNED, bearer(jwt_token(aud=None)), "/", None, "websocket jwt audience mismatch"),
    ("jwt: empty aud", SIGNED, bearer(jwt_token(aud=[])), "/", None, "websocket jwt audience mismatch"),
    ("jwt: no exp", SIGNED, bearer(jwt_token(exp=None)), "/", None, "invalid websocket jwt"),
    ("jwt: wrong aud", SIGNED, bearer(jwt_token(aud="other")), "/", None, "websocket jwt audience mismatch"),
    ("jwt: wrong iss", SIGNED, bearer(jwt_token(iss="other")), "/", None, "websocket jwt issuer mismatch"),
    ("jwt: exp now", SIGNED, bearer(jwt_token(exp=NOW)), "/", None, 101),
    ("jwt: exp -29", SIGNED, bearer(jwt_token(exp=NOW - 29)), "/", None, 101),
    ("jwt: exp -31", SIGNED, bearer(jwt_token(exp=NOW - 31)), "/", None, "expired websocket jwt"),
    ("jwt: exp -90", SIGNED, bearer(jwt_token(exp=NOW - 90)), "/", None, "expired websocket jwt"),
    ("jwt: nbf +25", SIGNED, bearer(jwt_token(nbf=NOW + 25)), "/", None, 101),
    ("jwt: nbf +31", SIGNED, bearer(jwt_token(nbf=NOW + 31)), "/", None, "websocket jwt is not valid yet"),
    ("jwt: nbf +90", SIGNED, bearer(jwt_token(nbf=NOW + 90)), "/", None, "websocket jwt is not valid yet"),
    ("jwt: other secret", SIGNED, bearer(jwt_token(secret=OTHER_SECRET)), "/", None, "invalid websocket jwt"),
    ("jwt: garbage", SIGNED, bearer("not.a.jwt"), "/", None, "invalid websocket jwt"),
    (
        "jwt: alg none",
        SIGNED,
        bearer(jwt.encode({"exp": NOW + 300}, None, algorithm="none")),
        "/",
        None,
        "invalid websocket jwt",
    ),
    ("jwt: HS384", SIGNED, bearer(jwt_token(algorithm="HS384")), "/", None, "invalid websocket jwt"),
    ("jwt: HS512", SIGNED, bearer(jwt_token(algorithm="HS512")), "/", None, "invalid websocket jwt"),
    ("jwt: exp string", SIGNED, bearer(jwt_token(exp=str(NOW + 300))), "/", None, "invalid websocket jwt"),
    ("jwt: exp float", SIGNED, bearer(jwt_token(exp=NOW + 300.0)), "/", None, "invalid websocket jwt"),
    ("jwt: iat future", SIGNED, bearer(jwt_token(iat=NOW + 3600)), "/", None, 101),
    ("jwt: no iat", SIGNED, bearer(jwt_token(iat=None)), "/", None, 101),
    ("jwt: exp +10y", SIGNED, bearer(jwt_token(exp=NOW + 315_360_000)), "/", None, 101),
    (
        "jwt: expired+wrong iss",
        SIGNED,
        bearer(jwt_token(exp=NOW - 60, iss="x")),
        "/",
        None,
        "expired websocket jwt",
    ),
    (
        "jwt: nbf future+wrong iss",
        SIGNED,
        bearer(jwt_token(nbf=NOW + 60, iss="x")),
        "/",
        None,
        "websocket jwt is not valid yet",
    ),
    (
        "jwt: nbf future+expired",
        SIGNED,
        bearer(jwt_token(nbf=NOW + 60, exp=NOW - 60)),
        "/",
        None,
        "expired websocket jwt",
    ),
    (
        "jwt: bad sig+expired",
        SIGNED,
        bearer(jwt_token(secret=OTHER_SECRET, exp=NOW - 60)),
        "/",
        None,
        "invalid websocket jwt",
    ),
    ("jwt: no header", SIGNED, [], "/", None, "missing websocket bearer token"),
    ("jwt: skew 0, exp now", SignedBearerTokenAuth(SECRET), bearer(jwt_token(exp=NOW)), "/", None, 101),
    (
        "jwt: skew 0, exp -5",
        SignedBearerTokenAuth(SECRET, max_clock_skew_seconds=0),
        bearer(jwt_token(exp=NOW - 5)),
        "/",
        None,
        "expired websocket jwt",
    ),
    (
        "jwt: skew 120, exp -120",
        SignedBearerTokenAuth(SECRET, max_clock_skew_seconds=120),
        bearer(jwt_token(exp=NOW - 120)),
        "/",
        None,
        101,
    ),
    (
        "jwt: skew 120, exp -299",
        SignedBearerTokenAuth(SECRET, max_clock_skew_seconds=120),
        bearer(jwt_token(exp=NOW - 299)),
        "/",
        None,
        "expired websocket jwt",
    ),
    (
        "jwt: iss/aud unset",
        SignedBearerTokenAuth(SECRET),
        bearer(jwt_token(iss="any", aud=None)),
        "/",
        None,
        101,
    ),
]


@pytest.mark.parametrize(
    ("config", "headers", "path", "subprotocols", "expected"),
    [row[1:] for row in AUTH_ROWS],
    ids=[row[0] for row in AUTH_ROWS],
)
def test_upgrade_auth(
    config: WsAuthConfig | None,
    headers: Sequence[tuple[str, str]],
    path: str,
    subprotocols: list[str] | None,
    expected: int | str,
) -> None:
    async def scenario() -> None:
        async with serving(config) as listener:
            try:
                async with connect(
                    listener.url + path,
                    additional_headers=list(headers),
                    subprotocols=subprotocols,  # type: ignore[arg-type]
                    compression=None,
                ) as ws:
                    await initialize(ws)  # an accepted client is really served
                    outcome: int | str = 101
            except InvalidStatus as exc:
                response = exc.response
                assert response.status_code == 401
                assert response.headers.get("Content-Type") == TEXT_PLAIN
                assert "WWW-Authenticate" not in response.headers
                assert response.headers.get("Content-Length") == str(len(response.body or b""))
                outcome = (response.body or b"").decode()
            assert outcome == expected

    run(scenario)


def test_jwt_expiry_follows_the_injected_clock() -> None:
    async def scenario() -> None:
        async with serving(SIGNED) as listener:
            token = jwt_token(exp=NOW + 10)
            async with connect(listener.url, additional_headers=bearer(token)):
                pass
            listener.clock.advance(41)  # now > exp + 30
            with pytest.raises(InvalidStatus) as caught:
                async with connect(listener.url, additional_headers=bearer(token)):
                    pass
            assert caught.value.response.body == b"expired websocket jwt"

    run(scenario)


# ------------------------------------------------------------------------------------------------------------
# Frames and connection lifecycle


def test_binary_and_invalid_frames_are_dropped_and_the_connection_stays_open() -> None:
    async def scenario() -> None:
        async with serving() as listener, connect(listener.url) as ws:
            await ws.send(b'{"id":1,"method":"initialize"}')
            await ws.send("{1:2}")
            await ws.send("[]")
            await ws.send('{"id":99,"result":{}}')  # an answer to nothing
            await initialize(ws)
            await ws.send(json.dumps({"id": 2, "method": "account/read", "params": {}}))
            assert (await recv_json(ws))["id"] == 2

    run(scenario)


def test_pings_are_answered() -> None:
    async def scenario() -> None:
        async with serving() as listener, connect(listener.url, ping_interval=None) as ws:
            pong = await ws.ping(b"are-you-there")
            latency = await asyncio.wait_for(pong, TIMEOUT)
            assert latency >= 0

    run(scenario)


def test_a_client_close_frame_is_not_answered() -> None:
    async def scenario() -> None:
        async with serving() as listener:
            ws = await connect(listener.url, close_timeout=TIMEOUT)
            await initialize(ws)
            await ws.close()
            assert ws.protocol.close_sent is not None
            assert ws.protocol.close_rcvd is None  # the peer sees 1006, as with the real server
            # And the server forgot the client.
            assert listener.app_server.connections == []

    run(scenario)


def test_stop_drops_clients_without_a_close_frame_after_queued_frames() -> None:
    async def scenario() -> None:
        async with serving() as listener:
            ws = await connect(listener.url)
            await ws.send(json.dumps(INIT))
            await asyncio.wait_for(ws.recv(), TIMEOUT)  # initialize result: the connection is registered
            await listener.stop()
            assert (await recv_json(ws))["method"] == "remoteControl/status/changed"
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.protocol.close_rcvd is None

    run(scenario)


def test_a_bad_client_never_disturbs_another() -> None:
    async def scenario() -> None:
        async with serving() as listener, connect(listener.url) as good, connect(listener.url) as bad:
            await initialize(good)
            for frame in (
                b"\x00\xff",
                "not json",
                '{"id":5,"result":1}',
                '{"id":{},"method":3}',
                "[" * 5000,
            ):
                await bad.send(frame)
            await bad.send(json.dumps({"id": "x", "method": "account/read", "params": {}}))
            assert (await recv_json(bad))["error"]["message"] == "Not initialized"
            await good.send(json.dumps({"id": 2, "method": "thread/list", "params": {"limit": 1}}))
            reply = await recv_json(good)
            assert reply["id"] == 2 and len(reply["result"]["data"]) == 1
            await bad.close()
            await good.send(json.dumps({"id": 3, "method": "account/read", "params": {}}))
            assert (await recv_json(good))["id"] == 3

    run(scenario)


def missing_ipv6_loopback() -> str | None:
    """Why this host cannot bind the IPv6 loopback, if it cannot; any other error is raised, to fail the test."""
    if not socket.has_ipv6:
        return "this Python is built without IPv6 (socket.has_ipv6 is false)"
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as exc:
        if exc.errno == errno.EAFNOSUPPORT:
            return "the kernel has no IPv6 (EAFNOSUPPORT creating an AF_INET6 socket)"
        raise
    with probe:
        try:
            probe.bind(("::1", 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return "the loopback interface has no ::1 (EADDRNOTAVAIL binding [::1]:0)"
            raise
    return None


def test_ipv6_loopback_listener() -> None:
    if (missing := missing_ipv6_loopback()) is not None:
        pytest.skip(f"no IPv6 loopback: {missing}")

    async def scenario() -> None:
        async with serving(listen="ws://[::1]:0") as listener:
            assert listener.url == f"ws://[::1]:{listener.port}"
            async with connect(listener.url) as ws:
                await initialize(ws)

    run(scenario)


# ------------------------------------------------------------------------------------------------------------
# The stdio transport (`--listen stdio://`)


def stdio_exchange(data: bytes, stop_early: bool = False) -> list[dict[str, Any]]:
    """Feed `data` as stdin to `serve_stdio` and return what it wrote on stdout, one JSON object a line."""

    async def scenario() -> bytes:
        server = AppServer(
            Path("/tmp/pairsim-home"),
            FrozenClock(instant=NOW),
            "vm",
            "inst-0001",
            host_platform=HostPlatform("L", "x", "t"),
        )
        install_threads(server, workspace=UNSEEDED)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        with open(stdin_r, "rb") as stdin, open(stdout_w, "wb") as stdout, open(stdout_r, "rb") as output:
            stop = asyncio.Event()
            served = asyncio.ensure_future(serve_stdio(server, stdin, stdout, stop))
            os.write(stdin_w, data)
            if stop_early:
                await asyncio.sleep(0)  # the reader thread may or may not have read the data: either is fine
                stop.set()
            else:
                os.close(stdin_w)  # end of input ends the server
            await asyncio.wait_for(served, TIMEOUT)
            if stop_early:
                os.close(stdin_w)
            await server.close()
            assert server.connections == []
            stdout.close()
            return output.read()

    out = run(scenario)
    assert out == b"" or out.endswith(b"\n")
    return [json.loads(line) for line in out.splitlines()]


def test_stdio_answers_one_message_a_line_until_the_end_of_input() -> None:
    lines = [
        json.dumps(INIT),
        '{"id":2,"method":"account/read","params":{}}',
        "garbage",
        "",
        '{"id":3,"method":"account/read"}',
        '  {"id":4,"method":"account/read","params":{}}  ',
        '{"id":5,"method":"account/read","params":{}}\r',
        '{"id":6,"method":"account/read",',
        '"params":{}}',
    ]
    data = ("\n".join(lines) + "\n").encode() + b'{"id":7,"method":"account/read","params":{}}'  # no newline
    out = stdio_exchange(data)
    assert out[0]["id"] == 1 and out[1]["method"] == "remoteControl/status/changed"
    assert [m.get("id") for m in out[2:]] == [2, 3, 4, 5]
    assert out[3] == {
        "error": {"code": -32600, "message": "Invalid request: missing field `params`"},
        "id": 3,
    }
    assert out[2]["result"]["account"] is None


def test_stdio_with_no_input_exits_quietly() -> None:
    assert stdio_exchange(b"") == []


def test_stdio_stops_when_told() -> None:
    assert len(stdio_exchange(json.dumps(INIT).encode() + b"\n", stop_early=True)) in (0, 2)
