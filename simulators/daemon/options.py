"""Start-up options of the mock app-server (`pairsim daemon serve`): the same flags, checks and wording as
`codex app-server --listen ws://IP:PORT` 0.169.0.

Two kinds of refusal, as in the real binary: a usage error (clap: `error: ...`, exit 2) for a value that does
not parse, and a start-up error (`Error: ...`, exit 1) for flags that parse but do not fit together,
unreadable or too-short secrets, and unauthenticated non-loopback listeners. Only `ws://IP:PORT` is simulated;
`stdio://`, `unix://` and `off` are refused with a pairsim message.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from simulators.protocol.errors import PairsimError
from simulators.protocol.ws_auth import (
    WsAuthConfig,
    WsAuthFlagError,
    WsAuthFlags,
    WsAuthMode,
    build_ws_auth_config,
    secret_file_to_read,
    unreadable_secret_message,
)

EXIT_USAGE = 2
EXIT_STARTUP = 1

_LISTEN_FLAG = "'--listen <URL>'"
_SKEW_FLAG = "'--ws-max-clock-skew-seconds <SECONDS>'"
_AUTH_FLAG = "'--ws-auth <MODE>'"


class UsageError(PairsimError):
    """A flag value that does not parse. `message` is the whole clap-style line (`error: ...`); exit 2."""


class StartupError(PairsimError):
    """The daemon refuses to start. `message` is the text after `Error: `; exit 1."""


class ListenerNotSimulated(PairsimError):
    """A `--listen` transport the real daemon has but pairsim does not simulate (stdio, unix socket, off)."""


@dataclass(frozen=True)
class ListenAddress:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def host(self) -> str:
        mapped = getattr(self.ip, "ipv4_mapped", None)
        return f"::ffff:{mapped}" if mapped is not None else str(self.ip)  # as Rust prints it

    @property
    def is_loopback(self) -> bool:
        # 127.0.0.0/8 and ::1 only; an IPv4-mapped IPv6 address is not loopback to the Rust server.
        return self.ip.is_loopback if self.ip.version == 4 else self.ip == ipaddress.IPv6Address("::1")

    def authority(self, port: int | None = None) -> str:
        """`IP:PORT` as Rust prints a SocketAddr (IPv6 in brackets)."""
        host = self.host if self.ip.version == 4 else f"[{self.host}]"
        return f"{host}:{self.port if port is None else port}"


_PORT = re.compile(r"[0-9]{1,5}")


def _socket_addr(text: str) -> ListenAddress | None:
    """Parse a literal `IP:PORT` (no host names, IPv6 in brackets), or None."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep or "%" in host:
            return None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            return None
    if not _PORT.fullmatch(port) or int(port) > 65535:
        return None
    try:
        ip = ipaddress.IPv6Address(host) if text.startswith("[") else ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return ListenAddress(ip, int(port))


def parse_listen_url(url: str) -> ListenAddress:
    if url in ("stdio://", "off") or url.startswith("unix://"):
        raise ListenerNotSimulated(
            f"pairsim daemon serve simulates only `--listen ws://IP:PORT`; `{url}` is not simulated"
        )
    if url.startswith("ws://"):
        address = _socket_addr(url.removeprefix("ws://"))
        if address is None:
            raise UsageError(
                f"error: invalid value '{url}' for {_LISTEN_FLAG}: "
                f"invalid websocket --listen URL `{url}`; expected `ws://IP:PORT`"
            )
        return address
    raise UsageError(
        f"error: invalid value '{url}' for {_LISTEN_FLAG}: unsupported --listen URL `{url}`; "
        "expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, or `off`"
    )


def parse_skew_seconds(value: str) -> int:
    """`--ws-max-clock-skew-seconds` is a u64 in clap; its parse errors are Rust's integer errors."""
    if value.startswith("-") and len(value) > 1:
        raise UsageError(f"error: unexpected argument '{value}' found")
    if value == "":
        reason = "cannot parse integer from empty string"
    elif re.fullmatch(r"\+?[0-9]+", value):
        number = int(value)
        if number < 2**64:
            return number
        reason = "number too large to fit in target type"
    else:
        reason = "invalid digit found in string"
    raise UsageError(f"error: invalid value '{value}' for {_SKEW_FLAG}: {reason}")


