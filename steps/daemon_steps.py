"""Steps for features/daemon: the app-server's listener, driven through its socket only, on either target.

The daemon is a separate process (`daemon_target` / `shared_daemons` from simulators.real.pytest_plugin); these
steps speak raw HTTP/1.1 to it for handshake cases (the exact headers matter: duplicates, Origin, a missing
Sec-WebSocket-Key) and a `websockets` client for JSON-RPC.

Notation in the features:
- headers: `Name: "value" + Name: "value"`, or `(none)`; values are quoted so that spaces count;
- placeholders `{token}`, `{token_sha256}`, `{port}`, `{file}`, `{home}` ... are filled in by the steps;
- a JWT: `{alg=HS256 typ=JWT} {iss=... exp=now+300}`, see signed_bearer_token.feature.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import shlex
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when
from websockets.asyncio.client import ClientConnection, connect

from simulators.clock import Clock
from simulators.real.pytest_plugin import SharedDaemons
from simulators.real.target import DaemonTarget, RunningDaemon
from simulators.runtime import LoopThread

# Test credentials: they exist only in these scenarios' daemons.
CAPABILITY_TOKEN = "pairsim-capability-token-3f9c2a7e"
SHARED_SECRET = "pairsim-shared-secret-for-hs256-tokens-0123456789"  # 49 bytes
OTHER_SECRET = "pairsim-some-other-secret-nobody-configured-98765"
SHORT_SECRET = "8-bytes!"
ISSUER = "test-issuer"
AUDIENCE = "test-aud"
TOKEN_FILE = "token.txt"
SECRET_FILE = "secret.txt"
SHORT_SECRET_FILE = "secret_short.txt"
BLANK_FILE = "blank.txt"
MISSING_FILE = "nonexistent.txt"

IO_TIMEOUT = 10.0
EXIT_TIMEOUT = 20.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Daemon configurations named in the features


def _write(home: Path, name: str, content: str) -> Path:
    path = home / name
    path.write_text(content, encoding="utf-8")
    return path


def standard_files(home: Path) -> dict[str, str]:
    """Write the token and secret files into `home`; the placeholders that name them."""
    return {
        "home": str(home),
        "token_file": str(_write(home, TOKEN_FILE, CAPABILITY_TOKEN + "\n")),
        "secret_file": str(_write(home, SECRET_FILE, SHARED_SECRET + "\n")),
        "short_secret_file": str(_write(home, SHORT_SECRET_FILE, SHORT_SECRET)),
        "blank_file": str(_write(home, BLANK_FILE, " \n\t\n")),
        "missing_file": str(home / MISSING_FILE),
        "token": CAPABILITY_TOKEN,
        "token_sha256": sha256_hex(CAPABILITY_TOKEN),
    }


_SKEW = re.compile(r"(?P<base>.+?) and a clock skew of (?:the default|(?P<seconds>[0-9]+) seconds)")


def auth_flags(auth: str, files: dict[str, str]) -> list[str]:
    """The `--ws-*` flags of an auth configuration named in a feature."""
    skew: list[str] = []
    if match := _SKEW.fullmatch(auth):
        auth = match.group("base")
        if match.group("seconds") is not None:
            skew = ["--ws-max-clock-skew-seconds", match.group("seconds")]
    signed = ["--ws-auth", "signed-bearer-token", "--ws-shared-secret-file", files["secret_file"]]
    named = {
        "no auth": [],
        "capability-token auth": ["--ws-auth", "capability-token", "--ws-token-file", files["token_file"]],
        "token-sha256 auth": ["--ws-auth", "capability-token", "--ws-token-sha256", files["token_sha256"]],
        "token-sha256 auth in upper case": [
            "--ws-auth", "capability-token", "--ws-token-sha256", files["token_sha256"].upper()
        ],
        "signed-bearer-token auth": [*signed, "--ws-issuer", ISSUER, "--ws-audience", AUDIENCE],
        "signed-bearer-token auth without issuer or audience": signed,
    }
    if auth not in named:
        raise AssertionError(f"no daemon configuration named {auth!r}")
    return named[auth] + skew


def fill(template: str, values: dict[str, str]) -> str:
    """Replace `{name}` placeholders; an unknown one is a mistake in the feature."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise AssertionError(f"unknown placeholder {{{match.group(1)}}} in {template!r}")
        return values[match.group(1)]

    return re.sub(r"\{([a-z_0-9]+)\}", one, template)


