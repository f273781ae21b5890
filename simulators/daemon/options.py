"""Start-up options of the mock app-server (`pairsim daemon serve`): the same flags, checks and wording as
`codex app-server` 0.169.0.

Two kinds of refusal, as in the real binary: a usage error (clap: `error: ...` and clap's trailer, exit 2)
for a command line that does not parse, and a start-up error (`Error: ...`, exit 1) for flags that parse but
do not fit together, unreadable or too-short secrets, unauthenticated non-loopback listeners and `--listen
off`. The
command line is read by a small clap look-alike (`parse_serve_argv`), not argparse, because the texts, the
order of the checks and what counts as a flag or a value are clap's. `ws://IP:PORT` and `stdio://` are
simulated; `unix://` is refused with a pairsim message.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import uuid
from collections.abc import Sequence
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

PROGRAM = "codex app-server"  # the mock stands in for it, so clap's usage lines name it
DEFAULT_LISTEN_URL = "stdio://"
NO_TRANSPORT_MESSAGE = "no transport configured; use --listen or enable remote control"

_LISTEN_FLAG = "'--listen <URL>'"
_SKEW_FLAG = "'--ws-max-clock-skew-seconds <SECONDS>'"
_AUTH_FLAG = "'--ws-auth <MODE>'"


class UsageError(PairsimError):
    """A command line clap refuses; exit 2. `message` is clap's error (`error: ...`, sometimes with an
    indented second line); `clap_text()` is everything clap prints, ending in its `--help` hint."""

    def __init__(self, message: str, *, usage: str | None = None, tip: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage  # the `Usage:` line's text, for errors where clap prints one
        self.tip = tip

    def clap_text(self) -> str:
        lines = [self.message, ""]
        if self.tip is not None:
            lines += [f"  tip: {self.tip}", ""]
        if self.usage is not None:
            lines += [f"Usage: {self.usage}", ""]
        lines.append("For more information, try '--help'.")
        return "\n".join(lines) + "\n"


class StartupError(PairsimError):
    """The daemon refuses to start. `message` is the text after `Error: `; exit 1."""


class ListenerNotSimulated(PairsimError):
    """A `--listen` transport the real daemon has but pairsim does not simulate (a unix socket)."""


@dataclass(frozen=True)
class ListenAddress:
    """`--listen ws://IP:PORT`."""

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


@dataclass(frozen=True)
class StdioTransport:
    """`--listen stdio://` (the default): one client, JSON-RPC lines on stdin and stdout."""


@dataclass(frozen=True)
class NoTransport:
    """`--listen off`."""


@dataclass(frozen=True)
class UnixSocketListen:
    """`--listen unix://` or `unix://PATH` (not simulated)."""

    path: str | None


Transport = ListenAddress | StdioTransport | NoTransport | UnixSocketListen

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


def parse_transport(url: str) -> Transport:
    """A `--listen` value, as clap's value parser reads it. Raises UsageError."""
    if url == "stdio://":
        return StdioTransport()
    if url == "off":
        return NoTransport()
    if url.startswith("unix://"):
        return UnixSocketListen(url.removeprefix("unix://") or None)
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


def parse_listen_url(url: str) -> ListenAddress:
    """A `ws://IP:PORT` listen URL. Raises UsageError, or ListenerNotSimulated for the other transports."""
    transport = parse_transport(url)
    if not isinstance(transport, ListenAddress):
        raise ListenerNotSimulated(f"`{url}` is not a WebSocket listen URL")
    return transport


def parse_skew_seconds(value: str) -> int:
    """`--ws-max-clock-skew-seconds` is a u64 in clap; its parse errors are Rust's integer errors. (A separate
    argument `-5` never gets here: clap takes it for a flag.)"""
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


def _possible_modes() -> str:
    return f"  [possible values: {', '.join(mode.value for mode in WsAuthMode)}]"


def parse_ws_auth_mode(value: str) -> WsAuthMode:
    if value == "":  # clap's enum parser treats an empty value as a missing one
        raise UsageError(
            f"error: a value is required for {_AUTH_FLAG} but none was supplied\n{_possible_modes()}"
        )
    try:
        return WsAuthMode(value)
    except ValueError:
        raise UsageError(f"error: invalid value '{value}' for {_AUTH_FLAG}\n{_possible_modes()}") from None


# ------------------------------------------------------------------------------------------------------------
# The command line, as clap reads it


