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
    PHONE_SCREENS,
    ScreenCopy,
    phone_error,
)
from simulators.protocol.errors import ErrorCode


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


def _fill(name: str, copy: ScreenCopy, fields: dict[str, Any]) -> Screen:
    values = _Blank(fields)
    return Screen(
        name=name,
        title=copy.title.format_map(values),
        body=copy.body.format_map(values),
        actions=tuple(action.format_map(values) for action in copy.actions),
    )
