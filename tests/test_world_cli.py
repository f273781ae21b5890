"""`pairsim world up` as its own process: a phone in another process pairs with it, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

PAIRSIM = [sys.executable, "-m", "simulators.cli"]


def test_world_up_serves_a_phone_from_another_process_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    world_dir = tmp_path / "world"
    world = subprocess.Popen(
        [*PAIRSIM, "world", "up", "--json", "--dir", str(world_dir), "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert world.stdout is not None
        summary = json.loads(world.stdout.readline())
        assert summary["profile"] == "fixed"
        assert summary["desktop"]["status"] == "connected"
        assert summary["backend_url"].startswith("http://127.0.0.1:")
        assert summary["daemon_url"].startswith("ws://127.0.0.1:")
        account, png = summary["account"], Path(summary["qr"]["png"])
        assert png.is_file() and account["totp_secret"]

        phone = subprocess.run(
            [*PAIRSIM, "phone", "pair", "--qr", str(png), "--email", account["email"],
             "--password", account["password"], "--totp-secret", account["totp_secret"], "--json",
             "--trace", str(tmp_path / "phone-trace.json")],
            capture_output=True, text=True, timeout=120,
        )
        assert phone.returncode == 0, phone.stderr
        paired = json.loads(phone.stdout)
        assert paired["outcome"] == "paired"
        assert account["password"] not in phone.stdout + phone.stderr

        world.send_signal(signal.SIGINT)
        assert world.wait(timeout=30) == 0
    finally:
        if world.poll() is None:
            world.kill()
            world.wait()
    # The QR image stays; the Mac's working state (auth.json with its tokens) does not outlive the world.
    assert png.is_file()
    assert not list(world_dir.rglob("auth.json"))