@dataclass(frozen=True)
class _Option:
    """A `--name <VALUE>` option of `codex app-server` that the mock simulates."""

    name: str
    value_name: str
    field: str
    help: str

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def display(self) -> str:
        return f"--{self.name} <{self.value_name}>"


_OPTIONS = (
    _Option(
        "listen",
        "URL",
        "listen",
        "Transport endpoint URL. Supported values: `stdio://` (default), `ws://IP:PORT`, `off`\n"
        "(`unix://` and `unix://PATH` are not simulated) [default: stdio://]",
    ),
    _Option(
        "ws-auth",
        "MODE",
        "ws_auth",
        "Authentication mode for incoming WebSocket connections [possible values: capability-token,\n"
        "signed-bearer-token]",
    ),
    _Option("ws-token-file", "PATH", "ws_token_file", "Absolute path to the capability-token file"),
    _Option(
        "ws-token-sha256", "HEX", "ws_token_sha256", "Hex-encoded SHA-256 digest of the capability token"
    ),
    _Option(
        "ws-shared-secret-file",
        "PATH",
        "ws_shared_secret_file",
        "Absolute path to the shared secret file for signed JWT bearer tokens",
    ),
    _Option("ws-issuer", "ISSUER", "ws_issuer", "Expected issuer for signed JWT bearer tokens"),
    _Option("ws-audience", "AUDIENCE", "ws_audience", "Expected audience for signed JWT bearer tokens"),
    _Option(
        "ws-max-clock-skew-seconds",
        "SECONDS",
        "ws_max_clock_skew_seconds",
        "Maximum clock skew when validating signed JWT bearer tokens",
    ),
)
_OPTIONS_BY_NAME = {option.name: option for option in _OPTIONS}
_HELP = "help"
_GENERIC_USAGE = f"{PROGRAM} [OPTIONS] [COMMAND]"


def _check_value(option: _Option, value: str) -> None:
    """clap's value parser for `option`; raises UsageError."""
    if option.name == "listen":
        parse_transport(value)
    elif option.name == "ws-auth":
        parse_ws_auth_mode(value)
    elif option.name == "ws-max-clock-skew-seconds":
        parse_skew_seconds(value)


