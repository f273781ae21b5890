"""The two daemon profiles and, in one place, everything that differs between them.

`legacy` is today's real daemon (codex 0.169.0): a typed enrollment refusal is only ever `errored`, the reason
stays in the log, the desktop shows the generic errored line and `doctor` has no remote-control check at all
(users report "doctor all green" while enrollment fails, openai/codex#24328). `fixed` is the typed-error fix
pairsim exists to prove: the refusal's code becomes a `blocked_*` status, the desktop and `doctor` say what to
do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Profile(StrEnum):
    LEGACY = "legacy"
    FIXED = "fixed"


@dataclass(frozen=True)
class ProfileBehaviour:
    # A refusal whose body carries a typed code (`mfa_required`, ...) becomes a `blocked_*` status instead of
    # `errored`, and the status payload names the reason (`blockedReason`).
    reports_blocked_status: bool
    # Settings › Connections shows the cause's remediation instead of the generic errored line, and the QR
    # button shows that remediation instead of a code that cannot work.
    desktop_shows_remediation: bool
    # `pairsim doctor` checks the remote-control enrollment (the real doctor has no such check).
    doctor_checks_enrollment: bool
    # Switching connections off leaves the relay with a close reason saying so, so a phone that scans is told
    # that connections are off; today's daemon just leaves, and the phone finds the Mac offline.
    announces_connections_off: bool
    # The desktop forgets a phone once it is removed (on this Mac, or found removed from the account) and says so on
    # the pairing page; today's desktop keeps its entry and waits for that phone to approve (openai/codex#23112).
    desktop_forgets_removed_phones: bool
    # The desktop's own ways (they hold with either daemon behind it). "Pair phone" while the Mac is still
    # enrolling waits for the enrollment instead of asking the daemon at once and giving up after the 2 s a control
    # client waits (openai/codex#38534); a pairing code the daemon says is unavailable until enrollment completes is
    # asked for once more when the Mac is connected (openai/codex#45674).
    desktop_waits_for_enrollment_to_pair: bool = False
    # A failed "Allow other devices to connect" names why (a sign-in without MFA on an account that has it, a
    # security check a proxy answered) instead of "Please try again" (openai/codex#41747, #46449).
    desktop_names_why_connections_failed: bool = False
    # "Pair phone" refused for want of a usable server token (`…because the server token expired`, or 0.169.0's
    # `…until enrollment completes`) while the Mac's clock is ahead of the service's, by the `Date` of the service's
    # answer, says which clock is off, by how much, and what to do, instead of passing on the daemon's words.
    desktop_names_clocks_that_disagree: bool = False
    # issue 12: the Mac's daemon serves the desktop's SSH remote projects to the phones paired with it (listed, and
    # their threads, turns and approvals carried through the Mac); today's phone lists none of them
    # (openai/codex#23527).
    phone_sees_remote_projects: bool = False


_BEHAVIOURS: dict[Profile, ProfileBehaviour] = {
    Profile.LEGACY: ProfileBehaviour(
        reports_blocked_status=False, desktop_shows_remediation=False, doctor_checks_enrollment=False,
        announces_connections_off=False, desktop_forgets_removed_phones=False,
    ),
    Profile.FIXED: ProfileBehaviour(
        reports_blocked_status=True, desktop_shows_remediation=True, doctor_checks_enrollment=True,
        announces_connections_off=True, desktop_forgets_removed_phones=True, desktop_waits_for_enrollment_to_pair=True,
        desktop_names_why_connections_failed=True, desktop_names_clocks_that_disagree=True,
        phone_sees_remote_projects=True,
    ),
}


def behaviour(profile: Profile | str) -> ProfileBehaviour:
    return _BEHAVIOURS[Profile(profile)]
