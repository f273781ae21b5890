"""The `pairsim` command line. Each area registers its own subcommands; this module only wires them together.

Bad input of any kind (arguments, files, payloads) ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from simulators.cli_parser import EXIT_BAD_INPUT, OneLineParser
from simulators.protocol.errors import PairsimError

# Each module exposes `register(subparsers)`, adding parsers whose `func(args) -> int` runs the command. Keyed by
# the top-level command names it registers, so a run imports only its own command's module: `pairsim daemon serve`
# must be listening about as fast as the real daemon (~100 ms), not after importing the phone and the backend.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "simulators.backend.server": ("backend",),
    "simulators.phone.cli": ("phone",),
    "simulators.qr_cli": ("qr", "demo"),
    "simulators.daemon.cli": ("daemon",),
    "simulators.reproduce_cli": ("reproduce",),
    "simulators.daemon.doctor_cli": ("doctor",),
    "simulators.world_cli": ("world",),
    "simulators.login.cli": ("login", "logout"),
    "simulators.login.remote_client": ("connect",),
    "simulators.tui.recorder": ("record",),
    "simulators.real.compat_cli": ("codex", "compat"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(prog="pairsim", description="Simulate and test the Codex phone pairing system.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    requested = next((arg for arg in argv or () if not arg.startswith("-")), None)
    modules = [name for name, commands in COMMAND_MODULES.items() if requested in commands] or list(COMMAND_MODULES)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # httpx logs whole request URLs at INFO (an OAuth callback URL carries the authorization code), and httpcore
    # logs response headers at DEBUG (a Location header carries it too).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except PairsimError as exc:
        print(f"pairsim: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