def unescape(quoted: str) -> str:
    """A feature's `"..."` value as text. In a table cell Gherkin has already turned `\\n` into a newline."""
    text = quoted.strip()
    assert text.startswith('"') and text.endswith('"'), f"expected a quoted value, got {quoted!r}"
    return json.loads(text, strict=False)


# ---------------------------------------------------------------------------------------------------------------
# Raw HTTP/1.1: exact control over the request headers, duplicates included


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    request_key: str | None = None  # the Sec-WebSocket-Key sent, to check Sec-WebSocket-Accept

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class HttpConnection:
    """One client connection on which requests are sent one after another (HTTP/1.1 keep-alive)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        self._buffer = b""

    def __enter__(self) -> HttpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def exchange(self, method: str, path: str, headers: list[tuple[str, str]]) -> HttpReply:
        authority = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if method in ("POST", "PUT"):
            lines.append("Content-Length: 0")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, reply_headers, body = self._read_reply(head_only=method == "HEAD")
        key = next((v for k, v in headers if k.lower() == "sec-websocket-key"), None)
        return HttpReply(status, tuple(reply_headers), body, key)

    def _recv(self) -> bytes:
        chunk = self._sock.recv(65536)
        self._buffer += chunk
        return chunk

    def _read_reply(self, *, head_only: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        while b"\r\n\r\n" not in self._buffer:
            if not self._recv():
                raise AssertionError(f"connection closed before a full response head: {self._buffer!r}")
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status, headers = _parse_head(head)
        if status == 101 or head_only:
            return status, headers, b""  # after a 101 the connection speaks WebSocket
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        if lengths:
            length = int(lengths[0])
            while len(self._buffer) < length and self._recv():
                pass
            body, self._buffer = self._buffer[:length], self._buffer[length:]
            return status, headers, body
        while self._recv():  # no length: the body runs to the end of the connection
            pass
        body, self._buffer = self._buffer, b""
        return status, headers, body


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in header_lines)]
    return int(status_line.split(" ", 2)[1]), headers


def http_exchange(host: str, port: int, method: str, path: str, headers: list[tuple[str, str]]) -> HttpReply:
    with HttpConnection(host, port) as connection:
        return connection.exchange(method, path, headers)


def upgrade_headers(
    extra: list[tuple[str, str]] | None = None, *, without: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """A WebSocket handshake's headers. `extra` headers replace defaults of the same name and are all kept
    (duplicates included); `without` names defaults to leave out."""
    extra = extra or []
    defaults = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", base64.b64encode(secrets.token_bytes(16)).decode()),
    ]
    dropped = {name.lower() for name in without} | {name.lower() for name, _ in extra}
    return [(n, v) for n, v in defaults if n.lower() not in dropped] + extra


_HEADER_ITEM = re.compile(r'\s*([A-Za-z0-9-]+): "((?:[^"\\]|\\.)*)"\s*')


def parse_headers(spec: str, values: dict[str, str]) -> list[tuple[str, str]]:
    """`Name: "value" + Name: "value"` or `(none)` → header pairs, placeholders filled."""
    if spec.strip() == "(none)":
        return []
    headers = []
    for item in spec.split(" + "):
        match = _HEADER_ITEM.fullmatch(item)
        assert match is not None, f"not a header item: {item!r}"
        headers.append((match.group(1), fill(json.loads(f'"{match.group(2)}"'), values)))
    return headers


# ---------------------------------------------------------------------------------------------------------------
# JWTs written as header and claims


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_NOW_EXPR = re.compile(r"now(?P<offset>[+-][0-9]+)?")


def claim_value(text: str, now: int) -> Any:
    """`now±N`, `str(...)`, `float(...)`, JSON, or a bare word as a string."""
    for wrapper, convert in (("str(", lambda n: str(n)), ("float(", lambda n: float(n))):
        if text.startswith(wrapper) and text.endswith(")"):
            return convert(claim_value(text[len(wrapper) : -1], now))
    if match := _NOW_EXPR.fullmatch(text):
        return now + int(match.group("offset") or 0)
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fields(spec: str, now: float) -> dict[str, Any]:
    """`name=value ...` → claims. `now` is rounded up for `nbf` and down for anything else: the daemon checks whole
    seconds, and this way a boundary case (exp at now-29, nbf at now+31) keeps a full second for the round trip."""
    fields: dict[str, Any] = {}
    for item in spec.split():
        name, sep, value = item.partition("=")
        assert sep, f"not a name=value item: {item!r}"
        if value != "absent":
            fields[name] = claim_value(value, math.ceil(now) if name == "nbf" else math.floor(now))
    return fields


_HMAC = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}


def mint_jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    if key is None:
        return signing_input + "."
    digest = hmac.new(key, signing_input.encode(), _HMAC[header.get("alg", "HS256")]).digest()
    return f"{signing_input}.{_b64url(digest)}"


SIGNING_KEYS: dict[str, bytes | None] = {
    "the secret": SHARED_SECRET.encode(),
    "the untrimmed secret": (SHARED_SECRET + "\n").encode(),
    "another secret": OTHER_SECRET.encode(),
    "no key": None,
}


# ---------------------------------------------------------------------------------------------------------------
# A JSON-RPC client over the websockets asyncio API, driven from the synchronous steps


@dataclass(frozen=True)
class Frame:
    text: bool
    raw: str | bytes
    message: dict[str, Any] | None


class RpcClient:
    def __init__(self, loop: LoopThread, url: str) -> None:
        self._loop = loop
        self.frames: list[Frame] = []
        self._changed = threading.Condition()
        self._closed = False
        self._ws: ClientConnection = loop.run(self._connect(url))
        self._reader = asyncio.run_coroutine_threadsafe(self._read(), loop.loop)

    @staticmethod
    async def _connect(url: str) -> ClientConnection:
        return await connect(url, compression=None, ping_interval=None, max_size=None, open_timeout=IO_TIMEOUT)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = None
                with contextlib.suppress(ValueError):
                    message = json.loads(raw)
                with self._changed:
                    self.frames.append(Frame(isinstance(raw, str), raw, message))
                    self._changed.notify_all()
        except Exception:  # the daemon dropped us; waiters below see `_closed`
            pass
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()

    def send_text(self, text: str) -> None:
        self._loop.run(self._ws.send(text))

    def send_binary(self, data: bytes) -> None:
        self._loop.run(self._ws.send(data))

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._changed:
            return [f.message for f in self.frames if f.message is not None]

    def wait_for_index(self, predicate: Any, start: int = 0, timeout: float = IO_TIMEOUT) -> int:
        """The index in `messages` of the first message from `start` on that satisfies `predicate`."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: self._closed or any(predicate(m) for m in self.messages[start:]), timeout
            )
            messages = self.messages
        for index in range(start, len(messages)):
            if predicate(messages[index]):
                return index
        state = "the connection closed" if ok else f"{timeout:.0f} s passed"
        raise AssertionError(f"{state} without the expected message; received: {messages}")

    def answer(self, request_id: Any) -> dict[str, Any]:
        index = self.wait_for_index(lambda m: "id" in m and m["id"] == request_id and "method" not in m)
        return self.messages[index]

    def initialize(self, name: str, version: str, request_id: Any = 1) -> dict[str, Any]:
        params = {"clientInfo": {"name": name, "title": None, "version": version}}
        self.send_text(json.dumps({"id": request_id, "method": "initialize", "params": params}))
        return self.answer(request_id)

    def close(self) -> None:
        # The real daemon never answers a close frame; the client gives up on its own after its close timeout.
        with contextlib.suppress(Exception):
            self._loop.run(self._ws.close(), timeout=5)


