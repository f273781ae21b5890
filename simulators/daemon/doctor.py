"""`pairsim doctor`: a read-only health report of a daemon home, shaped like the real `codex doctor --json`.

It reads the state database and the desktop's stored sign-in; it never writes, never talks to the network and
never prints a token. The profile decides which checks exist (simulators/daemon/profiles.py): the real doctor
has no remote-control check, so in the `legacy` profile an enrollment refused for MFA still reads "all green",
as users reported (openai/codex#24328). The `fixed` profile adds `remote_control.enrollment`, which turns the
last refusal the daemon recorded into a reason and an action from the message catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from simulators import messages
from simulators.clock import Clock
from simulators.daemon.desktop import AUTH_FILENAME, read_auth_file
from simulators.daemon.profiles import Profile, behaviour
from simulators.daemon.store import DaemonStore, EnrollmentError, StateDbUnavailable
from simulators.protocol.errors import ErrorCode

SCHEMA_VERSION = 1
PAIRSIM_DOCTOR_VERSION = "0.169.0"

STATE_CHECK = "state.database"
AUTH_CHECK = "auth.credentials"
ENROLLMENT_CHECK = "remote_control.enrollment"


class CheckStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    id: str
    category: str
    status: CheckStatus
    summary: str
    # The human lines: the summary line, then `Reason: …` / `Action: …` when there is something to do.
    lines: tuple[str, ...]
    details: tuple[str, ...] = ()
    remediation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "status": self.status.value,
            "summary": self.summary,
            "details": list(self.details),
            "issues": [],
            "remediation": self.remediation,
            "durationMs": 0,
        }


@dataclass(frozen=True)
class DoctorReport:
    generated_at: str
    profile: Profile
    checks: tuple[Check, ...] = field(default=())

    @property
    def overall_status(self) -> CheckStatus:
        statuses = {check.status for check in self.checks}
        for worst in (CheckStatus.FAIL, CheckStatus.WARNING):
            if worst in statuses:
                return worst
        return CheckStatus.OK

    @property
    def exit_code(self) -> int:
        return 1 if self.overall_status is CheckStatus.FAIL else 0

    def check(self, check_id: str) -> Check | None:
        return next((check for check in self.checks if check.id == check_id), None)

    def lines(self) -> list[str]:
        out = [line for check in self.checks for line in check.lines]
        counts = {status: sum(1 for c in self.checks if c.status is status) for status in CheckStatus}
        out.append(
            messages.DOCTOR_SUMMARY.format(
                ok=counts[CheckStatus.OK], warn=counts[CheckStatus.WARNING], fail=counts[CheckStatus.FAIL]
            )
        )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "generatedAt": self.generated_at,
            "overallStatus": self.overall_status.value,
            "codexVersion": PAIRSIM_DOCTOR_VERSION,
            "profile": self.profile.value,
            "checks": {check.id: check.to_json() for check in self.checks},
        }


def run_doctor(home: Path, *, profile: Profile | None = None, clock: Clock | None = None) -> DoctorReport:
    """Examine `home`. `profile` defaults to the one the daemon recorded there, else `fixed`."""
    clock = clock or Clock()
    generated_at = clock.now_datetime().isoformat().replace("+00:00", "Z")
    try:
        store: DaemonStore | None = DaemonStore.open_read_only(home)
    except StateDbUnavailable:
        store = None
    try:
        chosen = profile or (store.profile() if store else None) or Profile.FIXED
        checks = [_state_check(store), _auth_check(home)]
        if behaviour(chosen).doctor_checks_enrollment:
            checks.append(_enrollment_check(store))
        return DoctorReport(generated_at, chosen, tuple(checks))
    finally:
        if store is not None:
            store.close()


def _check_with_copy(
    check_id: str,
    category: str,
    status: CheckStatus,
    summary: str,
    copy: messages.DoctorCopy,
    details: tuple[str, ...] = (),
) -> Check:
    """A check that asks for action: the copy's reason and action go into both the human lines and the JSON."""
    lines = (
        summary,
        messages.DOCTOR_REASON_LINE.format(reason=copy.reason),
        messages.DOCTOR_ACTION_LINE.format(action=copy.action),
    )
    return Check(check_id, category, status, summary, lines, (copy.reason, *details), copy.action)


