"""No token from a CLI login lands in what the `pairsim login` process printed, the files it left, the lab's logs, or
the objects a report prints (Allure records a step's fixtures by their repr)."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest

from simulators.login.lab import LoginLab
from steps.login_steps import LoginScenario


def test_browser_login_keeps_tokens_out_of_output_files_logs_and_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lab = LoginLab(tmp_path, seed=11)
    try:
        lab.add_person("Dana")
        lab.start_browser_login()
        page = lab.browser_signs_in("Dana")
        outcome = lab.login_outcome()
        assert outcome.exit_code == 0, outcome.output
        auth_path = lab.home / "auth.json"
        auth = json.loads(auth_path.read_text())
        secrets = [auth["tokens"][k] for k in ("id_token", "access_token", "refresh_token")]
        secrets += [auth["OPENAI_API_KEY"], lab.people["Dana"].password]
        assert all(secrets)
        files = "".join(p.read_text("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file() and p != auth_path)
        scenario = LoginScenario(lab=lab, stack=contextlib.ExitStack(), tmp=tmp_path,
                                 access_token=auth["tokens"]["access_token"])
        printed = outcome.stdout + outcome.stderr + files + caplog.text + page.text
        printed += repr(lab) + repr(lab.cli) + repr(outcome) + repr(scenario) + repr(lab.clock) + repr(lab.person("Dana"))
        for secret in secrets:
            assert secret not in printed
    finally:
        lab.close()


def test_a_remote_attempt_keeps_its_token_out_of_its_repr(tmp_path: Path) -> None:
    lab = LoginLab(tmp_path, seed=12)
    try:
        attempt = lab.run_remote_client("ws://127.0.0.1:<port>")
        assert attempt.received == [f"Bearer {attempt.token}"], attempt.outcome.output
        assert attempt.token not in repr(attempt) + attempt.outcome.output
    finally:
        lab.close()
