"""The daemon's SQLite state (`state_5.sqlite` in the daemon home): enrollments, settings, last enrollment
error.

Like the real daemon (codex-protocol-facts §4.4) an enrollment is keyed by (websocket_url, account_id,
app_server_client_name), so switching ChatGPT accounts means a fresh enroll. A row is written only when
enrollment succeeds: after a refusal the table stays empty, which is what users find when they look (the seed
report).

The server's `remote_control_token` is never written here, nor anywhere on disk: it lives in the controller's
memory only, and a restarted daemon gets a fresh one from `…/server/refresh` with its persisted `server_id`,
which is what the real 0.169.0 daemon was observed doing (codex-0.169.0-observed §6). So a copied state file
or a `doctor` report cannot leak it.

The last enrollment refusal (cause code, HTTP status, the redacted log line) is kept for `pairsim doctor`,
which reads the file without the daemon running.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from simulators.clock import Clock
from simulators.daemon.profiles import Profile
from simulators.protocol.errors import ErrorCode, PairsimError

DB_FILENAME = "state_5.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS remote_control_enrollments (
    websocket_url TEXT NOT NULL,
    account_id TEXT NOT NULL,
    app_server_client_name TEXT NOT NULL,
    server_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    server_name TEXT NOT NULL,
    remote_control_enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (websocket_url, account_id, app_server_client_name)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_control_last_error (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    code TEXT,
    http_status INTEGER,
    url TEXT NOT NULL,
    log_line TEXT NOT NULL,
    occurred_at INTEGER NOT NULL
);
"""

_ALLOW_OTHER_DEVICES = "allow_other_devices"
_KEEP_AWAKE = "keep_awake"
_INSTALLATION_ID = "installation_id"
_PROFILE = "profile"


class StateDbUnavailable(PairsimError):
    """The daemon home has no state database (or it cannot be read)."""


@dataclass(frozen=True)
class EnrollmentKey:
    websocket_url: str
    account_id: str
    app_server_client_name: str


