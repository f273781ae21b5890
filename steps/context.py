"""What one scenario carries between its steps, and the small lookups steps share.

pytest-bdd can pass values between steps through `target_fixture`, but re-binding one name twice in a scenario
returns a cached value (pytest-bdd #686); one mutable object per scenario has no such trap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulators.protocol.errors import ErrorCode

if TYPE_CHECKING:
    from pathlib import Path

    from simulators.world import PairingOutcome, QrShown, Remediation

@dataclass
class ScenarioContext:
    people: list[str] = field(default_factory=list)
    qr: QrShown | Remediation | None = None
    outcome: PairingOutcome | None = None
    attempts: list[tuple[str, PairingOutcome]] = field(default_factory=list)  # (phone label, outcome), in order
    approval: Any = None
    manual_code: str | None = None  # the code to type a Mac last showed (Control other devices)
    control_screen: Any = None  # what "Control other devices" showed when it was last turned on

    def remember_person(self, name: str) -> None:
        if name not in self.people:
            self.people.append(name)

    def qr_image(self) -> Path | None:
        """The QR image the Mac last showed, or None when it showed a remediation instead (or nothing yet)."""
        return getattr(self.qr, "png_path", None)

    def last_outcome(self) -> PairingOutcome:
        assert self.outcome is not None, "no phone has tried to pair yet in this scenario"
        return self.outcome

    def last_phone(self) -> str:
        """The label of the phone that last tried to pair: the one "her phone" means in a Then step."""
        assert self.attempts, "no phone has tried to pair yet in this scenario"
        return self.attempts[-1][0]


def error_code(words: str) -> ErrorCode:
    """Feature text names a cause in words ("mfa required"); the catalogue is keyed by its code (`mfa_required`)."""
    return ErrorCode(words.strip().lower().replace(" ", "_").replace("-", "_"))


def phone_label(owner: str, device: str = "phone") -> str:
    return f"{owner}'s {device}"
