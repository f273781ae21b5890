"""Accounts: seeded generation, hashed passwords, TOTP MFA against the clock, security operations, sessions
and refresh-token rotation."""

from __future__ import annotations

import threading

import pyotp
import pytest

from simulators.backend.accounts import (
    MAX_MFA_FAILURES,
    MFA_LOCKOUT_SECONDS,
    REFRESH_TOKEN_TTL_SECONDS,
    AccountFactory,
    AccountSpec,
    AccountStore,
    InvalidAccountChange,
    MfaOutcome,
    Plan,
    RefreshFailure,
    RefreshGrantRecord,
    RefreshTokenRejected,
    Region,
    TeamWorkspaceSpec,
    UnknownAccount,
    UnknownWorkspace,
    WorkspaceKind,
)
from simulators.clock import FrozenClock
from simulators.protocol.oauth import CLIENT_ID, seeded_random_bytes


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> AccountStore:
    return AccountStore(clock, AccountFactory(seed=11), random_bytes=seeded_random_bytes(11))


def test_the_same_seed_makes_the_same_people() -> None:
    def people(seed: int) -> list[tuple[str, str, str, str | None]]:
        s = AccountStore(FrozenClock(), AccountFactory(seed))
        made = [s.create(AccountSpec(mfa=True)) for _ in range(3)]
        return [(c.account.email, c.account.account_id, c.password, c.totp_secret) for c in made]

    assert people(3) == people(3)
    assert people(3) != people(4)


def test_generated_accounts_have_ids_strong_passwords_and_a_personal_workspace(store: AccountStore) -> None:
    created = store.create()
    account = created.account
    assert account.account_id.startswith("acct-") and account.user_id.startswith("user-")
    assert len(created.password) >= 12
    assert created.totp_secret is None and not account.mfa_enabled
    assert account.personal_workspace.kind is WorkspaceKind.PERSONAL
    assert account.personal_workspace.id == account.account_id
    assert account.personal_workspace.name == "Personal"
    assert account.team_workspaces == ()


def test_passwords_are_only_kept_as_scrypt_hashes(store: AccountStore) -> None:
    created = store.create(AccountSpec(mfa=True))
    dump = repr(store.__dict__) + repr(created) + repr(created.account)
    assert created.password not in dump
    assert created.totp_secret is not None and created.totp_secret not in dump
    record = store._accounts[created.account.user_id]
    assert len(record.password_hash) == 32 and created.password.encode() not in record.password_hash


def test_check_password(store: AccountStore) -> None:
    created = store.create(AccountSpec(email="Dana@Example.com", password="correct horse battery"))
    assert store.check_password("dana@example.com", "correct horse battery") == created.account
    assert store.check_password("  DANA@example.com ", "correct horse battery") == created.account
    assert store.check_password("dana@example.com", "correct horse battery!") is None
    assert store.check_password("nobody@example.com", "correct horse battery") is None


def test_short_passwords_and_duplicate_emails_are_refused(store: AccountStore) -> None:
    with pytest.raises(InvalidAccountChange):
        store.create(AccountSpec(password="short"))
    store.create(AccountSpec(email="dana@example.com"))
    with pytest.raises(InvalidAccountChange):
        store.create(AccountSpec(email="DANA@example.com"))


def test_workspace_plans_get_a_team_workspace_and_teams_keep_their_policy(store: AccountStore) -> None:
    business = store.create(AccountSpec(plan=Plan.BUSINESS)).account
    assert business.personal_workspace.plan is Plan.FREE
    assert [w.plan for w in business.team_workspaces] == [Plan.BUSINESS]
    plus = store.create(
        AccountSpec(
            plan=Plan.PLUS,
            team_workspaces=(TeamWorkspaceSpec(name="Acme Robotics", remote_control_allowed=False),),
        )
    ).account
    assert plus.personal_workspace.plan is Plan.PLUS
    team = plus.team_workspaces[0]
    assert team.name == "Acme Robotics" and not team.remote_control_allowed
    assert store.by_workspace(team.id) == (plus, team)
    with pytest.raises(UnknownWorkspace):
        store.by_workspace("acct-nope")


