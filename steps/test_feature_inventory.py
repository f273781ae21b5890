"""Every scenario in a feature file becomes its own test.

pytest-bdd keys a feature's scenarios by name, so two scenarios (or outlines) with the same name in one file
collapse into one and the first silently never runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.feature import get_features

from steps.copy import PRODUCT_FEATURE_AREAS

FEATURES = Path(__file__).resolve().parents[1] / "features"
FEATURE_FILES = sorted(FEATURES.rglob("*.feature"))
SCENARIO_LINE = re.compile(r"^\s*(?:Scenario Outline|Scenario Template|Scenario|Example):", re.MULTILINE)


@pytest.mark.parametrize("path", FEATURE_FILES, ids=lambda p: str(p.relative_to(FEATURES)))
def test_every_scenario_is_bound(path: Path) -> None:
    written = len(SCENARIO_LINE.findall(path.read_text(encoding="utf-8")))
    (feature,) = get_features([str(path)])
    assert written, f"{path.name} holds no scenarios"
    assert len(feature.scenarios) == written, f"{path.name}: scenarios sharing a name: {written - len(feature.scenarios)}"


def _examples_columns_unread() -> list[str]:
    unread = []
    for path in [p for p in FEATURE_FILES if p.relative_to(FEATURES).parts[0] in PRODUCT_FEATURE_AREAS]:
        (feature,) = get_features([str(path)])
        for template in feature.scenarios.values():
            steps = template.steps
            used = " ".join(
                [step.name for step in steps]
                + [step.docstring or "" for step in steps]
                + [cell.value for step in steps if step.datatable for row in step.datatable.rows for cell in row.cells]
            )
            for examples in template.examples:
                unread += [f"{path.name}: {template.name!r} column {name!r}"
                           for name in examples.example_params if f"<{name}>" not in used]
    return unread


def test_every_examples_column_of_a_product_feature_is_read_by_a_step() -> None:
    # A column that only the scenario's title shows is data no step checks, yet it reads as if it were. (The
    # conformance features keep a `case` column that names each row.)
    assert _examples_columns_unread() == []
