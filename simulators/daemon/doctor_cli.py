"""`pairsim doctor [--home DIR] [--json]`: print the health report of a daemon home; exit 1 if a check
fails."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from simulators.daemon.doctor import render_json, run_doctor
from simulators.protocol.errors import PairsimError


class NotADaemonHome(PairsimError):
    """`--home` names something that is not a folder."""


def default_home() -> Path:
    # The same rule as the real CLI: $CODEX_HOME, else ~/.codex.
    configured = os.environ.get("CODEX_HOME")
    return Path(configured) if configured else Path.home() / ".codex"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="Check a daemon home: state, sign-in and remote-control enrollment (read-only)."
    )
    doctor.add_argument(
        "--home",
        metavar="DIR",
        type=Path,
        default=None,
        help="the daemon home to examine (default: $CODEX_HOME or ~/.codex)",
    )
    doctor.add_argument("--json", action="store_true", help="print the machine-readable report")
    doctor.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    home: Path = args.home if args.home is not None else default_home()
    if home.exists() and not home.is_dir():
        raise NotADaemonHome(f"--home {home} is not a folder")
    report = run_doctor(home)
    if args.json:
        print(render_json(report))
    else:
        print("\n".join(report.lines()))
    return report.exit_code
