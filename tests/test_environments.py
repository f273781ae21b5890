import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.backend.environments import (
    CLAIMS_PER_MINUTE,
    PAIRING_CODE_TTL,
    REMOTE_CONTROL_TOKEN_TTL,
    ClaimError,
    ClaimRequest,
    ClientRevoked,
    DeviceInfo,
    EnrollmentRequest,
    InvalidRequest,
    NotFound,
    RemoteControlError,
    RemoteControlStore,
    Unauthorized,
    normalise_manual_code,
)
from simulators.clock import FrozenClock
from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import ErrorCode


def _enroll_request(
    user: str = "user-dana", account: str = "acct-personal", install: str = "inst-1", generation: int = 0
) -> EnrollmentRequest:
    return EnrollmentRequest(
        credentials_generation=generation,
        chatgpt_user_id=user,
        chatgpt_account_id=account,
        installation_id=install,
        name="dana-mac",
        os="macos",
        arch="aarch64",
        app_server_version="0.169.0",
    )


def _device(key: DeviceKey | None = None) -> DeviceInfo:
    key = key or DeviceKey.generate()
    return DeviceInfo(
        device_public_key=key.public_key_base64,
        display_name="Dana's phone",
        device_type="phone",
        platform="ios",
        os_version="18.1",
        device_model="iPhone16,1",
        app_version="1.2.3",
    )


def _claim(
    code: str,
    device: DeviceInfo,
    *,
    user: str = "user-dana",
    account: str = "acct-personal",
    env: str | None = None,
    manual: bool = False,
    policy_ok: bool = True,
) -> ClaimRequest:
    return ClaimRequest(
        chatgpt_user_id=user,
        chatgpt_account_id=account,
        pairing_code=None if manual else code,
        manual_pairing_code=code if manual else None,
        environment_id=env,
        device=device,
        workspace_allows_remote_control=policy_ok,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> RemoteControlStore:
    return RemoteControlStore(clock)


def test_enroll_reuses_environment_of_same_workspace_and_installation(store: RemoteControlStore) -> None:
    first = store.enroll(_enroll_request())
    second = store.enroll(_enroll_request())
    other_install = store.enroll(_enroll_request(install="inst-2"))
    other_workspace = store.enroll(_enroll_request(account="acct-team"))
    assert second.environment_id == first.environment_id
    assert second.server_id != first.server_id
    assert second.remote_control_token != first.remote_control_token
    assert len({first.environment_id, other_install.environment_id, other_workspace.environment_id}) == 3
    # The newer enrollment supersedes the older one.
    assert store.enrollment(first.server_id).revoked
    with pytest.raises(Unauthorized):
        store.authenticate_server(first.remote_control_token)
    assert store.authenticate_server(second.remote_control_token).server_id == second.server_id


def test_ids_and_expiry(store: RemoteControlStore, clock: FrozenClock) -> None:
    enrollment = store.enroll(_enroll_request())
    assert enrollment.server_id.startswith("srv_")
    assert enrollment.environment_id.startswith("env_")
    assert enrollment.expires_at == clock.now() + REMOTE_CONTROL_TOKEN_TTL
    clock.advance(REMOTE_CONTROL_TOKEN_TTL)
    with pytest.raises(Unauthorized):
        store.authenticate_server(enrollment.remote_control_token)


def test_refresh_issues_new_token_and_rejects_mismatches(
    store: RemoteControlStore, clock: FrozenClock
) -> None:
    enrollment = store.enroll(_enroll_request())
    clock.advance(100)
    refreshed = store.refresh(enrollment.server_id, "inst-1", "user-dana")
    assert (refreshed.server_id, refreshed.environment_id) == (
        enrollment.server_id,
        enrollment.environment_id,
    )
    assert refreshed.remote_control_token != enrollment.remote_control_token
    assert refreshed.expires_at == clock.now() + REMOTE_CONTROL_TOKEN_TTL
    with pytest.raises(Unauthorized):
        store.authenticate_server(enrollment.remote_control_token)
    for server_id, install, user in [
        ("srv_unknown", "inst-1", "user-dana"),
        (enrollment.server_id, "inst-other", "user-dana"),
        (enrollment.server_id, "inst-1", "user-eve"),
    ]:
        with pytest.raises(NotFound):
            store.refresh(server_id, install, user)


def test_password_change_revokes_every_enrollment_made_with_the_old_password(store: RemoteControlStore) -> None:
    mine = [store.enroll(_enroll_request(install=f"inst-{i}")) for i in range(2)]
    theirs = store.enroll(_enroll_request(user="user-eve", account="acct-eve"))
    made_since = store.enroll(_enroll_request(install="inst-new", generation=1))
    revoked = store.revoke_user_enrollments("user-dana", 1)
    assert {e.server_id for e in revoked} == {e.server_id for e in mine}
    # A daemon that enrolled with the new password before the change was noticed keeps working.
    assert store.authenticate_server(made_since.remote_control_token).server_id == made_since.server_id
    for enrollment in mine:
        with pytest.raises(NotFound):
            store.refresh(enrollment.server_id, enrollment.installation_id, "user-dana")
        with pytest.raises(NotFound):
            store.server_for_relay(enrollment.server_id, enrollment.remote_control_token)
    assert store.authenticate_server(theirs.remote_control_token).server_id == theirs.server_id
    assert store.revoke_user_enrollments("user-dana", 1) == ()


def test_relay_handshake_distinguishes_unknown_server_from_bad_token(store: RemoteControlStore) -> None:
    enrollment = store.enroll(_enroll_request())
    assert store.server_for_relay(enrollment.server_id, enrollment.remote_control_token) == enrollment
    with pytest.raises(NotFound):
        store.server_for_relay("srv_nope", enrollment.remote_control_token)
    with pytest.raises(Unauthorized):
        store.server_for_relay(enrollment.server_id, "wrong-token")


def test_pairing_codes_have_the_documented_shape(store: RemoteControlStore, clock: FrozenClock) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=True)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", code.pairing_code)
    assert code.manual_pairing_code is not None
    assert re.fullmatch(r"[A-Z]{4}-[0-9]{4}", code.manual_pairing_code)
    assert code.expires_at == clock.now() + PAIRING_CODE_TTL
    assert store.start_pairing(enrollment, manual_code=False).manual_pairing_code is None
    assert code.pairing_code not in repr(code)


