"""The failure catalogue holds together: each public report a `pairsim reproduce` story reproduces is also a
scenario a product person can read (its feature names the report), and each report a feature names has a story.
Reports are written `openai/codex#NNNNN` in both places."""

from __future__ import annotations

import re
from pathlib import Path

from simulators.stories import STORIES

FEATURES = Path(__file__).resolve().parents[1] / "features"
REPORT = re.compile(r"openai/codex#\d+")


def _reports_named_by_features() -> dict[str, set[str]]:
    named: dict[str, set[str]] = {}
    for path in sorted(FEATURES.rglob("*.feature")):
        for report in REPORT.findall(path.read_text(encoding="utf-8")):
            named.setdefault(report, set()).add(str(path.relative_to(FEATURES)))
    return named


def _reports_of_stories() -> dict[str, set[str]]:
    reproduced: dict[str, set[str]] = {}
    for story in STORIES.values():
        for report in story.reports:
            assert REPORT.fullmatch(report), f"{story.name}: {report!r} is not written openai/codex#NNNNN"
            reproduced.setdefault(report, set()).add(story.name)
    return reproduced


def test_every_report_a_story_reproduces_is_a_scenario() -> None:
    missing = sorted(set(_reports_of_stories()) - set(_reports_named_by_features()))
    assert missing == [], f"reports with a story but no feature naming them: {missing}"


def test_every_report_a_feature_names_has_a_story() -> None:
    missing = sorted(set(_reports_named_by_features()) - set(_reports_of_stories()))
    assert missing == [], f"reports a feature names with no story reproducing them: {missing}"