# ---------------------------------------------------------------------------------------------------------------
# Scenario state


@dataclass
class DaemonScenario:
    target: DaemonTarget
    shared: SharedDaemons
    daemon: RunningDaemon | None = None
    values: dict[str, str] = field(default_factory=dict, repr=False)  # placeholder → text (`{token}` is a secret)
    reply: HttpReply | None = None
    replies: list[HttpReply] = field(default_factory=list)  # several requests on one connection
    exit: tuple[int, str] | None = None
    loop: LoopThread | None = None
    clients: list[RpcClient] = field(default_factory=list)
    mark: int = 0  # index into the first client's messages where the last "sends" began
    minted: list[str] = field(default_factory=list, repr=False)  # the JWTs this scenario's clients sent

    def issued_secrets(self) -> list[str]:
        """The credentials these scenarios give their daemons and clients, so no report may show them. Values a
        feature spells out itself (`where the file holds "relative-token"`) are the scenario's text, not secrets."""
        return [CAPABILITY_TOKEN, SHARED_SECRET, OTHER_SECRET, SHORT_SECRET, *self.minted]

    @property
    def running(self) -> RunningDaemon:
        assert self.daemon is not None, "no daemon was started in this scenario"
        return self.daemon

    @property
    def client(self) -> RpcClient:
        assert self.clients, "no client is connected"
        return self.clients[0]

    def connect_client(self) -> RpcClient:
        if self.loop is None:
            self.loop = LoopThread(name="daemon-scenario-client")
        client = RpcClient(self.loop, self.running.url)
        self.clients.append(client)
        return client


