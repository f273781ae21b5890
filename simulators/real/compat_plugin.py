"""pytest plugin for `pairsim compat`: record each daemon-facing test's outcome in a JSON file the drift report reads.

    pytest -p simulators.real.compat_plugin --compat-results out.json --daemon codex --codex-version 0.171.0

Under `--daemon mock` it also narrows the run to the daemon-facing tests (those `--daemon codex` selects), so the
mock answers the same scenarios as each version. Results are gathered where reports arrive (the xdist controller);
what only a worker knows (the failing step, the scenario's name, the known difference) travels in the report's
user properties.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from simulators.real.drift import (
    ERROR,
    FAILED,
    KNOWN_PREFIX,
    NO_LONGER_PREFIX,
    PASSED,
    SKIPPED,
    ScenarioResult,
)
from simulators.real.pytest_plugin import _DIFFERENCE, _FAILED_STEP, OPTION, daemon_facing
from simulators.real.target import DaemonKind

RESULTS_OPTION = "--compat-results"
_RESULTS = pytest.StashKey[dict[str, ScenarioResult]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("pairsim daemon").addoption(
        RESULTS_OPTION, default=None, metavar="PATH",
        help="write each daemon-facing test's outcome to PATH (JSON) for the drift report (`pairsim compat`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption(RESULTS_OPTION) is None or DaemonKind(config.getoption(OPTION)) is not DaemonKind.MOCK:
        return
    keep = [item for item in items if daemon_facing(item)]
    deselected = [item for item in items if not daemon_facing(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def _label(item: pytest.Item) -> str:
    scenario = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    if scenario is None:
        return item.nodeid
    label = f"{scenario.feature.rel_filename}: {scenario.name}"
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        row = callspec.id if len(callspec.id) <= 60 else callspec.id[:59] + "…"
        label += f" [{row}]"
    return label


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if item.config.getoption(RESULTS_OPTION) is None:
        return report
    report.user_properties.append(("pairsim_label", _label(item)))
    step = item.stash.get(_FAILED_STEP, None)
    if step is not None:
        report.user_properties.append(("pairsim_step", step[0]))
    difference = item.stash.get(_DIFFERENCE, None)
    if difference is not None:
        report.user_properties.append(("pairsim_difference", difference.name))
    return report


def _failure_text(report: pytest.TestReport, properties: dict[str, Any]) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr).splitlines()[0]
    step = properties.get("pairsim_step")
    return (f"in the step {step!r}\n" if step and report.when == "call" else "") + message


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    config = _CONFIG.get("config")
    if config is None or config.getoption(RESULTS_OPTION) is None:
        return
    results = config.stash[_RESULTS]
    properties = dict(report.user_properties)
    label = str(properties.get("pairsim_label", report.nodeid))
    difference = properties.get("pairsim_difference", "?")
    outcome, failure = None, ""
    if report.when == "call":
        if report.passed:
            outcome = PASSED
        elif hasattr(report, "wasxfail") and report.skipped:
            # What the known difference looked like this time: its step and message, compared across versions.
            outcome, failure = f"{KNOWN_PREFIX}{difference}", _failure_text(report, properties)
        elif report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
            outcome, failure = f"{NO_LONGER_PREFIX}{difference}", str(report.longrepr)
        elif report.failed:
            outcome, failure = FAILED, _failure_text(report, properties)
        else:
            outcome = SKIPPED
    elif report.failed:  # setup or teardown
        outcome, failure = ERROR, f"in {report.when}\n" + _failure_text(report, properties)
    elif report.when == "setup" and report.skipped:
        outcome = f"{KNOWN_PREFIX}{difference}" if hasattr(report, "wasxfail") else SKIPPED
    if outcome is None:
        return
    earlier = results.get(report.nodeid)
    if earlier is not None and earlier.outcome != PASSED and outcome == ERROR:
        return  # a teardown error after a failed call: the call's failure is the one that says what changed
    results[report.nodeid] = ScenarioResult(report.nodeid, label, outcome, failure)


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG["config"] = session.config


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption(RESULTS_OPTION)
    if path is None or hasattr(session.config, "workerinput"):
        return  # only the controller (or a run without xdist) has every report
    results = session.config.stash[_RESULTS]
    document = {"daemon": session.config.getoption(OPTION),
                "results": [vars(result) for result in results.values()]}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
