"""`pairsim connect`: open a remote app server's WebSocket the way the Codex client does for
`codex --remote <url> --remote-auth-token-env <VAR>`, then close it.

The smallest honest client of the remote-token rule (`remote_token_rule.py`): with a token variable it refuses a URL
that is neither `wss://` nor loopback `ws://` before it touches the network, with the app-server client's own words
[V]; otherwise it reads the token from the variable (trimmed; unset or blank is refused [V]) and sends it as
`Authorization: Bearer <token>` on the WebSocket handshake. Success prints one line on stdout and exits 0; a refusal
or a failed connection prints `Error: <message>` on stderr and exits 1, as the real binary does [O]. It speaks
`ws://` and `wss://` only (the real client also takes `unix://`). Proxies come from the environment
(`https_proxy`, `http_proxy`, `no_proxy`) and trusted certificates from the system's store (`SSL_CERT_FILE`), as
the `websockets` library reads them; the token never appears in anything it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from urllib.parse import urlsplit

from simulators import messages
from simulators.login.remote_token_rule import RemoteTokenRefused, check_client_url, read_token_env
from simulators.protocol.errors import PairsimError

ERROR_PREFIX = "Error: "  # how the real binary prints a fatal error [O]
EXIT_FAILED = 1
CONNECT_TIMEOUT_S = 10.0
# The app-server client's texts [V: codex-rs/app-server-client/src/remote.rs].
CONNECT_FAILED = "failed to connect to remote app server at `{url}`: {reason}"
CONNECT_TIMED_OUT = "timed out connecting to remote app server at `{url}`"


class ConnectFailed(PairsimError):
    """The WebSocket could not be opened; `message` is the line after `Error: `."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    connect = subparsers.add_parser(
        "connect", help="open a remote app server's WebSocket as `codex --remote` does (bearer token optional)"
    )
    connect.add_argument("--remote", required=True, metavar="URL", help="ws://host:port or wss://host:port")
    connect.add_argument(
        "--remote-auth-token-env", metavar="VAR", default=None,
        help="send the token in environment variable VAR as a bearer token (wss:// or loopback ws:// only)",
    )
    connect.add_argument("--timeout", type=float, default=CONNECT_TIMEOUT_S, help="seconds to wait for the server")
    connect.set_defaults(func=run_connect)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_connect(args: argparse.Namespace) -> int:
    url: str = args.remote
    if urlsplit(url).scheme.lower() not in ("ws", "wss"):
        raise PairsimError(f"pairsim connect speaks ws:// and wss:// only, not {url!r}")
    headers: dict[str, str] = {}
    if args.remote_auth_token_env is not None:
        try:
            check_client_url(url)  # before any name lookup or connection, as the real client
            token = read_token_env(args.remote_auth_token_env, dict(os.environ))
        except RemoteTokenRefused as exc:
            _err(ERROR_PREFIX + exc.message)
            return EXIT_FAILED
        headers["Authorization"] = f"Bearer {token}"
    try:
        asyncio.run(open_and_close(url, headers, args.timeout))
    except ConnectFailed as exc:
        _err(ERROR_PREFIX + exc.message)
        return EXIT_FAILED
    print(messages.CLI_REMOTE_CONNECTED.format(url=url), flush=True)
    return 0


async def open_and_close(url: str, headers: dict[str, str], timeout: float) -> None:
    """The WebSocket handshake (with `headers`), then a normal close; raises `ConnectFailed` with the real texts."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    try:
        async with asyncio.timeout(timeout):
            async with connect(url, additional_headers=headers, open_timeout=None) as socket:
                await socket.close()
    except TimeoutError:
        raise ConnectFailed(CONNECT_TIMED_OUT.format(url=url)) from None
    except InvalidStatus as exc:
        reason = f"HTTP {exc.response.status_code}"
        raise ConnectFailed(CONNECT_FAILED.format(url=url, reason=reason)) from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        # The exception's own words name the address or the handshake step; none of them carries a header.
        reason = str(exc) or type(exc).__name__
        raise ConnectFailed(CONNECT_FAILED.format(url=url, reason=reason)) from None