def test_lookups_by_account_id_user_id_and_email(store: AccountStore) -> None:
    account = store.create().account
    assert store.get(account.account_id) == store.get(account.user_id) == account
    assert store.find_by_email(account.email.upper()) == account
    with pytest.raises(UnknownAccount):
        store.get("acct-missing")


def test_totp_codes_are_checked_against_the_clock_with_one_step_of_drift(
    store: AccountStore, clock: FrozenClock
) -> None:
    created = store.create(AccountSpec(mfa=True))
    totp = created.totp()
    account_id = created.account.account_id
    assert store.verify_totp(account_id, totp.at(clock.now())) is MfaOutcome.ACCEPTED
    assert store.verify_totp(account_id, totp.at(clock.now() - 30)) is MfaOutcome.ACCEPTED
    assert store.verify_totp(account_id, totp.at(clock.now() - 90)) is MfaOutcome.REJECTED
    assert store.verify_totp(account_id, "not a code") is MfaOutcome.REJECTED


def test_too_many_wrong_codes_lock_mfa_until_the_lockout_passes(
    store: AccountStore, clock: FrozenClock
) -> None:
    created = store.create(AccountSpec(mfa=True))
    account_id = created.account.account_id
    wrong = "000000" if created.totp().at(clock.now()) != "000000" else "111111"
    outcomes = [store.verify_totp(account_id, wrong) for _ in range(MAX_MFA_FAILURES)]
    assert outcomes[:-1] == [MfaOutcome.REJECTED] * (MAX_MFA_FAILURES - 1)
    assert outcomes[-1] is MfaOutcome.LOCKED
    assert store.verify_totp(account_id, created.totp().at(clock.now())) is MfaOutcome.LOCKED
    assert store.mfa_locked(account_id)
    clock.advance(MFA_LOCKOUT_SECONDS + 1)
    assert store.verify_totp(account_id, created.totp().at(clock.now())) is MfaOutcome.ACCEPTED


def test_enable_and_disable_mfa(store: AccountStore, clock: FrozenClock) -> None:
    account_id = store.create().account.account_id
    assert store.verify_totp(account_id, "123456") is MfaOutcome.NOT_ENROLLED
    secret = store.enable_mfa(account_id)
    assert len(pyotp.TOTP(secret).byte_secret()) == 20
    assert store.get(account_id).mfa_enabled
    assert store.verify_totp(account_id, pyotp.TOTP(secret).at(clock.now())) is MfaOutcome.ACCEPTED
    assert store.enable_mfa(account_id) != secret  # a new secret each time
    assert not store.disable_mfa(account_id).mfa_enabled
    assert store.verify_totp(account_id, pyotp.TOTP(secret).at(clock.now())) is MfaOutcome.NOT_ENROLLED


def test_other_account_switches(store: AccountStore) -> None:
    account = store.create().account
    assert not store.set_mfa_enforced(account.account_id, False).mfa_enforced
    assert store.set_device_code_enabled(account.account_id, True).device_code_enabled
    updated = store.set_region(account.account_id, Region.UNSUPPORTED)
    assert updated.region is Region.UNSUPPORTED and not updated.region.remote_control_available
    workspace = store.set_workspace_policy(account.account_id, remote_control_allowed=False)
    assert not workspace.remote_control_allowed
    assert not store.get(account.account_id).personal_workspace.remote_control_allowed


def _grant(sid: str, workspace_id: str, origin: str | None = None) -> RefreshGrantRecord:
    return RefreshGrantRecord(
        sid=sid, client_id=CLIENT_ID, workspace_id=workspace_id, scopes=(), origin=origin
    )


