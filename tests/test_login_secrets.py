"""No token from a CLI login lands in the terminal output, the logs, or the objects a report would print."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from simulators.login.lab import LoginLab


def test_browser_login_keeps_tokens_out_of_output_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    lab = LoginLab(tmp_path, seed=11)
    try:
        lab.add_person("Dana")
        login = lab.start_browser_login()
        lab.browser_signs_in("Dana")
        assert lab.login_outcome(15).exit_code == 0
        auth = json.loads((lab.home / "auth.json").read_text())
        secrets = [auth["tokens"][k] for k in ("id_token", "access_token", "refresh_token")]
        secrets.append(auth["OPENAI_API_KEY"])
        secrets.append(lab.people["Dana"].password)
        assert all(secrets)
        printed = "\n".join(lab.output) + caplog.text + repr(login) + repr(login.store.load())
        printed += " ".join(login.server.requests)
        for secret in secrets:
            assert secret not in printed
        # The code travelled in a URL; the login server never kept it.
        assert all("code=" not in path for path in login.server.requests)
    finally:
        lab.close()
