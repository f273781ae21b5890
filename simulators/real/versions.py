"""Which `@openai/codex` version the real daemon is, and installing any published one once, checked, into a cache.

The pin (tools/real-daemon/package.json) stays what `make test` runs. Another version is chosen at run time with
`pytest --codex-version X.Y.Z` or `PAIRSIM_CODEX_VERSION=X.Y.Z` (every command that starts the real daemon reads it);
`pairsim codex install X.Y.Z` installs it into `~/.cache/pairsim/codex/X.Y.Z/` (or `$PAIRSIM_CODEX_CACHE/X.Y.Z/`).

An install downloads two tarballs through npm (`npm pack`, so npm's registry and proxy settings apply): the
`@openai/codex` package (the Node shim) and the native build for this machine, which the shim names as an aliased
optional dependency (`npm:@openai/codex@X.Y.Z-linux-x64`). Each tarball's SHA-512 is compared with the registry's
`dist.integrity` before anything is unpacked, and the folder appears only whole (unpacked beside it, then renamed),
so a half-finished install is never taken for one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators.protocol.errors import PairsimError

PACKAGE_NAME = "@openai/codex"
VERSION_ENV = "PAIRSIM_CODEX_VERSION"
CACHE_ENV = "PAIRSIM_CODEX_CACHE"
# A product version: 0.171.0 or 0.129.0-alpha.6. The platform builds (0.171.0-linux-x64) are published as versions
# of the same package too, but they are not versions of Codex one can choose.
_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-(?:alpha|beta|rc)\.[0-9]+)?")
_INSTALLED_MARK = "pairsim-install.json"


class CodexVersionError(PairsimError):
    """A Codex version that cannot be used: not a version, not published, or not installed here."""


def install_command(version: str) -> str:
    return f"pairsim codex install {version}"


def check_version(text: str) -> str:
    """`text` as a version one can choose, or CodexVersionError saying what a version looks like."""
    version = text.strip()
    if not _VERSION.fullmatch(version):
        raise CodexVersionError(f"{text!r} is not a Codex version; write it as X.Y.Z, e.g. 0.171.0")
    return version


def requested_version(option: str | None, pin: str, environ: Mapping[str, str] | None = None) -> str:
    """The version a run asked for: the option, else PAIRSIM_CODEX_VERSION, else the pin."""
    env = os.environ if environ is None else environ
    for given in (option, env.get(VERSION_ENV)):
        if given:
            return check_version(given)
    return pin


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pairsim" / "codex"


def version_folder(version: str, root: Path | None = None) -> Path:
    """Where `version` is (or would be) installed: a folder laid out as an npm project's, `node_modules/...`."""
    return (root or cache_root()) / check_version(version)


def is_installed(folder: Path) -> bool:
    return (folder / _INSTALLED_MARK).is_file()


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key in release order: 0.129.0-alpha.6 before 0.129.0, 0.169.1 before 0.171.0."""
    core, _, pre = check_version(version).partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    return (major, minor, patch, 0 if pre else 1, pre)


@dataclass(frozen=True)
class VersionRange:
    """The releases from `since` (inclusive) up to `until` (exclusive, the first release that behaves otherwise);
    None leaves that end open."""

    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for end in (self.since, self.until):
            if end is not None:
                check_version(end)
        if self.since and self.until and version_key(self.since) >= version_key(self.until):
            raise ValueError(f"an empty version range: from {self.since} until {self.until}")

    def holds(self, version: str) -> bool:
        key = version_key(version)
        if self.since is not None and key < version_key(self.since):
            return False
        return self.until is None or key < version_key(self.until)

    def __str__(self) -> str:
        if self.since is None and self.until is None:
            return "every version"
        if self.until is None:
            return f"{self.since} and later"
        return f"before {self.until}" if self.since is None else f"{self.since} up to {self.until} (not included)"


EVERY_VERSION = VersionRange()


# -- the registry ------------------------------------------------------------------------------------------------

# Runs npm with these arguments in a folder and returns its stdout; a failure raises CodexVersionError. Injectable so
# the checks can be tested against a registry served on loopback.
NpmRunner = Callable[[Sequence[str], Path], str]


def run_npm(args: Sequence[str], cwd: Path) -> str:
    if shutil.which("npm") is None:
        raise CodexVersionError("npm is not on PATH; the real Codex daemon is installed from npm (install Node.js)")
    done = subprocess.run(
        ["npm", *args, "--loglevel=error", "--no-fund", "--no-audit"],
        cwd=cwd, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), f"exit {done.returncode}")
        raise CodexVersionError(f"npm {' '.join(args[:2])} failed: {first.strip()}")
    return done.stdout


@dataclass(frozen=True)
class PublishedTarball:
    spec: str  # what npm fetches, e.g. @openai/codex@0.171.0-linux-x64
    integrity: str  # the registry's dist.integrity, "sha512-<base64>"


def _dist_integrity(npm: NpmRunner, spec: str, cwd: Path) -> str:
    try:
        out = npm(["view", spec, "dist.integrity", "--json"], cwd)
    except CodexVersionError as exc:
        if "E404" in exc.message or "404" in exc.message:
            raise CodexVersionError(f"npm has no {spec}") from None
        raise
    integrity = json.loads(out) if out.strip() else None
    if not isinstance(integrity, str) or not integrity.startswith("sha512-"):
        raise CodexVersionError(f"npm has no {spec} (no sha512 integrity in the registry)")
    return integrity


def published_tarballs(version: str, platform_package: str, npm: NpmRunner, cwd: Path) -> list[PublishedTarball]:
    """The shim and this machine's native build of `version`, with the integrity the registry states for each."""
    spec = f"{PACKAGE_NAME}@{version}"
    out = ""
    try:
        out = npm(["view", spec, "optionalDependencies", "--json"], cwd)
    except CodexVersionError as exc:
        if "404" not in exc.message:
            raise
    if not out.strip():  # npm prints nothing for a version that does not exist
        raise CodexVersionError(
            f"{PACKAGE_NAME} {version} is not published on npm; `npm view {PACKAGE_NAME} versions --json` lists "
            f"the published versions"
        )
    optional = json.loads(out)
    alias = optional.get(platform_package) if isinstance(optional, dict) else None
    if not isinstance(alias, str) or not alias.startswith(f"npm:{PACKAGE_NAME}@"):
        raise CodexVersionError(f"{spec} has no native build {platform_package} for this machine")
    native = alias.removeprefix("npm:")
    return [PublishedTarball(spec, _dist_integrity(npm, spec, cwd)),
            PublishedTarball(native, _dist_integrity(npm, native, cwd))]


