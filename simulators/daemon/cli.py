"""`pairsim daemon serve`: run the mock app-server as its own process, like `codex app-server --listen
ws://IP:PORT`.

Same flags, same refusals (`error: ...` exit 2 for values that do not parse, `Error: ...` exit 1 for start-up
refusals), the same five-line banner on stderr with the bound port, nothing on stdout, and a clean exit on
SIGTERM or SIGINT. The daemon's home is `$CODEX_HOME`, or a temporary directory removed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from simulators.clock import Clock
from simulators.daemon.app_server import AppServer
from simulators.daemon.listener import AppServerListener
from simulators.daemon.options import (
    EXIT_STARTUP,
    EXIT_USAGE,
    DaemonOptions,
    ServeArguments,
    StartupError,
    UsageError,
    load_or_create_installation_id,
    resolve_serve_options,
    rust_io_error,
    startup_banner,
)
from simulators.daemon.threads import install_threads
from simulators.protocol.errors import PairsimError

LOG_LEVEL_ENV = "PAIRSIM_LOG_LEVEL"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    daemon = subparsers.add_parser("daemon", help="run the mock desktop daemon (codex app-server)")
    commands = daemon.add_subparsers(dest="daemon_command", required=True)
    _add_serve(commands.add_parser)


def _add_serve(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    serve = add_parser(
        "serve",
        allow_abbrev=False,  # clap does not accept abbreviated flags
        help="serve the app-server over WebSockets",
        description="Serve the mock app-server on ws://IP:PORT, as `codex app-server --listen ws://IP:PORT`.",
    )
    serve.add_argument(
        "--listen", required=True, metavar="URL", help="ws://IP:PORT (port 0 picks a free port)"
    )
    serve.add_argument("--ws-auth", metavar="MODE", help="capability-token or signed-bearer-token")
    serve.add_argument("--ws-token-file", metavar="PATH", help="file holding the capability token")
    serve.add_argument("--ws-token-sha256", metavar="HEX", help="hex SHA-256 digest of the capability token")
    serve.add_argument("--ws-shared-secret-file", metavar="PATH", help="HS256 secret file (>= 32 bytes)")
    serve.add_argument("--ws-issuer", metavar="ISSUER", help="expected JWT `iss`")
    serve.add_argument("--ws-audience", metavar="AUDIENCE", help="expected JWT `aud`")
    serve.add_argument("--ws-max-clock-skew-seconds", metavar="SECONDS", help="JWT clock skew (default 30)")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        options = resolve_serve_options(
            ServeArguments(
                listen=args.listen,
                ws_auth=args.ws_auth,
                ws_token_file=args.ws_token_file,
                ws_token_sha256=args.ws_token_sha256,
                ws_shared_secret_file=args.ws_shared_secret_file,
                ws_issuer=args.ws_issuer,
                ws_audience=args.ws_audience,
                ws_max_clock_skew_seconds=args.ws_max_clock_skew_seconds,
            )
        )
    except UsageError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_USAGE
    except StartupError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_STARTUP
    logging.basicConfig(
        level=os.environ.get(LOG_LEVEL_ENV, "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(serve(options))


def _codex_home() -> tuple[Path, bool]:
    """`$CODEX_HOME`, or a fresh temporary directory (the bool says whether to remove it on exit)."""
    configured = os.environ.get("CODEX_HOME")
    if configured:
        home = Path(configured).expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True)
        return home, False
    return Path(tempfile.mkdtemp(prefix="pairsim-codex-home-")), True


async def serve(options: DaemonOptions) -> int:
    """Run until SIGTERM or SIGINT. Returns the exit code."""
    home, temporary = _codex_home()
    try:
        app_server = AppServer(
            home,
            Clock(),
            server_name=socket.gethostname(),
            installation_id=load_or_create_installation_id(home),
        )
        install_threads(app_server)
        listener = AppServerListener(app_server, listen=options.listen, auth=options.auth)
        try:
            port = await listener.start()
        except OSError as exc:
            print(f"Error: {rust_io_error(exc)}", file=sys.stderr)
            return EXIT_STARTUP
        sys.stderr.write(startup_banner(options.listen, port))
        sys.stderr.flush()

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await listener.stop()
        await app_server.close()
        return 0
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.daemon.cli serve ...`: the daemon alone, without importing the other commands (a
    faster start, closer to the real daemon's ~100 ms)."""
    from simulators.cli import _Parser  # the shared one-line usage errors

    parser = _Parser(prog="pairsim daemon")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands.add_parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PairsimError as exc:
        print(f"pairsim: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
