"""Issue 11's reproductions: the real Codex TUI (0.169.0, `codex --remote`) against pairsim's own daemons, started
as a user starts them (`pairsim daemon serve`, `pairsim world up`, each its own process), read off its screen.

Before the mock served what the TUI calls, the first ended in `Failed to save API key: account/login/start failed:
… pairsim's mock does not simulate (code -32601)` and the second in `Error: config/read failed in TUI`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from simulators.tui.codex_tui import API_KEY_FAILED, CodexTui

PAIRSIM = [sys.executable, "-m", "simulators.cli"]
BANNER_URL = re.compile(r"listening on: (ws://\S+)")
START_SECONDS = 60


@contextlib.contextmanager
def running(argv: list[str], **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(argv, text=True, **kwargs)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_tui_signs_in_with_an_api_key_on_pairsim_daemon_serve(tmp_path: Path) -> None:
    home = tmp_path / "codex-home"
    home.mkdir()
    argv = [*PAIRSIM, "daemon", "serve", "--listen", "ws://127.0.0.1:0"]
    env = {**os.environ, "CODEX_HOME": str(home)}
    with running(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env) as daemon:
        assert daemon.stderr is not None
        url = None
        for line in daemon.stderr:  # the banner's second line names the bound port
            match = BANNER_URL.search(line)
            if match:
                url = match.group(1)
                break
        assert url is not None, "pairsim daemon serve printed no listening address"
        with CodexTui.launch(url, cwd=tmp_path) as tui:
            tui.sign_in_with_api_key("sk-proj-" + secrets.token_urlsafe(24))
            tui.wait_for_main_screen()
            assert not tui.shows(API_KEY_FAILED), tui.screen
            # Still running and reading the daemon: /status shows the key it saved.
            assert tui.status_card()["Account"].startswith("API key configured"), tui.screen


def test_the_tui_reaches_its_main_screen_on_pairsim_world_ups_signed_in_daemon(tmp_path: Path) -> None:
    argv = [*PAIRSIM, "world", "up", "--json", "--dir", str(tmp_path / "world")]
    with running(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as world:
        assert world.stdout is not None
        summary = json.loads(world.stdout.readline())
        with CodexTui.launch(summary["daemon_url"], cwd=tmp_path) as tui:
            tui.wait_for_main_screen()
            assert "config/read failed" not in tui.screen, tui.screen
            # Signed in with ChatGPT on the Mac, so no sign-in menu: /status names her account.
            assert tui.status_card()["Account"].startswith(summary["account"]["email"]), tui.screen
