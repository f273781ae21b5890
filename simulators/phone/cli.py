"""`pairsim phone pair`: pair a simulated phone with whatever world a QR code image points at.

Exit codes: 0 paired, 1 the pairing failed for a product reason (the outcome names its error code), 2 bad input.
Tokens, pairing codes, passwords and the TOTP secret are never printed; the trace file is redacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from simulators.clock import Clock
from simulators.phone.app import PairingResult, PhoneApp, PhoneProfile
from simulators.protocol.errors import PairsimError

EXIT_PAIRED = 0
EXIT_FAILED = 1


class BadPhoneInput(PairsimError):
    """An argument the command cannot work with (a missing QR file, an unwritable trace path)."""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    phone = subparsers.add_parser("phone", help="Simulate the phone app.")
    commands = phone.add_subparsers(dest="phone_command", metavar="{pair}", required=True)
    pair = commands.add_parser("pair", help="Scan a pairing QR code, sign in and connect to the host.")
    pair.add_argument("--qr", metavar="FILE.png", type=Path, required=True, help="the pairing QR code image")
    pair.add_argument("--email", required=True, help="the ChatGPT account's email")
    pair.add_argument("--password", required=True, help="the account's password (never printed)")
    pair.add_argument("--totp-secret", metavar="SECRET", help="the authenticator secret, if MFA asks (never printed)")
    pair.add_argument("--workspace", metavar="NAME", help="the workspace to choose at sign-in (default: Personal)")
    pair.add_argument("--issuer", metavar="URL", help="the OAuth issuer, if not the QR code's backend origin")
    pair.add_argument("--device-name", default=PhoneProfile.display_name, help="the phone's display name")
    pair.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each network step")
    pair.add_argument("--trace", metavar="FILE.json", type=Path,
                      help="where to write the redacted trace (default: next to the QR image)")
    pair.add_argument("--json", action="store_true", help="print one JSON object")
    pair.set_defaults(func=run_pair)


def run_pair(args: argparse.Namespace) -> int:
    if not args.qr.is_file():
        raise BadPhoneInput(f"no such QR image: {args.qr}")
    if args.timeout <= 0:
        raise BadPhoneInput("--timeout must be positive")
    trace_path: Path = args.trace or args.qr.with_name(args.qr.stem + ".phone-trace.json")
    app = PhoneApp(Clock(), profile=PhoneProfile(display_name=args.device_name), issuer_url=args.issuer,
                   timeout=args.timeout)
    result = asyncio.run(_pair(app, args))
    try:
        trace_path.parent.mkdir(parents=True, exist_ok=True)
        trace_path.write_text(app.trace.to_json() + "\n", encoding="utf-8")
    except OSError as exc:
        raise BadPhoneInput(f"cannot write the trace to {trace_path}: {exc.strerror or type(exc).__name__}") \
            from None
    if args.json:
        print(json.dumps(summary(app, result, trace_path), ensure_ascii=False))
    else:
        print(describe(result, trace_path))
    return EXIT_PAIRED if result.paired else EXIT_FAILED


async def _pair(app: PhoneApp, args: argparse.Namespace) -> PairingResult:
    try:
        return await app.pair(args.qr, args.email, args.password, args.totp_secret, workspace=args.workspace)
    finally:
        await app.close()


def summary(app: PhoneApp, result: PairingResult, trace_path: Path) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "host_name": result.host_name,
        "thread_count": result.thread_count,
        "phone": {
            "state": result.state,
            "error_code": result.error_code,
            "error_detail": result.error_detail,
            "message": result.message,
            "screens": result.screens,
            "transitions": [t.to_dict() for t in app.machine.transitions],
        },
        "trace": str(trace_path),
    }


def describe(result: PairingResult, trace_path: Path) -> str:
    lines = ["Screens shown on the phone:"]
    for number, screen in enumerate(result.screens, start=1):
        actions = f"  [{' | '.join(screen['actions'])}]" if screen["actions"] else ""
        lines.append(f"  {number}. {screen['title']}: {screen['body']}{actions}")
    if result.paired:
        lines.append(f"Outcome: paired with {result.host_name} ({result.thread_count} threads)")
    else:
        host = f" (host: {result.host_name})" if result.host_name else ""
        lines.append(f"Outcome: {result.outcome}{host}")
        if result.error_detail:
            lines.append(f"Cause reported: {result.error_detail}")
    lines.append(f"Trace: {trace_path}")
    return "\n".join(lines)
