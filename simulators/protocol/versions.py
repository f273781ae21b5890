"""Codex version numbers as the daemon reports them (`app_server_version` in its enrollment, its crate's version):
semantic versions such as `0.128.0` or `0.129.0-alpha.6`, ordered by semantic-versioning precedence.

A pre-release sorts before its release (`0.129.0-alpha.6` < `0.129.0`), pre-release identifiers compare one by one,
numbers as numbers and below words; build metadata (`+...`) is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from simulators.protocol.errors import ProtocolError

_VERSION = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?"
)
MAX_VERSION_LENGTH = 64


class InvalidVersion(ProtocolError):
    """Not a version number the daemon could have reported."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        if not isinstance(text, str) or len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersion("a version is a string of at most 64 characters")
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise InvalidVersion(f"not a version number like 0.129.0 or 0.129.0-alpha.6: {text[:64]!r}")
        pre = match.group("pre")
        identifiers = tuple(int(part) if part.isdigit() else part for part in pre.split(".")) if pre else ()
        return cls(int(match.group("major")), int(match.group("minor")), int(match.group("patch")), identifiers,
                   text.strip())

    def _key(self) -> tuple[object, ...]:
        # A release ranks above its pre-releases; within a pre-release, numbers rank below words.
        pre = tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}" + (
            "-" + ".".join(str(part) for part in self.pre) if self.pre else ""
        )


def older_than(current: str, minimum: str) -> bool:
    """Whether `current` is older than `minimum`; a `current` that is no version at all counts as older."""
    try:
        return Version.parse(current) < Version.parse(minimum)
    except InvalidVersion:
        return True
