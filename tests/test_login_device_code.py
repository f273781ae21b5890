"""Device code: the backend's authorization state machine (plain values, frozen clock), the client's parsing, and
a full device login over real sockets with the waiting injected."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.backend.admin import BackendControl
from simulators.backend.device_auth import DeviceAuthRegistry, DeviceAuthStatus, normalise_user_code
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.browser import Browser
from simulators.clock import FrozenClock
from simulators.login.callback_server import LoginFailed
from simulators.login.credential_store import open_store
from simulators.login.device_code import DeviceCodeLogin, parse_usercode_response
from simulators.login.user import Person, enter_device_code
from simulators.protocol.oauth import CLIENT_ID

USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[0-9]{4}$")


@pytest.fixture
def devices() -> DeviceAuthRegistry:
    registry = BackendState.create(FrozenClock(), seed=3).device_auth
    registry.configure(interval_s=5)
    return registry


def test_codes_have_the_one_time_format(devices: DeviceAuthRegistry) -> None:
    codes = {devices.start(CLIENT_ID).user_code for _ in range(50)}
    assert all(USER_CODE.match(c) for c in codes) and len(codes) > 45


def test_poll_state_machine(devices: DeviceAuthRegistry) -> None:
    record = devices.start(CLIENT_ID)
    clock = devices.clock
    assert devices.poll(record.device_auth_id, "WRONG-0000").status == 404
    first = devices.poll(record.device_auth_id, record.user_code)
    assert (first.status, first.body["error"]["code"]) == (403, "deviceauth_authorization_pending")
    too_fast = devices.poll(record.device_auth_id, record.user_code)
    assert (too_fast.status, too_fast.body["error"]["code"]) == (403, "slow_down")
    clock.advance(5)
    assert devices.poll(record.device_auth_id, record.user_code).body["error"]["code"] == (
        "deviceauth_authorization_pending"
    )
    devices.settle(record, code="auth-code")
    granted = devices.poll(record.device_auth_id, record.user_code)
    assert granted.status == 200 and granted.body["authorization_code"] == "auth-code"
    assert granted.body["code_verifier"] == record.pkce.verifier
    again = devices.poll(record.device_auth_id, record.user_code)
    assert again.status == 400 and record.status is DeviceAuthStatus.REDEEMED


def test_denied_and_expired(devices: DeviceAuthRegistry) -> None:
    denied = devices.start(CLIENT_ID)
    devices.settle(denied, code=None)
    assert devices.poll(denied.device_auth_id, denied.user_code).body["error"]["code"] == "access_denied"
    expiring = devices.start(CLIENT_ID)
    assert devices.pending_by_user_code(expiring.user_code.lower().replace("-", " ")) is expiring
    devices.clock.advance(15 * 60)
    assert devices.pending_by_user_code(expiring.user_code) is None
    answer = devices.poll(expiring.device_auth_id, expiring.user_code)
    assert (answer.status, answer.body["error"]["code"]) == (404, "expired_token")


@given(st.text(max_size=40))
def test_normalising_typed_codes_never_fails(text: str) -> None:
    assert isinstance(normalise_user_code(text), str)


def test_usercode_response_parsing() -> None:
    code = parse_usercode_response({"device_auth_id": "d", "usercode": "ABCD-1234", "interval": "7"}, "http://i")
    assert (code.user_code, code.interval_s, code.verification_url) == ("ABCD-1234", 7, "http://i/codex/device")
    for bad in ({"device_auth_id": "d", "user_code": "X", "interval": 5}, {"user_code": "X"}, [], None):
        with pytest.raises(LoginFailed):
            parse_usercode_response(bad, "http://i")


def _check_usercode_contract(body: object) -> None:
    """A usable code exactly when the answer is a JSON object with a non-empty string `device_auth_id`, a non-empty
    string `user_code` (or `usercode`) and an `interval` that is a string of digits (5 when absent); otherwise the
    typed refusal."""
    fields = body if isinstance(body, dict) else {}
    device_auth_id = fields.get("device_auth_id")
    user_code = fields.get("user_code", fields.get("usercode"))
    interval = fields.get("interval", "5")
    acceptable = (
        isinstance(body, dict)
        and isinstance(device_auth_id, str) and device_auth_id != ""
        and isinstance(user_code, str) and user_code != ""
        and isinstance(interval, str) and interval.strip().isascii() and interval.strip().isdigit()
    )
    try:
        code = parse_usercode_response(body, "http://i")
    except LoginFailed as exc:
        assert not acceptable, body
        assert exc.message.startswith("failed to request device code: ")
        return
    assert acceptable, body
    assert (code.device_auth_id, code.user_code, code.interval_s) == (device_auth_id, user_code, int(interval.strip()))
    assert code.verification_url == "http://i/codex/device"


_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.from_regex(r"\A\s*[0-9]{1,4}\s*\Z")


@given(st.one_of(st.none(), st.text(), st.integers(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.sampled_from(["device_auth_id", "user_code", "usercode", "interval"])
                                 | st.text(max_size=12), _VALUES, max_size=6)))
def test_usercode_response_any_shape(body: object) -> None:
    _check_usercode_contract(body)


@given(st.fixed_dictionaries(
    {"device_auth_id": st.text(min_size=1, max_size=8) | _VALUES, "user_code": st.text(min_size=1, max_size=8) | _VALUES},
    optional={"interval": _VALUES},
))
def test_usercode_response_shaped_like_the_real_one(body: dict[str, object]) -> None:
    """Answers with the real fields, each of them sometimes of the wrong type or empty: both outcomes happen."""
    _check_usercode_contract(body)


def test_device_login_end_to_end_with_injected_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = BackendState.create(seed=4)
        async with BackendServer(state) as server:
            created = BackendControl(state).create_account(device_code_enabled=True, mfa=True)
            waits: list[float] = []

            async def sleep(seconds: float) -> None:
                waits.append(seconds)
                await asyncio.sleep(0)

            login = DeviceCodeLogin(server.issuer_url, open_store("file", tmp_path), clock=state.clock, sleep=sleep)
            code = await login.request_code()
            task = asyncio.create_task(login.complete())
            async with Browser() as browser:
                person = Person(created.account.email, created.password, created.totp_secret)
                page = await enter_device_code(browser, server.issuer_url, code.user_code, person, state.clock)
            assert page.data["page"] == "device_approved"
            result = await asyncio.wait_for(task, 10)
            assert result.account_id == created.account.account_id
            assert set(waits) == {5.0}
            assert BackendControl(state).sessions(created.account.account_id)[-1].mfa_assured

    asyncio.run(scenario())


def test_device_login_times_out_on_the_injected_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        state = BackendState.create(FrozenClock(), seed=5)
        async with BackendServer(state) as server:
            clock = state.clock

            async def sleep(seconds: float) -> None:
                clock.advance(seconds)  # every wait takes its full time, on the scenario's clock

            login = DeviceCodeLogin(server.issuer_url, open_store("file", tmp_path), clock=clock, sleep=sleep)
            with pytest.raises(LoginFailed, match=r"^device auth timed out after 15 minutes$"):
                await login.complete()
            assert sum(login.waits) == 15 * 60

    asyncio.run(scenario())