def test_sessions_remember_their_mfa_assurance(store: AccountStore) -> None:
    account = store.create(AccountSpec(mfa=True)).account
    with_mfa = store.open_session(account.account_id, mfa_completed=True)
    without = store.open_session(account.account_id, mfa_completed=False)
    assert with_mfa.mfa_assured and with_mfa.amr == ("pwd", "otp", "mfa")
    assert not without.mfa_assured and without.amr == ("pwd",)
    assert with_mfa.sid != without.sid
    assert {s.sid for s in store.sessions_of(account.account_id)} == {with_mfa.sid, without.sid}


def test_refresh_tokens_rotate_and_a_used_one_is_reused(store: AccountStore) -> None:
    account = store.create().account
    session = store.open_session(account.account_id, mfa_completed=False)
    token = store.issue_refresh_token(_grant(session.sid, account.account_id))
    assert token.startswith("rt_")
    grant = store.redeem_refresh_token(token, CLIENT_ID)
    assert grant.sid == session.sid
    with pytest.raises(RefreshTokenRejected) as caught:
        store.redeem_refresh_token(token, CLIENT_ID)
    assert caught.value.reason is RefreshFailure.REUSED
    with pytest.raises(RefreshTokenRejected) as caught:
        store.redeem_refresh_token("rt_unknown", CLIENT_ID)
    assert caught.value.reason is RefreshFailure.UNKNOWN
    other = store.issue_refresh_token(_grant(session.sid, account.account_id))
    with pytest.raises(RefreshTokenRejected):
        store.redeem_refresh_token(other, "another-client")


def test_refresh_tokens_expire_by_the_clock(store: AccountStore, clock: FrozenClock) -> None:
    account = store.create().account
    session = store.open_session(account.account_id, mfa_completed=False)
    token = store.issue_refresh_token(_grant(session.sid, account.account_id))
    clock.advance(REFRESH_TOKEN_TTL_SECONDS)
    with pytest.raises(RefreshTokenRejected) as caught:
        store.redeem_refresh_token(token, CLIENT_ID)
    assert caught.value.reason is RefreshFailure.EXPIRED


def test_changing_the_password_revokes_every_session_and_refresh_token(store: AccountStore) -> None:
    created = store.create(AccountSpec(mfa=True))
    account = created.account
    sessions = [store.open_session(account.account_id, mfa_completed=m) for m in (True, False)]
    tokens = [store.issue_refresh_token(_grant(s.sid, account.account_id)) for s in sessions]
    bystander = store.create().account
    bystander_session = store.open_session(bystander.account_id, mfa_completed=False)
    assert store.live_refresh_tokens(account.account_id) == 2

    new_password = store.change_password(account.account_id)

    assert new_password != created.password and len(new_password) >= 12
    assert store.get(account.account_id).credentials_generation == account.credentials_generation + 1
    assert all(store.active_session(s.sid) is None for s in sessions)
    assert all(s.revoked for s in store.sessions_of(account.account_id))
    assert store.live_refresh_tokens(account.account_id) == 0
    for token in tokens:
        with pytest.raises(RefreshTokenRejected) as caught:
            store.redeem_refresh_token(token, CLIENT_ID)
        assert caught.value.reason is RefreshFailure.INVALIDATED
    assert store.check_password(account.email, created.password) is None
    assert store.check_password(account.email, new_password) is not None
    assert store.active_session(bystander_session.sid) is not None


def test_revoking_a_codes_tokens(store: AccountStore) -> None:
    account = store.create().account
    session = store.open_session(account.account_id, mfa_completed=False)
    token = store.issue_refresh_token(_grant(session.sid, account.account_id, origin="code-1"))
    assert store.revoke_refresh_tokens_from("code-1") == 1
    with pytest.raises(RefreshTokenRejected) as caught:
        store.redeem_refresh_token(token, CLIENT_ID)
    assert caught.value.reason is RefreshFailure.INVALIDATED


def test_the_store_is_safe_to_use_from_many_threads(store: AccountStore) -> None:
    made: list[str] = []

    def create_some() -> None:
        for _ in range(5):
            made.append(store.create().account.account_id)

    threads = [threading.Thread(target=create_some) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(made)) == 30 == len(store.all())
