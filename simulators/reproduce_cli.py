"""`pairsim reproduce SCENARIO`: play one of the product's stories and show what every person saw.

The human output tells the story beat by beat, then what each surface showed at the moment that mattered; `--json`
gives the same as one object for scripts and bug reports.
"""

from __future__ import annotations

import argparse
import json
import logging
import textwrap
from pathlib import Path
from typing import Any

from simulators.protocol.errors import PairsimError
from simulators.reproduce import Reproduction, reproduce
from simulators.stories import STORIES, story

DEFAULT_OUT = Path("reports/reproduce")
PROFILES = ("fixed", "legacy")
DAEMONS = ("mock", "codex")
WIDTH = 100
LABEL_WIDTH = 9
BLOCK_LABEL_WIDTH = 10


class MissingScenario(PairsimError):
    """Neither a scenario name nor --list was given."""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "reproduce", help="Play a pairing story end to end and show what the phone, the Mac and doctor showed."
    )
    parser.add_argument("scenario", metavar="SCENARIO", nargs="?", help=f"one of: {', '.join(STORIES)}")
    parser.add_argument("--list", action="store_true",
                        help="list the stories, what each shows and the reports it reproduces (with --json: objects)")
    parser.add_argument("--profile", choices=PROFILES, default="fixed",
                        help="fixed: the typed-error fix; legacy: today's daemon and backend (default: fixed)")
    parser.add_argument("--daemon", choices=DAEMONS, default="mock", help="which daemon to run: our mock, or the real codex app-server (today's product; default: mock)")
    parser.add_argument("--seed", type=int, default=1234, help="seed for the people and data (default: 1234)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=DEFAULT_OUT,
                        help=f"where to write the trace and QR image (default: {DEFAULT_OUT})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the story")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The daemon's log lines are part of the story (in the trace file); on stderr they would only interrupt it.
    logging.getLogger("pairsim").setLevel(logging.ERROR)
    if args.list:
        if args.json:
            print(json.dumps([chosen.to_json() for chosen in STORIES.values()], indent=2))
            return 0
        width = max(len(name) for name in STORIES)
        for name, chosen in STORIES.items():
            reports = f" ({', '.join(chosen.reports)})" if chosen.reports else ""
            print(f"{name:<{width}}  {chosen.summary}{reports}")
        return 0
    if not args.scenario:
        raise MissingScenario(f"name a scenario ({', '.join(STORIES)}) or use --list")
    result = reproduce(story(args.scenario), profile=args.profile, daemon=args.daemon, out=args.out,
                       seed=args.seed)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(render(result), end="")
    return 0


def render(result: Reproduction) -> str:
    """The story for a person in a terminal."""
    out: list[str] = [
        f"pairsim reproduce {result.scenario} · profile {result.profile} · {result.daemon} daemon",
        "",
        *textwrap.wrap(result.summary, WIDTH),
        "",
    ]
    for number, beat in enumerate(result.beats, 1):
        out += textwrap.wrap(beat.action, WIDTH, initial_indent=f"{number:>2}. ", subsequent_indent="    ")
        for seen in beat.saw:
            out += _labelled(seen, indent="      ")
        out.append("")

    s = result.surfaces
    moment = "when pairing succeeded" if s.phone_outcome == "paired" else "when pairing failed"
    out += [f"What each surface showed {moment}", ""]
    out += _block("Phone", [s.phone_title, s.phone_message])
    out += _block("screens", [" → ".join(screen.get("title", "") for screen in s.phone_screens)])
    out += _block("Mac", [f"status {s.desktop_status}", s.desktop_message])
    out += _block("doctor", s.doctor)
    rows = f"{len(s.enrollment_rows)} enrollment row(s)" if s.enrollment_rows else "enrollment table empty"
    out += _block("Mac db", [rows])
    out.append("")
    outcome = f"Outcome: {result.outcome}"
    if result.recovery is not None:
        outcome += f". {result.recovery_action}: {result.recovery}"
    out += textwrap.wrap(outcome, WIDTH)
    if result.said is not None:
        said = result.said
        out += _block(f"{said.surface.value}".replace("_", " ").capitalize() + " said",
                      [said.title or "", said.text])
    out += textwrap.wrap(result.verdict(), WIDTH)
    if result.reports:
        out.append(f"Reproduces: {', '.join(result.reports)}")
    if result.qr_path:
        out.append(f"QR image: {result.qr_path}")
    out.append(f"Trace (secrets redacted): {result.trace_path}")
    return "\n".join(out) + "\n"


def _labelled(line: str, *, indent: str) -> list[str]:
    # Observation lines are "Label    text"; wrap the text under itself, not under the label.
    label, _, text = line.partition("  ")
    pad = indent + " " * LABEL_WIDTH
    return textwrap.wrap(text.strip(), WIDTH, initial_indent=f"{indent}{label:<{LABEL_WIDTH}}",
                         subsequent_indent=pad) or [f"{indent}{label}"]


def _block(label: str, lines: list[str]) -> list[str]:
    out: list[str] = []
    for index, line in enumerate(line for line in lines if line):
        # At least one space after the label: "Desktop said" is longer than the column.
        width = max(BLOCK_LABEL_WIDTH, len(label) + 1)
        pad = "  " + " " * width
        head = f"  {label:<{width}}" if index == 0 else pad
        out += textwrap.wrap(line, WIDTH, initial_indent=head, subsequent_indent=pad)
    return out or [f"  {label}"]
