"""Where `pairsim login` keeps what a sign-in produced, in the four modes of the real CLI's
`cli_auth_credentials_store` [V: AuthCredentialsStoreMode]: `file`, `keyring`, `auto`, `ephemeral`.

`file` writes `$CODEX_HOME/auth.json` (mode 0600, replaced atomically) in the real CLI's layout, so the real binary
and pairsim's desktop read it. `keyring` stores the same JSON document with the `keyring` library under the
service name the real CLI uses; headless machines get a real file backend from keyrings.alt. `auto` takes the
keyring when one is usable and the file otherwise; `ephemeral` keeps it in the store object, so in the memory of
this process only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from simulators.protocol.errors import ErrorCode, PairsimError

AUTH_FILENAME = "auth.json"
KEYRING_SERVICE = "Codex CLI Auth"  # [V: the real CLI's keyring service name]
KEYRING_DIRNAME = "keyring"
# `PAIRSIM_KEYRING`: `file` (default: keyrings.alt's file backend under the home), `system` (whatever keyring the
# machine has) or `none` (no keyring, as on a bare server).
KEYRING_ENV = "PAIRSIM_KEYRING"


class CredentialStoreMode(StrEnum):
    FILE = "file"
    KEYRING = "keyring"
    AUTO = "auto"
    EPHEMERAL = "ephemeral"


class AuthMode(StrEnum):
    CHATGPT = "chatgpt"
    API_KEY = "apikey"
    ACCESS_TOKEN = "access_token"  # pairsim's spelling for a sign-in from `--with-access-token`


class CredentialStoreError(PairsimError):
    code = ErrorCode.SIGN_IN_FAILED


class KeyringUnavailable(CredentialStoreError):
    pass


@dataclass(frozen=True)
class AuthTokens:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    account_id: str | None


@dataclass(frozen=True)
class StoredAuth:
    """The auth.json document [V: field names and layout]. `repr` never shows a credential."""

    auth_mode: AuthMode
    tokens: AuthTokens | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    last_refresh: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"auth_mode": self.auth_mode.value, "OPENAI_API_KEY": self.openai_api_key}
        if self.tokens is not None:
            body["tokens"] = {
                "id_token": self.tokens.id_token,
                "access_token": self.tokens.access_token,
                "refresh_token": self.tokens.refresh_token,
                "account_id": self.tokens.account_id,
            }
        if self.last_refresh is not None:
            body["last_refresh"] = self.last_refresh
        return body

    def serialise(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def parse(cls, text: str) -> StoredAuth:
        """Read an auth.json document; anything malformed raises `CredentialStoreError` (never quoting it)."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CredentialStoreError("stored credentials are not valid JSON") from exc
        if not isinstance(raw, dict):
            raise CredentialStoreError("stored credentials are not a JSON object")
        tokens_raw = raw.get("tokens")
        tokens = None
        if isinstance(tokens_raw, dict):
            values = {k: tokens_raw.get(k) for k in ("id_token", "access_token", "refresh_token")}
            if not all(isinstance(v, str) for v in values.values()):
                raise CredentialStoreError("stored tokens are incomplete")
            account_id = tokens_raw.get("account_id")
            tokens = AuthTokens(**values, account_id=account_id if isinstance(account_id, str) else None)
        key = raw.get("OPENAI_API_KEY")
        mode_raw = raw.get("auth_mode")
        try:
            # Older auth.json files have no auth_mode: tokens mean ChatGPT, a key alone means an API key.
            mode = AuthMode(mode_raw) if mode_raw else (AuthMode.CHATGPT if tokens else AuthMode.API_KEY)
        except ValueError as exc:
            raise CredentialStoreError("stored credentials have an unknown auth_mode") from exc
        last_refresh = raw.get("last_refresh")
        return cls(
            auth_mode=mode,
            tokens=tokens,
            openai_api_key=key if isinstance(key, str) else None,
            last_refresh=last_refresh if isinstance(last_refresh, str) else None,
        )


class CredentialStore(Protocol):
    mode: CredentialStoreMode

    def load(self) -> StoredAuth | None: ...

    def save(self, auth: StoredAuth) -> None: ...

    def delete(self) -> bool: ...

    def describe(self) -> str: ...


