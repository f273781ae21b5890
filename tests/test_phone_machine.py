"""The phone's setup state machine: every legal transition, every illegal one, the screens and the clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators import messages
from simulators.clock import FrozenClock
from simulators.phone import screens
from simulators.phone.machine import (
    STATE_SCREENS,
    TRANSITIONS,
    InvalidTransition,
    PhoneEvent,
    PhoneMachine,
    PhoneState,
)
from simulators.protocol.errors import ErrorCode, PairsimError

S = PhoneState
E = PhoneEvent

HAPPY_PATH: list[PhoneEvent] = [
    E.QR_DECODED,
    E.LINK_ACCEPTED,
    E.BROWSER_OPENED,
    E.CREDENTIALS_SUBMITTED,
    E.MFA_REQUESTED,
    E.WORKSPACE_CHOICE_SHOWN,
    E.CONSENT_SHOWN,
    E.AUTHORIZATION_CODE_RECEIVED,
    E.TOKENS_RECEIVED,
    E.CLAIM_ACCEPTED,
    E.SOCKET_OPENED,
    E.DEVICE_KEY_ACCEPTED,
    E.SESSION_INITIALIZED,
    E.LIVE_STATE_LOADED,
]
HAPPY_STATES = [
    S.SCANNED,
    S.LINK_VALIDATED,
    S.BROWSER_OPEN,
    S.SIGNING_IN,
    S.MFA_CHALLENGE,
    S.CHOOSING_WORKSPACE,
    S.CONSENTING,
    S.AUTHORIZED,
    S.TOKENS_EXCHANGED,
    S.CLAIMED,
    S.SOCKET_OPEN,
    S.DEVICE_PROVEN,
    S.INITIALIZED,
    S.LIVE,
]


def apply(machine: PhoneMachine, event: PhoneEvent) -> PhoneState:
    if event is E.LINK_ACCEPTED:
        return machine.accept_link("Dana's MacBook Pro")
    if event is E.CREDENTIALS_RESTORED:
        return machine.restore_credentials("Dana's MacBook Pro")
    return machine.fire(event)


def machine_in(state: PhoneState, clock: FrozenClock | None = None) -> PhoneMachine:
    """A machine driven along the happy path (or to failed) until it reaches `state`."""
    machine = PhoneMachine(clock or FrozenClock())
    if state is S.FAILED:
        machine.fail(ErrorCode.HOST_OFFLINE)
        return machine
    # A paired phone waits for its Mac after it was live: the happy path, then the Mac leaves the relay.
    path = [*HAPPY_PATH, E.HOST_WENT_OFFLINE] if state is S.WAITING_FOR_HOST else HAPPY_PATH
    for event in path:
        if machine.state is state:
            break
        apply(machine, event)
    assert machine.state is state
    return machine


def test_the_happy_path_visits_every_setup_state_in_order() -> None:
    machine = PhoneMachine(FrozenClock())
    visited = [apply(machine, event) for event in HAPPY_PATH]
    assert visited == HAPPY_STATES
    assert machine.is_live
    assert [t.event for t in machine.transitions] == HAPPY_PATH


def test_every_transition_is_recorded_with_the_clock_time() -> None:
    clock = FrozenClock(instant=1_800_000_000.0)
    machine = PhoneMachine(clock)
    for step, event in enumerate(HAPPY_PATH):
        clock.advance(1.5)
        apply(machine, event)
        assert machine.transitions[step].at == 1_800_000_000.0 + 1.5 * (step + 1)
    first = machine.transitions[0]
    assert (first.from_state, first.to_state, first.event) == (S.IDLE, S.SCANNED, E.QR_DECODED)
    assert first.to_dict() == {"from": "idle", "to": "scanned", "event": "qr_decoded", "at": 1_800_000_001.5}


@pytest.mark.parametrize(("source", "event"), sorted(TRANSITIONS, key=str))
def test_each_table_transition_is_legal_from_its_source(source: PhoneState, event: PhoneEvent) -> None:
    machine = _machine_at(source)
    assert apply(machine, event) is TRANSITIONS[(source, event)]
    assert machine.transitions[-1].from_state is source


def _machine_at(state: PhoneState) -> PhoneMachine:
    # Sign-in pages and the connected states are reachable along the happy path; FAILED by failing.
    return machine_in(state)


ALL_PAIRS = [
    (state, event)
    for state in PhoneState
    for event in PhoneEvent
    if event not in (E.FAILURE,) and (state, event) not in TRANSITIONS
]


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=[f"{s}-{e}" for s, e in ALL_PAIRS])
def test_events_outside_the_table_raise_a_typed_error_and_change_nothing(
    state: PhoneState, event: PhoneEvent
) -> None:
    machine = machine_in(state)
    before = (machine.state, len(machine.transitions), len(machine.screens))
    with pytest.raises(InvalidTransition) as caught:
        apply(machine, event)
    assert isinstance(caught.value, PairsimError)
    assert caught.value.state is state and caught.value.event is event
    assert (machine.state, len(machine.transitions), len(machine.screens)) == before


def test_pages_the_issuer_skips_may_be_skipped() -> None:
    machine = machine_in(S.SIGNING_IN)
    machine.fire(E.AUTHORIZATION_CODE_RECEIVED)  # no MFA, one workspace, consent remembered
    assert machine.state is S.AUTHORIZED
    machine = machine_in(S.MFA_CHALLENGE)
    machine.fire(E.CONSENT_SHOWN)
    assert machine.state is S.CONSENTING


@pytest.mark.parametrize("event", [E.MFA_REQUESTED, E.WORKSPACE_CHOICE_SHOWN, E.CONSENT_SHOWN])
def test_a_browser_still_signed_in_skips_the_password(event: PhoneEvent) -> None:
    # A shared web-authentication session is asked no password; one lacking MFA is asked the code (step-up).
    machine = machine_in(S.BROWSER_OPEN)
    machine.fire(event)
    assert machine.state is {E.MFA_REQUESTED: S.MFA_CHALLENGE, E.WORKSPACE_CHOICE_SHOWN: S.CHOOSING_WORKSPACE,
                             E.CONSENT_SHOWN: S.CONSENTING}[event]


def test_a_sign_in_page_cannot_go_backwards() -> None:
    machine = machine_in(S.CONSENTING)
    with pytest.raises(InvalidTransition):
        machine.fire(E.MFA_REQUESTED)
    with pytest.raises(InvalidTransition):
        machine.fire(E.WORKSPACE_CHOICE_SHOWN)


@pytest.mark.parametrize("state", [s for s in PhoneState if s is not S.FAILED])
def test_any_state_but_failed_can_fail(state: PhoneState) -> None:
    machine = machine_in(state)
    assert machine.fail(ErrorCode.PAIRING_CODE_CLAIMED, "409 from claim") is S.FAILED
    assert machine.error_code is ErrorCode.PAIRING_CODE_CLAIMED
    assert machine.error_detail == "409 from claim"
    assert machine.transitions[-1].event is E.FAILURE


def test_failing_twice_is_an_invalid_transition_and_keeps_the_first_cause() -> None:
    machine = machine_in(S.FAILED)
    with pytest.raises(InvalidTransition):
        machine.fail(ErrorCode.MFA_REQUIRED)
    assert machine.error_code is ErrorCode.HOST_OFFLINE


def test_fire_refuses_events_that_carry_data() -> None:
    machine = machine_in(S.SCANNED)
    with pytest.raises(InvalidTransition):
        machine.fire(E.LINK_ACCEPTED)
    with pytest.raises(InvalidTransition):
        machine.fire(E.FAILURE)
    assert machine.state is S.SCANNED
    with pytest.raises(InvalidTransition):
        PhoneMachine(FrozenClock()).fire(E.CREDENTIALS_RESTORED)


def test_an_app_with_stored_credentials_starts_claimed_and_shows_the_securing_screen() -> None:
    machine = PhoneMachine(FrozenClock())
    assert machine.restore_credentials("Dana's MacBook Pro") is S.CLAIMED
    assert machine.server_name == "Dana's MacBook Pro"
    assert machine.screen == screens.render("securing", server_name="Dana's MacBook Pro")
    with pytest.raises(InvalidTransition):
        machine.restore_credentials("Dana's Mac Studio")  # only a fresh app restores
    assert machine.server_name == "Dana's MacBook Pro"


def test_restart_clears_the_failure_and_shows_the_scan_screen() -> None:
    machine = machine_in(S.FAILED)
    machine.fire(E.RESTART)
    assert machine.state is S.IDLE
    assert machine.error_code is None and machine.server_name is None
    assert machine.screen == screens.render("scan")


@pytest.mark.parametrize("state", [S.SOCKET_OPEN, S.DEVICE_PROVEN, S.INITIALIZED, S.LIVE])
def test_a_lost_socket_goes_back_to_claimed_so_the_phone_can_reconnect(state: PhoneState) -> None:
    machine = machine_in(state)
    assert machine.fire(E.CONNECTION_LOST) is S.CLAIMED
    assert machine.fire(E.SOCKET_OPENED) is S.SOCKET_OPEN


# ------------------------------------------------------------------------------------------------ screens


@pytest.mark.parametrize("state", [s for s in PhoneState if s is not S.FAILED])
def test_each_state_shows_its_catalogue_screen(state: PhoneState) -> None:
    machine = machine_in(state)
    expected = messages.PHONE_SCREENS[STATE_SCREENS[state]]
    server = machine.server_name or ""
    assert machine.screen.title == expected.title.format(server_name=server)
    assert machine.screen.body == expected.body.format(server_name=server)
    assert machine.screen.actions == expected.actions


def test_the_screens_the_user_saw_are_recorded_once_each_in_order() -> None:
    machine = machine_in(S.LIVE)
    names = [shown.screen.name for shown in machine.screens]
    assert names == ["scan", "confirm_host", "signing_in", "securing", "paired"]
    assert machine.screens[1].screen.title == "Connect to Dana's MacBook Pro?"
    assert machine.screen.title == "Connected to Dana's MacBook Pro"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_shows_its_own_catalogue_copy(code: ErrorCode) -> None:
    machine = machine_in(S.CLAIMED)
    # The fields a cause's copy names (a Mac too old names both versions); other copy has none to fill.
    fields = {"current_version": "0.128.0", "minimum_version": "0.129.0-alpha.6"}
    machine.fail(code, fields=fields)
    copy = messages.PHONE_ERRORS[code]
    assert (machine.screen.title, machine.screen.body, machine.screen.actions) == (
        copy.title,
        copy.body.format(**fields),
        copy.actions,
    )
    assert machine.screen.name == f"error:{code.value}"
    if code is not ErrorCode.UNKNOWN:
        assert machine.screen.body != messages.GENERIC_SETUP_FAILURE


def test_an_absent_cause_is_the_only_way_to_the_generic_fallback() -> None:
    machine = machine_in(S.TOKENS_EXCHANGED)
    machine.fail(None, "HTTP 403 {detail only}")
    assert machine.error_code is ErrorCode.UNKNOWN
    assert machine.screen.body == messages.GENERIC_SETUP_FAILURE


@pytest.mark.parametrize("state", [s for s in PhoneState if s is not S.FAILED])
def test_todays_app_names_no_cause_only_whether_the_claim_or_the_setup_failed(state: PhoneState) -> None:
    machine = PhoneMachine(FrozenClock(), failure_copy=screens.FailureCopy.STAGE_ONLY)
    for event in HAPPY_PATH:
        if machine.state is state:
            break
        apply(machine, event)
    machine.fail(ErrorCode.MFA_REQUIRED, "the backend named the cause, today's app does not show it")
    claim = state is S.TOKENS_EXCHANGED
    expected = messages.LEGACY_PAIRING_FAILURE if claim else messages.LEGACY_SETUP_FAILURE
    assert (machine.screen.title, machine.screen.body) == (expected.title, expected.body)
    assert machine.error_code is ErrorCode.MFA_REQUIRED  # what happened stays known, for reports


def test_mfa_required_is_not_the_generic_message() -> None:
    machine = machine_in(S.TOKENS_EXCHANGED)
    machine.fail(ErrorCode.MFA_REQUIRED)
    assert machine.screen.title == "Turn on multi-factor authentication"
    assert "Setup failed" not in machine.screen.body


def test_live_screens_need_a_live_machine() -> None:
    machine = machine_in(S.INITIALIZED)
    with pytest.raises(InvalidTransition):
        machine.show_threads(3)
    machine.fire(E.LIVE_STATE_LOADED)
    assert machine.show_threads(3).body == "3 threads"
    assert machine.screen.title == "Dana's MacBook Pro"
    decided = machine.show_decision("decline")
    assert decided.body == messages.DECISION_TEXT["decline"]
    approval = screens.command_approval_screen("npm test", "/src/app")
    machine.show_approval(approval)
    assert machine.screen.body == "Codex wants to run `npm test` in /src/app."
    assert machine.state is S.LIVE


def test_screens_are_timestamped_from_the_clock() -> None:
    clock = FrozenClock(instant=100.0)
    machine = PhoneMachine(clock)
    clock.advance(7)
    machine.fire(E.QR_DECODED)  # same screen: nothing new shown
    clock.advance(3)
    machine.accept_link("Mac")
    assert [s.at for s in machine.screens] == [100.0, 110.0]


def test_to_dict_is_plain_json_data() -> None:
    import json

    machine = machine_in(S.FAILED)
    data = json.loads(json.dumps(machine.to_dict()))
    assert data["state"] == "failed" and data["error_code"] == "host_offline"
    assert data["screens"][-1]["title"] == messages.PHONE_ERRORS[ErrorCode.HOST_OFFLINE].title


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(PhoneEvent)), max_size=30))
def test_any_event_sequence_keeps_the_machine_consistent(events: list[PhoneEvent]) -> None:
    machine = PhoneMachine(FrozenClock())
    for event in events:
        before = machine.state
        legal = machine.can(event)
        try:
            if event is E.FAILURE:
                machine.fail(ErrorCode.RATE_LIMITED)
            else:
                apply(machine, event)
        except InvalidTransition:
            assert not legal
            assert machine.state is before
            continue
        assert legal
    # The log chains: each transition starts where the previous one ended.
    for earlier, later in zip(machine.transitions, machine.transitions[1:], strict=False):
        assert earlier.to_state is later.from_state
    if machine.transitions:
        assert machine.transitions[-1].to_state is machine.state


def test_a_live_phone_waits_for_its_mac_and_carries_on_when_it_is_back() -> None:
    machine = machine_in(S.WAITING_FOR_HOST)
    assert (machine.screen.title, machine.screen.body) == ("Waiting for desktop", "Waiting for computer response")
    assert apply(machine, E.HOST_BACK) is S.LIVE
    assert machine.is_live
