"""The network around `pairsim connect` in the remote-token scenarios: where a bearer token may travel, observed.

- `HandshakeRecorder`: a WebSocket server on a loopback address that records the `Authorization` header of every
  handshake it accepts (plain, or TLS with a certificate the lab issued).
- `ConnectProxy`: the lab machine's HTTP proxy (`https_proxy`/`http_proxy` for the client). It records every
  `CONNECT host:port` it is asked for, tunnels loopback targets directly, reaches `wss://codex.example.com:443`
  through the recorder that stands in for it, and answers 502 for anything else (the lab is offline).
- `StandInAuthority`: a certificate authority made for one lab, and a server certificate for the stand-in's host
  name; the client trusts it through `SSL_CERT_FILE`, so its TLS check is the real one, for the real name.

So "the client allowed the token" is observable for every allowed URL (the listener the URL names received
`Bearer <token>`, through the host and port the URL names), and "refused before any connection" is observable for
the others (the proxy, the machine's only way out, was asked for nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_REQUEST_HEAD = 8 * 1024


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class HandshakeRecorder:
    """A WebSocket endpoint that accepts any handshake, records its `Authorization` header, and waits for the
    client to close."""

    host: str
    port: int = 0
    authorizations: list[str | None] = field(default_factory=list, repr=False)
    _runner: web.AppRunner | None = field(default=None, repr=False)

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handshake)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host.strip("[]"), 0, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self.port

    async def _handshake(self, request: web.Request) -> web.StreamResponse:
        self.authorizations.append(request.headers.get("Authorization"))
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for _ in socket:
            pass
        return socket

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records each target it is asked for."""

    routes: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    targets: list[tuple[str, int]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tunnels: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tunnels):
                task.cancel()
            await asyncio.gather(*self._tunnels, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tunnels.add(task)
        try:
            await self._tunnel(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tunnels.discard(task)
            writer.close()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, _, rest = head[:MAX_REQUEST_HEAD].decode("latin-1").partition(" ")
        authority = rest.partition(" ")[0]
        host, _, port_text = authority.rpartition(":")
        if method != "CONNECT" or not host or not port_text.isdigit():
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            return
        target = (host.strip("[]"), int(port_text))
        self.targets.append(target)
        route = self.routes.get(target) or (target if is_loopback_host(target[0]) else None)
        if route is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")  # offline: nowhere to go
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*route)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await source.read(64 * 1024):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()


@dataclass(frozen=True)
class StandInAuthority:
    """A CA made for one lab (`ca_path`, for the client's `SSL_CERT_FILE`) and a server certificate it signed for
    `host` (`cert_path`, `key_path`)."""

    host: str
    ca_path: Path
    cert_path: Path
    key_path: Path = field(repr=False)

    @classmethod
    def create(cls, directory: Path, host: str) -> StandInAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pairsim login lab authority")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
        ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_path.touch(mode=0o600)
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cls(host, ca_path, cert_path, key_path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context