def jaro_similarity(a: str, b: str) -> float:
    """Jaro similarity (strsim's `jaro`), which clap uses for its `a similar argument exists` tip."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    a_matched = [False] * len(a)
    b_matched = [False] * len(b)
    matches = 0
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_matched[j] and b[j] == char:
                a_matched[i] = b_matched[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    transpositions = 0
    j = 0
    for i, char in enumerate(a):
        if a_matched[i]:
            while not b_matched[j]:
                j += 1
            transpositions += char != b[j]
            j += 1
    return (matches / len(a) + matches / len(b) + (matches - transpositions / 2) / matches) / 3


def _similar_flag(name: str) -> str | None:
    """The known long flag clap would suggest for `--name` (confidence above 0.7, the best one)."""
    best: tuple[float, str] | None = None
    for candidate in (*_OPTIONS_BY_NAME, _HELP):
        confidence = jaro_similarity(name, candidate)
        if confidence > 0.7 and (best is None or confidence > best[0]):
            best = (confidence, candidate)
    return None if best is None else best[1]


def _usage(displays: list[str]) -> str:
    return f"{PROGRAM} {' '.join(displays)}" if displays else _GENERIC_USAGE


def _looks_like_a_flag(arg: str) -> bool:
    # No option of app-server takes hyphen values or negative numbers, so clap reads `-5` as a flag.
    return arg.startswith("-") and arg != "-"


@dataclass(frozen=True)
class HelpRequested:
    """`-h` / `--help`: print `serve_help()` on stdout and exit 0."""


def serve_help() -> str:
    lines = [
        "Run the mock app-server (pairsim's stand-in for `codex app-server`)",
        "",
        f"Usage: {PROGRAM} [OPTIONS]",
        "",
        "Options:",
    ]
    for option in _OPTIONS:
        lines.append(f"      {option.display}")
        lines += [f"          {line}" for line in option.help.splitlines()]
    lines += ["  -h, --help", "          Print help"]
    return "\n".join(lines) + "\n"


@dataclass
class _Pending:
    """An option whose value clap has not checked yet: it checks it when the next known flag arrives or the
    arguments end, so an unknown flag later on the line is reported first."""

    option: _Option
    value: str | None  # None until its value arrives


def parse_serve_argv(argv: Sequence[str]) -> ServeArguments | HelpRequested:
    """`codex app-server`'s command line as clap 4 reads it (only the options the mock simulates). Raises
    UsageError with clap's text."""
    values: dict[str, str] = {}
    used: list[str] = []  # option displays in order of use, for the `Usage:` line of an unknown flag
    pending: _Pending | None = None

    def resolve() -> None:
        nonlocal pending
        if pending is None:
            return
        option, value = pending.option, pending.value
        pending = None
        if value is None:
            extra = f"\n{_possible_modes()}" if option.name == "ws-auth" else ""
            raise UsageError(
                f"error: a value is required for '{option.display}' but none was supplied{extra}"
            )
        if option.field in values:
            raise UsageError(
                f"error: the argument '{option.display}' cannot be used multiple times", usage=_GENERIC_USAGE
            )
        _check_value(option, value)
        values[option.field] = value
        used.append(option.display)

    def displays_in_use() -> list[str]:
        displays = list(used)
        if pending is not None and pending.value is not None and pending.option.display not in displays:
            displays.append(pending.option.display)
        return displays

    args = iter(argv)
    for arg in args:
        if pending is not None and pending.value is None and not _looks_like_a_flag(arg):
            pending.value = arg
            continue
        if arg == "--":
            resolve()
            rest = list(args)
            if rest:
                raise UsageError(f"error: unrecognized subcommand '{rest[0]}'", usage=_GENERIC_USAGE)
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name == _HELP:
                if has_value:
                    raise UsageError(
                        f"error: unexpected value '{value}' for '--help' found; no more were expected",
                        usage=f"{PROGRAM} --help",
                    )
                resolve()
                return HelpRequested()
            option = _OPTIONS_BY_NAME.get(name)
            if option is None:
                similar = _similar_flag(name)
                displays = displays_in_use()
                tip = None
                if similar is not None:
                    tip = f"a similar argument exists: '--{similar}'"
                    suggested = _OPTIONS_BY_NAME[similar].display if similar in _OPTIONS_BY_NAME else "--help"
                    if suggested not in displays:
                        displays.append(suggested)
                raise UsageError(
                    f"error: unexpected argument '--{name}' found", usage=_usage(displays), tip=tip
                )
            resolve()
            pending = _Pending(option, value if has_value else None)
            continue
        if _looks_like_a_flag(arg):
            if arg[1] == "h":
                resolve()
                return HelpRequested()
            raise UsageError(f"error: unexpected argument '-{arg[1]}' found", usage=_GENERIC_USAGE)
        raise UsageError(f"error: unrecognized subcommand '{arg}'", usage=_GENERIC_USAGE)
    resolve()
    return ServeArguments(listen=values.pop("listen", DEFAULT_LISTEN_URL), **values)


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

    listen: str = DEFAULT_LISTEN_URL
    ws_auth: str | None = None
    ws_token_file: str | None = None
    ws_token_sha256: str | None = None
    ws_shared_secret_file: str | None = None
    ws_issuer: str | None = None
    ws_audience: str | None = None
    ws_max_clock_skew_seconds: str | None = None


@dataclass(frozen=True)
class DaemonOptions:
    listen: ListenAddress | StdioTransport
    auth: WsAuthConfig | None  # always None on stdio: the flags are checked there but not used


def resolve_serve_options(args: ServeArguments) -> DaemonOptions:
    """All start-up checks in the real order: flag values (usage), the flag combination, then per transport:
    `off` is refused; stdio reads no secret file; ws:// reads it and applies the non-loopback rule. Raises
    UsageError, ListenerNotSimulated or StartupError."""
    transport = parse_transport(args.listen)
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
    if not isinstance(transport, ListenAddress):
        try:
            secret_file_to_read(flags)  # the combination is checked for every transport, files only for ws
        except WsAuthFlagError as exc:
            raise StartupError(exc.message) from None
        if isinstance(transport, NoTransport):
            raise StartupError(NO_TRANSPORT_MESSAGE)
        if isinstance(transport, UnixSocketListen):
            raise ListenerNotSimulated(
                "pairsim daemon serve simulates `--listen ws://IP:PORT` and `stdio://`; "
                f"`{args.listen}` is not simulated"
            )
        return DaemonOptions(transport, None)
    auth = load_ws_auth(flags)
    check_listener_allowed(transport, auth)
    return DaemonOptions(transport, auth)


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
