"""pytest plugin: run the daemon-facing tests against our mock daemon or the real `codex app-server`.

    pytest --daemon mock     # default: every test; the daemon-facing ones against `pairsim daemon serve`
    pytest --daemon codex    # only the daemon-facing tests, against the pinned real binary
                             # (`scripts/install-real-daemon` installs it)
    pytest --daemon codex --codex-version 0.171.0   # against another published version
                             # (`pairsim codex install 0.171.0` installs it; PAIRSIM_CODEX_VERSION works too)

A test is daemon-facing when what it checks depends on the daemon `--daemon` names: a `@daemon` scenario or test, a
`real_daemon` test (needs the real binary; deselected under `--daemon mock`), or a test that starts daemons through
the `daemon_target` or `shared_daemons` fixture. `--daemon codex` selects exactly those, so a `-m` or `-k` of the
user's only narrows either run. A run that selects nothing says so in one loud line at the end.

Fixtures: `daemon_kind`, `daemon_target` (a DaemonTarget whose daemons die with the test) and `shared_daemons`
(daemons kept for the whole session, one per configuration, for scenarios that only probe them).

Known differences are tags in the features, `@xfail_on_codex:<name>` or `@xfail_on_mock:<name>`, naming an entry of
`simulators.real.known_differences`; on that daemon the scenario is a strict xfail that accepts only the entry's
failure (its step, exception type and message). Any other failure is a failure, and a fix (a pass) fails the strict
xfail until the tag and the entry go.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import allure
import pytest

from simulators.protocol.errors import PairsimError
from simulators.real.codex import chosen_version, locate_real_daemon, pinned_version
from simulators.real.known_differences import KnownDifference, known_difference
from simulators.real.target import DaemonKind, DaemonTarget, RunningDaemon, version_under_test
from simulators.real.versions import CACHE_ENV, VERSION_ENV, cache_root, requested_version

OPTION = "--daemon"
VERSION_OPTION = "--codex-version"
_XFAIL_TAGS = {"xfail_on_codex": DaemonKind.CODEX, "xfail_on_mock": DaemonKind.MOCK}
_DAEMON_FIXTURES = frozenset({"daemon_target", "shared_daemons"})
_SELECTION = {
    DaemonKind.MOCK: "every test but the real_daemon ones, the daemon-facing ones against the mock daemon",
    DaemonKind.CODEX: "the daemon-facing tests (@daemon, real_daemon, daemon_target/shared_daemons), real daemon",
}

# Per test: the known difference it is an expected failure of, the step that failed (from pytest-bdd) with its
# exception, and why the failure was not the known difference.
_DIFFERENCE = pytest.StashKey[KnownDifference]()
_FAILED_STEP = pytest.StashKey[tuple[str, BaseException]]()
_MISMATCH = pytest.StashKey[str]()
_VERSION_BEFORE = pytest.StashKey[str | None]()
_CACHE_BEFORE = pytest.StashKey[str | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pairsim daemon")
    group.addoption(
        OPTION,
        choices=[kind.value for kind in DaemonKind],
        default=DaemonKind.MOCK.value,
        help="mock (default): every test, the daemon-facing ones against our mock daemon; "
        "codex: only the daemon-facing tests, against the real codex app-server",
    )
    group.addoption(
        VERSION_OPTION,
        default=None,
        metavar="X.Y.Z",
        help=f"the real daemon's version under --daemon codex (default: ${VERSION_ENV}, else the pin in "
        "tools/real-daemon/package.json); `pairsim codex install X.Y.Z` installs it once into a cache folder",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "daemon: runs against --daemon mock|codex; selected by --daemon codex")
    config.addinivalue_line("markers", "xfail_on_codex(name): a known difference of the real daemon (strict)")
    config.addinivalue_line("markers", "xfail_on_mock(name): a known difference of our mock daemon (strict)")
    config.addinivalue_line("markers", "real_daemon: needs the real codex binary; runs only with --daemon codex")
    try:
        pin = pinned_version()
        version = requested_version(config.getoption(VERSION_OPTION), pin)
    except PairsimError as exc:
        raise pytest.UsageError(f"{VERSION_OPTION}: {exc.message}") from None
    # Everything that starts the real daemon (the daemon target, the TUI, the login lab, stories) reads the choice
    # from the environment, as `pairsim reproduce` does; xdist's workers are started with it.
    config.stash[_VERSION_BEFORE] = os.environ.get(VERSION_ENV)
    config.stash[_CACHE_BEFORE] = os.environ.get(CACHE_ENV)
    os.environ[VERSION_ENV] = version
    # The cache is found from HOME, which a run inside this one (pytester) moves: name it for every child.
    os.environ[CACHE_ENV] = str(cache_root())
    if config.getoption(OPTION) == DaemonKind.CODEX.value:
        try:
            locate_real_daemon()
        except PairsimError as exc:
            raise pytest.UsageError(f"{OPTION} codex: {exc.message}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    # A run inside a run (pytester, in process) must leave the outer run's choice as it was.
    for name, key in ((VERSION_ENV, _VERSION_BEFORE), (CACHE_ENV, _CACHE_BEFORE)):
        if key not in config.stash:
            continue
        before = config.stash[key]
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    marker_name, _, name = tag.partition(":")
    if marker_name not in _XFAIL_TAGS:
        return None  # pytest-bdd's default: the tag becomes a marker of the same name
    known_difference(name, _XFAIL_TAGS[marker_name])  # a tag naming no entry fails the collection
    getattr(pytest.mark, marker_name)(name)(function)
    return True


def daemon_facing(item: pytest.Item) -> bool:
    """Whether what `item` checks depends on the daemon `--daemon` names."""
    if item.get_closest_marker("daemon") or item.get_closest_marker("real_daemon"):
        return True
    return not _DAEMON_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def selected(item: pytest.Item, kind: DaemonKind) -> bool:
    """What a run is: `--daemon codex` runs the daemon-facing tests, `--daemon mock` all but the real_daemon ones."""
    if kind is DaemonKind.CODEX:
        return daemon_facing(item)
    return item.get_closest_marker("real_daemon") is None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind = DaemonKind(config.getoption(OPTION))
    keep, deselected = [], []
    for item in items:
        if selected(item, kind):
            _expect_known_difference(item, kind)
            keep.append(item)
        else:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def _expect_known_difference(item: pytest.Item, kind: DaemonKind) -> None:
    for marker_name, tagged_for in _XFAIL_TAGS.items():
        marker = item.get_closest_marker(marker_name)
        if marker is None:
            continue
        if not marker.args:
            raise pytest.UsageError(f"{item.nodeid}: @{marker_name} names no known difference")
        difference = known_difference(marker.args[0], tagged_for)
        if not difference.applies_to(kind, version_under_test(kind)):
            continue  # another daemon's, or a version outside the entry's range: the scenario runs as any other
        if difference.profile is not None and item.get_closest_marker(difference.profile) is None:
            continue  # a row of the other profile: it holds on this daemon too
        item.stash[_DIFFERENCE] = difference
        # Only `check`: the entry decides on the type too, so every way of not matching it is explained.
        expected = pytest.RaisesExc(check=functools.partial(_is_the_difference, item, difference))
        reason = f"known difference {difference.name} on {_daemon_label(kind)}: {difference.why}"
        item.add_marker(pytest.mark.xfail(strict=True, raises=expected, reason=reason))


def _daemon_label(kind: DaemonKind) -> str:
    return kind.value if kind is DaemonKind.MOCK else f"codex {chosen_version()}"


def _is_the_difference(item: pytest.Item, difference: KnownDifference, exception: BaseException) -> bool:
    step, raised = item.stash.get(_FAILED_STEP, (None, None))
    mismatch = difference.mismatch(step if raised is exception else None, exception)
    if mismatch is not None:
        item.stash[_MISMATCH] = mismatch
    return mismatch is None


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_step_error(request: pytest.FixtureRequest, step: Any, exception: BaseException) -> None:
    request.node.stash[_FAILED_STEP] = (step.name, exception)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: runs after pytest's xfail handling has decided
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    difference = item.stash.get(_DIFFERENCE, None)
    if difference is not None and report.failed and call.when == "call" and call.excinfo is None:
        # A strict xfail that passed: on a real version this is how a release that fixed the behaviour shows.
        kind = difference.daemon
        scope = f"codex {difference.versions}" if kind is DaemonKind.CODEX else "the mock"
        report.longrepr = (
            f"[XPASS(strict)] {_daemon_label(kind)} no longer has the known difference {difference.name} "
            f"(expected on {scope}): if this release changed the behaviour, end the entry's versions before it in simulators/real/known_differences.py; "
            f"if the mock now matches, remove the entry and its tag"
        )
    mismatch = item.stash.get(_MISMATCH, None)
    if report.failed and mismatch is not None and call.excinfo is not None:
        difference = item.stash[_DIFFERENCE]
        report.sections.append(
            (
                f"not the known difference {difference.name}",
                f"An expected failure of {difference.expectation()} on {difference.daemon}; this failure is not "
                f"it: {mismatch}. A red test, like any failure.",
            )
        )
        del item.stash[_MISMATCH]
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
        return
    kind = DaemonKind(config.getoption(OPTION))
    narrowed = [f"{flag} {value!r}" for flag, value in (("-m", config.option.markexpr), ("-k", config.option.keyword))
                if value]
    if config.args_source is pytest.Config.ArgsSource.ARGS:
        narrowed.append(" ".join(config.args))
    terminalreporter.write_line(
        f"pairsim: NOTHING VERIFIED: the {OPTION} {kind.value} run ({_SELECTION[kind]})"
        f"{' narrowed by ' + ', '.join(narrowed) if narrowed else ''} selected no test (pytest exit 5)",
        red=True,
        bold=True,
    )


@pytest.hookimpl(trylast=True)  # after allure-pytest-bdd has opened the scenario's result
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: object, scenario: object) -> None:
    """`@daemon` scenarios run once per target; the target is a report parameter, so Allure keeps both results
    apart instead of taking the second run for a retry of the first."""
    if request.node.get_closest_marker("daemon") is not None:
        kind = DaemonKind(request.config.getoption(OPTION))
        # Per version too: the drift report's runs of one scenario against two versions are two results.
        allure.dynamic.parameter("daemon", _daemon_label(kind))


@pytest.fixture(scope="session")
def daemon_kind(pytestconfig: pytest.Config) -> DaemonKind:
    return DaemonKind(pytestconfig.getoption(OPTION))


@pytest.fixture
def daemon_target(daemon_kind: DaemonKind) -> Iterator[DaemonTarget]:
    target = DaemonTarget(daemon_kind)
    try:
        yield target
    finally:
        target.stop()


class SharedDaemons:
    """Daemons that outlive a test, one per configuration, for tests that only probe them (HTTP, auth)."""

    def __init__(self, target: DaemonTarget) -> None:
        self.target = target
        self._running: dict[str, RunningDaemon] = {}

    def get(self, key: str, start: Callable[[DaemonTarget, Path], RunningDaemon]) -> RunningDaemon:
        """The daemon kept under `key`, started by `start(target, fresh_home)` the first time (or if it died)."""
        daemon = self._running.get(key)
        if daemon is None or daemon.returncode is not None:
            daemon = start(self.target, self.target.new_home())
            self._running[key] = daemon
        return daemon


@pytest.fixture(scope="session")
def shared_daemons(daemon_kind: DaemonKind) -> Iterator[SharedDaemons]:
    target = DaemonTarget(daemon_kind)
    try:
        yield SharedDaemons(target)
    finally:
        target.stop()
