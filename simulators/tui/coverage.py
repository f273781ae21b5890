"""Which JSON-RPC methods the real TUI's recordings hold, and how many of them the mock daemon serves identically.

    python -m simulators.tui.coverage [--fixtures DIR]

Each recording (`tests/fixtures/tui_traffic/*.jsonl`, against codex app-server 0.169.0) is replayed against a mock
world brought into the recording's starting state (`Setup`); a method is served identically when every daemon frame
for it (its responses, errors, or the notification itself) has the shape the real daemon's had, in every recording
that holds it. Prints one line per method and the totals; `tests/test_tui_traffic_replay.py` asserts the same
comparisons one by one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulators.browser import Browser
from simulators.login.lab import fixed_ports_lock
from simulators.login.user import Person, walk
from simulators.protocol.traffic import MessageKind, Recording, Side
from simulators.tui.replay import OutsideAction, ReplayReport, replay
from simulators.tui.sessions import FIXTURES, PERSON, SIGNED_IN, WORLD_ROOT, Setup
from simulators.world import World

ENVIRONMENT = frozenset({"configWarning"})  # the machine's, not the protocol's (see `simulators.tui.replay`)


def recordings(folder: Path = FIXTURES) -> dict[str, Recording]:
    return {path.stem: Recording.from_jsonl(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.jsonl"))}


def daemon_methods(recording: Recording) -> list[str]:
    """The methods the daemon's frames answer or are, in first-seen order (what a replay compares)."""
    by_id = {(f.connection, f.id): f.method for f in recording.frames
             if f.side is Side.CLIENT and f.kind is MessageKind.REQUEST and f.method}
    seen: dict[str, None] = {}
    for frame in recording.frames:
        if frame.side is Side.DAEMON and frame.method not in ENVIRONMENT:
            method = frame.method or by_id.get((frame.connection, frame.id))
            if method:
                seen.setdefault(method, None)
    return list(seen)


def signs_in_in_browser(recording: Recording) -> bool:
    """Whether the recorded person signed in with ChatGPT in a browser (the daemon's callback server on 1455)."""
    return any(frame.side is Side.CLIENT and frame.method == "account/login/start"
               and (frame.message.get("params") or {}).get("type") == "chatgpt" for frame in recording.frames)


def browser_sign_in(world: World, name: str = PERSON) -> OutsideAction:
    """`name` opens the sign-in link the daemon answered with and signs in, with her authenticator code."""
    persona = world.people.get(name)
    person = Person(persona.email, persona.password, persona.totp_secret)

    async def act(message: dict[str, Any]) -> None:
        result = message.get("result")
        if isinstance(result, dict) and isinstance(result.get("authUrl"), str):
            async with Browser() as browser:
                page = await walk(browser, result["authUrl"], person, world.clock)
            assert SIGNED_IN in page.title + page.text, page.title

    return act


def replay_on_mock(recording: Recording, root: Path) -> ReplayReport:
    """Replay `recording` against a mock world in its starting state (today's profile, no seeded threads: a fresh
    real home has none)."""
    browser = signs_in_in_browser(recording)
    with fixed_ports_lock() if browser else contextlib.nullcontext():
        world = World(daemon="mock", profile="legacy", threads=0, root=root).start()
        try:
            Setup.from_json(recording.header.setup).apply(world)
            outside = browser_sign_in(world) if browser else None
            return asyncio.run(replay(recording, world.mac().url, outside=outside,
                                      substitutions={WORLD_ROOT: str(world.root)}))
        finally:
            world.stop()


def _reports(folder: Path) -> Iterator[tuple[str, Recording, ReplayReport]]:
    for name, recording in recordings(folder).items():
        with tempfile.TemporaryDirectory(prefix=f"pairsim-replay-{name}-") as root:
            yield name, recording, replay_on_mock(recording, Path(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.tui.coverage", description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    args = parser.parse_args(argv)
    verdicts: dict[str, list[str]] = {}
    differs: dict[str, str] = {}
    sessions: list[str] = []
    for name, _recording, report in _reports(args.fixtures):
        sessions.append(name)
        for method, comparisons in report.by_method().items():
            bad = [line for c in comparisons for line in c.differences]
            verdicts.setdefault(method, []).append(name)
            if bad:
                differs.setdefault(method, f"{name}: {bad[0]}")
    width = max(map(len, verdicts), default=0)
    for method in sorted(verdicts):
        verdict = f"differs ({differs[method]})" if method in differs else "identical"
        print(f"{method:<{width}}  {verdict}  [{', '.join(verdicts[method])}]")
    identical = len(verdicts) - len(differs)
    print(f"\n{len(sessions)} recordings ({', '.join(sessions)}); {len(verdicts)} methods; "
          f"the mock serves {identical} of them identically.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