def _state_check(store: DaemonStore | None) -> Check:
    if store is None:
        return _check_with_copy(
            STATE_CHECK,
            "state",
            CheckStatus.FAIL,
            messages.DOCTOR_STATE_DB_MISSING,
            messages.DOCTOR_STATE_DB_MISSING_COPY,
        )
    return Check(
        STATE_CHECK,
        "state",
        CheckStatus.OK,
        messages.DOCTOR_STATE_DB_OK,
        (messages.DOCTOR_STATE_DB_OK,),
        (store.path.name,),
    )


def _auth_check(home: Path) -> Check:
    stored = read_auth_file(home / AUTH_FILENAME)
    if stored is None:
        return _check_with_copy(
            AUTH_CHECK,
            "auth",
            CheckStatus.WARNING,
            messages.DOCTOR_AUTH_MISSING,
            messages.DOCTOR_AUTH_MISSING_COPY,
        )
    # Like the real check: it says *what* is stored, never the stored values.
    return Check(
        AUTH_CHECK,
        "auth",
        CheckStatus.OK,
        messages.DOCTOR_AUTH_OK,
        (messages.DOCTOR_AUTH_OK,),
        ("stored ChatGPT tokens", "stored auth mode: chatgpt"),
    )


def _enrollment_check(store: DaemonStore | None) -> Check:
    if store is None:
        copy = messages.DOCTOR_ENROLLMENT_PENDING_COPY
        return _enrollment(CheckStatus.WARNING, messages.DOCTOR_ENROLLMENT_PENDING, copy)
    error = store.last_enrollment_error()
    enabled = store.settings().allow_other_devices
    if error is not None:
        return _refusal(error)
    if not enabled:
        return _enrollment(
            CheckStatus.WARNING, messages.DOCTOR_ENROLLMENT_DISABLED, messages.DOCTOR_ENROLLMENT_DISABLED_COPY
        )
    enrolled = [row for row in store.enrollments() if row.remote_control_enabled]
    if not enrolled:
        return _enrollment(
            CheckStatus.WARNING, messages.DOCTOR_ENROLLMENT_PENDING, messages.DOCTOR_ENROLLMENT_PENDING_COPY
        )
    details = tuple(f"environment {row.environment_id} as {row.server_name}" for row in enrolled)
    return Check(
        ENROLLMENT_CHECK,
        "remote_control",
        CheckStatus.OK,
        messages.DOCTOR_ENROLLMENT_OK,
        (messages.DOCTOR_ENROLLMENT_OK,),
        details,
    )


def _refusal(error: EnrollmentError) -> Check:
    details = tuple(
        item for item in (f"HTTP {error.http_status}" if error.http_status else None, error.log_line) if item
    )
    blocked = messages.DOCTOR_BLOCKED.get(error.code) if error.code is not None else None
    if blocked is not None:
        return _enrollment(CheckStatus.FAIL, messages.DOCTOR_ENROLLMENT_BLOCKED, blocked, details)
    if error.http_status is None or error.code is ErrorCode.RELAY_UNREACHABLE:
        copy = messages.DOCTOR_ENROLLMENT_UNREACHABLE_COPY
    else:
        template = messages.DOCTOR_ENROLLMENT_ERRORED_COPY
        copy = messages.DoctorCopy(template.reason.format(http_status=error.http_status), template.action)
    return _enrollment(CheckStatus.FAIL, messages.DOCTOR_ENROLLMENT_ERRORED, copy, details)


def _enrollment(
    status: CheckStatus, summary: str, copy: messages.DoctorCopy, details: tuple[str, ...] = ()
) -> Check:
    return _check_with_copy(ENROLLMENT_CHECK, "remote_control", status, summary, copy, details)


def render_json(report: DoctorReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
