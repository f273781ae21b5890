"""What the model says: the one catalogue of scripted turns, played to the real daemon and to the mock alike.

A turn's script is chosen by the person's request (its first words) and decides each next step from what the turn
has seen so far: the results of the tools it called (declined, failed, the exit code) and any follow-up the person
sent while it ran. The steps are rendered into whichever tool shape the daemon offers
(`simulators.protocol.responses`), so the same script drives the real binary's code mode and the mock's function
tools. Scenarios and tests import the texts and names from here, never copies of them.
"""

from __future__ import annotations

import re

from simulators.daemon.workspace import DRAWING_TOOL, LOGIN_FILE, LOGIN_TEST, SEED_FILES
from simulators.protocol.responses import EditFile, Outcome, RunCommand, Say, Script, Step, Turn, ViewImage

# -- "Fix the flaky login test": a command, then a file change, each asked for -------------------------------------

FIX_FLAKY_TEST = "Fix the flaky login test"
BRANCH = "fix-flaky-login"
BRANCH_COMMAND = f"git switch -c {BRANCH}"
BRANCH_REASON = "Work on the fix in its own branch"
EDITED = f"I raised the login timeout in {LOGIN_FILE} from 1 to 5 seconds."
NOT_EDITED = f"I left {LOGIN_FILE} as it was."


def timeout_line(seconds: int) -> str:
    return f"TIMEOUT = {seconds}  # seconds to wait for the service to answer"


# The project's file as the accepted edit leaves it.
TIMEOUT_BEFORE, TIMEOUT_AFTER = 1, 5


def _fix_flaky_test(turn: Turn) -> Step:
    if turn.steps_done == 0:
        return RunCommand(BRANCH_COMMAND, BRANCH_REASON)
    if turn.steps_done == 1:
        return EditFile(LOGIN_FILE, timeout_line(TIMEOUT_BEFORE), timeout_line(TIMEOUT_AFTER))
    edit = turn.result_of(1)
    return Say(EDITED if edit is not None and edit.outcome is Outcome.DONE else NOT_EDITED)


# -- "Run the login tests": a test run whose output streams and whose result the phone shows -----------------------

RUN_TESTS = "Run the login tests"
TEST_COMMAND = f"python3 -m unittest -v {LOGIN_TEST}"
TEST_REASON = "Run the login tests"
TESTS_FAIL = f"The login test fails: {LOGIN_FILE} waits 1 second, and the service can take 3."
TESTS_PASS = "The login tests pass."
TESTS_NOT_RUN = "I did not run the tests."


def _run_tests(turn: Turn) -> Step:
    if turn.steps_done == 0:
        return RunCommand(TEST_COMMAND, TEST_REASON)
    run = turn.result_of(0)
    if run is None or run.outcome is not Outcome.DONE:
        return Say(TESTS_NOT_RUN)
    return Say(TESTS_PASS if run.exit_code == 0 else TESTS_FAIL)


# -- "Draw the login flow": an image the agent produced ------------------------------------------------------------

DRAW_FLOW = "Draw the login flow"
DRAWING = "docs/login-flow.png"
DRAW_COMMAND = f"mkdir -p docs && python3 {DRAWING_TOOL} {DRAWING}"
DRAW_REASON = "Draw the login flow as an image"
DRAWN = f"I drew the login flow in {DRAWING}."
NOT_DRAWN = "I did not draw the login flow."


def _draw_flow(turn: Turn) -> Step:
    if turn.steps_done == 0:
        return RunCommand(DRAW_COMMAND, DRAW_REASON)
    drawn = turn.result_of(0)
    if drawn is None or drawn.outcome is not Outcome.DONE or drawn.exit_code not in (0, None):
        return Say(NOT_DRAWN)
    if turn.steps_done == 1:
        return ViewImage(DRAWING)
    return Say(DRAWN)


# -- "Raise the login timeout": follows a follow-up that steered the turn --------------------------------------------

RAISE_TIMEOUT = "Raise the login timeout"
_SECONDS = re.compile(r"\b(\d{1,3}) seconds?\b")


def asked_seconds(turn: Turn) -> int:
    """The timeout the person asked for last: a number of seconds in her newest words, 5 if she named none."""
    for words in reversed(turn.said):
        found = _SECONDS.findall(words)
        if found:
            return int(found[-1])
    return TIMEOUT_AFTER


def raised(seconds: int) -> str:
    return f"I raised the login timeout in {LOGIN_FILE} from 1 to {seconds} seconds."


def _raise_timeout(turn: Turn) -> Step:
    seconds = asked_seconds(turn)
    if turn.steps_done == 0:
        return EditFile(LOGIN_FILE, timeout_line(TIMEOUT_BEFORE), timeout_line(seconds))
    edit = turn.result_of(0)
    return Say(raised(seconds) if edit is not None and edit.outcome is Outcome.DONE else NOT_EDITED)


# -- a plain answer ---------------------------------------------------------------------------------------------------

EXPLAIN_TIMEOUT = "Explain the login timeout"
EXPLANATION = (f"{LOGIN_FILE} waits TIMEOUT = 1 second for the service to answer; under load the service takes up "
               "to 3, which is why the login test is flaky.")
UNSCRIPTED = ("pairsim's model plays scripted turns only. Ask: " + "; ".join(
    (FIX_FLAKY_TEST, RUN_TESTS, DRAW_FLOW, RAISE_TIMEOUT, EXPLAIN_TIMEOUT)) + ".")

SCRIPTS: dict[str, Script] = {
    FIX_FLAKY_TEST: _fix_flaky_test,
    RUN_TESTS: _run_tests,
    DRAW_FLOW: _draw_flow,
    RAISE_TIMEOUT: _raise_timeout,
    EXPLAIN_TIMEOUT: lambda turn: Say(EXPLANATION),
}


def script_for(request: str) -> Script:
    """The script for a turn that began with `request` (exact words, surrounding space ignored)."""
    return SCRIPTS.get(request.strip(), lambda turn: Say(UNSCRIPTED))


def edited_login_file(seconds: int = TIMEOUT_AFTER) -> str:
    """`src/login.py` as an accepted edit to `seconds` leaves it."""
    return SEED_FILES[LOGIN_FILE].replace(timeout_line(TIMEOUT_BEFORE), timeout_line(seconds))
