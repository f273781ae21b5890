"""Fixtures and hooks for the Gherkin suite (`features/`, bound in `steps/test_*.py`).

Each scenario gets a fresh World (servers on ephemeral ports, a seeded Faker), in the daemon profile its tag names
(`@legacy` or `@fixed`, default fixed), stopped after the scenario. The same hooks keep the Cucumber JSON report
whole under pytest-xdist.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from pytest_bdd.cucumber_json import LogBDDCucumberJSON

from simulators.daemon.profiles import Profile
from simulators.real.target import DaemonKind
from simulators.world import World
from steps.context import ScenarioContext
from steps.reporting import attach_world

pytest_plugins = [
    "steps.accounts", "steps.desktop", "steps.phone", "steps.faults", "steps.session", "steps.remote_control_steps",
    "steps.backend_faults", "steps.network_faults", "steps.time_faults", "steps.processes_faults",
    # The phone's live view of a turn (issue 11).
    "steps.live_view",
    # The real Codex TUI in a pseudo-terminal (features/tui).
    "steps.tui_steps",
    # One Mac controlling another through the relay (issue 12).
    "steps.control_steps",
    # SSH remote projects: a project on another computer, from the Mac and through it from the phone (issue 12).
    "steps.remote_projects",
    "steps.remote_projects_steps",
    # The daemon features (features/daemon) run against `--daemon mock|codex`; the option and fixtures live here.
    "simulators.real.pytest_plugin",
    # `pairsim compat` (issue 13): records each daemon-facing test's outcome for the drift report; inert without
    # --compat-results.
    "simulators.real.compat_plugin",
    # Every report (Allure, JUnit XML, Cucumber JSON, the terminal) masks the secrets each test's fixtures held.
    "steps.report_redaction",
]

# Property tests: speed is measured in benchmarks, never asserted, so a slow CI core must not fail one on a deadline.
# Under CI the examples derive from each test's name, so a red run replays exactly; locally they stay random, to
# keep finding new cases.
settings.register_profile("pairsim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("pairsim-ci", parent=settings.get_profile("pairsim"), derandomize=True, database=None)
settings.load_profile("pairsim-ci" if os.environ.get("CI") else "pairsim")

# Every tag a feature file may carry. pytest-bdd turns tags into markers, and --strict-markers refuses unknown ones.
TAGS: dict[str, str] = {
    "legacy": "run against today's daemon and backend (the seed bug reproduces)",
    "fixed": "run against the typed-error fix (default when a scenario names no profile)",
    "pairing": "pairing a phone with Codex on a Mac",
    "mfa": "multi-factor authentication and enrollment",
    "enrollment": "the backend refusing to enroll a Mac (policy, region)",
    "seed": "the password-change failure that started pairsim",
    "refusals": "pairing refused for a known cause",
    "approvals": "deciding on Codex's requests from the phone",
    "live_view": "following a turn from the phone: output, diffs, images, follow-ups, coming back",
    "daemon": "runs against --daemon mock|codex: the listener (features/daemon), remote control (features/remote_control)",
    "remote_control": "remote control through our backend and relay, with the mock or the real daemon behind it",
    "conformance": "what crosses the wire (bodies, status values, log lines), beside the product features",
    "remote_projects": "SSH remote projects: the Mac's session with the real Codex on another computer, and the phone "
                       "through the Mac (runs in the mock run; the remote is the real Codex either way)",
    "remote_login": "signing in with the CLI on a remote machine (SSH port forwarding)",
    "netns": "needs separate network namespaces (root) and OpenSSH",
    "login": "codex login: browser callback, device code, access token, credential stores",
    "real_login": "also runs against the installed real codex 0.169.0 (fails if it is absent)",
    "tui": "the real Codex TUI (codex 0.169.0 --remote) in a pseudo-terminal, on the daemon --daemon names",
    "control_other_devices": "one Mac controlling another through the relay (Settings › Connections)",
}

_CUCUMBER_KEY = "pairsim_cucumber_features"


def scenario_seed(nodeid: str) -> int:
    """A stable seed per scenario (and per Examples row), so a failure replays with the same people and data."""
    return zlib.crc32(nodeid.encode("utf-8"))


def scenario_profile(node: pytest.Item) -> str:
    tagged = {name for name in ("legacy", "fixed") if node.get_closest_marker(name) is not None}
    if len(tagged) > 1:
        raise pytest.UsageError(f"{node.nodeid} is tagged both @legacy and @fixed")
    return tagged.pop() if tagged else "fixed"


@pytest.fixture
def ctx() -> ScenarioContext:
    return ScenarioContext()


@pytest.fixture
def world(
    request: pytest.FixtureRequest, tmp_path: Path, ctx: ScenarioContext, daemon_kind: DaemonKind
) -> Iterator[World]:
    node = request.node
    # Only @daemon scenarios run against the daemon named by --daemon; every other one uses the mock world.
    daemon = daemon_kind.value if node.get_closest_marker("daemon") is not None else DaemonKind.MOCK.value
    started = World(
        profile=Profile(scenario_profile(node)), seed=scenario_seed(node.nodeid), root=tmp_path, daemon=daemon
    ).start()
    try:
        yield started
    finally:
        try:
            attach_world(started, ctx)
        finally:
            started.stop()


# --------------------------------------------------------------------------------------------- cucumber json


def pytest_configure(config: pytest.Config) -> None:
    for tag, meaning in TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {meaning}")
    path = config.getoption("cucumber_json_path", None)
    if not path:
        return
    # pytest-bdd writes Cucumber JSON only on the xdist controller, whose reports lack the scenario data, so
    # under -n N the file came out as []. Each worker collects its own scenarios and hands them back in its
    # workeroutput; the controller merges them after pytest-bdd has written its (empty) file.
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(_WorkerCucumberJSON(config), "pairsim-cucumber-worker")
    else:
        config.pluginmanager.register(_CucumberMerger(Path(path)), "pairsim-cucumber-merger")


class _WorkerCucumberJSON(LogBDDCucumberJSON):
    def __init__(self, config: pytest.Config) -> None:
        super().__init__(os.devnull)
        self._config = config

    def pytest_sessionfinish(self) -> None:
        self._config.workeroutput[_CUCUMBER_KEY] = list(self.features.values())  # type: ignore[attr-defined]

    def pytest_terminal_summary(self) -> None:
        pass


class _CucumberMerger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts: list[list[dict[str, Any]]] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.parts.append(getattr(node, "workeroutput", {}).get(_CUCUMBER_KEY, []))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        if not self.parts:
            return  # no workers: pytest-bdd's own writer already did the job
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(merge_cucumber(self.parts)), encoding="utf-8")


def merge_cucumber(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One Cucumber JSON document from several workers' ones: each feature once, its scenarios in file order."""
    features: dict[str, dict[str, Any]] = {}
    for part in parts:
        for feature in part:
            merged = features.setdefault(feature["uri"], {**feature, "elements": []})
            merged["elements"].extend(feature["elements"])
    for feature in features.values():
        feature["elements"].sort(key=lambda element: (element["line"], element["id"]))
    return [features[uri] for uri in sorted(features)]
