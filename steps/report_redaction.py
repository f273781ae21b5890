"""Keeping a run's secrets out of every report it writes (DEVELOPERS.md: secrets never appear in logs, reports or
error messages).

Each test's secrets come from the objects its fixtures made: anything with an `issued_secrets()` method (a World,
a daemon scenario, the login lab, the remote-login lab), and, in the dataclass a scenario's steps share, every
string field named like a credential (`access_token`) and the secrets of each field that issues them. They are read
when the test's teardown starts and again before every report write, so a secret issued late is known too.

Where they are masked, at the source of each report (with `SecretMask`: the known values in every spelling, and
anything token-shaped, a JWT, `rt_…`, `sk-…`, whoever issued it):
- Allure results, containers and attachments: allure-pytest-bdd's file writer is replaced, in Allure's own plugin
  manager, by one that masks every string of a result and the bytes of every attachment before writing them. A
  plugin beside the writer could change a result in place but not an attachment, whose body reaches the writer
  as an immutable hook argument; so the mask sits in the writer.
- JUnit XML, Cucumber JSON and the terminal: each test report's failure text, captured output and user properties
  are masked as the report is made, before any reporter reads it.

With PAIRSIM_SECRET_CANARY naming a file (`make test` sets it), each test appends one line to it: the test's id and
every secret it held. `python -m simulators.report_scan` then checks every file the run wrote for them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import allure_commons
import attr
import pytest
from allure_commons.logger import AllureFileLogger

from simulators.protocol.redaction import SecretMask, is_secret_key

CANARY_ENV = "PAIRSIM_SECRET_CANARY"
PLUGIN_NAME = "pairsim-report-redaction"


@runtime_checkable
class IssuesSecrets(Protocol):
    def issued_secrets(self) -> Iterable[str]: ...


# ------------------------------------------------------------------------------------------ what a test holds


def _safely(parts: Iterable[str]) -> Iterator[str]:
    """What one source yields until it fails: a lab that broke mid-scenario must not hide the other fields'
    secrets (token-shaped values are masked regardless)."""
    try:
        yield from parts
    except Exception:
        return


def secrets_held_by(value: object) -> Iterator[str]:
    """The secrets a fixture's value holds: its own (`issued_secrets()`), and, for the dataclass a scenario's steps
    share, those of each field plus every string field named like a credential."""
    if isinstance(value, IssuesSecrets):
        yield from _safely(value.issued_secrets())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for spec in dataclasses.fields(value):
            held = getattr(value, spec.name, None)
            if isinstance(held, str):
                if is_secret_key(spec.name):
                    yield held
            elif isinstance(held, IssuesSecrets):
                yield from _safely(held.issued_secrets())


def _may_hold_secrets(value: object) -> bool:
    return isinstance(value, IssuesSecrets) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


class SecretLedger:
    """One test's secrets: the fixture values that hold them, and every value read from them so far."""

    def __init__(self) -> None:
        self.sources: list[object] = []
        self.known: set[str] = set()

    def add_source(self, value: object) -> None:
        if _may_hold_secrets(value) and all(value is not source for source in self.sources):
            self.sources.append(value)

    def harvest(self) -> set[str]:
        for source in self.sources:
            try:
                # set.update keeps what a source yielded before it failed.
                self.known.update(secret for secret in secrets_held_by(source) if isinstance(secret, str) and secret)
            except Exception:
                # A report must still be written when a lab broke mid-scenario: what it said earlier is kept, and
                # token-shaped values are masked regardless.
                continue
        return self.known

    def mask(self) -> SecretMask:
        return SecretMask(self.harvest())


# ------------------------------------------------------------------------------------------ masking the reports


