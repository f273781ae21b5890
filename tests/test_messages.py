"""The message catalogue: every typed cause has its own phone copy, and the seed copy is still there verbatim."""

from __future__ import annotations

import pytest

from simulators import messages
from simulators.messages import GENERIC_SETUP_FAILURE, PHONE_ERRORS, phone_error
from simulators.protocol.errors import ErrorCode

TYPED_CAUSES = [code for code in ErrorCode if code is not ErrorCode.UNKNOWN]

# The phone's text in the report that started pairsim, quoted on purpose rather than read from the catalogue.
SEED_PHONE_COPY = "Setup failed. Couldn't finish secure setup. Try again."


def test_every_error_code_has_phone_copy() -> None:
    assert set(PHONE_ERRORS) == set(ErrorCode)


@pytest.mark.parametrize("code", TYPED_CAUSES, ids=str)
def test_typed_cause_is_not_the_generic_fallback(code: ErrorCode) -> None:
    copy = PHONE_ERRORS[code]
    assert copy.body != GENERIC_SETUP_FAILURE
    assert GENERIC_SETUP_FAILURE not in copy.body
    assert copy.title != PHONE_ERRORS[ErrorCode.UNKNOWN].title
    assert copy.actions, f"{code} gives the user nothing to do"


def test_typed_causes_do_not_share_copy() -> None:
    bodies = [PHONE_ERRORS[code].body for code in TYPED_CAUSES]
    assert len(set(bodies)) == len(bodies)


def test_seed_copy_is_present_verbatim_as_the_fallback() -> None:
    assert GENERIC_SETUP_FAILURE == SEED_PHONE_COPY
    assert PHONE_ERRORS[ErrorCode.UNKNOWN].body == SEED_PHONE_COPY


def test_no_code_gets_the_generic_fallback() -> None:
    assert phone_error(None) == PHONE_ERRORS[ErrorCode.UNKNOWN]


def test_mfa_copy_says_what_to_do_on_every_surface() -> None:
    assert "multi-factor authentication" in PHONE_ERRORS[ErrorCode.MFA_REQUIRED].body
    assert "enable MFA" in messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED]
    assert "Enable MFA" in messages.DOCTOR_BLOCKED[ErrorCode.MFA_REQUIRED].action


@pytest.mark.parametrize("name", sorted(messages.PHONE_SCREENS))
def test_phone_screens_fill_their_placeholders(name: str) -> None:
    # Every screen must render with the fields the phone has; a typo'd placeholder would raise KeyError here.
    fields = {"server_name": "Dana's MacBook Pro", "thread_count": 3, "command": "pytest", "cwd": "/repo",
              "path": "src/app.py", "decision_text": "You approved this request.", "project": "login-service",
              "host": "devbox"}
    copy = messages.PHONE_SCREENS[name]
    rendered = [copy.title.format(**fields), copy.body.format(**fields)]
    assert all("{" not in text for text in rendered)
