"""The real Codex daemon (`@openai/codex`, pinned in tools/real-daemon/package.json) and its on-disk home.

`scripts/install-real-daemon` installs the pinned package into tools/real-daemon/node_modules. We start the
native binary the npm shim would run, not the shim: on Node < 23 the shim stays alive as the parent and forwards
signals, so the pid we hold would not be the daemon's. The two variables the shim sets are set here too.

A daemon's state lives in its CODEX_HOME: config.toml (where the ChatGPT backend is), auth.json (who is signed in)
and the sqlite stores it creates. Each start gets its own home, outside /tmp: under /tmp the binary refuses to
create its PATH helper aliases and prints a warning on every start (harmless, but noise in every stderr).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulators.protocol.errors import PairsimError
from simulators.real.versions import (
    PACKAGE_NAME,
    check_version,
    install_command,
    is_installed,
    requested_version,
    version_folder,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DAEMON_DIR = REPO_ROOT / "tools" / "real-daemon"
INSTALL_COMMAND = "scripts/install-real-daemon"
# Overrides where per-start CODEX_HOME directories are made (default: the user's cache directory).
CODEX_HOME_BASE_ENV = "PAIRSIM_CODEX_HOME_BASE"

_NPM_PLATFORM_PACKAGES = {
    # (sys.platform, machine) -> (platform package, target triple), as in the npm shim's table.
    ("linux", "x86_64"): ("@openai/codex-linux-x64", "x86_64-unknown-linux-musl"),
    ("linux", "aarch64"): ("@openai/codex-linux-arm64", "aarch64-unknown-linux-musl"),
    ("darwin", "x86_64"): ("@openai/codex-darwin-x64", "x86_64-apple-darwin"),
    ("darwin", "arm64"): ("@openai/codex-darwin-arm64", "aarch64-apple-darwin"),
}


class RealDaemonUnavailable(PairsimError):
    """The real daemon cannot be started here: not installed, the wrong version, or no build for this machine."""


@dataclass(frozen=True)
class RealDaemonInstall:
    """An installed `@openai/codex` package and the native binary inside it."""

    binary: Path
    package_root: Path  # node_modules/@openai/codex, which the shim reports as CODEX_MANAGED_PACKAGE_ROOT
    version: str

    def environment(self, home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment to start the binary with: `base` (default: ours) plus what the npm shim would set."""
        env = dict(os.environ if base is None else base)
        for name in ("CODEX_MANAGED_BY_BUN", "CODEX_MANAGED_BY_PNPM", "CODEX_MANAGED_BY_VITE_PLUS"):
            env.pop(name, None)
        env["CODEX_MANAGED_BY_NPM"] = "1"
        env["CODEX_MANAGED_PACKAGE_ROOT"] = str(self.package_root)
        env["CODEX_HOME"] = str(home)
        # With RUST_BACKTRACE=1 every `Error: ...` exit is followed by a backtrace; the error line is what we compare.
        env["RUST_BACKTRACE"] = "0"
        return env


def pinned_version(package_dir: Path = REAL_DAEMON_DIR) -> str:
    """The one place the real daemon's version is written: tools/real-daemon/package.json."""
    manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    version = manifest.get("dependencies", {}).get(PACKAGE_NAME)
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version):
        raise RealDaemonUnavailable(f"{package_dir / 'package.json'} must pin {PACKAGE_NAME} to an exact version")
    return version


def native_package() -> tuple[str, str]:
    """(npm package, target triple) of the native binary for this machine, as the npm shim chooses it."""
    uname = os.uname()
    key = ("darwin" if uname.sysname == "Darwin" else "linux", uname.machine)
    if key not in _NPM_PLATFORM_PACKAGES:
        raise RealDaemonUnavailable(f"{PACKAGE_NAME} has no native build for {key[0]} {key[1]}")
    return _NPM_PLATFORM_PACKAGES[key]


def chosen_version(package_dir: Path = REAL_DAEMON_DIR) -> str:
    """The version this process runs: PAIRSIM_CODEX_VERSION (which `pytest --codex-version` sets), else the pin."""
    return requested_version(None, pinned_version(package_dir))