def parse_ws_auth_mode(value: str) -> WsAuthMode:
    try:
        return WsAuthMode(value)
    except ValueError:
        possible = ", ".join(mode.value for mode in WsAuthMode)
        raise UsageError(
            f"error: invalid value '{value}' for {_AUTH_FLAG}\n  [possible values: {possible}]"
        ) from None


# musl (the real binary is a static musl build) words a few errnos differently from glibc.
_MUSL_STRERROR = {
    errno.EADDRINUSE: "Address in use",
    errno.EADDRNOTAVAIL: "Address not available",
}


def rust_io_error(exc: OSError) -> str:
    """An OSError as Rust's io::Error displays it: `<strerror> (os error <n>)`."""
    if exc.errno is None:
        return str(exc)
    text = _MUSL_STRERROR.get(exc.errno) or exc.strerror or "Unknown error"
    return f"{text} (os error {exc.errno})"


def read_secret_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StartupError(unreadable_secret_message(path, rust_io_error(exc))) from None
    except UnicodeDecodeError:
        raise StartupError(unreadable_secret_message(path, "stream did not contain valid UTF-8")) from None


def load_ws_auth(flags: WsAuthFlags) -> WsAuthConfig | None:
    """Validate the `--ws-*` flags, read the token or secret file, and build the listener's auth config."""
    try:
        path = secret_file_to_read(flags)
        text = None if path is None else read_secret_file(path)
        return build_ws_auth_config(flags, text)
    except WsAuthFlagError as exc:
        raise StartupError(exc.message) from None


def check_listener_allowed(listen: ListenAddress, auth: WsAuthConfig | None) -> None:
    if auth is None and not listen.is_loopback:
        raise StartupError(
            f"refusing to start non-loopback websocket listener {listen.authority()} without auth; "
            "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
        )


def startup_banner(listen: ListenAddress, bound_port: int) -> str:
    authority = listen.authority(bound_port)
    note = (
        "binds localhost only (use SSH port-forwarding for remote access)"
        if listen.is_loopback
        else "websocket auth is required for non-localhost listeners"
    )
    return (
        "codex app-server (WebSockets)\n"
        f"  listening on: ws://{authority}\n"
        f"  readyz: http://{authority}/readyz\n"
        f"  healthz: http://{authority}/healthz\n"
        f"  note: {note}\n"
    )


@dataclass(frozen=True)
class ServeArguments:
    """`pairsim daemon serve` arguments as strings, before any check."""

    listen: str
    ws_auth: str | None = None
    ws_token_file: str | None = None
    ws_token_sha256: str | None = None
    ws_shared_secret_file: str | None = None
    ws_issuer: str | None = None
    ws_audience: str | None = None
    ws_max_clock_skew_seconds: str | None = None


@dataclass(frozen=True)
class DaemonOptions:
    listen: ListenAddress
    auth: WsAuthConfig | None


def resolve_serve_options(args: ServeArguments) -> DaemonOptions:
    """All start-up checks in the real order: flag values (usage), flag combination and files, then the
    non-loopback rule. Raises UsageError, ListenerNotSimulated or StartupError."""
    listen = parse_listen_url(args.listen)
    mode = None if args.ws_auth is None else parse_ws_auth_mode(args.ws_auth)
    skew = (
        None if args.ws_max_clock_skew_seconds is None else parse_skew_seconds(args.ws_max_clock_skew_seconds)
    )
    flags = WsAuthFlags(
        mode=mode,
        token_file=args.ws_token_file,
        token_sha256=args.ws_token_sha256,
        shared_secret_file=args.ws_shared_secret_file,
        issuer=args.ws_issuer,
        audience=args.ws_audience,
        max_clock_skew_seconds=skew,
    )
    auth = load_ws_auth(flags)
    check_listener_allowed(listen, auth)
    return DaemonOptions(listen, auth)


def load_or_create_installation_id(home: Path) -> str:
    """The daemon's installation id, kept in `$CODEX_HOME/installation_id` like the real one."""
    path = home / "installation_id"
    try:
        existing = path.read_text(encoding="utf-8").strip()
        return str(uuid.UUID(existing))
    except (OSError, ValueError):
        pass
    installation_id = str(uuid.uuid4())
    path.write_text(installation_id, encoding="utf-8")
    return installation_id
