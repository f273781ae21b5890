"""`pairsim reproduce`: the scenario list, bad names, the JSON shape and the story a person reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators import messages
from simulators.cli import main
from simulators.protocol.errors import ErrorCode
from simulators.reproduce import reproduce
from simulators.stories import STORIES

REQUIRED_STORIES = {"happy-path", "mfa-required", "password-change", "remote-control-disabled", "unknown-error"}


def test_list_names_every_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == set(STORIES)
    assert listed >= REQUIRED_STORIES


def test_unknown_scenario_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reproduce", "no-such-story", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "no-such-story" in captured.err
    assert list(tmp_path.iterdir()) == [], "nothing may be started for a name that is not a story"


def test_no_scenario_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce"]) == 2
    assert "--list" in capsys.readouterr().err


def test_unknown_profile_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["reproduce", "happy-path", "--profile", "nightly"])
    assert exited.value.code == 2


def _reproduce_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> dict:
    assert main(["reproduce", *args, "--json", "--out", str(tmp_path)]) == 0
    return json.loads(capsys.readouterr().out)


def test_password_change_json_fixed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = _reproduce_json(capsys, tmp_path, "password-change")
    mfa = messages.PHONE_ERRORS[ErrorCode.MFA_REQUIRED]
    assert (report["scenario"], report["profile"], report["outcome"]) == ("password-change", "fixed", "mfa_required")
    assert report["phone"]["message"] == mfa.body
    assert report["phone"]["screens"][-1]["title"] == mfa.title
    assert report["desktop"] == {"status": "blocked_mfa_required",
                                 "message": messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED]}
    assert messages.DOCTOR_ENROLLMENT_BLOCKED in report["doctor"]
    assert report["backend"]["enrollment_rows"] == []
    assert report["backend"]["last_enrollment_response"]["status"] == 403
    assert report["recovery"]["outcome"] == "paired"
    trace = json.loads(Path(report["trace"]).read_text())
    assert isinstance(trace, list) and trace


def test_password_change_json_legacy_shows_the_seed_bug(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = _reproduce_json(capsys, tmp_path, "password-change", "--profile", "legacy")
    # The phone found the Mac offline in secure setup, and today's app says only that setup failed.
    assert report["outcome"] == "host_offline"
    assert report["phone"]["message"] == messages.GENERIC_SETUP_FAILURE
    assert report["desktop"]["status"] == "errored"
    assert json.loads(report["backend"]["last_enrollment_response"]["body"]) == {
        "detail": "Multi-factor authentication required"
    }


@pytest.mark.parametrize(
    ("story", "outcome"),
    [("happy-path", "paired"), ("remote-control-disabled", "remote_control_disabled"), ("unknown-error", "unknown")],
)
def test_story_outcomes(capsys: pytest.CaptureFixture[str], tmp_path: Path, story: str, outcome: str) -> None:
    report = _reproduce_json(capsys, tmp_path, story)
    assert report["outcome"] == outcome
    assert isinstance(report["doctor"], list) and all(isinstance(line, str) for line in report["doctor"])


def test_password_change_tells_the_story(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reproduce", "password-change", "--out", str(tmp_path)]) == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrap, so a phrase may span a line break
    mfa = messages.PHONE_ERRORS[ErrorCode.MFA_REQUIRED]
    for phrase in ("changes her ChatGPT password", "carries no multi-factor authentication",
                   "HTTP 403", "blocked_mfa_required", mfa.title, "Outcome: mfa_required", "paired", "Trace"):
        assert phrase in text, phrase
    assert text.index("changes her ChatGPT password") < text.index("HTTP 403") < text.index(mfa.title)


def test_list_json_names_each_story_with_its_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--list", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(STORIES)
    assert "openai/codex#24328" in listed["password-change"]["reports"]
    assert listed["trusted-phone-browser"]["legacy_text"] == messages.GENERIC_PAIRING_FAILURE


@pytest.mark.parametrize("profile", ["legacy", "fixed"])
@pytest.mark.parametrize("name", sorted(STORIES))
def test_every_story_shows_what_its_profile_promises(tmp_path: Path, name: str, profile: str) -> None:
    """Legacy: the surface says what users reported; fixed: it names the cause. Read from the surface itself."""
    chosen = STORIES[name]
    result = reproduce(chosen, profile=profile, out=tmp_path)
    expected = chosen.expected(profile)
    if expected is None:
        assert result.outcome == "paired", result.verdict()
    else:
        assert result.said is not None, result.verdict()
        assert (result.said.surface, result.said.text) == (chosen.surface, expected), result.verdict()
