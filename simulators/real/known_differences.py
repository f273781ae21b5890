"""The known differences between our mock daemon and the real `codex app-server`, each as the failure it causes.

A scenario that one daemon cannot pass carries `@xfail_on_codex:<name>` or `@xfail_on_mock:<name>`, naming an entry
here. The entry says which step fails and how (the exception type and a pattern of its message), so the scenario is
an expected failure only while it fails in exactly that way: any other breakage of the same scenario is a red test,
and a fix (the scenario passes) fails the strict xfail until the tag and the entry go. `docs/protocol.md` §7 lists
them for readers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulators.real.target import DaemonKind
from simulators.real.versions import EVERY_VERSION, VersionRange
from simulators.world.time import ClockOutOfReach


@dataclass(frozen=True)
class KnownDifference:
    """One failure one daemon is known to have, described tightly enough to tell it from any other failure.

    `step` is the failing step's text as the scenario reads it, without its keyword; `message` is a regular
    expression searched in `str(exception)`. `profile` ("legacy" or "fixed"), when set, scopes the entry to the
    rows of a Scenario Outline tagged with that profile: what today's desktop shows can differ by daemon version
    while the fix's rows hold on both. `versions` scopes an entry of the real daemon to the Codex releases known to
    behave so: on a version outside it the scenario runs as any other, and a version inside it that no longer fails
    says so in one line (see the pytest plugin), which is when the range ends.
    """

    name: str
    daemon: DaemonKind
    step: str
    raises: type[Exception]
    message: str
    why: str
    profile: str | None = None
    versions: VersionRange = EVERY_VERSION

    def __post_init__(self) -> None:
        if self.raises is Exception:
            raise ValueError(f"known difference {self.name}: Exception would match any failure; name its type")
        if self.daemon is DaemonKind.MOCK and self.versions != EVERY_VERSION:
            raise ValueError(f"known difference {self.name}: the mock imitates one version; a range is the real's")
        re.compile(self.message)

    def applies_to(self, daemon: DaemonKind, version: str | None = None) -> bool:
        """Whether a run of `daemon` (the real one at `version`; None: any) is expected to fail so."""
        if daemon is not self.daemon:
            return False
        return version is None or daemon is DaemonKind.MOCK or self.versions.holds(version)

    def mismatch(self, step: str | None, exception: BaseException) -> str | None:
        """None when `exception`, raised by the step `step` (None: not from a step), is this difference; otherwise
        what differs, in a sentence."""
        if not isinstance(exception, self.raises):
            return f"it raised {type(exception).__name__}, not {self.raises.__name__}"
        if step != self.step:
            return f"it failed in {'no step' if step is None else f'the step {step!r}'}, not in {self.step!r}"
        if re.search(self.message, str(exception)) is None:
            return f"its message does not match {self.message!r}"
        return None

    def expectation(self) -> str:
        return f"the step {self.step!r} raising {self.raises.__name__} matching {self.message!r}"


KNOWN_DIFFERENCES: dict[str, KnownDifference] = {
    difference.name: difference
    for difference in (
        KnownDifference(
            name="real_daemon_hides_the_mfa_refusal",
            daemon=DaemonKind.CODEX,
            step='Codex on her Mac reports the remote-control status "blocked_mfa_required"',
            raises=AssertionError,
            message=r"'errored' == 'blocked_mfa_required'",
            why="the real daemon reports a refused enrollment only as errored (openai/codex#24046)",
        ),
        KnownDifference(
            name="real_daemon_shows_the_mfa_refusal_as_errored",
            daemon=DaemonKind.CODEX,
            step="Settings › Connections on her Mac says \"Multi-factor authentication is required before this Mac "
            "can be controlled from iPhone. Open account security settings, enable MFA, then sign in to Codex "
            "again.\"",
            raises=AssertionError,
            message=r"^Remote control is errored\.",
            why="with no typed status from the real daemon, the desktop can only show its errored line "
            "(openai/codex#24046)",
        ),
        # Versions (issue 13): what `pairsim compat` found in other releases than the pin.
        KnownDifference(
            name="real_daemon_reads_no_user_id_before_0_169",
            daemon=DaemonKind.CODEX,
            step='the answer to id 7 is exactly the result {"account":null,"userId":null,"requiresOpenaiAuth":true,'
            '"workspaceRouting":null}',
            raises=AssertionError,
            message=r"^\{'id': 7, 'result': \{'account': None, 'requiresOpenaiAuth': True, 'workspaceRouting': "
            r"None\}\}$",
            why="codex before 0.169.0 answers account/read without `userId` (seen on 0.168.0; 0.169.0 and 0.171.0 "
            "send it)",
            versions=VersionRange(until="0.169.0"),
        ),
        # -- the backend's answers and versions
        KnownDifference(
            name="real_daemon_runs_its_own_version",
            daemon=DaemonKind.CODEX,
            step="Dana's Mac runs Codex 0.128.0",
            raises=ValueError,
            message=r"^the real daemon is codex [0-9][^:]*: it reports that version at enrollment, not 0\.128\.0$",
            why="the real daemon is the installed binary and reports its own version when it enrolls; a report's "
            "older version runs on the mock daemon only (openai/codex#22714)",
        ),
        KnownDifference(
            name="real_daemon_fails_the_enable_request",
            daemon=DaemonKind.CODEX,
            step='Codex on her Mac logged "errorCode=null"',
            raises=AssertionError,
            message=r"errorCode=-32600",
            why="codex (0.168.0, 0.169.0 and 0.171.0 checked) answers an enable whose enrollment is refused with a "
            "JSON-RPC error (-32600), where the "
            "reports' daemon answered with an errored status and the desktop logged errorCode=null "
            "(openai/codex#46449); the desktop's message is the same either way",
        ),
        KnownDifference(
            name="mock_has_no_remote_control_cli",
            daemon=DaemonKind.MOCK,
            step='"codex remote-control" on her Mac says "Remote control is enabled on {server name} but the '
            'connection is errored."',
            raises=ValueError,
            message=r"^the mock daemon has no `codex remote-control` command$",
            why="pairsim simulates the desktop app, not the codex command line around the daemon",
        ),
        # openai/codex#41549 (issue 10, the relay and the network).
        KnownDifference(
            name="real_daemon_does_not_name_the_refusing_proxy",
            daemon=DaemonKind.CODEX,
            step="Settings › Connections on her Mac says \"Codex can't reach remote control through the HTTP proxy it "
            "was started with: the proxy refuses WebSocket connections. Turn off HTTP_PROXY for Codex, or allow "
            "WebSocket connections through the proxy, then turn Allow other devices to connect off and on.\"",
            raises=AssertionError,
            message=r"^Remote control is errored\.",
            why="the real daemon reports a refused proxy tunnel only as errored, with the reason in its log "
            "(openai/codex#41549)",
        ),
        # Time and clocks (issue 10).
        KnownDifference(
            name="real_daemon_keeps_the_machines_clock",
            daemon=DaemonKind.CODEX,
            step="Dana's Mac's clock is 2 hours slow",
            raises=ClockOutOfReach,
            message=r"^the real daemon reads this machine's clock",
            why="the real daemon is a process with the machine's clock, which a world cannot set off (a static "
            "musl binary: no faketime either); what the Mac decides by its own clock is the mock's to show",
        ),
        # Issue 10, entry 4: the server token is expired by the Mac's clock as soon as the service issues it.
        KnownDifference(
            name="real_daemon_says_enrollment_incomplete_for_an_expired_token",
            daemon=DaemonKind.CODEX,
            step='her Mac shows "Pairing code unavailable: remote control pairing is unavailable because the server '
            'token expired." instead of a pairing code',
            raises=AssertionError,
            message=r"Pairing code unavailable: remote control pairing is unavailable until enrollment completes\.",
            why="codex (0.168.0, 0.169.0 and 0.171.0 checked) has no words for an expired server token: it refuses to "
            "pair with `remote control pairing is unavailable until enrollment completes` (-32600), as for a token "
            "the service refused, while the codex source that has the text, and the mock, name the expiry",
            profile="legacy",
        ),
    )
}


def known_difference(name: str, tagged_for: DaemonKind) -> KnownDifference:
    """The entry a tag names; a tag naming no entry, or an entry of the other daemon, is a mistake in the feature."""
    difference = KNOWN_DIFFERENCES.get(name)
    if difference is None:
        raise LookupError(f"no known difference is named {name!r}; the names are {', '.join(KNOWN_DIFFERENCES)}")
    if difference.daemon is not tagged_for:
        raise LookupError(f"the known difference {name!r} is one of the {difference.daemon} daemon, not {tagged_for}")
    return difference