@dataclass(frozen=True)
class EnrollmentRecord:
    websocket_url: str
    account_id: str
    app_server_client_name: str
    server_id: str
    environment_id: str
    server_name: str
    remote_control_enabled: bool
    created_at: int
    updated_at: int

    @property
    def key(self) -> EnrollmentKey:
        return EnrollmentKey(self.websocket_url, self.account_id, self.app_server_client_name)

    def to_row(self) -> dict[str, object]:
        return {
            "websocket_url": self.websocket_url,
            "account_id": self.account_id,
            "app_server_client_name": self.app_server_client_name,
            "server_id": self.server_id,
            "environment_id": self.environment_id,
            "server_name": self.server_name,
            "remote_control_enabled": self.remote_control_enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class EnrollmentError:
    """The last refusal. `code` is the backend's typed cause when it sent one (fixed backend), else None."""

    code: ErrorCode | None
    http_status: int | None
    url: str
    log_line: str
    occurred_at: int


@dataclass(frozen=True)
class DaemonSettings:
    allow_other_devices: bool = False
    keep_awake: bool = False


class DaemonStore:
    """One connection to the state database. Safe to share between threads (calls are serialised)."""

    def __init__(self, connection: sqlite3.Connection, path: Path, clock: Clock, *, read_only: bool) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._clock = clock
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, home: Path, clock: Clock | None = None) -> DaemonStore:
        """Open (creating if needed) the state database of a daemon home."""
        home.mkdir(parents=True, exist_ok=True)
        path = home / DB_FILENAME
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.executescript(_SCHEMA)
        path.chmod(0o600)
        return cls(connection, path, clock or Clock(), read_only=False)

    @classmethod
    def open_read_only(cls, home: Path) -> DaemonStore:
        """Open an existing state database without ever writing to it (for `doctor`)."""
        path = home / DB_FILENAME
        if not path.is_file():
            raise StateDbUnavailable(f"no state database at {path}")
        try:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            connection.execute("SELECT count(*) FROM remote_control_enrollments").fetchone()
        except sqlite3.Error as exc:
            raise StateDbUnavailable(f"cannot read the state database at {path}: {exc}") from None
        return cls(connection, path, Clock(), read_only=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    # -- enrollments -----------------------------------------------------------------------------------------

    def get_enrollment(self, key: EnrollmentKey) -> EnrollmentRecord | None:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT * FROM remote_control_enrollments WHERE websocket_url=? AND account_id=? "
                "AND app_server_client_name=?",
                (key.websocket_url, key.account_id, key.app_server_client_name),
            ).fetchone()
            names = [d[0] for d in cur.description] if row else []
        return _record(dict(zip(names, row, strict=True))) if row else None

    def enrollments(self) -> list[EnrollmentRecord]:
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT * FROM remote_control_enrollments ORDER BY created_at, server_id"
            ).fetchall()
            names = [d[0] for d in cur.description]
        return [_record(dict(zip(names, row, strict=True))) for row in rows]

    def save_enrollment(
        self,
        key: EnrollmentKey,
        *,
        server_id: str,
        environment_id: str,
        server_name: str,
        enabled: bool = True,
    ) -> EnrollmentRecord:
        """Insert or replace the enrollment for `key`; `created_at` survives a re-enrollment of the same
        key."""
        now = self._clock.now_int()
        with self._cursor() as cur:
            cur.execute(
                "INSERT INTO remote_control_enrollments (websocket_url, account_id, app_server_client_name, "
                "server_id, environment_id, server_name, remote_control_enabled, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (websocket_url, account_id, app_server_client_name) "
                "DO UPDATE SET server_id=excluded.server_id, environment_id=excluded.environment_id, "
                "server_name=excluded.server_name, remote_control_enabled=excluded.remote_control_enabled, "
                "updated_at=excluded.updated_at",
                (
                    key.websocket_url,
                    key.account_id,
                    key.app_server_client_name,
                    server_id,
                    environment_id,
                    server_name,
                    int(enabled),
                    now,
                    now,
                ),
            )
        record = self.get_enrollment(key)
        assert record is not None
        return record

    def set_enrollment_enabled(self, key: EnrollmentKey, enabled: bool) -> None:
        with self._cursor() as cur:
            cur.execute(
                "UPDATE remote_control_enrollments SET remote_control_enabled=?, updated_at=? "
                "WHERE websocket_url=? AND account_id=? AND app_server_client_name=?",
                (
                    int(enabled),
                    self._clock.now_int(),
                    key.websocket_url,
                    key.account_id,
                    key.app_server_client_name,
                ),
            )

    def delete_enrollment(self, key: EnrollmentKey) -> bool:
        with self._cursor() as cur:
            cur.execute(
                "DELETE FROM remote_control_enrollments WHERE websocket_url=? AND account_id=? "
                "AND app_server_client_name=?",
                (key.websocket_url, key.account_id, key.app_server_client_name),
            )
            return cur.rowcount > 0

    # -- last enrollment error -------------------------------------------------------------------------------

    def record_enrollment_error(
        self, *, code: ErrorCode | None, http_status: int | None, url: str, log_line: str
    ) -> EnrollmentError:
        error = EnrollmentError(code, http_status, url, log_line, self._clock.now_int())
        with self._cursor() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO remote_control_last_error (id, code, http_status, url, log_line, "
                "occurred_at) VALUES (1,?,?,?,?,?)",
                (code.value if code else None, http_status, url, log_line, error.occurred_at),
            )
        return error

    def clear_enrollment_error(self) -> None:
        with self._cursor() as cur:
            cur.execute("DELETE FROM remote_control_last_error")

    def last_enrollment_error(self) -> EnrollmentError | None:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT code, http_status, url, log_line, occurred_at FROM remote_control_last_error"
            ).fetchone()
        if row is None:
            return None
        code, http_status, url, log_line, occurred_at = row
        try:
            parsed = ErrorCode(code) if code is not None else None
        except ValueError:
            parsed = ErrorCode.UNKNOWN
        return EnrollmentError(parsed, http_status, url, log_line, occurred_at)

    # -- settings --------------------------------------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        with self._cursor() as cur:
            row = cur.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _put(self, key: str, value: str) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def settings(self) -> DaemonSettings:
        return DaemonSettings(
            allow_other_devices=self._get(_ALLOW_OTHER_DEVICES) == "1",
            keep_awake=self._get(_KEEP_AWAKE) == "1",
        )

    def update_settings(
        self, *, allow_other_devices: bool | None = None, keep_awake: bool | None = None
    ) -> None:
        if allow_other_devices is not None:
            self._put(_ALLOW_OTHER_DEVICES, "1" if allow_other_devices else "0")
        if keep_awake is not None:
            self._put(_KEEP_AWAKE, "1" if keep_awake else "0")

    def installation_id(self) -> str:
        """This installation's id, created once (a UUID, as the real daemon sends in
        `x-codex-installation-id`)."""
        existing = self._get(_INSTALLATION_ID)
        if existing is not None:
            return existing
        if self.read_only:
            raise StateDbUnavailable("the state database has no installation id yet")
        created = str(uuid.uuid4())
        self._put(_INSTALLATION_ID, created)
        return created

    def set_installation_id(self, installation_id: str) -> None:
        self._put(_INSTALLATION_ID, installation_id)

    def profile(self) -> Profile | None:
        value = self._get(_PROFILE)
        try:
            return Profile(value) if value is not None else None
        except ValueError:
            return None

    def set_profile(self, profile: Profile) -> None:
        self._put(_PROFILE, profile.value)


def _record(row: dict[str, object]) -> EnrollmentRecord:
    return EnrollmentRecord(
        websocket_url=str(row["websocket_url"]),
        account_id=str(row["account_id"]),
        app_server_client_name=str(row["app_server_client_name"]),
        server_id=str(row["server_id"]),
        environment_id=str(row["environment_id"]),
        server_name=str(row["server_name"]),
        remote_control_enabled=bool(row["remote_control_enabled"]),
        created_at=int(row["created_at"]),  # type: ignore[call-overload]
        updated_at=int(row["updated_at"]),  # type: ignore[call-overload]
    )
