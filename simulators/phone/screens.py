"""What the phone shows: catalogue copy from `simulators.messages` with its placeholders filled in.

Pure functions; the state machine picks the screen, this module only renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from simulators.messages import (
    DECISION_TEXT,
    LEGACY_APP_SERVER_OUTDATED,
    LEGACY_PAIRING_FAILURE,
    LEGACY_SETUP_FAILURE,
    PHONE_CONNECTION_OFFLINE,
    PHONE_CONNECTION_ONLINE,
    PHONE_LAST_SEEN,
    PHONE_LAST_SEEN_JUST_NOW,
    PHONE_SCREENS,
    PHONE_SIGNED_IN_ELSEWHERE,
    ScreenCopy,
    phone_error,
)
from simulators.protocol.errors import ErrorCode
from simulators.protocol.remote_control import OFFLINE_SIGNED_IN_ELSEWHERE


class FailureCopy(StrEnum):
    """How the phone words a failed setup."""

    NAMES_CAUSE = "names_cause"  # the typed-error fix: each cause has its own screen, saying what to do
    STAGE_ONLY = "stage_only"  # today's app: it says only whether pairing (the claim) or secure setup failed


@dataclass(frozen=True)
class Screen:
    """One screen as the user sees it. `name` is the catalogue key (`error:<code>` for failures)."""

    name: str
    title: str
    body: str
    actions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "body": self.body, "actions": list(self.actions)}


class _Blank(dict[str, Any]):
    # A screen shown before its data is known (no server name yet) must not crash the app.
    def __missing__(self, key: str) -> str:
        return ""


def render(name: str, **fields: Any) -> Screen:
    """The catalogue screen `name` with `{placeholders}` filled from `fields`."""
    copy = PHONE_SCREENS[name]
    return _fill(name, copy, fields)


def error_screen(code: ErrorCode | None, *, during_claim: bool = False,
                 copy: FailureCopy = FailureCopy.NAMES_CAUSE, fields: dict[str, Any] | None = None) -> Screen:
    """The failure screen for a cause; `None` (the backend named no cause) is the generic fallback. Today's app
    (`STAGE_ONLY`) ignores the cause and says whether the claim or the rest of setup failed, except for a Mac too
    old for remote control, whose versions it shows. `fields` fill the copy's placeholders (those versions)."""
    resolved = code if code is not None else ErrorCode.UNKNOWN
    values = dict(fields or {})
    if copy is FailureCopy.STAGE_ONLY:
        if resolved is ErrorCode.APP_SERVER_OUTDATED:
            return _fill("error:app_server_outdated", LEGACY_APP_SERVER_OUTDATED, values)
        stage = "pairing" if during_claim else "setup"
        return _fill(f"error:{stage}", LEGACY_PAIRING_FAILURE if during_claim else LEGACY_SETUP_FAILURE, {})
    return _fill(f"error:{resolved.value}", phone_error(code), values)


def threads_screen(server_name: str, thread_count: int) -> Screen:
    return render("threads", server_name=server_name, thread_count=thread_count)


def command_approval_screen(command: str, cwd: str) -> Screen:
    return render("approval_command", command=command, cwd=cwd)


def file_change_approval_screen(path: str) -> Screen:
    return render("approval_file_change", path=path)


def decision_screen(decision: str) -> Screen:
    return render("approval_sent", decision_text=DECISION_TEXT[decision])


@dataclass(frozen=True)
class ComputerRow:
    """One computer in the phone's list, as the person reads it: its name, online or offline, and below it when it
    was last seen (or, with the fix, why it is offline and what to do)."""

    name: str
    status: str
    detail: str


def computer_row(name: str, *, online: bool, last_seen_at: float | None, offline_reason: str | None, now: float,
                 copy: FailureCopy = FailureCopy.NAMES_CAUSE) -> ComputerRow:
    """How the list shows one computer at `now` (the phone's clock)."""
    if online:
        return ComputerRow(name, PHONE_CONNECTION_ONLINE, "")
    if copy is FailureCopy.NAMES_CAUSE and offline_reason == OFFLINE_SIGNED_IN_ELSEWHERE:
        return ComputerRow(name, PHONE_CONNECTION_OFFLINE, PHONE_SIGNED_IN_ELSEWHERE)
    return ComputerRow(name, PHONE_CONNECTION_OFFLINE, "" if last_seen_at is None else last_seen(now - last_seen_at))


def last_seen(seconds: float) -> str:
    """ "last seen ~11 hours ago": the largest whole unit, rounded down, as users quote the phone."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return PHONE_LAST_SEEN_JUST_NOW
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size:
            count = minutes // size
            return PHONE_LAST_SEEN.format(ago=f"{count} {unit}{'' if count == 1 else 's'}")
    raise AssertionError("unreachable: a minute or more is at least one minute")


def _fill(name: str, copy: ScreenCopy, fields: dict[str, Any]) -> Screen:
    values = _Blank(fields)
    return Screen(
        name=name,
        title=copy.title.format_map(values),
        body=copy.body.format_map(values),
        actions=tuple(action.format_map(values) for action in copy.actions),
    )