def test_pairing_status_by_either_code(store: RemoteControlStore) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=True)
    assert code.manual_pairing_code is not None
    assert store.pairing_status(enrollment, pairing_code=code.pairing_code) is False
    store.claim(_claim(code.pairing_code, _device()))
    assert store.pairing_status(enrollment, pairing_code=code.pairing_code) is True
    assert store.pairing_status(enrollment, manual_pairing_code=code.manual_pairing_code.lower()) is True
    with pytest.raises(InvalidRequest):
        store.pairing_status(enrollment, pairing_code=code.pairing_code, manual_pairing_code="ABCD-1234")
    with pytest.raises(InvalidRequest):
        store.pairing_status(enrollment)
    other = store.enroll(_enroll_request(install="inst-2"))
    with pytest.raises(NotFound):
        store.pairing_status(other, pairing_code=code.pairing_code)


def test_claim_issues_a_client_and_is_idempotent_for_the_same_key(store: RemoteControlStore) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=True)
    key = DeviceKey.generate()
    client = store.claim(_claim(code.pairing_code, _device(key)))
    assert client.client_id.startswith("cli_")
    assert client.environment_id == enrollment.environment_id
    again = store.claim(_claim(code.pairing_code, _device(key)))
    assert again.client_id == client.client_id
    assert store.authenticate_client(client.client_id, client.client_session_token) == client


def _claim_error(store: RemoteControlStore, request: ClaimRequest) -> ClaimError | RemoteControlError:
    before = store.snapshot()
    with pytest.raises(RemoteControlError) as info:
        store.claim(request)
    assert store.snapshot() == before, "a refused claim must not change stored state"
    return info.value


