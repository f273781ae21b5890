"""The desktop app's sign-in storage and its Settings › Connections copy for each status and profile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from simulators import messages
from simulators.daemon.desktop import AUTH_FILENAME, StoredTokens, read_auth_file, write_auth_file
from simulators.daemon.profiles import Profile, behaviour
from simulators.daemon.remote_control import EnrollmentStatus, RemoteControlSnapshot, status_after_refusal
from simulators.protocol.errors import ErrorCode


def test_auth_file_is_private_and_round_trips(tmp_path: Path) -> None:
    tokens = StoredTokens("id-token", "access-token", "refresh-token", "acct-1", "2026-01-01T00:00:00Z")
    path = tmp_path / AUTH_FILENAME
    write_auth_file(path, tokens)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_auth_file(path) == tokens
    assert "access-token" not in repr(tokens)


@pytest.mark.parametrize("content", ["", "{", "[]", '{"tokens": {}}', '{"tokens": null}'])
def test_a_damaged_auth_file_reads_as_signed_out(tmp_path: Path, content: str) -> None:
    path = tmp_path / AUTH_FILENAME
    path.write_text(content)
    assert read_auth_file(path) is None


@pytest.mark.parametrize(
    ("cause", "profile", "expected"),
    [
        (ErrorCode.MFA_REQUIRED, Profile.FIXED, EnrollmentStatus.BLOCKED_MFA_REQUIRED),
        (ErrorCode.BLOCKED_BY_POLICY, Profile.FIXED, EnrollmentStatus.BLOCKED_BY_POLICY),
        (ErrorCode.REGION_UNAVAILABLE, Profile.FIXED, EnrollmentStatus.BLOCKED_REGION_UNAVAILABLE),
        (ErrorCode.SESSION_EXPIRED, Profile.FIXED, EnrollmentStatus.BLOCKED_SESSION_EXPIRED),
        (ErrorCode.UNKNOWN, Profile.FIXED, EnrollmentStatus.ERRORED),
        (None, Profile.FIXED, EnrollmentStatus.ERRORED),
        (ErrorCode.MFA_REQUIRED, Profile.LEGACY, EnrollmentStatus.ERRORED),
    ],
)
def test_a_refusal_maps_to_a_status_per_profile(
    cause: ErrorCode | None, profile: Profile, expected: EnrollmentStatus
) -> None:
    assert status_after_refusal(cause, behaviour(profile)) is expected


def test_blocked_states_stay_errored_on_the_wire_and_name_their_reason() -> None:
    snapshot = RemoteControlSnapshot(EnrollmentStatus.BLOCKED_MFA_REQUIRED, "mac", "inst", None)
    assert snapshot.to_wire(with_reason=True) == {
        "status": "errored",
        "serverName": "mac",
        "installationId": "inst",
        "environmentId": None,
        "blockedReason": "mfa_required",
    }
    assert "blockedReason" not in snapshot.to_wire(with_reason=False)


def test_every_blocked_status_has_desktop_and_doctor_copy() -> None:
    for status in EnrollmentStatus:
        reason = status.blocked_reason
        if reason is None:
            assert status.value in messages.DESKTOP_STATUS
        else:
            assert reason in messages.DESKTOP_BLOCKED
            assert reason in messages.DOCTOR_BLOCKED


def test_a_wrong_password_is_a_typed_sign_in_failure_and_stores_nothing(tmp_path: Path) -> None:
    import asyncio

    from simulators.backend.admin import BackendControl
    from simulators.backend.server import BackendServer
    from simulators.backend.state import BackendState
    from simulators.daemon.desktop import DesktopApp, DesktopSignInError

    async def scenario() -> None:
        state = BackendState.create(seed=3)
        async with BackendServer(state) as server:
            created = BackendControl(state).create_account(mfa=False)
            desktop = DesktopApp(tmp_path, issuer_url=server.issuer_url, backend_origin=server.issuer_url)
            try:
                with pytest.raises(DesktopSignInError) as raised:
                    await desktop.sign_in(created.account.email, created.password + "x")
                assert raised.value.code is ErrorCode.SIGN_IN_FAILED
                assert created.password not in raised.value.message
                assert not desktop.signed_in and not (tmp_path / AUTH_FILENAME).exists()
                await desktop.sign_in(created.account.email, created.password)
                assert desktop.signed_in
                account = desktop.account()
                assert account is not None and account.email == created.account.email
                # A password change revokes the refresh token: auth recovery fails and signs the desktop out.
                BackendControl(state).change_password(created.account.account_id)
                assert await desktop.recover_auth() is False
                assert not desktop.signed_in and not (tmp_path / AUTH_FILENAME).exists()
            finally:
                await desktop.aclose()

    asyncio.run(scenario())
