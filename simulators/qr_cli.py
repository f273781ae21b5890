"""`pairsim qr render|decode` and, until the full demo lands, `pairsim demo`.

Both QR commands go through the strict link parser, so the command line refuses exactly what a phone refuses.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faker import Faker

from simulators.clock import Clock
from simulators.protocol.errors import PairsimError
from simulators.protocol.pairing_link import PRODUCTION_ORIGIN, PairingLink, parse_pairing_link
from simulators.qr import decode_pairing_link, render_png, render_terminal

DEMO_QR_PATH = Path("reports/demo-pairing-qr.png")
DEMO_SEED = 1455
DEMO_TTL_SECONDS = 600

_DEVICE_KINDS = ("MacBook Pro", "MacBook Air", "Mac mini", "iMac", "Mac Studio", "ThinkPad", "workstation")
_CODE_ALPHABET = string.ascii_letters + string.digits + "-_"


class CannotWriteImage(PairsimError):
    """The QR image could not be written where the user asked."""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    qr = subparsers.add_parser("qr", help="Draw and read pairing QR codes.")
    qr_commands = qr.add_subparsers(dest="qr_command", metavar="{render,decode}", required=True)

    render = qr_commands.add_parser("render", help="Draw a pairing link as a QR code PNG.")
    render.add_argument("link", metavar="LINK", help="a pairing link; it is checked as strictly as a phone does")
    render.add_argument("-o", "--output", metavar="FILE.png", required=True, type=Path, help="where to write")
    render.add_argument("--terminal", action="store_true", help="also draw the QR code in the terminal")
    render.set_defaults(func=run_render)

    decode = qr_commands.add_parser("decode", help="Read a pairing link from a QR code image, from its pixels.")
    decode.add_argument("image", metavar="FILE.png", type=Path)
    decode.add_argument("--json", action="store_true", help="print the link's fields as one JSON object")
    decode.set_defaults(func=run_decode)

    demo = subparsers.add_parser("demo", help="Draw a sample pairing QR code and read it back from the pixels.")
    demo.add_argument("--seed", type=int, default=DEMO_SEED, help="seed for the sample data")
    demo.add_argument("-o", "--output", metavar="FILE.png", type=Path, default=DEMO_QR_PATH)
    demo.set_defaults(func=run_demo)


def run_render(args: argparse.Namespace) -> int:
    link = parse_pairing_link(args.link)
    _write_png(link, args.output)
    if args.terminal:
        print(render_terminal(link.to_url()), end="")
    print(f"Wrote the pairing QR code for {link.server_name!r} to {args.output}")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    link = decode_pairing_link(args.image)
    if args.json:
        print(json.dumps(link_summary(link), ensure_ascii=False))
    else:
        print(describe_link(link, now=Clock().now()))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    link = demo_link(args.seed, now=Clock().now())
    _write_png(link, args.output)
    decoded = decode_pairing_link(args.output)
    print(f"Rendered  {args.output}\n{describe_link(link, now=Clock().now())}\n")
    print(f"Decoded from the image's pixels\n{describe_link(decoded, now=Clock().now())}\n")
    if decoded != link:
        print("MISMATCH: the decoded link differs from the rendered one")
        return 1
    print("Match: the phone reads exactly the link the desktop drew.")
    return 0


def link_summary(link: PairingLink) -> dict[str, Any]:
    return {
        "version": link.version,
        "pairing_code": link.pairing_code,
        "environment_id": link.environment_id,
        "server_name": link.server_name,
        "expires_at": link.expires_at,
        "backend_base_url": link.backend_base_url,
    }


def describe_link(link: PairingLink, *, now: float) -> str:
    """Human summary. The pairing code is only counted: whoever can read it can claim the pairing."""
    expires = datetime.fromtimestamp(link.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    remaining = link.expires_at - now
    state = "expired" if link.is_expired(now) else f"in {_duration(remaining)}"
    return "\n".join([
        f"Pairing link (version {link.version})",
        f"  server:       {link.server_name}",
        f"  environment:  {link.environment_id}",
        f"  backend:      {link.backend_base_url}",
        f"  expires:      {expires} ({state})",
        f"  pairing code: {len(link.pairing_code)} characters, hidden (--json prints it)",
    ])


def demo_link(seed: int, *, now: float) -> PairingLink:
    """A plausible link from seeded data: the same seed gives the same code, environment and name."""
    rng = random.Random(seed)
    fake = Faker()
    fake.seed_instance(seed)
    return PairingLink(
        origin=PRODUCTION_ORIGIN,
        pairing_code="".join(rng.choices(_CODE_ALPHABET, k=43)),
        environment_id=f"env_{rng.getrandbits(64):016x}",
        server_name=f"{fake.first_name()}'s {rng.choice(_DEVICE_KINDS)}",
        expires_at=int(now) + DEMO_TTL_SECONDS,
    )


def _write_png(link: PairingLink, output: Path) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        render_png(link.to_url(), output)
    except OSError as exc:
        raise CannotWriteImage(f"cannot write {output}: {exc.strerror or type(exc).__name__}") from None


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
