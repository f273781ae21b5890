"""`pairsim daemon serve`: run the mock app-server as its own process, like `codex app-server`.

Same command line as the real one, read the way clap reads it (`error: ...` and clap's trailer, exit 2, for a
command line that does not parse; `Error: ...` exit 1 for start-up refusals). On `--listen ws://IP:PORT`: the
same five-line banner on stderr with the bound port, nothing on stdout, and a clean exit on SIGTERM or SIGINT.
On `--listen stdio://` (the default): JSON-RPC lines on stdin and stdout, exit 0 at the end of input. The
daemon's home is `$CODEX_HOME`, or a temporary directory removed on exit.
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
    HelpRequested,
    StartupError,
    StdioTransport,
    UsageError,
    load_or_create_installation_id,
    parse_serve_argv,
    resolve_serve_options,
    rust_io_error,
    serve_help,
    startup_banner,
)
from simulators.daemon.stdio_transport import serve_stdio
from simulators.daemon.threads import install_threads
from simulators.daemon.tui_surface import install_tui_surface
from simulators.daemon.workspace import PROJECT, Workspace
from simulators.protocol.errors import PairsimError

LOG_LEVEL_ENV = "PAIRSIM_LOG_LEVEL"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    daemon = subparsers.add_parser("daemon", help="run the mock desktop daemon (codex app-server)")
    commands = daemon.add_subparsers(dest="daemon_command", required=True)
    _add_serve(commands.add_parser)


def _add_serve(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    # The arguments are read by a clap look-alike (`parse_serve_argv`), not by argparse: argparse would
    # answer unknown flags, missing values and `-5` in its own words. No argv string can hold a NUL, so with
    # it as the only prefix character argparse takes every argument as the positional `arguments`.
    serve = add_parser(
        "serve",
        add_help=False,
        prefix_chars="\0",
        help="serve the mock app-server, as `codex app-server` (see `pairsim daemon serve --help`)",
        description="Serve the mock app-server, as `codex app-server --listen URL`.",
    )
    serve.add_argument("arguments", nargs=argparse.REMAINDER, help="`codex app-server` options")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    return run_app_server(list(args.arguments))


def run_app_server(argv: list[str]) -> int:
    """`codex app-server ARGV` on the mock. Returns the exit code."""
    try:
        parsed = parse_serve_argv(argv)
        if isinstance(parsed, HelpRequested):
            sys.stdout.write(serve_help())
            return 0
        options = resolve_serve_options(parsed)
    except UsageError as exc:
        sys.stderr.write(exc.clap_text())
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
    """Run until SIGTERM or SIGINT (or, on stdio, the end of input). Returns the exit code."""
    home, temporary = _codex_home()
    try:
        app_server = AppServer(
            home,
            Clock(),
            server_name=socket.gethostname(),
            installation_id=load_or_create_installation_id(home),
        )
        # The agent's project lives in the daemon's home: a temporary home takes it away on exit.
        threads = install_threads(app_server, workspace=Workspace.seed(home / "workspace" / PROJECT))
        install_tui_surface(app_server, loaded_threads=lambda: list(threads.loaded))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if isinstance(options.listen, StdioTransport):
            await serve_stdio(app_server, sys.stdin.buffer, sys.stdout.buffer, stop)
            await app_server.close()
            return 0
        listener = AppServerListener(app_server, listen=options.listen, auth=options.auth)
        try:
            port = await listener.start()
        except OSError as exc:
            print(f"Error: {rust_io_error(exc)}", file=sys.stderr)
            return EXIT_STARTUP
        sys.stderr.write(startup_banner(options.listen, port))
        sys.stderr.flush()
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
    from simulators.cli_parser import OneLineParser  # the shared one-line usage errors

    parser = OneLineParser(prog="pairsim daemon")
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
