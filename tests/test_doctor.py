"""`pairsim doctor`: read-only report of a daemon home, per profile, never showing a token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators import messages
from simulators.cli import main
from simulators.daemon.desktop import AUTH_FILENAME, StoredTokens, write_auth_file
from simulators.daemon.doctor import ENROLLMENT_CHECK, run_doctor
from simulators.daemon.profiles import Profile
from simulators.daemon.store import DaemonStore, EnrollmentKey
from simulators.protocol.errors import ErrorCode

SECRET = "eyJ-secret-access-token-value"
MFA_LINE = (
    "remote control server enrollment failed at `http://127.0.0.1:9/backend-api/wham/remote/control/server/"
    "enroll`: HTTP 403 Forbidden, request-id: req_1, cf-ray: <none>, body: "
    '{"detail":"Multi-factor authentication required"}'
)


def _home(tmp_path: Path, profile: Profile, *, enabled: bool = True) -> DaemonStore:
    store = DaemonStore.open(tmp_path)
    store.set_profile(profile)
    store.update_settings(allow_other_devices=enabled)
    write_auth_file(tmp_path / AUTH_FILENAME, StoredTokens("id", SECRET, "refresh-secret", "acct-1", "now"))
    return store


def _refused_for_mfa(store: DaemonStore, code: ErrorCode | None) -> None:
    store.record_enrollment_error(code=code, http_status=403, url="u", log_line=MFA_LINE)


def test_fixed_doctor_names_the_block_and_the_action(tmp_path: Path) -> None:
    _refused_for_mfa(_home(tmp_path, Profile.FIXED), ErrorCode.MFA_REQUIRED)
    report = run_doctor(tmp_path)
    check = report.check(ENROLLMENT_CHECK)
    assert check is not None and check.lines == (
        "Remote control enrollment: blocked",
        "Reason: Multi-factor authentication required",
        "Action: Enable MFA and re-authenticate Codex desktop.",
    )
    assert report.overall_status.value == "fail" and report.exit_code == 1
    assert report.lines()[-1] == "2 ok · 0 warn · 1 fail"


@pytest.mark.parametrize(
    "code", [ErrorCode.BLOCKED_BY_POLICY, ErrorCode.REGION_UNAVAILABLE, ErrorCode.SESSION_EXPIRED]
)
def test_each_blocking_cause_has_its_own_reason(tmp_path: Path, code: ErrorCode) -> None:
    _refused_for_mfa(_home(tmp_path, Profile.FIXED), code)
    check = run_doctor(tmp_path).check(ENROLLMENT_CHECK)
    assert check is not None
    assert check.lines[1] == f"Reason: {messages.DOCTOR_BLOCKED[code].reason}"


def test_legacy_doctor_is_all_green_while_enrollment_fails(tmp_path: Path) -> None:
    _refused_for_mfa(_home(tmp_path, Profile.LEGACY), None)
    report = run_doctor(tmp_path)
    assert report.check(ENROLLMENT_CHECK) is None
    assert report.exit_code == 0
    assert report.lines()[-1] == "2 ok · 0 warn · 0 fail"


def test_an_untyped_refusal_is_errored_with_its_http_status(tmp_path: Path) -> None:
    store = _home(tmp_path, Profile.FIXED)
    store.record_enrollment_error(code=None, http_status=500, url="u", log_line="boom")
    check = run_doctor(tmp_path).check(ENROLLMENT_CHECK)
    assert check is not None
    assert check.lines[:2] == (
        "Remote control enrollment: errored",
        "Reason: The backend refused enrollment (HTTP 500)",
    )


def test_enrolled_is_ok_and_disabled_is_a_warning(tmp_path: Path) -> None:
    store = _home(tmp_path, Profile.FIXED)
    key = EnrollmentKey("ws://x", "acct-1", "codex_desktop")
    store.save_enrollment(key, server_id="srv", environment_id="env-1", server_name="mac")
    ok = run_doctor(tmp_path)
    assert ok.check(ENROLLMENT_CHECK).lines == ("Remote control enrollment: ok",)  # type: ignore[union-attr]
    assert ok.exit_code == 0
    store.update_settings(allow_other_devices=False)
    disabled = run_doctor(tmp_path).check(ENROLLMENT_CHECK)
    assert disabled is not None and disabled.status.value == "warning"
    assert disabled.lines[0] == "Remote control enrollment: disabled"


def test_cli_json_has_the_real_shape_and_no_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused_for_mfa(_home(tmp_path, Profile.FIXED), ErrorCode.MFA_REQUIRED)
    assert main(["doctor", "--home", str(tmp_path), "--json"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["schemaVersion"] == 1 and report["overallStatus"] == "fail"
    check = report["checks"][ENROLLMENT_CHECK]
    assert check["status"] == "fail"
    assert check["summary"] == "Remote control enrollment: blocked"
    assert check["remediation"] == "Enable MFA and re-authenticate Codex desktop."
    assert "Multi-factor authentication required" in check["details"]
    assert SECRET not in out and "refresh-secret" not in out


def test_cli_human_output_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _home(tmp_path, Profile.FIXED)
    assert main(["doctor", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Remote control enrollment: not enrolled yet" in out
    assert SECRET not in out


def test_an_empty_home_fails_without_creating_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--home", str(tmp_path)]) == 1
    assert "State database: missing" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_file_as_home_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    assert main(["doctor", "--home", str(file)]) == 2
    assert "is not a folder" in capsys.readouterr().err
