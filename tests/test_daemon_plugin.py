"""simulators.real.pytest_plugin on small suites of its own (pytester): what each `--daemon` run selects, the loud
line of a run that selects nothing, and strict xfails that accept only the known difference they name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.feature import get_features

from simulators.real.known_differences import KNOWN_DIFFERENCES

pytest_plugins = ["pytester"]

FEATURES = Path(__file__).resolve().parents[1] / "features"

# The inner runs: our plugin, without the random order, the cache or xdist, so the outcomes are the plugin's alone.
PLUGIN = ("-p", "simulators.real.pytest_plugin", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist")

SUITE = """
import pytest

def test_plain():
    pass

@pytest.mark.daemon
def test_marked_daemon():
    pass

@pytest.mark.real_daemon
def test_needs_the_real_binary():
    pass

def test_starts_daemons(daemon_target):
    pass

def test_probes_shared_daemons(shared_daemons):
    pass
"""


def collected(pytester: pytest.Pytester, *args: str) -> tuple[list[str], pytest.RunResult]:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess(*PLUGIN, "--collect-only", "-q", *args)
    names = [line.rpartition("::")[2] for line in result.outlines if "::" in line]
    return names, result


def test_the_mock_run_is_every_test_but_the_real_daemon_ones(pytester: pytest.Pytester) -> None:
    names, _ = collected(pytester, "--daemon", "mock")
    assert names == ["test_plain", "test_marked_daemon", "test_starts_daemons", "test_probes_shared_daemons"]


@pytest.mark.real_daemon  # `--daemon codex` needs the pinned binary installed
def test_the_codex_run_is_the_daemon_facing_tests(pytester: pytest.Pytester) -> None:
    names, _ = collected(pytester, "--daemon", "codex")
    assert names == [
        "test_marked_daemon",
        "test_needs_the_real_binary",
        "test_starts_daemons",
        "test_probes_shared_daemons",
    ]


@pytest.mark.real_daemon
def test_a_users_marker_or_keyword_narrows_the_codex_run_and_never_widens_it(pytester: pytest.Pytester) -> None:
    names, _ = collected(pytester, "--daemon", "codex", "-m", "not real_daemon", "-k", "daemons")
    assert names == ["test_starts_daemons", "test_probes_shared_daemons"]
    names, _ = collected(pytester, "--daemon", "codex", "-k", "plain")
    assert names == []


def test_a_run_that_selects_nothing_says_so_loudly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess(*PLUGIN, "--daemon", "mock", "-m", "daemon", "-k", "shared and not daemons")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.re_match_lines(
        [r"pairsim: NOTHING VERIFIED: the --daemon mock run \(every test but the real_daemon ones.*\) narrowed by "
         r"-m 'daemon', -k 'shared and not daemons' selected no test \(pytest exit 5\)"]
    )


def test_a_run_that_selects_something_says_nothing_of_the_kind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess(*PLUGIN, "--daemon", "mock", "-k", "plain")
    assert result.ret == pytest.ExitCode.OK
    assert "NOTHING VERIFIED" not in result.stdout.str()


# -- known differences ---------------------------------------------------------------------------------------------

# The mock's known difference `mock_has_no_remote_control_cli`, played by steps that fail in chosen ways.
CLI_STEP = '"codex remote-control" on her Mac says "Remote control is enabled on {server name} but the connection is errored."'
FEATURE = """
Feature: the command line
  Scenario: Dana asks the command line
    Given Dana's Mac
    Then STEP
""".replace("STEP", CLI_STEP)
STEPS = """
import pytest
from pytest_bdd import given, scenarios, then

scenarios("cli.feature")

@given("Dana's Mac")
def mac():
    GIVEN

@then(STEP)
def cli_says():
    THEN
