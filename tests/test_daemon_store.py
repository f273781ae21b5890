"""The daemon's SQLite state: enrollment rows keyed per account, settings, the last enrollment error."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from simulators.clock import FrozenClock
from simulators.daemon.profiles import Profile
from simulators.daemon.store import DB_FILENAME, DaemonStore, EnrollmentKey, StateDbUnavailable
from simulators.protocol.errors import ErrorCode

KEY = EnrollmentKey("ws://127.0.0.1:1/backend-api/wham/remote/control/server", "acct-1", "codex_desktop")


def test_a_new_home_has_no_enrollment_and_connections_are_off(tmp_path: Path) -> None:
    store = DaemonStore.open(tmp_path)
    assert store.enrollments() == []
    assert store.settings().allow_other_devices is False
    assert store.settings().keep_awake is False
    assert (tmp_path / DB_FILENAME).is_file()
    assert stat.S_IMODE((tmp_path / DB_FILENAME).stat().st_mode) == 0o600


def test_an_enrollment_is_keyed_by_url_account_and_client_name(tmp_path: Path) -> None:
    clock = FrozenClock()
    store = DaemonStore.open(tmp_path, clock)
    store.save_enrollment(KEY, server_id="srv-1", environment_id="env-1", server_name="mac")
    other = EnrollmentKey(KEY.websocket_url, "acct-2", KEY.app_server_client_name)
    assert store.get_enrollment(other) is None
    clock.advance(5)
    store.save_enrollment(KEY, server_id="srv-2", environment_id="env-1", server_name="mac")
    record = store.get_enrollment(KEY)
    assert record is not None
    assert (record.server_id, record.created_at, record.updated_at) == ("srv-2", 1_800_000_000, 1_800_000_005)
    assert len(store.enrollments()) == 1
    assert store.delete_enrollment(KEY) is True
    assert store.delete_enrollment(KEY) is False
    assert store.enrollments() == []


def test_the_table_has_no_token_column(tmp_path: Path) -> None:
    DaemonStore.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(remote_control_enrollments)")}
    assert columns == {
        "websocket_url",
        "account_id",
        "app_server_client_name",
        "server_id",
        "environment_id",
        "server_name",
        "remote_control_enabled",
        "created_at",
        "updated_at",
    }


def test_the_last_enrollment_error_is_kept_until_cleared(tmp_path: Path) -> None:
    store = DaemonStore.open(tmp_path)
    assert store.last_enrollment_error() is None
    store.record_enrollment_error(code=ErrorCode.MFA_REQUIRED, http_status=403, url="u", log_line="line")
    store.record_enrollment_error(code=None, http_status=500, url="u", log_line="later")
    error = store.last_enrollment_error()
    assert error is not None and (error.code, error.http_status, error.log_line) == (None, 500, "later")
    store.clear_enrollment_error()
    assert store.last_enrollment_error() is None


def test_settings_installation_id_and_profile_survive_reopening(tmp_path: Path) -> None:
    store = DaemonStore.open(tmp_path)
    store.update_settings(allow_other_devices=True, keep_awake=True)
    installation_id = store.installation_id()
    store.set_profile(Profile.LEGACY)
    store.close()
    again = DaemonStore.open(tmp_path)
    assert again.settings().allow_other_devices and again.settings().keep_awake
    assert again.installation_id() == installation_id
    assert again.profile() is Profile.LEGACY


def test_read_only_open_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(StateDbUnavailable):
        DaemonStore.open_read_only(tmp_path)
    assert not (tmp_path / DB_FILENAME).exists()
    (tmp_path / DB_FILENAME).write_bytes(b"not a database at all")
    with pytest.raises(StateDbUnavailable):
        DaemonStore.open_read_only(tmp_path)


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    DaemonStore.open(tmp_path).close()
    reader = DaemonStore.open_read_only(tmp_path)
    with pytest.raises(sqlite3.OperationalError):
        reader.update_settings(keep_awake=True)