@pytest.fixture
def daemon_scenario(daemon_target: DaemonTarget, shared_daemons: SharedDaemons) -> Any:
    scenario = DaemonScenario(daemon_target, shared_daemons)
    yield scenario
    for client in scenario.clients:
        client.close()
    if scenario.loop is not None:
        scenario.loop.close()


def _use(scenario: DaemonScenario, daemon: RunningDaemon, files: dict[str, str]) -> None:
    scenario.daemon = daemon
    scenario.values = {**files, "port": str(daemon.port)}


# ---------------------------------------------------------------------------------------------------------------
# Given


TERMINAL_VARIABLES = ("TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION")


def terminal_environment(spec: str | None) -> dict[str, str | None] | None:
    """`TERM=xterm TERM_PROGRAM=...` or `no terminal variables`: exactly these terminal variables, the rest unset."""
    if spec is None:
        return None
    env: dict[str, str | None] = dict.fromkeys(TERMINAL_VARIABLES)
    if spec != "no terminal variables":
        for item in spec.split():
            name, sep, value = item.partition("=")
            assert sep and name in TERMINAL_VARIABLES, f"not a terminal variable: {item!r}"
            env[name] = value
    return env


@given(
    parsers.re(
        r"a (?P<fresh>fresh )?daemon on loopback with (?P<auth>.+?)(?:, started with (?P<environment>.+))?$"
    )
)
def daemon_on_loopback(
    daemon_scenario: DaemonScenario, fresh: str | None, auth: str, environment: str | None
) -> None:
    env = terminal_environment(environment)

    def start(target: DaemonTarget, home: Path) -> RunningDaemon:
        flags = auth_flags(auth, standard_files(home))
        return target.start_app_server("ws://127.0.0.1:0", *flags, home=home, env=env)

    assert fresh or env is None, "only a fresh daemon can be started with its own environment"
    if fresh:
        daemon = start(daemon_scenario.target, daemon_scenario.target.new_home())
    else:
        daemon = daemon_scenario.shared.get(auth, start)
    _use(daemon_scenario, daemon, standard_files(daemon.home))


@given(parsers.re(r'a daemon started with "(?P<arguments>[^"]*)" where the file holds (?P<content>"[\s\S]*")'))
def daemon_with_token_file(daemon_scenario: DaemonScenario, arguments: str, content: str) -> None:
    home = daemon_scenario.target.new_home()
    path = _write(home, TOKEN_FILE, unescape(content))
    values = {"file": str(path), "file_name": TOKEN_FILE}
    listen, *flags = _arguments(arguments, values)
    _use(daemon_scenario, daemon_scenario.target.start_app_server(listen, *flags, home=home), values)


def _arguments(arguments: str, values: dict[str, str]) -> list[str]:
    args = shlex.split(fill(arguments, values))
    assert args[0] == "--listen", f"the arguments must start with --listen: {arguments!r}"
    return args[1:]


