"""Every scenario in a feature file becomes its own test.

pytest-bdd keys a feature's scenarios by name, so two scenarios (or outlines) with the same name in one file
collapse into one and the first silently never runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.feature import get_features

FEATURES = Path(__file__).resolve().parents[1] / "features"
FEATURE_FILES = sorted(FEATURES.rglob("*.feature"))
SCENARIO_LINE = re.compile(r"^\s*(?:Scenario Outline|Scenario Template|Scenario|Example):", re.MULTILINE)


@pytest.mark.parametrize("path", FEATURE_FILES, ids=lambda p: str(p.relative_to(FEATURES)))
def test_every_scenario_is_bound(path: Path) -> None:
    written = len(SCENARIO_LINE.findall(path.read_text(encoding="utf-8")))
    (feature,) = get_features([str(path)])
    assert written, f"{path.name} holds no scenarios"
    assert len(feature.scenarios) == written, f"{path.name}: scenarios sharing a name: {written - len(feature.scenarios)}"
