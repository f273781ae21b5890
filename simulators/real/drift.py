"""The drift report: the daemon-facing scenarios' outcomes per Codex version, and what changed between versions.

Pure: it reads the results one run per version recorded (`compat_plugin`) and returns rows, Markdown and JSON;
`pairsim compat` does the running. A scenario's outcome is one of `passed`, `failed`, `error`, `skipped`,
`known difference <name>` (its strict expected failure happened, as recorded) or `no longer differs <name>` (the
known difference did not happen: a release changed the behaviour). For every scenario whose outcome or failure
differs between versions, the row names the first line that changed: the first line where the two failures' texts
part (the status, body or error text a step compared), or the failure's first line when one version passed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
KNOWN_PREFIX, NO_LONGER_PREFIX = "known difference ", "no longer differs "
MOCK = "mock"


@dataclass(frozen=True)
class ScenarioResult:
    """One test's result in one run. `failure` is the failure's text (empty when it passed): the failing step, then
    the exception's message; for a known difference, the entry's reason."""

    nodeid: str
    label: str  # feature file and scenario name, as a reader finds it
    outcome: str
    failure: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioResult:
        return cls(str(data["nodeid"]), str(data["label"]), str(data["outcome"]), str(data.get("failure", "")))


@dataclass(frozen=True)
class DriftRow:
    label: str
    nodeid: str
    outcomes: dict[str, str]  # run name (a version, or "mock") → outcome; "not run" when a run did not have it
    changed: bool  # the outcome or the failure differs between the versions
    first_change: str  # the first line that changed, between the first version that differs and the one before
    mock_matches_newest: bool | None  # None: no mock run


@dataclass(frozen=True)
class DriftReport:
    versions: tuple[str, ...]
    rows: tuple[DriftRow, ...]
    durations: dict[str, float] = field(default_factory=dict)  # run name → seconds

    @property
    def differences(self) -> list[DriftRow]:
        return [row for row in self.rows if row.changed]

    @property
    def mock_mismatches(self) -> list[DriftRow]:
        return [row for row in self.rows if row.mock_matches_newest is False]

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": list(self.versions),
            "durations_s": {name: round(seconds, 1) for name, seconds in self.durations.items()},
            "scenarios": len(self.rows),
            "differences": len(self.differences),
            "mock_mismatches_newest": len(self.mock_mismatches),
            "rows": [asdict(row) for row in self.rows],
        }

    def to_markdown(self) -> str:
        return "\n".join(markdown_lines(self)) + "\n"


def first_changed_line(before: str, after: str) -> str:
    """The first line of `after` that is not the same line of `before` (or of `before`, when `after` ran out)."""
    old, new = before.splitlines(), after.splitlines()
    for index in range(max(len(old), len(new))):
        line_old = old[index] if index < len(old) else ""
        line_new = new[index] if index < len(new) else ""
        if line_old != line_new:
            return _clip(line_new or line_old)
    return ""


def _clip(line: str, width: int = 160) -> str:
    line = line.strip()
    return line if len(line) <= width else line[: width - 1] + "…"


def _changed(a: ScenarioResult | None, b: ScenarioResult | None) -> str | None:
    """How `b` differs from `a` in a line, or None when they are the same."""
    if a is None or b is None:
        return None if a is b else "run in one version only"
    if a.outcome == b.outcome and (a.failure == b.failure or a.outcome.startswith(KNOWN_PREFIX)):
        # The same known difference is the same behaviour: its entry matched the step, type and message on both,
        # and what else its text holds (a port, a path) is the run's, not the version's.
        return None
    if not a.failure or not b.failure:
        # One side did not fail: the other's failure says what changed, its step and what the step saw.
        failure = a.failure or b.failure
        return f"{a.outcome} → {b.outcome}: " + _clip(": ".join(failure.splitlines()[:2]), 240)
    return f"{a.outcome} → {b.outcome}: " + first_changed_line(a.failure, b.failure)


def _agrees(mock: ScenarioResult | None, real: ScenarioResult | None) -> bool | None:
    """Whether the mock still matches a real version on a scenario: both pass, or the real one fails only in the way
    a known difference records (the mismatch is known). A red on the real version, or a known difference that no
    longer happens, means the mock (and the scenario) no longer describe that version."""
    if mock is None or real is None:
        return None
    if real.outcome in (PASSED, SKIPPED) or real.outcome.startswith(KNOWN_PREFIX):
        return mock.outcome in (PASSED, SKIPPED) or mock.outcome.startswith(KNOWN_PREFIX)
    return False


def compare(
    runs: Mapping[str, Sequence[ScenarioResult]],
    mock: Sequence[ScenarioResult] | None = None,
    durations: Mapping[str, float] | None = None,
) -> DriftReport:
    """`runs`: version → its results, in the order the versions were asked for (the last is "the newest")."""
    versions = tuple(runs)
    by_version = {version: {r.nodeid: r for r in results} for version, results in runs.items()}
    by_mock = {r.nodeid: r for r in mock} if mock is not None else None
    labels: dict[str, str] = {}
    for results in [*runs.values(), *([mock] if mock is not None else [])]:
        for result in results:
            labels.setdefault(result.nodeid, result.label)
    rows = []
    for nodeid, label in labels.items():
        seen = [by_version[version].get(nodeid) for version in versions]
        outcomes = {version: (r.outcome if r else "not run") for version, r in zip(versions, seen, strict=True)}
        if by_mock is not None:
            outcomes[MOCK] = by_mock[nodeid].outcome if nodeid in by_mock else "not run"
        change = next((c for a, b in itertools.pairwise(seen) if (c := _changed(a, b)) is not None), None)
        matches = None if by_mock is None or not versions else _agrees(by_mock.get(nodeid), seen[-1])
        rows.append(DriftRow(label, nodeid, outcomes, change is not None, change or "", matches))
    rows.sort(key=lambda row: (not row.changed, row.mock_matches_newest is not False, row.label, row.nodeid))
    return DriftReport(versions, tuple(rows), dict(durations or {}))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_lines(report: DriftReport) -> list[str]:
    names = [*report.versions, *([MOCK] if any(MOCK in row.outcomes for row in report.rows) else [])]
    newest = report.versions[-1] if report.versions else "?"
    lines = [
        f"# Codex drift report: {' vs '.join(report.versions)}",
        "",
        f"{len(report.rows)} daemon-facing scenarios; {len(report.differences)} differ between versions; "
        f"the mock no longer matches {newest} on {len(report.mock_mismatches)}.",
    ]
    if report.durations:
        lines += ["", "Run times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.durations.items())]
    lines += ["", "| scenario | " + " | ".join(names) + " | first changed line |",
              "|---|" + "---|" * len(names) + "---|"]
    for row in report.rows:
        mark = " (mock ≠ newest)" if row.mock_matches_newest is False else ""
        lines.append(f"| {_cell(row.label)}{mark} | " + " | ".join(_cell(row.outcomes.get(n, "")) for n in names)
                     + f" | {_cell(row.first_change)} |")
    return lines


def table_lines(report: DriftReport, *, all_rows: bool = False) -> list[str]:
    """The table for a terminal: the rows that differ, or where anything did not simply pass (a known difference
    on every version is news too); every row with `all_rows`. Then a count of the rest."""
    names = [*report.versions, *([MOCK] if any(MOCK in row.outcomes for row in report.rows) else [])]
    plain = {PASSED, "not run"}
    shown = [row for row in report.rows if all_rows or row.changed or row.mock_matches_newest is False
             or not set(row.outcomes.values()) <= plain]
    width = min(70, max([len("scenario"), *(len(row.label) for row in shown)]))
    columns = {n: max(len(n), *(len(row.outcomes.get(n, "")) for row in shown)) if shown else len(n) for n in names}
    lines = ["  ".join(["scenario".ljust(width), *(n.ljust(columns[n]) for n in names), "first changed line"])]
    for row in shown:
        label = row.label if len(row.label) <= width else row.label[: width - 1] + "…"
        lines.append("  ".join([label.ljust(width), *(row.outcomes.get(n, "").ljust(columns[n]) for n in names),
                                row.first_change or ("mock no longer matches" if row.mock_matches_newest is False
                                                     else "")]).rstrip())
    rest = len(report.rows) - len(shown)
    if rest:
        lines.append(f"… and {rest} scenarios that passed on every version (and on the mock)")
    return lines


def load_results(path_text: str) -> list[ScenarioResult]:
    with open(path_text, encoding="utf-8") as handle:
        return [ScenarioResult.from_json(item) for item in json.load(handle)["results"]]