@given(parsers.re(r'a daemon started with "(?P<arguments>[^"]*)"$'))
def daemon_started_with(daemon_scenario: DaemonScenario, arguments: str) -> None:
    home = daemon_scenario.target.new_home()
    files = standard_files(home)
    listen, *flags = _arguments(arguments, files)
    _use(daemon_scenario, daemon_scenario.target.start_app_server(listen, *flags, home=home), files)


@given("a client connected to the daemon")
def client_connected(daemon_scenario: DaemonScenario) -> None:
    daemon_scenario.connect_client()


# ---------------------------------------------------------------------------------------------------------------
# When: HTTP


def _send(scenario: DaemonScenario, method: str, path: str, headers: list[tuple[str, str]]) -> None:
    daemon = scenario.running
    scenario.reply = http_exchange(daemon.host, daemon.port, method, fill(path, scenario.values), headers)


_REQUEST = re.compile(
    r"(?P<method>GET|POST|PUT|HEAD) (?P<path>\S+)|(?:an|a (?P<upgrade_method>POST)) upgrade of (?P<upgrade_path>\S+)"
)


@when(parsers.re(r"a client sends (?P<request>.+?) with (?:no headers|headers (?P<headers>.+))$"))
def client_sends(daemon_scenario: DaemonScenario, request: str, headers: str | None) -> None:
    match = _REQUEST.fullmatch(request)
    assert match is not None, f"not a request: {request!r}"
    extra = parse_headers(headers or "(none)", daemon_scenario.values)
    if match.group("upgrade_path"):
        method = match.group("upgrade_method") or "GET"
        _send(daemon_scenario, method, match.group("upgrade_path"), upgrade_headers(extra))
    else:
        _send(daemon_scenario, match.group("method"), match.group("path"), extra)


@when(
    parsers.re(
        r"a client upgrades on path (?P<path>\S+)(?: without the (?P<missing>.+?) headers?,)?"
        r" with headers (?P<headers>.+)$"
    )
)
def client_upgrades(daemon_scenario: DaemonScenario, path: str, missing: str | None, headers: str) -> None:
    extra = parse_headers(headers, daemon_scenario.values)
    without = tuple(missing.split(" and ")) if missing else ()
    _send(daemon_scenario, "GET", path, upgrade_headers(extra, without=without))


@when(parsers.parse("a client sends GET {first} and then GET {second} on one connection"))
def client_sends_two(daemon_scenario: DaemonScenario, first: str, second: str) -> None:
    daemon = daemon_scenario.running
    with HttpConnection(daemon.host, daemon.port) as connection:
        daemon_scenario.replies = [connection.exchange("GET", path, []) for path in (first, second)]


@when(parsers.re(r"a client upgrades with a JWT \{(?P<header>[^}]*)\} \{(?P<claims>[^}]*)\} signed with (?P<key>.+)"))
def client_upgrades_with_jwt(daemon_scenario: DaemonScenario, header: str, claims: str, key: str) -> None:
    now = Clock().now()
    token = mint_jwt(parse_fields(header, now), parse_fields(claims, now), SIGNING_KEYS[key])
    daemon_scenario.minted.append(token)
    _send(daemon_scenario, "GET", "/", upgrade_headers([("Authorization", f"Bearer {token}")]))


# ---------------------------------------------------------------------------------------------------------------
# When: process start-up


@when(parsers.parse('the daemon is started with "{arguments}"'))
def daemon_run_expecting_exit(daemon_scenario: DaemonScenario, arguments: str) -> None:
    home = daemon_scenario.target.new_home()
    files = standard_files(home)
    daemon_scenario.values = files
    args = shlex.split(fill(arguments, files))
    daemon_scenario.exit = daemon_scenario.target.run_app_server_expecting_exit(*args, home=home, timeout=EXIT_TIMEOUT)


# ---------------------------------------------------------------------------------------------------------------
# When: JSON-RPC


@when(parsers.parse('the client initializes as "{name}" version "{version}" with id {request_id:d}'))
def client_initializes(daemon_scenario: DaemonScenario, name: str, version: str, request_id: int) -> None:
    daemon_scenario.client.initialize(name, version, request_id)


