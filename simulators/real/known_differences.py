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
from simulators.tui.codex_tui import TuiFailed


@dataclass(frozen=True)
class KnownDifference:
    """One failure one daemon is known to have, described tightly enough to tell it from any other failure.

    `step` is the failing step's text as the scenario reads it, without its keyword; `message` is a regular
    expression searched in `str(exception)`. (A daemon version range will scope an entry once more than one real
    version is tested.)
    """

    name: str
    daemon: DaemonKind
    step: str
    raises: type[Exception]
    message: str
    why: str

    def __post_init__(self) -> None:
        if self.raises is Exception:
            raise ValueError(f"known difference {self.name}: Exception would match any failure; name its type")
        re.compile(self.message)

    def applies_to(self, daemon: DaemonKind) -> bool:
        return daemon is self.daemon

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
        KnownDifference(
            name="real_daemon_needs_workspace_routing",
            daemon=DaemonKind.CODEX,
            step="she opens the TUI's session list",
            raises=TuiFailed,
            message=r"workspace routing discovery",
            why="signed in with ChatGPT, the real daemon answers account/read only after its workspace routing "
            "discovery (GET /backend-api/wham/accounts/check), which pairsim's backend does not serve in a shape "
            "it accepts yet; the TUI exits with `account/read failed: ... workspace routing discovery ...`",
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