def sri_sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def _unpack(tarball: Path, into: Path) -> None:
    # npm tarballs hold one top folder, `package/`; it becomes the package's folder under node_modules.
    with tarfile.open(tarball, "r:gz") as archive:
        members = []
        for member in archive.getmembers():
            head, _, rest = member.name.partition("/")
            if head != "package" or not rest:
                continue
            member.name = rest
            members.append(member)
        archive.extractall(into, members=members, filter="data")


def install_version(
    version: str,
    platform_package: str,
    *,
    root: Path | None = None,
    npm: NpmRunner = run_npm,
) -> Path:
    """Install `version` (if it is not yet) and return its folder. Raises CodexVersionError on anything that is not
    a whole, checked install: an unknown version, a download whose hash is not the registry's, no npm."""
    folder = version_folder(version, root)
    if is_installed(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=folder.parent))
    try:
        downloads = staging / "downloads"
        downloads.mkdir()
        tarballs = published_tarballs(version, platform_package, npm, staging)
        names = [PACKAGE_NAME, platform_package]
        checked = {}
        for name, tarball in zip(names, tarballs, strict=True):
            into = downloads / str(len(checked))
            into.mkdir()
            npm(["pack", tarball.spec, "--pack-destination", str(into)], staging)
            packed = sorted(into.glob("*.tgz"))
            if len(packed) != 1:
                raise CodexVersionError(f"npm pack {tarball.spec} left {len(packed)} tarballs, not one")
            path = packed[0]
            got = sri_sha512(path)
            if got != tarball.integrity:
                raise CodexVersionError(
                    f"the download of {tarball.spec} does not match the registry's integrity hash "
                    f"(registry {tarball.integrity[:24]}…, download {got[:24]}…); nothing was installed"
                )
            _unpack(path, staging / "node_modules" / name)
            checked[tarball.spec] = tarball.integrity
        shutil.rmtree(downloads)
        (staging / _INSTALLED_MARK).write_text(
            json.dumps({"version": version, "integrity": checked}, indent=2) + "\n", encoding="utf-8"
        )
        try:
            staging.rename(folder)
        except OSError:
            if not is_installed(folder):  # another install won the race only if it finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


# -- the version under test in a feature's or a story's words ------------------------------------------------------

# A feature or story never names the daemon's version: `{codex version}` is the version of the daemon under test
# (the real binary's, or the one the mock imitates) and `{next version}` the next minor release after it (a minimum
# the Mac's Codex is just below).
VERSION_PLACEHOLDER, NEXT_VERSION_PLACEHOLDER = "{codex version}", "{next version}"


def next_version(version: str) -> str:
    """The next minor release after `version`: 0.169.0 → 0.170.0, 0.171.0 → 0.172.0."""
    major, minor, _ = check_version(version).split("-")[0].split(".")
    return f"{major}.{int(minor) + 1}.0"


def fill_versions(text: str, version: str) -> str:
    return text.replace(VERSION_PLACEHOLDER, version).replace(NEXT_VERSION_PLACEHOLDER, next_version(version))