def mask_report(report: pytest.TestReport, mask: SecretMask) -> None:
    """Mask a test report before JUnit XML, Cucumber JSON, Allure's listener and the terminal read it."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = tuple(mask.text(part) if isinstance(part, str) else part for part in longrepr)
    elif longrepr is not None:
        text = str(longrepr)
        masked = mask.text(text)
        if masked != text:
            report.longrepr = masked  # the plain text, since the structured traceback holds the secret
    report.sections = [(title, mask.text(content)) for title, content in report.sections]
    report.user_properties = [(name, mask.value(value)) for name, value in report.user_properties]


def mask_allure_model(item: Any, mask: SecretMask) -> Any:
    """Mask every string of an Allure result, container or globals item (attrs classes), in place."""
    if isinstance(item, str):
        return mask.text(item)
    if isinstance(item, list):
        item[:] = [mask_allure_model(element, mask) for element in item]
    elif attr.has(type(item)):
        for spec in attr.fields(type(item)):
            setattr(item, spec.name, mask_allure_model(getattr(item, spec.name), mask))
    return item


class MaskingFileLogger(AllureFileLogger):
    """allure-pytest-bdd's file writer, masking everything before it reaches the disk."""

    def __init__(self, report_dir: str, mask: Callable[[], SecretMask]) -> None:
        super().__init__(report_dir, clean=False)  # the original writer already cleaned the folder if asked
        self._mask = mask

    @allure_commons.hookimpl
    def report_result(self, result: Any) -> None:
        super().report_result(mask_allure_model(result, self._mask()))

    @allure_commons.hookimpl
    def report_container(self, container: Any) -> None:
        super().report_container(mask_allure_model(container, self._mask()))

    @allure_commons.hookimpl
    def report_globals(self, globals_item: Any) -> None:
        super().report_globals(mask_allure_model(globals_item, self._mask()))

    @allure_commons.hookimpl
    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        super().report_attached_data(self._mask().data(data), file_name)

    @allure_commons.hookimpl
    def report_attached_file(self, source: str, file_name: str) -> None:
        super().report_attached_data(self._mask().data(Path(source).read_bytes()), file_name)


def _mask_allure_writes(config: pytest.Config, mask: Callable[[], SecretMask]) -> None:
    report_dir = config.getoption("allure_report_dir", None)
    if not report_dir:
        return
    manager = allure_commons.plugin_manager
    writers = [(manager.get_name(plugin), plugin) for plugin in manager.get_plugins() if type(plugin) is AllureFileLogger]
    if not writers:
        raise pytest.UsageError("allure-pytest-bdd registered no AllureFileLogger: pairsim cannot mask its reports")
    for _, plugin in writers:
        manager.unregister(plugin)
    masking = MaskingFileLogger(os.path.abspath(report_dir), mask)
    manager.register(masking)

    def restore() -> None:
        # allure-pytest-bdd's own clean-up unregisters its writer by name; give it back first.
        manager.unregister(masking)
        for name, plugin in writers:
            manager.register(plugin, name)

    config.add_cleanup(restore)


# ------------------------------------------------------------------------------------------ the plugin


class ReportRedaction:
    def __init__(self, canary: str | None) -> None:
        self.canary = canary
        self.ledger: SecretLedger | None = None

    def mask(self) -> SecretMask:
        return self.ledger.mask() if self.ledger is not None else SecretMask()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        self.ledger = SecretLedger()
        try:
            return (yield)
        finally:
            ledger, self.ledger = self.ledger, None
            self._note(item.nodeid, ledger.harvest())

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None, Any, Any]:
        value = yield
        if self.ledger is not None:
            self.ledger.add_source(value)
        return value

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        if self.ledger is not None:
            self.ledger.harvest()  # every fixture is still up
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
        report = yield
        mask_report(report, self.mask())
        return report

    def _note(self, nodeid: str, secrets: set[str]) -> None:
        """One line per test, written with one `write` on an O_APPEND file: lines from pytest-xdist's worker
        processes never interleave."""
        if not self.canary or not secrets:
            return
        line = (json.dumps({"test": nodeid, "secrets": sorted(secrets)}) + "\n").encode("utf-8")
        fd = os.open(self.canary, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, line)
        finally:
            os.close(fd)
        if written != len(line):
            raise OSError(f"short write to the secret canary ({written} of {len(line)} bytes)")


@pytest.hookimpl(trylast=True)  # after allure-pytest-bdd has registered its file writer
def pytest_configure(config: pytest.Config) -> None:
    plugin = ReportRedaction(os.environ.get(CANARY_ENV) or None)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    _mask_allure_writes(config, plugin.mask)
