"""`pairsim daemon serve`: the command line as clap reads it, listen URLs, flag validation, the non-loopback
rule, the banner (observed §3.1, §3.4, §3.6, §7.1-7.3, and docs/protocol.md §1.1), in-process for the
refusals and as a real process for start-up, port 0, the stdio transport and shutdown."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import ipaddress
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from simulators.cli import main
from simulators.daemon.cli import serve
from simulators.daemon.options import (
    HelpRequested,
    ListenAddress,
    ListenerNotSimulated,
    NoTransport,
    ServeArguments,
    StartupError,
    StdioTransport,
    UnixSocketListen,
    UsageError,
    jaro_similarity,
    load_or_create_installation_id,
    parse_listen_url,
    parse_serve_argv,
    parse_skew_seconds,
    parse_transport,
    resolve_serve_options,
    rust_io_error,
    serve_help,
    startup_banner,
)
from simulators.protocol.ws_auth import CapabilityTokenAuth, SignedBearerTokenAuth

REPO = Path(__file__).resolve().parent.parent
TOKEN = "options-capability-token"
SECRET = "options-shared-secret-0123456789abcdef"  # 37 bytes

# ------------------------------------------------------------------------------------------------------------
# Listen URLs


@pytest.mark.parametrize(
    ("url", "host", "port", "loopback", "authority"),
    [
        ("ws://127.0.0.1:0", "127.0.0.1", 0, True, "127.0.0.1:0"),
        ("ws://127.0.0.1:45010", "127.0.0.1", 45010, True, "127.0.0.1:45010"),
        ("ws://127.0.0.2:5", "127.0.0.2", 5, True, "127.0.0.2:5"),
        ("ws://[::1]:80", "::1", 80, True, "[::1]:80"),
        ("ws://0.0.0.0:45021", "0.0.0.0", 45021, False, "0.0.0.0:45021"),
        ("ws://[::]:45021", "::", 45021, False, "[::]:45021"),
        ("ws://[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1, False, "[::ffff:127.0.0.1]:1"),
        ("ws://10.0.0.1:65535", "10.0.0.1", 65535, False, "10.0.0.1:65535"),
    ],
)
def test_listen_urls_that_parse(url: str, host: str, port: int, loopback: bool, authority: str) -> None:
    address = parse_listen_url(url)
    assert (address.host, address.port, address.is_loopback, address.authority()) == (
        host,
        port,
        loopback,
        authority,
    )


@pytest.mark.parametrize(
    "url",
    [
        "ws://localhost:45012",
        "ws://127.0.0.1",
        "ws://127.0.0.1:",
        "ws://127.0.0.1:65536",
        "ws://127.0.0.1:45012/",
        "ws://127.0.0.01:1",
        "ws://::1:80",
        "ws://[::1]",
        "ws://[fe80::1%eth0]:1",
        "ws://127.0.0.1:-1",
        "ws://",
    ],
)
def test_invalid_websocket_listen_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_listen_url(url)
    assert caught.value.message == (
        f"error: invalid value '{url}' for '--listen <URL>': invalid websocket --listen URL `{url}`; "
        "expected `ws://IP:PORT`"
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:45012", "wss://127.0.0.1:1", "WS://127.0.0.1:1", ""])
def test_unsupported_listen_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_listen_url(url)
    assert caught.value.message == (
        f"error: invalid value '{url}' for '--listen <URL>': unsupported --listen URL `{url}`; "
        "expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, or `off`"
    )


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("stdio://", StdioTransport()),
        ("off", NoTransport()),
        ("unix://", UnixSocketListen(None)),
        ("unix:///tmp/codex.sock", UnixSocketListen("/tmp/codex.sock")),
    ],
)
def test_the_other_transports(url: str, transport: object) -> None:
    assert parse_transport(url) == transport
    with pytest.raises(ListenerNotSimulated):
        parse_listen_url(url)  # not a WebSocket address


@pytest.mark.parametrize("url", ["stdio://x", "STDIO://", "OFF", "unix:", "stdio"])
def test_near_misses_of_the_other_transports_are_unsupported(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_transport(url)
    assert f"unsupported --listen URL `{url}`" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("30", 30),
        ("+5", 5),
        ("18446744073709551615", 2**64 - 1),
        # Only as `--ws-max-clock-skew-seconds=-5`: a separate `-5` is a flag to clap (see the argv tests).
        (
            "-5",
            "error: invalid value '-5' for '--ws-max-clock-skew-seconds <SECONDS>': "
            "invalid digit found in string",
        ),
        (
            " 5",
            "error: invalid value ' 5' for '--ws-max-clock-skew-seconds <SECONDS>': "
            "invalid digit found in string",
        ),
        (
            "99999999999999999999",
            "error: invalid value '99999999999999999999' for '--ws-max-clock-skew-seconds <SECONDS>': "
            "number too large to fit in target type",
        ),
        (
            "abc",
            "error: invalid value 'abc' for '--ws-max-clock-skew-seconds <SECONDS>': "
            "invalid digit found in string",
        ),
        (
            "",
            "error: invalid value '' for '--ws-max-clock-skew-seconds <SECONDS>': "
            "cannot parse integer from empty string",
        ),
    ],
)
def test_skew_values(value: str, expected: int | str) -> None:
    if isinstance(expected, int):
        assert parse_skew_seconds(value) == expected
    else:
        with pytest.raises(UsageError) as caught:
            parse_skew_seconds(value)
        assert caught.value.message == expected


# ------------------------------------------------------------------------------------------------------------
# Flag validation through the CLI, in-process


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "token.txt").write_text(f"{TOKEN}\n")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n")
    (tmp_path / "secret_short.txt").write_text("8 bytes!")
    (tmp_path / "not-utf8.txt").write_bytes(b"\xff\xfe")
    return tmp_path


HINT = "For more information, try '--help'."

FLAG_ROWS: list[tuple[str, list[str], int, str]] = [
    (
        "capability alone",
        ["--ws-auth", "capability-token"],
        1,
        "Error: `--ws-token-file` or `--ws-token-sha256` is required when "
        "`--ws-auth capability-token` is set",
    ),
    (
        "token file without mode",
        ["--ws-token-file", "{d}/token.txt"],
        1,
        "Error: websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
    ),
    (
        "file and digest",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}/token.txt", "--ws-token-sha256", "a" * 64],
        1,
        "Error: `--ws-token-file` and `--ws-token-sha256` are mutually exclusive",
    ),
    (
        "short digest",
        ["--ws-auth", "capability-token", "--ws-token-sha256", "abcd"],
        1,
        "Error: --ws-token-sha256 must be a 64-character hex SHA-256 digest",
    ),
    (
        "missing file",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}/nonexistent.txt"],
        1,
        "Error: failed to read websocket auth secret {d}/nonexistent.txt: "
        "No such file or directory (os error 2)",
    ),
    (
        "directory as file",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}"],
        1,
        "Error: failed to read websocket auth secret {d}: Is a directory (os error 21)",
    ),
    (
        "empty token file",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}/empty.txt"],
        1,
        "Error: websocket auth secret {d}/empty.txt must not be empty",
    ),
    (
        "non-UTF-8 token file",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}/not-utf8.txt"],
        1,
        "Error: failed to read websocket auth secret {d}/not-utf8.txt: stream did not contain valid UTF-8",
    ),
    (
        "signed alone",
        ["--ws-auth", "signed-bearer-token"],
        1,
        "Error: `--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set",
    ),
    (
        "signed with token file",
        [
            "--ws-auth",
            "signed-bearer-token",
            "--ws-shared-secret-file",
            "{d}/secret.txt",
            "--ws-token-file",
            "t",
        ],
        1,
        "Error: `--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, "
        "not `signed-bearer-token`",
    ),
    (
        "capability with issuer",
        ["--ws-auth", "capability-token", "--ws-token-file", "{d}/token.txt", "--ws-issuer", "i"],
        1,
        "Error: `--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` "
        "require `--ws-auth signed-bearer-token`",
    ),
    (
        "short secret",
        ["--ws-auth", "signed-bearer-token", "--ws-shared-secret-file", "{d}/secret_short.txt"],
        1,
        "Error: signed websocket bearer secret {d}/secret_short.txt must be at least 32 bytes",
    ),
    (
        "negative skew",
        [
            "--ws-auth",
            "signed-bearer-token",
            "--ws-shared-secret-file",
            "{d}/secret.txt",
            "--ws-max-clock-skew-seconds",
            "-5",
        ],
        2,
        "error: unexpected argument '-5' found\n\nUsage: codex app-server [OPTIONS] [COMMAND]\n\n" + HINT,
    ),
    (
        "huge skew",
        ["--ws-max-clock-skew-seconds", "99999999999999999999"],
        2,
        "error: invalid value '99999999999999999999' for '--ws-max-clock-skew-seconds <SECONDS>': "
        "number too large to fit in target type\n\n" + HINT,
    ),
    (
        "unknown mode",
        ["--ws-auth", "password"],
        2,
        "error: invalid value 'password' for '--ws-auth <MODE>'\n"
        "  [possible values: capability-token, signed-bearer-token]\n\n" + HINT,
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "stderr"), [r[1:] for r in FLAG_ROWS], ids=[r[0] for r in FLAG_ROWS]
)
def test_flag_validation_rows(
    args: list[str], code: int, stderr: str, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["daemon", "serve", "--listen", "ws://127.0.0.1:0", *(a.format(d=files) for a in args)]
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert (out, err) == ("", stderr.format(d=files) + "\n")


@pytest.mark.parametrize(
    ("listen", "code", "stderr"),
    [
        (
            "ws://localhost:45012",
            2,
            "error: invalid value 'ws://localhost:45012' for '--listen <URL>': "
            "invalid websocket --listen URL `ws://localhost:45012`; expected `ws://IP:PORT`\n\n" + HINT,
        ),
        (
            "http://127.0.0.1:45012",
            2,
            "error: invalid value 'http://127.0.0.1:45012' for '--listen <URL>': unsupported --listen URL "
            "`http://127.0.0.1:45012`; expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, "
            "or `off`\n\n" + HINT,
        ),
        (
            "ws://0.0.0.0:45021",
            1,
            "Error: refusing to start non-loopback websocket listener 0.0.0.0:45021 without auth; "
            "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
        ),
        (
            "ws://[::]:45021",
            1,
            "Error: refusing to start non-loopback websocket listener [::]:45021 without auth; "
            "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
        ),
        ("off", 1, "Error: no transport configured; use --listen or enable remote control"),
        (
            "unix://",
            2,
            "pairsim: error: pairsim daemon serve simulates `--listen ws://IP:PORT` and `stdio://`; "
            "`unix://` is not simulated",
        ),
    ],
)
def test_listen_refusals(listen: str, code: int, stderr: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["daemon", "serve", "--listen", listen]) == code
    assert capsys.readouterr() == ("", stderr + "\n")


def test_other_transports_check_the_flag_combination_but_read_no_file(files: Path) -> None:
    missing = str(files / "nonexistent.txt")
    flags = {"ws_auth": "capability-token", "ws_token_file": missing}
    assert resolve_serve_options(ServeArguments("stdio://", **flags)).listen == StdioTransport()
    assert resolve_serve_options(ServeArguments("stdio://", **flags)).auth is None
    with pytest.raises(StartupError, match=r"^no transport configured"):
        resolve_serve_options(ServeArguments("off", **flags))
    for listen in ("stdio://", "off", "unix://"):
        with pytest.raises(StartupError, match="is required when `--ws-auth capability-token` is set"):
            resolve_serve_options(ServeArguments(listen, ws_auth="capability-token"))
        with pytest.raises(StartupError, match="64-character hex"):
            resolve_serve_options(ServeArguments(listen, ws_auth="capability-token", ws_token_sha256="abcd"))
    short_secret = files / "secret_short.txt"
    signed = {"ws_auth": "signed-bearer-token", "ws_shared_secret_file": str(short_secret)}
    assert (
        resolve_serve_options(ServeArguments("stdio://", **signed)).auth is None
    )  # not read, so not checked
    with pytest.raises(ListenerNotSimulated):
        resolve_serve_options(ServeArguments("unix://", **flags))


def test_stdio_is_the_default_transport() -> None:
    assert parse_serve_argv([]) == ServeArguments(listen="stdio://")
    assert resolve_serve_options(ServeArguments()).listen == StdioTransport()


def test_flag_errors_come_before_the_non_loopback_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["daemon", "serve", "--listen", "ws://0.0.0.0:1", "--ws-auth", "capability-token"]) == 1
    assert "is required when `--ws-auth capability-token` is set" in capsys.readouterr().err


def test_abbreviated_flags_are_refused_with_clap_tip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["daemon", "serve", "--listen", "ws://127.0.0.1:0", "--ws-au", "capability-token"]) == 2
    assert capsys.readouterr() == (
        "",
        "error: unexpected argument '--ws-au' found\n\n"
        "  tip: a similar argument exists: '--ws-auth'\n\n"
        "Usage: codex app-server --listen <URL> --ws-auth <MODE>\n\n" + HINT + "\n",
    )


def test_help_goes_to_stdout_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("-h", "--help"):
        assert main(["daemon", "serve", "--listen", "ws://127.0.0.1:0", flag]) == 0
        out, err = capsys.readouterr()
        assert (out, err) == (serve_help(), "")
    for option in (
        "--listen <URL>",
        "--ws-auth <MODE>",
        "--ws-max-clock-skew-seconds <SECONDS>",
        "-h, --help",
    ):
        assert option in serve_help()


# ------------------------------------------------------------------------------------------------------------
# The command line as clap reads it: every row observed on the real `codex app-server` 0.169.0


def usage(line: str | None) -> str:
    return "" if line is None else f"Usage: codex app-server {line}\n\n"


GENERIC = "[OPTIONS] [COMMAND]"

ARGV_ROWS: list[tuple[str, str, str]] = [
    # (arguments, first lines, `Usage:` line or "")
    ("--listen", "error: a value is required for '--listen <URL>' but none was supplied", ""),
    (
        "--listen --ws-auth capability-token",
        "error: a value is required for '--listen <URL>' but none was supplied",
        "",
    ),
    ("--listen -h", "error: a value is required for '--listen <URL>' but none was supplied", ""),
    ("--listen --", "error: a value is required for '--listen <URL>' but none was supplied", ""),
    (
        "--listen ws://127.0.0.1:0 --ws-auth",
        "error: a value is required for '--ws-auth <MODE>' but none was supplied\n"
        "  [possible values: capability-token, signed-bearer-token]",
        "",
    ),
    (
        "--ws-auth=",
        "error: a value is required for '--ws-auth <MODE>' but none was supplied\n"
        "  [possible values: capability-token, signed-bearer-token]",
        "",
    ),
    (
        "--listen=",
        "error: invalid value '' for '--listen <URL>': unsupported --listen URL ``; expected `stdio://`, "
        "`unix://`, `unix://PATH`, `ws://IP:PORT`, or `off`",
        "",
    ),
    ("--bogus-flag", "error: unexpected argument '--bogus-flag' found", usage(GENERIC)),
    (
        "--listen ws://127.0.0.1:0 --bogus-flag",
        "error: unexpected argument '--bogus-flag' found",
        usage("--listen <URL>"),
    ),
    (
        "--listen=ws://127.0.0.1:0 --bogus=3",
        "error: unexpected argument '--bogus' found",
        usage("--listen <URL>"),
    ),
    (
        "--listen ws://127.0.0.1:0 --ws-auth capability-token --bogus",
        "error: unexpected argument '--bogus' found",
        usage("--listen <URL> --ws-auth <MODE>"),
    ),
    (
        "--ws-issuer a --listen ws://127.0.0.1:0 --bogus",
        "error: unexpected argument '--bogus' found",
        usage("--ws-issuer <ISSUER> --listen <URL>"),
    ),
    # A pending value is checked only when the next known flag comes: the unknown flag is reported first.
    ("--ws-auth bogus --bogus", "error: unexpected argument '--bogus' found", usage("--ws-auth <MODE>")),
    (
        "--listen ws://127.0.0.1:0 --ws-issuer --bogus",
        "error: unexpected argument '--bogus' found",
        usage("--listen <URL>"),
    ),
    (
        "--liste ws://127.0.0.1:0",
        "error: unexpected argument '--liste' found\n\n  tip: a similar argument exists: '--listen'",
        usage("--listen <URL>"),
    ),
    (
        "--listen ws://127.0.0.1:0 --ws-isuer x",
        "error: unexpected argument '--ws-isuer' found\n\n  tip: a similar argument exists: '--ws-issuer'",
        usage("--listen <URL> --ws-issuer <ISSUER>"),
    ),
    (
        "--ws-audiance x",
        "error: unexpected argument '--ws-audiance' found\n\n"
        "  tip: a similar argument exists: '--ws-audience'",
        usage("--ws-audience <AUDIENCE>"),
    ),
    (
        "--lis",
        "error: unexpected argument '--lis' found\n\n  tip: a similar argument exists: '--listen'",
        usage("--listen <URL>"),
    ),
    ("--listen ws://127.0.0.1:0 -x", "error: unexpected argument '-x' found", usage(GENERIC)),
    (
        "--ws-token-sha256 -abc --listen ws://127.0.0.1:0",
        "error: unexpected argument '-a' found",
        usage(GENERIC),
    ),
    (
        "--listen ws://127.0.0.1:0 --ws-max-clock-skew-seconds -5",
        "error: unexpected argument '-5' found",
        usage(GENERIC),
    ),
    (
        "--ws-max-clock-skew-seconds=-5",
        "error: invalid value '-5' for '--ws-max-clock-skew-seconds <SECONDS>': "
        "invalid digit found in string",
        "",
    ),
    ("--listen ws://127.0.0.1:0 extra", "error: unrecognized subcommand 'extra'", usage(GENERIC)),
    ("--listen ws://localhost:1 extra", "error: unrecognized subcommand 'extra'", usage(GENERIC)),
    ("--listen ws://127.0.0.1:0 -- x", "error: unrecognized subcommand 'x'", usage(GENERIC)),
    ("-", "error: unrecognized subcommand '-'", usage(GENERIC)),
    (
        "--ws-auth capability-token --ws-auth capability-token",
        "error: the argument '--ws-auth <MODE>' cannot be used multiple times",
        usage(GENERIC),
    ),
    (
        "--ws-issuer a --ws-issuer b",
        "error: the argument '--ws-issuer <ISSUER>' cannot be used multiple times",
        usage(GENERIC),
    ),
    # Values are checked in the order of the arguments.
    (
        "--ws-max-clock-skew-seconds abc --listen ws://localhost:1",
        "error: invalid value 'abc' for '--ws-max-clock-skew-seconds <SECONDS>': "
        "invalid digit found in string",
        "",
    ),
    (
        "--listen ws://localhost:1 --ws-max-clock-skew-seconds abc",
        "error: invalid value 'ws://localhost:1' for '--listen <URL>': invalid websocket --listen URL "
        "`ws://localhost:1`; expected `ws://IP:PORT`",
        "",
    ),
    ("--help=3", "error: unexpected value '3' for '--help' found; no more were expected", usage("--help")),
]


@pytest.mark.parametrize(("argv", "first", "usage_text"), ARGV_ROWS, ids=[row[0] for row in ARGV_ROWS])
def test_usage_errors_read_like_clap(argv: str, first: str, usage_text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_serve_argv(argv.split(" "))
    assert caught.value.clap_text() == f"{first}\n\n{usage_text}{HINT}\n"


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ("--listen ws://127.0.0.1:0", ServeArguments(listen="ws://127.0.0.1:0")),
        ("--listen=stdio://", ServeArguments(listen="stdio://")),
        (
            "--ws-auth=signed-bearer-token --ws-shared-secret-file s --ws-issuer= "
            "--ws-max-clock-skew-seconds +5",
            ServeArguments(
                ws_auth="signed-bearer-token",
                ws_shared_secret_file="s",
                ws_issuer="",
                ws_max_clock_skew_seconds="+5",
            ),
        ),
        (
            "--listen ws://127.0.0.1:0 --ws-token-file -",
            ServeArguments(listen="ws://127.0.0.1:0", ws_token_file="-"),
        ),
        ("--listen ws://127.0.0.1:0 --", ServeArguments(listen="ws://127.0.0.1:0")),
        ("-h", HelpRequested()),
        ("-hx", HelpRequested()),
        ("--listen ws://127.0.0.1:0 --help --bogus", HelpRequested()),
    ],
)
def test_command_lines_that_parse(argv: str, parsed: object) -> None:
    assert parse_serve_argv(argv.split(" ")) == parsed


def test_jaro_similarity_matches_strsim() -> None:
    assert jaro_similarity("", "") == 1.0
    assert jaro_similarity("a", "") == 0.0
    assert jaro_similarity("martha", "marhta") == pytest.approx(0.944444, abs=1e-6)
    assert jaro_similarity("dixon", "dicksonx") == pytest.approx(0.766667, abs=1e-6)
    assert jaro_similarity("bogus-flag", "listen") < 0.7 < jaro_similarity("lis", "listen")


@given(st.lists(st.text(max_size=12), max_size=6))
def test_any_command_line_parses_or_is_a_usage_error(argv: list[str]) -> None:
    try:
        parsed = parse_serve_argv(argv)
    except UsageError as exc:
        assert exc.message.startswith("error: ") and exc.clap_text().endswith(HINT + "\n")
    else:
        assert isinstance(parsed, (ServeArguments, HelpRequested))


# ------------------------------------------------------------------------------------------------------------
# Options that start


def args(listen: str = "ws://127.0.0.1:0", **flags: str) -> ServeArguments:
    return ServeArguments(listen=listen, **flags)


def test_valid_auth_options(files: Path) -> None:
    digest = hashlib.sha256(TOKEN.encode()).digest()
    token_file = resolve_serve_options(
        args(ws_auth="capability-token", ws_token_file=str(files / "token.txt"))
    )
    assert token_file.auth == CapabilityTokenAuth(digest)
    by_digest = resolve_serve_options(args(ws_auth="capability-token", ws_token_sha256=digest.hex().upper()))
    assert by_digest.auth == CapabilityTokenAuth(digest)
    signed = resolve_serve_options(
        args(
            "ws://0.0.0.0:45021",  # non-loopback is fine with auth
            ws_auth="signed-bearer-token",
            ws_shared_secret_file=str(files / "secret.txt"),
            ws_issuer="test-issuer",
            ws_audience="test-aud",
            ws_max_clock_skew_seconds="120",
        )
    )
    assert signed.auth == SignedBearerTokenAuth(SECRET.encode(), "test-issuer", "test-aud", 120)
    assert signed.listen == ListenAddress(ipaddress.IPv4Address("0.0.0.0"), 45021)
    default_skew = resolve_serve_options(
        args(ws_auth="signed-bearer-token", ws_shared_secret_file=str(files / "secret.txt"))
    )
    assert default_skew.auth == SignedBearerTokenAuth(SECRET.encode(), None, None, 30)


def test_startup_error_type_for_refusals() -> None:
    with pytest.raises(StartupError):
        resolve_serve_options(args("ws://10.1.2.3:9"))


def test_banner_for_loopback_and_authenticated_non_loopback() -> None:
    assert startup_banner(parse_listen_url("ws://127.0.0.1:0"), 45010) == (
        "codex app-server (WebSockets)\n"
        "  listening on: ws://127.0.0.1:45010\n"
        "  readyz: http://127.0.0.1:45010/readyz\n"
        "  healthz: http://127.0.0.1:45010/healthz\n"
        "  note: binds localhost only (use SSH port-forwarding for remote access)\n"
    )
    assert (
        startup_banner(parse_listen_url("ws://[::1]:0"), 7).splitlines()[1] == "  listening on: ws://[::1]:7"
    )
    assert startup_banner(parse_listen_url("ws://0.0.0.0:5"), 5).splitlines()[4] == (
        "  note: websocket auth is required for non-localhost listeners"
    )


def test_io_errors_read_like_the_musl_binary() -> None:
    assert (
        rust_io_error(OSError(errno.EADDRINUSE, "Address already in use")) == "Address in use (os error 98)"
    )
    assert rust_io_error(OSError(errno.ENOENT, "No such file or directory")) == (
        "No such file or directory (os error 2)"
    )


def test_installation_id_is_created_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_installation_id(tmp_path)
    assert (tmp_path / "installation_id").read_text() == first
    assert load_or_create_installation_id(tmp_path) == first


# ------------------------------------------------------------------------------------------------------------
# As a real process


class Daemon:
    """`python -m simulators.cli daemon serve ...` with its stderr read line by line on a thread."""

    def __init__(self, *argv: str, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.cli", "daemon", "serve", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def banner(self) -> list[str]:
        lines = []
        for _ in range(5):
            line = self.lines.get(timeout=30)
            assert line is not None, f"daemon exited early: {lines}"
            lines.append(line.rstrip("\n"))
        return lines

    def port(self, banner: list[str]) -> int:
        return int(banner[1].rsplit(":", 1)[1])

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        return code, self.proc.stdout.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[type[Daemon]]:
    started: list[Daemon] = []

    class Tracked(Daemon):
        def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
            super().__init__(*argv, cwd=tmp_path, env={"CODEX_HOME": str(tmp_path / "home"), **(env or {})})
            started.append(self)

    yield Tracked
    for d in started:
        d.kill()


def test_process_prints_the_banner_with_the_real_port_and_serves(
    daemon: type[Daemon], tmp_path: Path
) -> None:
    d = daemon("--listen", "ws://127.0.0.1:0")
    started = time.monotonic()
    banner = d.banner()
    port = d.port(banner)
    assert port != 0
    assert banner == startup_banner(parse_listen_url("ws://127.0.0.1:0"), port).splitlines()
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    print(f"daemon process: banner to readyz in {time.monotonic() - started:.3f}s after spawn")

    async def initialize() -> dict[str, object]:
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            await ws.send(
                json.dumps(
                    {
                        "id": 1,
                        "method": "initialize",
                        "params": {"clientInfo": {"name": "probe", "version": "1"}},
                    }
                )
            )
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    result = asyncio.run(initialize())["result"]
    assert result["codexHome"] == str(tmp_path / "home")  # type: ignore[index]
    assert (tmp_path / "home" / "installation_id").exists()
    code, stdout = d.stop(signal.SIGTERM)
    assert (code, stdout) == (0, "")


def test_a_taken_port_is_reported_like_the_real_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        options = resolve_serve_options(args(f"ws://127.0.0.1:{taken.getsockname()[1]}"))
        assert asyncio.run(serve(options)) == 1
    assert capsys.readouterr() == ("", "Error: Address in use (os error 98)\n")


def test_without_codex_home_a_temporary_home_is_used_and_removed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CODEX_HOME", raising=False)
    created: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(**kwargs: str) -> str:
        path = real_mkdtemp(**kwargs)
        created.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    with socket.socket() as taken:  # fail at bind, after the home was made
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert (
            asyncio.run(serve(resolve_serve_options(args(f"ws://127.0.0.1:{taken.getsockname()[1]}")))) == 1
        )
    assert len(created) == 1 and created[0].name.startswith("pairsim-codex-home-")
    assert not created[0].exists()


def test_process_with_a_relative_token_file_and_sigint(daemon: type[Daemon], tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text(f"{TOKEN}\n")
    d = daemon(
        "--listen", "ws://127.0.0.1:0", "--ws-auth", "capability-token", "--ws-token-file", "token.txt"
    )
    port = d.port(d.banner())

    async def attempt(headers: list[tuple[str, str]]) -> int:
        try:
            async with connect(f"ws://127.0.0.1:{port}", additional_headers=headers):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(attempt([("Authorization", f"Bearer {TOKEN}")])) == 101
    assert asyncio.run(attempt([])) == 401
    assert d.stop(signal.SIGINT) == (0, "")


def test_stdio_process_serves_its_input_and_exits_0_at_its_end(tmp_path: Path) -> None:
    requests = [
        {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "probe", "version": "1"}}},
        {"id": 2, "method": "thread/list", "params": {}},
    ]
    flags = ["--ws-auth", "capability-token", "--ws-token-file", str(tmp_path / "no-such-token")]
    done = subprocess.run(
        [sys.executable, "-m", "simulators.cli", "daemon", "serve", "--listen", "stdio://", *flags],
        input="".join(json.dumps(r) + "\n" for r in requests),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "CODEX_HOME": str(tmp_path / "home")},
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (0, "")
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a.get("id", a.get("method")) for a in answers] == [1, "remoteControl/status/changed", 2]
    assert answers[0]["result"]["codexHome"] == str(tmp_path / "home")
    assert list(answers[2]["result"]) == ["data", "readStates", "nextCursor", "backwardsCursor"]
