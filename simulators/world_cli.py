"""`pairsim world up`: a mocked world for people and other processes to use until Ctrl-C.

It prints where everything listens, the signed-in account's credentials (these are the simulated world's own,
made up for this run, so a person can sign in on a phone simulator in another terminal) and writes the pairing QR.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from simulators.daemon.profiles import Profile
from simulators.protocol.errors import PairsimError
from simulators.world import QrShown, World

DEFAULT_DIR = Path("reports/world")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    world = subparsers.add_parser("world", help="run a mocked world (backend + desktop daemon) on loopback")
    actions = world.add_subparsers(dest="world_command", required=True)
    up = actions.add_parser("up", help="start the world, print its endpoints and account, and wait for Ctrl-C")
    up.add_argument("--profile", choices=[p.value for p in Profile], default=Profile.FIXED.value)
    up.add_argument("--seed", type=int, default=1234)
    up.add_argument("--name", default="Dana", help="the person whose Mac this is")
    up.add_argument("--no-mfa", action="store_true", help="the person's account has no MFA")
    up.add_argument(
        "--desktop-without-mfa",
        action="store_true",
        help="Codex on the Mac signs in again from a browser that remembers the device, so without MFA (the seed story's broken state)",
    )
    up.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the pairing QR PNG and state go")
    up.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    up.set_defaults(func=_world_up)


def _world_up(args: argparse.Namespace) -> int:
    if not args.name.isidentifier():
        raise PairsimError(f"--name must be a single word, got {args.name!r}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    args.dir.mkdir(parents=True, exist_ok=True)
    world = World(profile=args.profile, seed=args.seed, root=args.dir.resolve()).start()
    try:
        summary = _set_up(world, args)
        if args.json:
            print(json.dumps(summary), flush=True)
        else:
            print(_describe(summary), flush=True)
        stop.wait()
    finally:
        world.stop()
    if not args.json:
        print("pairsim: world stopped", file=sys.stderr)
    return 0


def _set_up(world: World, args: argparse.Namespace) -> dict[str, Any]:
    person = world.people.create(args.name, mfa=not args.no_mfa)
    if args.desktop_without_mfa:
        # The seed story's mechanism: a first sign-in remembers the browser; after the browser was closed, the
        # next sign-in skips the authenticator step and carries no MFA.
        world.mac().sign_in(args.name, remember_device=True)
        world.mac().quit_browser()
    world.mac().sign_in(args.name)
    world.mac().allow_connections(True)
    shown = world.mac().show_pairing_qr()
    qr: dict[str, Any]
    if isinstance(shown, QrShown):
        qr = {"png": str(shown.png_path), "link": shown.link, "terminal": shown.terminal}
    else:
        qr = {"png": None, "instead": shown.text}
    return {
        "profile": str(world.profile),
        "backend_url": world.backend_url,
        "chatgpt_base_url": world.backend_url + "/backend-api/",
        "daemon_url": world.mac().url,
        "desktop": {"status": world.mac().status, "message": world.mac().connections_text},
        "account": {
            "name": person.name,
            "email": person.email,
            "password": person.password,
            "totp_secret": person.totp_secret,
        },
        "qr": qr,
    }


def _describe(summary: dict[str, Any]) -> str:
    account, qr, desktop = summary["account"], summary["qr"], summary["desktop"]
    lines = [
        f"pairsim world · profile {summary['profile']} · Ctrl-C to stop",
        "",
        f"  backend (issuer, remote control, relay)  {summary['backend_url']}",
        f"  ChatGPT base URL                         {summary['chatgpt_base_url']}",
        f"  desktop daemon (app-server)              {summary['daemon_url']}",
        "",
        f"  {account['name']}'s account (simulated; made up for this run)",
        f"    email        {account['email']}",
        f"    password     {account['password']}",
        f"    TOTP secret  {account['totp_secret'] or '(no MFA)'}",
        "",
        f"  Mac  {desktop['status']} · {desktop['message']}",
    ]
    if qr["png"]:
        lines += [
            f"  pairing QR  {qr['png']}",
            "",
            qr["terminal"],
            "Pair a phone from another terminal:",
            f"  pairsim phone pair --qr {qr['png']} --email {account['email']} --password '<password>'"
            + (" --totp-secret '<TOTP secret>'" if account["totp_secret"] else ""),
        ]
    else:
        lines.append(f"  instead of a pairing QR the Mac says: {qr['instead']}")
    return "\n".join(lines)