""".replace("STEP", repr(CLI_STEP))
THE_DIFFERENCE = 'raise ValueError("the mock daemon has no `codex remote-control` command")'


def write_suite(pytester: pytest.Pytester, tag: str, *, given: str = "pass", then: str = "pass") -> None:
    pytester.makefile(".feature", cli=f"@{tag}\n{FEATURE}")
    pytester.makepyfile(test_cli=STEPS.replace("GIVEN", given).replace("THEN", then))


def run_known_difference(pytester: pytest.Pytester, *, given: str = "pass", then: str = THE_DIFFERENCE) -> pytest.RunResult:
    write_suite(pytester, "xfail_on_mock:mock_has_no_remote_control_cli", given=given, then=then)
    return pytester.runpytest_inprocess(*PLUGIN, "--daemon", "mock", "-rxXf")


def test_the_known_failure_is_an_expected_failure(pytester: pytest.Pytester) -> None:
    result = run_known_difference(pytester)
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL *known difference mock_has_no_remote_control_cli on mock: *"])


@pytest.mark.parametrize(
    ("given", "then", "why"),
    [
        (THE_DIFFERENCE, "pass", "it failed in the step \"Dana's Mac\", not in *"),
        ("pass", 'raise ValueError("the mock daemon cannot start")', "its message does not match *"),
        ("pass", 'raise RuntimeError("the mock daemon has no `codex remote-control` command")',
         "it raised RuntimeError, not ValueError*"),
        ("pass", 'assert False, "the mock daemon has no `codex remote-control` command"',
         "it raised AssertionError, not ValueError*"),
    ],
    ids=["same error in another step", "another message", "another type", "an assertion"],
)
def test_any_other_failure_of_the_scenario_is_a_failure(
    pytester: pytest.Pytester, given: str, then: str, why: str
) -> None:
    result = run_known_difference(pytester, given=given, then=then)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not the known difference mock_has_no_remote_control_cli*", f"*this failure is not it: {why}"])


def test_a_fixed_difference_fails_until_its_tag_goes(pytester: pytest.Pytester) -> None:
    result = run_known_difference(pytester, then="pass")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known difference mock_has_no_remote_control_cli*"])


def test_the_difference_is_expected_only_on_its_daemon(pytester: pytest.Pytester) -> None:
    write_suite(pytester, "xfail_on_codex:real_daemon_hides_the_mfa_refusal")
    pytester.runpytest_inprocess(*PLUGIN, "--daemon", "mock").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("tag", "error"),
    [
        ("xfail_on_mock:no_such_difference", "no known difference is named 'no_such_difference'"),
        ("xfail_on_mock:real_daemon_hides_the_mfa_refusal", "is one of the codex daemon, not mock"),
    ],
)
def test_a_tag_must_name_a_difference_of_its_daemon(pytester: pytest.Pytester, tag: str, error: str) -> None:
    write_suite(pytester, tag)
    result = pytester.runpytest_inprocess(*PLUGIN, "--daemon", "mock")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error
    result.stdout.fnmatch_lines([f"*LookupError: *{error}*"])


def test_every_known_difference_is_the_tag_of_a_scenario_that_has_the_step_it_names() -> None:
    features = get_features([str(path) for path in sorted(FEATURES.rglob("*.feature"))])
    tagged: dict[str, list[list[str]]] = {}
    for feature in features:
        for scenario in feature.scenarios.values():
            for tag in scenario.tags | feature.tags:
                kind, _, name = tag.partition(":")
                if kind in ("xfail_on_codex", "xfail_on_mock"):
                    tagged.setdefault(name, []).append([step.name for step in scenario.steps])
    assert sorted(tagged) == sorted(KNOWN_DIFFERENCES)
    for name, steps in tagged.items():
        step = KNOWN_DIFFERENCES[name].step
        assert all(any(_names(template, step) for template in scenario_steps) for scenario_steps in steps), name


def _names(template: str, step: str) -> bool:
    """Whether an outline's step (`Dana's Mac runs Codex <current>`) renders as `step` for some example row."""
    parts = re.split(r"(<[^<>]+>)", template)
    pattern = "".join(".+" if part.startswith("<") and part.endswith(">") else re.escape(part) for part in parts)
    return re.fullmatch(pattern, step) is not None