class FileCredentialStore:
    mode = CredentialStoreMode.FILE

    def __init__(self, home: Path) -> None:
        self.path = home / AUTH_FILENAME

    def load(self) -> StoredAuth | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return StoredAuth.parse(text)

    def save(self, auth: StoredAuth) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target with 0600 from the first byte, then renamed: no reader ever sees a partial
        # file or a moment where the tokens are world-readable.
        fd, tmp = tempfile.mkstemp(prefix=".auth-", suffix=".json", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(auth.serialise())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def delete(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def describe(self) -> str:
        return str(self.path)


def keyring_username(home: Path) -> str:
    """One keyring entry per CODEX_HOME, so two homes on one machine do not overwrite each other [I]."""
    digest = hashlib.sha256(str(home.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"cli|{digest}"


class KeyringCredentialStore:
    mode = CredentialStoreMode.KEYRING

    def __init__(self, home: Path, backend: Any) -> None:
        self.backend = backend
        self.username = keyring_username(home)

    def load(self) -> StoredAuth | None:
        text = self.backend.get_password(KEYRING_SERVICE, self.username)
        return None if text is None else StoredAuth.parse(text)

    def save(self, auth: StoredAuth) -> None:
        self.backend.set_password(KEYRING_SERVICE, self.username, auth.serialise())

    def delete(self) -> bool:
        import keyring.errors

        try:
            self.backend.delete_password(KEYRING_SERVICE, self.username)
        except keyring.errors.PasswordDeleteError:
            return False
        return True

    def describe(self) -> str:
        return f"keyring {type(self.backend).__name__} ({KEYRING_SERVICE})"


class EphemeralCredentialStore:
    """Memory only [V: ephemeral mode]: the sign-in lives in this store object, so it is gone when the process
    that made it exits; a new process (or a new store) starts with nothing."""

    mode = CredentialStoreMode.EPHEMERAL

    def __init__(self, home: Path) -> None:
        self._auth: StoredAuth | None = None

    def __repr__(self) -> str:
        return f"EphemeralCredentialStore(holds_sign_in={self._auth is not None})"

    def load(self) -> StoredAuth | None:
        return self._auth

    def save(self, auth: StoredAuth) -> None:
        self._auth = auth

    def delete(self) -> bool:
        had, self._auth = self._auth is not None, None
        return had

    def describe(self) -> str:
        return "memory (ephemeral)"


def file_keyring(home: Path) -> Any:
    """keyrings.alt's file backend with its file under the home: a real keyring that works without a desktop
    session. Its file is created 0600 by the library."""
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(home / KEYRING_DIRNAME / PlaintextKeyring.filename)
    return backend


def usable_keyring(backend: Any) -> bool:
    from keyring.backends import fail

    return backend is not None and not isinstance(backend, fail.Keyring)


def keyring_from_environment(home: Path, environ: dict[str, str] | None = None) -> Any:
    """The keyring `pairsim login` uses, as `PAIRSIM_KEYRING` says (see module docs); None when there is none."""
    choice = (environ if environ is not None else dict(os.environ)).get(KEYRING_ENV, "file")
    if choice == "none":
        return None
    if choice == "system":
        import keyring

        return keyring.get_keyring()
    if choice == "file":
        return file_keyring(home)
    raise CredentialStoreError(f"{KEYRING_ENV} must be file, system or none, not {choice!r}")


def open_store(mode: CredentialStoreMode | str, home: Path, keyring_backend: Any = None) -> CredentialStore:
    """The store for a mode. `keyring` without a usable backend raises `KeyringUnavailable`; `auto` falls back to
    the file."""
    mode = CredentialStoreMode(mode)
    if mode is CredentialStoreMode.FILE:
        return FileCredentialStore(home)
    if mode is CredentialStoreMode.EPHEMERAL:
        return EphemeralCredentialStore(home)
    if usable_keyring(keyring_backend):
        return KeyringCredentialStore(home, keyring_backend)
    if mode is CredentialStoreMode.AUTO:
        return FileCredentialStore(home)
    raise KeyringUnavailable("the keyring credential store was requested but no keyring is available")