def test_claim_refusals_follow_the_contract_table(store: RemoteControlStore, clock: FrozenClock) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=False)
    other_env = store.enroll(_enroll_request(install="inst-2")).environment_id
    device = _device()

    error = _claim_error(store, _claim("no-such-code-xxxxxxxxxxxxxxxxxxxx", device))
    assert (error.status, error.code) == (404, ErrorCode.NOT_A_PAIRING_CODE)
    error = _claim_error(store, _claim(code.pairing_code, device, env=other_env))
    assert (error.status, error.code) == (400, ErrorCode.NOT_A_PAIRING_CODE)
    error = _claim_error(store, _claim(code.pairing_code, device, user="user-eve"))
    assert (error.status, error.code) == (403, ErrorCode.ACCOUNT_MISMATCH)
    error = _claim_error(store, _claim(code.pairing_code, device, account="acct-team"))
    assert (error.status, error.code) == (403, ErrorCode.WORKSPACE_MISMATCH)
    error = _claim_error(store, _claim(code.pairing_code, device, policy_ok=False))
    assert (error.status, error.code) == (403, ErrorCode.BLOCKED_BY_POLICY)

    store.set_remote_control_disabled(enrollment.environment_id, True)
    error = _claim_error(store, _claim(code.pairing_code, device))
    assert (error.status, error.code) == (409, ErrorCode.REMOTE_CONTROL_DISABLED)
    store.set_remote_control_disabled(enrollment.environment_id, False)

    store.claim(_claim(code.pairing_code, device))
    error = _claim_error(store, _claim(code.pairing_code, _device()))
    assert (error.status, error.code) == (409, ErrorCode.PAIRING_CODE_CLAIMED)

    fresh = store.start_pairing(enrollment, manual_code=False)
    clock.advance(PAIRING_CODE_TTL)
    error = _claim_error(store, _claim(fresh.pairing_code, _device()))
    assert (error.status, error.code) == (410, ErrorCode.PAIRING_CODE_EXPIRED)


def test_expired_is_checked_before_claimed(store: RemoteControlStore, clock: FrozenClock) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=False)
    store.claim(_claim(code.pairing_code, _device()))
    clock.advance(PAIRING_CODE_TTL + 1)
    error = _claim_error(store, _claim(code.pairing_code, _device()))
    assert error.code == ErrorCode.PAIRING_CODE_EXPIRED


def test_enrollment_refusal_blocks_claims_until_an_enrollment_succeeds(store: RemoteControlStore) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=True)
    assert code.manual_pairing_code is not None
    store.revoke_user_enrollments("user-dana", 1)
    store.record_refusal("acct-personal", "inst-1", ErrorCode.MFA_REQUIRED)
    assert store.environment(enrollment.environment_id).last_refusal == ErrorCode.MFA_REQUIRED
    error = _claim_error(store, _claim(code.manual_pairing_code, _device(), manual=True))
    assert (error.status, error.code) == (403, ErrorCode.MFA_REQUIRED)
    store.enroll(_enroll_request())
    assert store.environment(enrollment.environment_id).last_refusal is None
    assert store.claim(_claim(code.manual_pairing_code, _device(), manual=True)).client_id


def test_refusal_before_first_enrollment_is_remembered_and_cleared(store: RemoteControlStore) -> None:
    store.record_refusal("acct-personal", "inst-1", ErrorCode.REGION_UNAVAILABLE)
    store.record_refusal("acct-personal", "inst-1", ErrorCode.SESSION_EXPIRED)  # not an enrollment refusal
    assert store.pending_refusal("acct-personal", "inst-1") == ErrorCode.REGION_UNAVAILABLE
    store.enroll(_enroll_request())
    assert store.pending_refusal("acct-personal", "inst-1") is None