def locate_real_daemon(package_dir: Path = REAL_DAEMON_DIR, version: str | None = None) -> RealDaemonInstall:
    """The installed binary of `version` (default: the chosen one). The pin is the project-local install in
    tools/real-daemon; any other version is its folder in the cache (`pairsim codex install`). Raises
    RealDaemonUnavailable saying how to install it."""
    pin = pinned_version(package_dir)
    wanted = check_version(version) if version else requested_version(None, pin)
    if wanted == pin:
        found = _install_in(package_dir / "node_modules", wanted)
        if isinstance(found, RealDaemonInstall):
            return found
        cached = _install_in(version_folder(wanted) / "node_modules", wanted)
        if isinstance(cached, RealDaemonInstall):
            return cached
        raise RealDaemonUnavailable(f"{found}; run `{INSTALL_COMMAND}`")
    folder = version_folder(wanted)
    if not is_installed(folder):
        raise RealDaemonUnavailable(
            f"the real Codex daemon {PACKAGE_NAME}@{wanted} is not installed; run `{install_command(wanted)}`"
        )
    found = _install_in(folder / "node_modules", wanted)
    if isinstance(found, str):
        raise RealDaemonUnavailable(f"{found} in {folder}; remove that folder and run `{install_command(wanted)}`")
    return found


def _install_in(modules: Path, wanted: str) -> RealDaemonInstall | str:
    """The install of `wanted` under `modules`, or why there is none (a sentence)."""
    platform_package, triple = native_package()
    package_root = modules / PACKAGE_NAME
    vendor = modules / platform_package / "vendor" / triple
    binary = vendor / "bin" / "codex"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return f"the real Codex daemon {PACKAGE_NAME}@{wanted} is not installed"
    try:
        installed = json.loads((vendor / "codex-package.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        installed = None
    if installed != wanted:
        return f"installed {PACKAGE_NAME} is {installed or 'of unknown version'}, the pin is {wanted}"
    return RealDaemonInstall(binary=binary, package_root=package_root.resolve(), version=wanted)


# -- CODEX_HOME --------------------------------------------------------------------------------------------------


def codex_home_base() -> Path:
    configured = os.environ.get(CODEX_HOME_BASE_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pairsim" / "codex-homes"


def make_codex_home(base: Path | None = None) -> Path:
    """A fresh, empty CODEX_HOME (mode 0700). The caller removes it."""
    base = base or codex_home_base()
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="home-", dir=base)).resolve()


def _toml_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + "".join(_toml_char(c) for c in value) + '"'


def _toml_char(char: str) -> str:
    # A TOML basic string must escape the quote, the backslash and control characters; the rest is UTF-8 as is.
    if char in '"\\':
        return "\\" + char
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04X}"
    return char


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def write_config_toml(
    home: Path,
    *,
    chatgpt_base_url: str | None = None,
    settings: Mapping[str, str | int | bool] | None = None,
) -> Path:
    """Write `$CODEX_HOME/config.toml` with top-level keys only.

    Only top-level keys: a key written after a `[table]` header belongs to that table and the binary silently
    ignores it (a misplaced `chatgpt_base_url` sends the daemon to chatgpt.com). `chatgpt_base_url` is the ChatGPT
    backend and also the remote-control base, e.g. `http://127.0.0.1:PORT/backend-api/`.
    """
    values: dict[str, str | int | bool] = dict(settings or {})
    if chatgpt_base_url is not None:
        values["chatgpt_base_url"] = chatgpt_base_url
    lines = ["# Written by pairsim. Top-level keys only: a key below a [table] header belongs to that table."]
    for key, value in values.items():
        if not _BARE_KEY.fullmatch(key):
            raise ValueError(f"not a bare TOML key: {key!r}")
        lines.append(f"{key} = {_toml_value(value)}")
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class ChatGptTokens:
    """A ChatGPT sign-in as auth.json stores it. The JWTs are minted by the caller's issuer."""

    id_token: str
    access_token: str
    refresh_token: str
    account_id: str

    def __repr__(self) -> str:
        return f"ChatGptTokens(account_id={self.account_id!r}, <tokens redacted>)"


def write_auth_json(home: Path, tokens: ChatGptTokens, *, last_refresh: datetime) -> Path:
    """Write `$CODEX_HOME/auth.json` for a ChatGPT sign-in (mode 0600, as the binary writes it).

    `last_refresh` must be timezone-aware (the binary parses it as RFC 3339); pass the scenario clock's time.
    """
    if last_refresh.tzinfo is None:
        raise ValueError("last_refresh must be timezone-aware")
    document = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": tokens.id_token,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "account_id": tokens.account_id,
        },
        "last_refresh": last_refresh.isoformat().replace("+00:00", "Z"),
    }
    path = home / "auth.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file
    return path
