"""The reports a run leaves behind hold none of the secrets it issued, and the Cucumber JSON is whole under xdist.

Runs scenarios from every area that issues secrets in a child pytest (two xdist workers, its own report folder,
the secret canary on, as `make test` runs): pairing and MFA worlds, `codex login --with-access-token` (whose
scenario state once put the token into every step's Allure parameters), a device-code login, capability-token and
signed-bearer daemon scenarios, and a remote login across network namespaces (root, as in CI). Then it reads every
file the run wrote with the same scan `make test` ends with.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from simulators.protocol.redaction import TOKEN_SHAPES
from simulators.report_scan import read_canary, scan
from steps.daemon_steps import CAPABILITY_TOKEN, SHARED_SECRET
from steps.report_redaction import CANARY_ENV

ROOT = Path(__file__).resolve().parents[1]
PAIRING = "steps/test_pairing.py::test_dana_pairs_her_phone_and_sees_her_macs_threads"
MFA = "steps/test_mfa.py"  # every MFA scenario, the seed story under both profiles among them
PASSWORD_CHANGE = "steps/test_mfa.py::test_dana_changes_her_password"
ACCESS_TOKEN = "steps/test_login_features.py::test_a_plan_workspaces_access_token_outcome"
DEVICE_CODE = "steps/test_login_features.py::test_dana_signs_in_with_a_device_code_cli[pairsim]"
CAPABILITY = "steps/test_daemon_features.py::test_accepted_case"
SIGNED_BEARER = "steps/test_daemon_features.py::test_token_check_case"
REMOTE_LOGIN = "steps/test_remote_login_features.py::test_forwarding_port_1455_completes_the_login"
SELECTION = [PAIRING, MFA, ACCESS_TOKEN, DEVICE_CODE, CAPABILITY, SIGNED_BEARER, REMOTE_LOGIN]


def _token_shaped(secrets: set[str]) -> set[str]:
    return {secret for secret in secrets if TOKEN_SHAPES.fullmatch(secret)}


def _canary_by_test(canary: Path) -> dict[str, set[str]]:
    by_test: dict[str, set[str]] = {}
    for line in canary.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        by_test.setdefault(entry["test"], set()).update(entry["secrets"])
    return by_test


def _held(by_test: dict[str, set[str]], selected: str) -> list[set[str]]:
    """The secrets of each test whose id starts with `selected` (a node id, a function's id for all its rows, or
    the start of one)."""
    rows = [secrets for test, secrets in by_test.items() if test.startswith(selected)]
    assert rows, f"{selected} reported no secrets"
    return rows


def test_no_report_holds_a_secret_any_area_issued(tmp_path: Path) -> None:
    out, canary = tmp_path / "reports", tmp_path / "secrets.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", *SELECTION,
         f"--alluredir={out / 'allure-results'}", f"--cucumberjson={out / 'cucumber.json'}",
         f"--junitxml={out / 'junit.xml'}"],
        cwd=ROOT, env={**os.environ, CANARY_ENV: str(canary)},
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # Every area's secrets reached the canary: the scan below has something real to look for.
    by_test = _canary_by_test(canary)
    assert all(len(secrets) >= 2 for secrets in _held(by_test, MFA)), "every MFA scenario: a password, a TOTP secret"
    for selected in (PAIRING, PASSWORD_CHANGE):  # people, and the tokens and codes of a signed-in Mac
        assert all(len(secrets) >= 5 for secrets in _held(by_test, selected)), selected
    assert all(_token_shaped(secrets) for secrets in _held(by_test, ACCESS_TOKEN)), "the piped access token"
    for selected in (DEVICE_CODE, REMOTE_LOGIN):
        for secrets in _held(by_test, selected):
            assert _token_shaped(secrets) and secrets - _token_shaped(secrets), f"{selected}: tokens and password"
    assert all(CAPABILITY_TOKEN in secrets for secrets in _held(by_test, CAPABILITY)), "the capability token"
    assert all(SHARED_SECRET in secrets for secrets in _held(by_test, SIGNED_BEARER)), "the shared secret"
    assert all(_token_shaped(secrets) for secrets in _held(by_test, SIGNED_BEARER)), "the JWTs the clients sent"
    assert stat.S_IMODE(canary.stat().st_mode) == 0o600

    result = scan([out], read_canary(canary))
    assert result.files > 0 and result.secrets > 0
    assert not result.findings, [finding.describe() for finding in result.findings]

    attachments = [path for path in (out / "allure-results").iterdir() if "-attachment" in path.name]
    assert any(path.suffix == ".png" for path in attachments), "no QR code image was attached"
    assert any(path.suffix == ".json" for path in attachments), "no trace or screens were attached"

    # The Cucumber JSON holds every scenario the run ran, although pytest-bdd writes it on the xdist controller.
    features = json.loads((out / "cucumber.json").read_text())
    scenarios = [element["id"] for feature in features for element in feature["elements"]]
    ran = ET.parse(out / "junit.xml").getroot().iter("testcase")
    assert len(scenarios) == len(list(ran)) > len(SELECTION), scenarios