@when(parsers.parse('a second client connects and initializes as "{name}" version "{version}" with id {request_id:d}'))
def second_client_initializes(daemon_scenario: DaemonScenario, name: str, version: str, request_id: int) -> None:
    daemon_scenario.connect_client().initialize(name, version, request_id)


@when(parsers.re(r"the client sends (?P<frame>.+)$"))
def client_sends_frame(daemon_scenario: DaemonScenario, frame: str) -> None:
    client = daemon_scenario.client
    daemon_scenario.mark = len(client.messages)
    if frame.startswith("a binary frame holding "):
        client.send_binary(frame.removeprefix("a binary frame holding ").encode())
    elif frame.startswith("the text "):
        client.send_text(frame.removeprefix("the text "))
    else:
        json.loads(frame)  # a typo in the feature should fail here, not look like a daemon bug
        client.send_text(frame)


# ---------------------------------------------------------------------------------------------------------------
# Then: HTTP


def _reply(scenario: DaemonScenario) -> HttpReply:
    assert scenario.reply is not None, "no HTTP request was sent"
    return scenario.reply


@then(parsers.parse("the daemon answers {status:d} with an empty body"))
def answers_empty(daemon_scenario: DaemonScenario, status: int) -> None:
    reply = _reply(daemon_scenario)
    assert (reply.status, reply.body) == (status, b""), reply


@then(parsers.re(r'the daemon answers (?P<status>[0-9]+) with the text "(?P<text>.*)"$'))
def answers_text(daemon_scenario: DaemonScenario, status: str, text: str) -> None:
    reply = _reply(daemon_scenario)
    assert (reply.status, reply.body.decode()) == (int(status), text), reply
    if reply.status != 101:  # after a 101 the connection speaks WebSocket: no body, so no type to check
        assert reply.values("content-type") == ["text/plain; charset=utf-8"], reply


@then("the upgrade is accepted")
def accepted(daemon_scenario: DaemonScenario) -> None:
    reply = _reply(daemon_scenario)
    assert reply.status == 101, reply


@then(parsers.parse('the answer has the header "{header}"'))
def has_header(daemon_scenario: DaemonScenario, header: str) -> None:
    name, _, value = header.partition(": ")
    assert _reply(daemon_scenario).values(name) == [value], _reply(daemon_scenario)


@then(parsers.parse('the answer has no header "{name}"'))
def has_no_header(daemon_scenario: DaemonScenario, name: str) -> None:
    assert _reply(daemon_scenario).values(name) == [], _reply(daemon_scenario)


@then("both are answered 200 with an empty body and no connection header")
def both_answered(daemon_scenario: DaemonScenario) -> None:
    replies = daemon_scenario.replies
    assert len(replies) == 2, replies
    for reply in replies:
        assert (reply.status, reply.body, reply.values("connection")) == (200, b"", []), reply


@then("the answer carries the right Sec-WebSocket-Accept")
def right_accept(daemon_scenario: DaemonScenario) -> None:
    reply = _reply(daemon_scenario)
    assert reply.request_key is not None
    expected = base64.b64encode(hashlib.sha1((reply.request_key + WS_GUID).encode()).digest()).decode()
    assert reply.values("sec-websocket-accept") == [expected], reply


# ---------------------------------------------------------------------------------------------------------------
# Then: start-up


_LISTEN = re.compile(r"ws://(?P<host>\[[^\]]+\]|[0-9.]+):0")


@then(parsers.parse("its banner says it listens on {address} with the bound port"))
def banner_listens(daemon_scenario: DaemonScenario, address: str) -> None:
    match = _LISTEN.fullmatch(address)
    assert match is not None
    daemon = daemon_scenario.running
    authority = f"{match.group('host')}:{daemon.port}"
    assert daemon.port > 0
    assert daemon.banner.lines[:4] == (
        "codex app-server (WebSockets)",
        f"  listening on: ws://{authority}",
        f"  readyz: http://{authority}/readyz",
        f"  healthz: http://{authority}/healthz",
    ), daemon.banner.lines


@then(parsers.parse('its banner note is "{note}"'))
def banner_note(daemon_scenario: DaemonScenario, note: str) -> None:
    assert daemon_scenario.running.banner.note == note


_LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@then("it answers GET /readyz on loopback")
def ready_on_loopback(daemon_scenario: DaemonScenario) -> None:
    daemon = daemon_scenario.running
    # A wildcard bind is reached through loopback only: nothing here talks to any other address.
    host = _LOOPBACK_FOR.get(daemon.host, daemon.host)
    assert host in ("::1",) or host.startswith("127."), host
    reply = http_exchange(host, daemon.port, "GET", "/readyz", [])
    assert (reply.status, reply.body) == (200, b""), reply


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("error: ", "Error: "))]


@then(parsers.parse('it exits with code {code:d} reporting "{error}"'))
def exits_reporting(daemon_scenario: DaemonScenario, code: int, error: str) -> None:
    assert daemon_scenario.exit is not None
    returncode, stderr = daemon_scenario.exit
    assert returncode == code, (returncode, stderr)
    assert _error_lines(stderr)[:1] == [fill(error, daemon_scenario.values)], stderr


@then(parsers.parse('it exits with code {code:d} and its last stderr line is "{line}"'))
def exits_with_last_line(daemon_scenario: DaemonScenario, code: int, line: str) -> None:
    assert daemon_scenario.exit is not None
    returncode, stderr = daemon_scenario.exit
    assert returncode == code, (returncode, stderr)
    assert stderr.rstrip("\n").splitlines()[-1:] == [line], stderr


@then(parsers.parse("it exits with code {code:d} reporting nothing"))
def exits_quietly(daemon_scenario: DaemonScenario, code: int) -> None:
    assert daemon_scenario.exit is not None
    returncode, stderr = daemon_scenario.exit
    assert (returncode, _error_lines(stderr)) == (code, []), stderr


# ---------------------------------------------------------------------------------------------------------------
# Then: JSON-RPC


def _answer(scenario: DaemonScenario, request_id: str) -> dict[str, Any]:
    return scenario.client.answer(json.loads(request_id))


@then(parsers.re(r"the answer to id (?P<request_id>\S+) is a result with exactly the fields (?P<names>.+)$"))
def answer_fields(daemon_scenario: DaemonScenario, request_id: str, names: str) -> None:
    answer = _answer(daemon_scenario, request_id)
    assert set(answer) == {"id", "result"}, answer
    assert sorted(answer["result"]) == sorted(n.strip() for n in names.split(",")), answer


@then(parsers.re(r"the answer to id (?P<request_id>\S+) is a result$"))
def answer_is_result(daemon_scenario: DaemonScenario, request_id: str) -> None:
    answer = _answer(daemon_scenario, request_id)
    assert "result" in answer and "error" not in answer, answer


@then(parsers.re(r"the answer to id (?P<request_id>\S+) is exactly the result (?P<result>\{.*\})$"))
def answer_exact(daemon_scenario: DaemonScenario, request_id: str, result: str) -> None:
    answer = _answer(daemon_scenario, request_id)
    assert answer == {"id": json.loads(request_id), "result": json.loads(result)}, answer


@then(
    parsers.re(
        r'the answer to id (?P<request_id>\S+) is the error (?P<code>-?[0-9]+) (?P<starting>starting with )?"(?P<message>.*)"$'
    )
)
def answer_error(
    daemon_scenario: DaemonScenario, request_id: str, code: str, starting: str | None, message: str
) -> None:
    answer = _answer(daemon_scenario, request_id)
    assert set(answer) == {"id", "error"} and set(answer["error"]) <= {"code", "message", "data"}, answer
    assert answer["error"]["code"] == int(code), answer
    if starting:
        assert answer["error"]["message"].startswith(message), answer
    else:
        assert answer["error"]["message"] == message, answer


def assert_user_agent(client: RpcClient, expected: str, version: str) -> None:
    """`expected` with `{os}` (OS name and version) and `{arch}` (this machine's) standing for machine facts, and
    `{version}` for the version of the daemon under test (so no feature names one)."""
    pattern = (re.escape(expected).replace(r"\{os\}", r"[^;()]+")
               .replace(r"\{arch\}", re.escape(os.uname().machine)).replace(r"\{version\}", re.escape(version)))
    user_agent = client.answer(1)["result"]["userAgent"]
    assert re.fullmatch(pattern, user_agent), (user_agent, expected.replace("{version}", version))