def test_claims_are_rate_limited_per_user(store: RemoteControlStore, clock: FrozenClock) -> None:
    for _ in range(CLAIMS_PER_MINUTE):
        with pytest.raises(RemoteControlError) as info:
            store.claim(_claim("x" * 40, _device()))
        assert info.value.code == ErrorCode.NOT_A_PAIRING_CODE
    with pytest.raises(RemoteControlError) as info:
        store.claim(_claim("x" * 40, _device()))
    assert (info.value.status, info.value.code) == (429, ErrorCode.RATE_LIMITED)
    assert info.value.retry_after is not None and 1 <= info.value.retry_after <= 60
    with pytest.raises(RemoteControlError) as info:  # another user is not affected
        store.claim(_claim("x" * 40, _device(), user="user-eve"))
    assert info.value.code == ErrorCode.NOT_A_PAIRING_CODE
    clock.advance(60)
    with pytest.raises(RemoteControlError) as info:
        store.claim(_claim("x" * 40, _device()))
    assert info.value.code == ErrorCode.NOT_A_PAIRING_CODE


def test_expire_pairing_codes_now(store: RemoteControlStore) -> None:
    enrollment = store.enroll(_enroll_request())
    code = store.start_pairing(enrollment, manual_code=False)
    assert store.expire_pairing_codes_now(enrollment.environment_id) == 1
    error = _claim_error(store, _claim(code.pairing_code, _device()))
    assert error.code == ErrorCode.PAIRING_CODE_EXPIRED


def _paired_clients(store: RemoteControlStore, count: int) -> tuple[str, list[str]]:
    enrollment = store.enroll(_enroll_request())
    ids = []
    for _ in range(count):
        code = store.start_pairing(enrollment, manual_code=False)
        ids.append(store.claim(_claim(code.pairing_code, _device())).client_id)
    return enrollment.environment_id, ids


def test_client_list_pages_in_both_orders(store: RemoteControlStore, clock: FrozenClock) -> None:
    env_id, ids = _paired_clients(store, 5)
    for order, expected in (("asc", ids), ("desc", ids[::-1])):
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list_clients(env_id, cursor=cursor, limit=2, order=order)  # type: ignore[arg-type]
            seen.extend(c.client_id for c in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected
    with pytest.raises(InvalidRequest):
        store.list_clients(env_id, cursor="garbage!")
    with pytest.raises(InvalidRequest):
        store.list_clients(env_id, limit=0)
    with pytest.raises(NotFound):
        store.list_clients("env_missing")


def test_revoked_client_disappears_and_cannot_authenticate(store: RemoteControlStore) -> None:
    env_id, ids = _paired_clients(store, 2)
    client = store.client(ids[0])
    store.revoke_client(env_id, ids[0])
    assert [c.client_id for c in store.list_clients(env_id).items] == [ids[1]]
    # A removed phone that comes back with its credentials is told so (403), unlike one never known (404).
    with pytest.raises(ClientRevoked) as revoked:
        store.authenticate_client(ids[0], client.client_session_token)
    assert (revoked.value.status, revoked.value.message) == (403, "Remote-control client has been revoked")
    with pytest.raises(ClientRevoked):
        store.client_of(env_id, ids[0])
    assert store.client_of(env_id, ids[1]).client_id == ids[1]
    with pytest.raises(NotFound):
        store.revoke_client(env_id, ids[0])
    with pytest.raises(Unauthorized):
        store.authenticate_client(ids[1], client.client_session_token)


def test_client_session_expires(store: RemoteControlStore, clock: FrozenClock) -> None:
    _, ids = _paired_clients(store, 1)
    client = store.client(ids[0])
    clock.advance(client.session_expires_at - clock.now())
    with pytest.raises(Unauthorized):
        store.authenticate_client(client.client_id, client.client_session_token)


@given(st.text(max_size=20))
def test_manual_code_normalisation_never_raises(value: str) -> None:
    result = normalise_manual_code(value)
    assert isinstance(result, str)


@given(st.text(max_size=40))
def test_arbitrary_cursor_is_a_typed_error_or_a_page(cursor: str) -> None:
    store = RemoteControlStore(FrozenClock())
    env_id = store.enroll(_enroll_request()).environment_id
    try:
        page = store.list_clients(env_id, cursor=cursor)
    except InvalidRequest as exc:
        assert exc.code == ErrorCode.PROTOCOL_VIOLATION
    else:
        assert page.items == ()
