"""Which hosts the desktop offers as SSH remote projects: the concrete aliases of `~/.ssh/config` (sans-I/O).

The desktop reads `~/.ssh/config` itself to collect aliases (pattern-only `Host` entries such as `*` or `*.corp`
are not hosts one can open), then asks OpenSSH (`ssh -G <alias>`) what each resolves to. Only the collection is
ours; the resolution is ssh's, so the two can disagree about a config.

`Include` is where they do (openai/codex#36242: "Failed to discover remote SSH connections" although
`ssh HOST 'codex --version'` works). OpenSSH expands `~`, reads a relative path from `~/.ssh`, expands globs, and
skips a file that is not there without a word (a config that still names an uninstalled tool's file, e.g.
`Include ~/.orbstack/ssh/config`, works in every terminal). The legacy collector opens the path as written and
gives up on the whole discovery when the open fails; the fixed one follows OpenSSH's rules.
"""

from __future__ import annotations

import fnmatch
import posixpath
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.protocol.errors import PairsimError

# The reader the I/O side gives: the file's text, or FileNotFoundError / PermissionError.
ReadFile = Callable[[str], str]
ListDir = Callable[[str], list[str]]
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH


class DiscoveryFailed(PairsimError):
    """The desktop could not read the aliases out of `~/.ssh/config`. `cause` is the engineer's detail."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass
class CollectedAliases:
    aliases: list[str] = field(default_factory=list)
    skipped_includes: list[str] = field(default_factory=list)


def is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?!") or name == ""


def _directives(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.replace("=", " ", 1).partition(" ") if "=" in line.split()[0] else line.partition(" ")
        try:
            args = shlex.split(rest, comments=True)
        except ValueError:
            args = rest.split()
        found.append((keyword.lower(), args))
    return found


def _resolve_include(pattern: str, home: str) -> str:
    """Where OpenSSH looks for an `Include` of the user's config."""
    if pattern.startswith("~/"):
        return posixpath.join(home, pattern[2:])
    if pattern.startswith("/"):
        return pattern
    return posixpath.join(home, ".ssh", pattern)


def collect_aliases(entry: str, *, home: str, read: ReadFile, listdir: ListDir, follow_openssh: bool
                    ) -> CollectedAliases:
    """The concrete aliases of the config at `entry`, in file order, each once.

    `follow_openssh=False` is the legacy collector: an `Include` is opened as written, and a file it cannot open
    fails the discovery."""
    collected = CollectedAliases()

    def visit(path: str, depth: int) -> None:
        if depth > MAX_INCLUDE_DEPTH:
            raise DiscoveryFailed(f"Include nested deeper than {MAX_INCLUDE_DEPTH} at {path}")
        try:
            text = read(path)
        except OSError as exc:
            if depth == 0 and isinstance(exc, FileNotFoundError):
                return  # no ~/.ssh/config at all: nothing to offer, nothing wrong
            raise DiscoveryFailed(f"{type(exc).__name__}: {exc.strerror or exc}: '{path}'") from exc
        for keyword, args in _directives(text):
            if keyword == "host":
                for name in args:
                    if not is_pattern(name) and name not in collected.aliases:
                        collected.aliases.append(name)
            elif keyword == "include":
                for pattern in args:
                    if not follow_openssh:
                        visit(pattern, depth + 1)
                        continue
                    for target in _expand(_resolve_include(pattern, home), listdir):
                        try:
                            visit(target, depth + 1)
                        except DiscoveryFailed:
                            collected.skipped_includes.append(target)
                    if not _expand(_resolve_include(pattern, home), listdir):
                        collected.skipped_includes.append(_resolve_include(pattern, home))

    visit(entry, 0)
    return collected


def _expand(path: str, listdir: ListDir) -> list[str]:
    """The files a (possibly globbing) path names, as glob(3) gives them to OpenSSH: sorted, missing ones gone."""
    directory, name = posixpath.split(path)
    try:
        entries = listdir(directory)
    except OSError:
        return []
    if not any(ch in name for ch in "*?["):
        return [path] if name in entries else []
    return [posixpath.join(directory, e) for e in sorted(entries) if fnmatch.fnmatchcase(e, name)]


@dataclass(frozen=True)
class ResolvedHost:
    """What `ssh -G <alias>` says the alias connects to."""

    alias: str
    hostname: str
    user: str
    port: int
    remote_command: str | None

    @classmethod
    def from_ssh_g(cls, alias: str, output: str) -> ResolvedHost:
        values: dict[str, str] = {}
        for line in output.splitlines():
            key, _, value = line.partition(" ")
            values.setdefault(key.lower(), value)
        remote_command = values.get("remotecommand")
        return cls(alias, values.get("hostname", alias), values.get("user", ""), int(values.get("port", "22")),
                   None if remote_command in (None, "none") else remote_command)
