"""The reports a run leaves behind: no secret in any Allure attachment, and a whole Cucumber JSON under xdist.

Runs a few real scenarios in a child pytest (two xdist workers, its own report folder), with the conftest told to
note every secret its worlds held; then reads every file the run wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SECRET_CANARY_ENV

ROOT = Path(__file__).resolve().parents[1]
SELECTION = "pairs_her_phone or changes_her_password or unknown_error"
EXPECTED_SCENARIOS = 4  # one happy path, the seed story under both profiles, the unknown error


def test_reports_hold_no_secrets_and_every_scenario(tmp_path: Path) -> None:
    results, cucumber, canary = tmp_path / "allure-results", tmp_path / "cucumber.json", tmp_path / "secrets.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "steps/test_pairing.py", "steps/test_mfa.py", "-k", SELECTION,
         f"--alluredir={results}", f"--cucumberjson={cucumber}"],
        cwd=ROOT, env={**os.environ, SECRET_CANARY_ENV: str(canary)},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    secrets = {s for line in canary.read_text().splitlines() for s in json.loads(line) if len(s) >= 6}
    assert secrets, "the scenarios reported no secrets to look for"
    files = [p for p in results.iterdir() if p.is_file()]
    attachments = [p for p in files if "-attachment" in p.name]
    assert any(p.suffix == ".png" for p in attachments), "no QR code image was attached"
    assert any(p.suffix == ".json" for p in attachments), "no trace or screens were attached"
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{path.name} holds {len(leaked)} secret value(s)"

    features = json.loads(cucumber.read_text())
    scenarios = [element["id"] for feature in features for element in feature["elements"]]
    assert len(scenarios) == EXPECTED_SCENARIOS, scenarios
