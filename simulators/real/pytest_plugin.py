"""pytest plugin: run the daemon-facing tests against our mock daemon or the real `codex app-server`.

    pytest --daemon mock     # default: `pairsim daemon serve`
    pytest --daemon codex    # the pinned real binary; `scripts/install-real-daemon` installs it

Fixtures: `daemon_kind`, `daemon_target` (a DaemonTarget whose daemons die with the test) and `shared_daemons`
(daemons kept for the whole session, one per configuration, for scenarios that only probe them).

Known differences are written as tags in the features, `@xfail_on_codex:why_in_snake_case` or
`@xfail_on_mock:why`, and become strict xfails on that target only: a fix on either side turns them into failures
that ask for the tag to go. `@real_daemon` (or the `real_daemon` marker) tests need the real binary and are
deselected under `--daemon mock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import allure
import pytest

from simulators.protocol.errors import PairsimError
from simulators.real.codex import locate_real_daemon
from simulators.real.target import DaemonKind, DaemonTarget, RunningDaemon

OPTION = "--daemon"
_XFAIL_TAGS = {"xfail_on_codex": DaemonKind.CODEX, "xfail_on_mock": DaemonKind.MOCK}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pairsim daemon")
    group.addoption(
        OPTION,
        choices=[kind.value for kind in DaemonKind],
        default=DaemonKind.MOCK.value,
        help="which daemon the daemon-facing tests run against: our mock (default) or the real codex app-server",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "daemon: a scenario about the daemon's listener, run on --daemon mock|codex")
    config.addinivalue_line("markers", "xfail_on_codex(reason): a known difference of the real daemon (strict)")
    config.addinivalue_line("markers", "xfail_on_mock(reason): a known difference of our mock daemon (strict)")
    config.addinivalue_line("markers", "real_daemon: needs the real codex binary; runs only with --daemon codex")
    if config.getoption(OPTION) == DaemonKind.CODEX.value:
        try:
            locate_real_daemon()
        except PairsimError as exc:
            raise pytest.UsageError(f"{OPTION} codex: {exc.message}") from None


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    name, _, reason = tag.partition(":")
    if name not in _XFAIL_TAGS:
        return None  # pytest-bdd's default: the tag becomes a marker of the same name
    getattr(pytest.mark, name)(reason=reason.replace("_", " ") or "known difference")(function)
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind = DaemonKind(config.getoption(OPTION))
    keep, deselected = [], []
    for item in items:
        if kind is DaemonKind.MOCK and item.get_closest_marker("real_daemon") is not None:
            deselected.append(item)
            continue
        for marker_name, target_kind in _XFAIL_TAGS.items():
            marker = item.get_closest_marker(marker_name)
            if marker is not None and target_kind is kind:
                reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "known difference")
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"on {kind.value}: {reason}"))
        keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


@pytest.hookimpl(trylast=True)  # after allure-pytest-bdd has opened the scenario's result
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: object, scenario: object) -> None:
    """`@daemon` scenarios run once per target; the target is a report parameter, so Allure keeps both results
    apart instead of taking the second run for a retry of the first."""
    if request.node.get_closest_marker("daemon") is not None:
        allure.dynamic.parameter("daemon", str(request.config.getoption(OPTION)))


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