@then(parsers.parse('the user agent reads "{expected}"'))
def user_agent_reads(daemon_scenario: DaemonScenario, expected: str) -> None:
    assert_user_agent(daemon_scenario.client, expected, daemon_scenario.target.version)


@then(parsers.parse('the second client\'s user agent reads "{expected}"'))
def second_user_agent_reads(daemon_scenario: DaemonScenario, expected: str) -> None:
    assert_user_agent(daemon_scenario.clients[1], expected, daemon_scenario.target.version)


@then("codexHome is the daemon's CODEX_HOME")
def codex_home(daemon_scenario: DaemonScenario) -> None:
    result = daemon_scenario.client.answer(1)["result"]
    assert Path(result["codexHome"]) == daemon_scenario.running.home, result


@then(parsers.parse('platformFamily is "{family}" and platformOs is "{os_name}"'))
def platform(daemon_scenario: DaemonScenario, family: str, os_name: str) -> None:
    result = daemon_scenario.client.answer(1)["result"]
    assert (result["platformFamily"], result["platformOs"]) == (family, os_name), result


def _is_config_warning(message: dict[str, Any]) -> bool:
    params = message.get("params")
    return (
        message.get("method") == "configWarning"
        and isinstance(params, dict)
        and isinstance(params.get("summary"), str)
        and "details" in params
    )


@then(parsers.parse('after the answer to id {request_id:d} the client receives the notification "{method}"'))
def notification_after_answer(daemon_scenario: DaemonScenario, request_id: int, method: str) -> None:
    client = daemon_scenario.client
    answered = client.wait_for_index(lambda m: m.get("id") == request_id and "method" not in m)
    arrived = client.wait_for_index(lambda m: m.get("method") == method, start=answered + 1)
    between = client.messages[answered + 1 : arrived]
    # Only machine-dependent warnings may come first (see the feature's description).
    assert all(_is_config_warning(m) for m in between), between
    daemon_scenario.mark = arrived


@then(
    parsers.parse(
        'that notification\'s params are status "{status}", serverName, installationId and environmentId null'
    )
)
def remote_control_status(daemon_scenario: DaemonScenario, status: str) -> None:
    params = daemon_scenario.client.messages[daemon_scenario.mark]["params"]
    assert set(params) == {"status", "serverName", "installationId", "environmentId"}, params
    assert params["status"] == status and params["environmentId"] is None, params
    assert isinstance(params["serverName"], str) and params["serverName"], params
    installation_id = (daemon_scenario.running.home / "installation_id").read_text().strip()
    assert params["installationId"] == installation_id, params


@then("every notification so far carries an integer emittedAtMs close to now")
def emitted_at(daemon_scenario: DaemonScenario) -> None:
    now_ms = Clock().now_ms()
    notifications = [m for m in daemon_scenario.client.messages if "method" in m and "id" not in m]
    assert notifications
    for message in notifications:
        stamp = message.get("emittedAtMs")
        assert isinstance(stamp, int) and abs(now_ms - stamp) < 60_000, message
        assert set(message) <= {"method", "params", "emittedAtMs"}, message


@then("no message from the daemon has a jsonrpc field")
def no_jsonrpc(daemon_scenario: DaemonScenario) -> None:
    messages = daemon_scenario.client.messages
    assert messages and not any("jsonrpc" in m for m in messages), messages


@then("every message from the daemon came in a text frame")
def text_frames(daemon_scenario: DaemonScenario) -> None:
    frames = daemon_scenario.client.frames
    assert frames and all(f.text and f.message is not None for f in frames), frames


@then("the daemon sent nothing in reply to the dropped frame")
def nothing_for_dropped(daemon_scenario: DaemonScenario) -> None:
    client = daemon_scenario.client
    answered = client.wait_for_index(lambda m: m.get("id") == 9 and "method" not in m, start=daemon_scenario.mark)
    replies = [m for m in client.messages[daemon_scenario.mark : answered] if "method" not in m]
    assert replies == [], replies
