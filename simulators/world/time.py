"""Time in a world: one clock that every party shares, and each party's own error against it.

Every party reads its own `SkewedClock`: the world's time plus that party's offset, zero until a scenario says a
clock is off. The ChatGPT service is a party too (`SERVICE`): what it issues and checks (server tokens and their
`expires_at`, pairing codes, JWT `iat`/`exp`, sign-in pages, authenticator codes, the `Date` of its answers) is by its
clock, which is the world's time unless a scenario says the service's clock is off. "Time passes" moves the world's
clock, and with it every party's, so expiry happens the way it does in life (pairing codes, sign-in pages, server
tokens, access and refresh tokens, remembered devices); "the phone's clock is five minutes fast" moves one party
alone. A person's authenticator app runs on her phone, so the codes she types anywhere (on the Mac too) are that
phone's codes, at that phone's time.

A real daemon is a process with the machine's clock: neither time passing nor a clock that is off reaches it.
What the backend decides by its time (a pairing code, a server token, an access token it refuses) still expires for
it; what the daemon decides by its own clock (when its ChatGPT token needs refreshing) does not. The service's clock
can be off instead: a service two hours slow is, to the real daemon, what a Mac two hours fast is to the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simulators.clock import Clock, SkewedClock
from simulators.protocol.errors import PairsimError

# The units a duration may be given in, in words, and their length in seconds.
UNITS: dict[str, float] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}
# One amount of one unit: "90 seconds", "a minute", "an hour", "1.5 hours", "one day".
_AMOUNT = r"(?:an?|one|\d+(?:\.\d+)?)"
_PART = rf"{_AMOUNT} (?:{'|'.join(UNITS)})s?"
# A duration in words, as a step pattern may embed it: "10 minutes", "a day and 2 hours", "1 hour, 30 minutes".
DURATION = rf"{_PART}(?:(?:,| and|, and) {_PART})*"
_PART_PARTS = re.compile(rf"({_AMOUNT}) ({'|'.join(UNITS)})s?")
_WHOLE = re.compile(DURATION)


class UnknownDuration(PairsimError):
    """A duration that is not an amount of seconds, minutes, hours, days or weeks, in words."""


class ClockOutOfReach(PairsimError):
    """A clock a scenario asked to set that the world cannot move: the real daemon reads the machine's clock."""


def seconds_in(words: str) -> float:
    """The length of a duration in words: "90 seconds" is 90.0, "a day and 2 hours" is 93600.0."""
    text = words.strip().lower()
    if not _WHOLE.fullmatch(text):
        raise UnknownDuration(f"{words!r} is not a duration such as 90 seconds, 10 minutes, 2 hours or 8 days")
    total = 0.0
    for amount, unit in _PART_PARTS.findall(text):
        total += (1.0 if amount in ("a", "an", "one") else float(amount)) * UNITS[unit]
    return total


# The time party of the ChatGPT service (the backend: its issuer, remote control, relay and model).
SERVICE = "service"


def phone_party(label: str) -> str:
    """The time party of the phone with this label ("Dana's phone")."""
    return f"phone:{label}"


def machine_party(label: str) -> str:
    """The time party of a computer that is neither a Mac running the daemon nor a phone ("Dana's dev server")."""
    return f"machine:{label}"


def authenticator_party(person: str) -> str:
    """Where a person's authenticator app runs: her phone."""
    return phone_party(f"{person}'s phone")


class WorldTime:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._parties: dict[str, SkewedClock] = {}
        # Things that happen once the world's clock reaches an instant (a cut network path coming back), in the
        # order they were scheduled; run by `passes`, on the thread that moved time.
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._scheduled = 0

    def of(self, party: str) -> SkewedClock:
        """The clock of a party ("mac", "phone:Dana's phone", ...), made on first use."""
        if party not in self._parties:
            self._parties[party] = SkewedClock(parent=self.clock)
        return self._parties[party]

    @property
    def service(self) -> SkewedClock:
        """The clock the ChatGPT service reads."""
        return self.of(SERVICE)

    def authenticator(self, person: str) -> SkewedClock:
        """The clock a person's authenticator app reads: her phone's."""
        return self.of(authenticator_party(person))

    def passes(self, seconds: float) -> None:
        """Time passes for everyone; what was scheduled for an instant now reached happens, in time order."""
        if seconds < 0:
            raise ValueError("time passes forwards; to set a clock back, say it is off")
        self.clock.advance(seconds)
        now = self.clock.now()
        due = sorted((entry for entry in self._due if entry[0] <= now), key=lambda entry: entry[:2])
        self._due = [entry for entry in self._due if entry[0] > now]
        for _, _, action in due:
            action()

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` once `seconds` have passed on the world's clock: when a step says time passes, never by
        sleeping, so what happens "two minutes later" happens at the same point of every run."""
        if seconds <= 0:
            raise ValueError("schedule something for a later instant")
        self._scheduled += 1
        self._due.append((self.clock.now() + seconds, self._scheduled, action))

    def set_off(self, party: str, seconds: float) -> None:
        """This party's clock is `seconds` ahead of the world's (behind when negative)."""
        self.of(party).offset = float(seconds)

    def off_by(self, party: str) -> float:
        """How far this party's clock is ahead of the world's (behind when negative)."""
        return self.of(party).offset
