"""The report masks of steps/report_redaction.py, piece by piece: a failing test's JUnit XML and terminal, the Allure
writer, the canary lines, and `SecretMask` itself. (steps/test_report_hygiene.py checks them together, on real
scenarios of every area.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from allure_commons import model2  # its TestResult is a class pytest would try to collect if imported by name

from simulators.protocol.redaction import MASK, SecretMask, spellings
from simulators.report_scan import main as scan_main
from steps.report_redaction import CANARY_ENV, MaskingFileLogger

ROOT = Path(__file__).resolve().parents[1]
SECRET = "lab-issued-secret-5f1c9e"
PASSWORD = "Ab3&x9Kq(Lm2@pQr"  # HTML and URL escaping change it
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYW5hIn0.c2lnbmF0dXJl"

LEAKY_TEST = f'''
import logging
from dataclasses import dataclass

import pytest


class Lab:
    def issued_secrets(self):
        return [{SECRET!r}, {PASSWORD!r}]


@dataclass
class Scenario:
    lab: Lab
    access_token: str


@pytest.fixture
def scenario():
    return Scenario(Lab(), "a-token-no-shape-knows-7d2a")


def test_leaks(scenario, record_property):
    record_property("seen", {PASSWORD!r})
    print("stdout:", {SECRET!r}, scenario.access_token)
    logging.getLogger("lab").warning("log: %s", {PASSWORD!r})
    assert {SECRET!r} == "", "the token was " + {JWT!r}
'''


def test_a_failing_test_shows_no_secret_in_junit_xml_or_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    junit, canary = tmp_path / "junit.xml", tmp_path / "canary.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "steps.report_redaction", "-p", "no:cacheprovider", "-o",
         "junit_logging=all", f"--junitxml={junit}", "--rootdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), CANARY_ENV: str(canary)},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # the test failed, as written
    written = junit.read_text()
    for secret in (SECRET, PASSWORD, JWT, "a-token-no-shape-knows-7d2a"):
        for spelled in spellings(secret):
            assert spelled not in written, "junit.xml"
            assert spelled not in run.stdout + run.stderr, "the terminal"
    assert "test_leaks" in written and MASK.replace("<", "&lt;").replace(">", "&gt;") in written

    (entry,) = [json.loads(line) for line in canary.read_text().splitlines()]
    assert entry["test"] == "test_leaky.py::test_leaks"
    assert set(entry["secrets"]) == {SECRET, PASSWORD, "a-token-no-shape-knows-7d2a"}
    assert scan_main(["--canary", str(canary), str(junit)]) == 0


def test_the_allure_writer_masks_results_and_attachments(tmp_path: Path) -> None:
    writer = MaskingFileLogger(str(tmp_path), lambda: SecretMask([SECRET, PASSWORD]))
    step = model2.TestStepResult(
        name=f"When Dana types {PASSWORD}", parameters=[model2.Parameter(name="lab", value=repr(SECRET))]
    )
    result = model2.TestResult(
        uuid="u1", name="scenario", steps=[step],
        statusDetails=model2.StatusDetails(message=f"AssertionError: {SECRET}", trace=f"token {JWT}"),
    )
    writer.report_result(result)
    writer.report_attached_data(f"password={PASSWORD}&token={JWT}", "a-attachment.txt")
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"note": SECRET}))
    writer.report_attached_file(str(source), "b-attachment.json")
    source.unlink()

    written = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert len(written) == 3
    for name, text in written.items():
        for secret in (SECRET, PASSWORD, JWT):
            assert not any(spelled in text for spelled in spellings(secret)), name
        assert MASK in text, name


def test_the_mask_knows_every_spelling_and_the_token_shapes() -> None:
    mask = SecretMask([PASSWORD, "short"])
    assert mask.text(f"a {json.dumps(PASSWORD)} b") == f'a "{MASK}" b'
    assert mask.text("Ab3%26x9Kq%28Lm2%40pQr / Ab3&amp;x9Kq(Lm2@pQr") == f"{MASK} / {MASK}"
    assert mask.text(f"Bearer {JWT}, rt_{'a' * 43} and sk-proj-{'b' * 40}") == f"Bearer {MASK}, {MASK} and {MASK}"
    assert mask.text("short task-force eyJonly.once") == "short task-force eyJonly.once"  # too short, not shaped
    assert mask.data(PASSWORD.encode() + b"\x89PNG") == MASK.encode() + b"\x89PNG"
