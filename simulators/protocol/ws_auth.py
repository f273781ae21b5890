"""WebSocket listener auth of the Codex app-server: flag validation and the upgrade-time bearer check.

Two modes, both reading only the first `Authorization` header of the upgrade request:
- capability-token: the SHA-256 of the presented token must equal the configured digest (constant-time
  compare);
- signed-bearer-token: an HS256 JWT signed with a shared secret, with `exp` required and a clock skew.

The rules are the real server's as observed on 0.169.0, not a JWT library's defaults, so the JWT check is
written out here: a library would accept float `exp`, other HMAC algorithms or padded base64, and order its
checks differently. Pure: callers pass the headers, the current time and the secret file's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from simulators.protocol.errors import PairsimError

DEFAULT_MAX_CLOCK_SKEW_SECONDS = 30
MIN_SHARED_SECRET_BYTES = 32

MISSING_BEARER_TOKEN = "missing websocket bearer token"
INVALID_BEARER_TOKEN = "invalid websocket bearer token"
INVALID_AUTHORIZATION_HEADER = "invalid authorization header"
INVALID_JWT = "invalid websocket jwt"
EXPIRED_JWT = "expired websocket jwt"
JWT_NOT_VALID_YET = "websocket jwt is not valid yet"
JWT_ISSUER_MISMATCH = "websocket jwt issuer mismatch"
JWT_AUDIENCE_MISMATCH = "websocket jwt audience mismatch"


class WsAuthMode(StrEnum):
    CAPABILITY_TOKEN = "capability-token"
    SIGNED_BEARER_TOKEN = "signed-bearer-token"


@dataclass(frozen=True)
class CapabilityTokenAuth:
    token_sha256: bytes  # 32 bytes; the token itself is never kept

    def __repr__(self) -> str:
        return "CapabilityTokenAuth(token_sha256=<redacted>)"


@dataclass(frozen=True)
class SignedBearerTokenAuth:
    shared_secret: bytes
    issuer: str | None = None
    audience: str | None = None
    max_clock_skew_seconds: int = DEFAULT_MAX_CLOCK_SKEW_SECONDS

    def __repr__(self) -> str:
        return (
            f"SignedBearerTokenAuth(shared_secret=<redacted>, issuer={self.issuer!r}, "
            f"audience={self.audience!r}, max_clock_skew_seconds={self.max_clock_skew_seconds})"
        )


WsAuthConfig = CapabilityTokenAuth | SignedBearerTokenAuth


@dataclass(frozen=True)
class AuthRejection:
    """Why an upgrade was refused. `message` is the exact 401 body."""

    message: str
    status: int = 401


# ------------------------------------------------------------------------------------------------------------
# Upgrade-time check


def authorize_upgrade(
    config: WsAuthConfig | None, headers: Iterable[tuple[str, str]], now: float
) -> AuthRejection | None:
    """None when the upgrade may proceed. `headers`: (name, value) pairs in arrival order, duplicates kept."""
    if config is None:
        return None  # 0.169.0 has no query-token mode: without --ws-auth nothing is checked
    token = bearer_token(headers)
    if isinstance(token, AuthRejection):
        return token
    if isinstance(config, CapabilityTokenAuth):
        presented = hashlib.sha256(token.encode("ascii")).digest()
        if hmac.compare_digest(presented, config.token_sha256):
            return None
        return AuthRejection(INVALID_BEARER_TOKEN)
    message = verify_jwt(token, config, int(now))
    return None if message is None else AuthRejection(message)


def _is_visible_ascii(value: str) -> bool:
    # The Rust server first turns the header into a str, which fails on anything but visible ASCII and tab.
    return all(c == "\t" or " " <= c <= "~" for c in value)


def bearer_token(headers: Iterable[tuple[str, str]]) -> str | AuthRejection:
    """The token of the first `Authorization` header, or the rejection the real server gives."""
    value = next((v for k, v in headers if k.lower() == "authorization"), None)
    if value is None:
        return AuthRejection(MISSING_BEARER_TOKEN)
    if not _is_visible_ascii(value):
        return AuthRejection(INVALID_AUTHORIZATION_HEADER)
    scheme, sep, rest = value.partition(" ")
    if not sep or scheme.lower() != "bearer":
        return AuthRejection(INVALID_AUTHORIZATION_HEADER)
    token = rest.strip()
    if not token:
        return AuthRejection(INVALID_AUTHORIZATION_HEADER)
    return token


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64url_decode(segment: str) -> bytes:
    # Unpadded base64url only, as the real decoder; `=` padding or stray characters make the token invalid.
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _is_timestamp(value: object) -> bool:
    """A signed 64-bit integer: what the real claims struct accepts for `exp` and `nbf` (observed: -1 and
    -2^63 read as long expired, 2^63 does not decode)."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def verify_jwt(token: str, config: SignedBearerTokenAuth, now: int) -> str | None:
    """None for an acceptable token, else the 401 message.

    Check order: signature/format → exp → nbf → iss → aud."""
    parts = token.split(".")
    if len(parts) != 3:
        return INVALID_JWT
    header_b64, claims_b64, signature_b64 = parts
    try:
        header = _json_object(_b64url_decode(header_b64))
        signature = _b64url_decode(signature_b64)
        if header.get("alg") != "HS256":
            return INVALID_JWT
        expected = hmac.new(
            config.shared_secret, f"{header_b64}.{claims_b64}".encode("ascii"), "sha256"
        ).digest()
        if not hmac.compare_digest(signature, expected):
            return INVALID_JWT
        claims = _json_object(_b64url_decode(claims_b64))
    except (ValueError, UnicodeError, RecursionError):
        return INVALID_JWT

    # The claims decode into a typed struct: a wrong type is a decode failure, not a mismatch.
    exp, nbf, iss, aud = claims.get("exp"), claims.get("nbf"), claims.get("iss"), claims.get("aud")
    if not _is_timestamp(exp):
        return INVALID_JWT
    if nbf is not None and not _is_timestamp(nbf):
        return INVALID_JWT
    if iss is not None and not isinstance(iss, str):
        return INVALID_JWT
    if aud is not None and not (
        isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    ):
        return INVALID_JWT

    skew = config.max_clock_skew_seconds
    if now > exp + skew:
        return EXPIRED_JWT
    if nbf is not None and nbf > now + skew:
        return JWT_NOT_VALID_YET
    if config.issuer is not None and iss != config.issuer:
        return JWT_ISSUER_MISMATCH
    if config.audience is not None:
        audiences = [aud] if isinstance(aud, str) else (aud or [])
        if config.audience not in audiences:
            return JWT_AUDIENCE_MISMATCH
    return None


# ------------------------------------------------------------------------------------------------------------
# Start-up flag validation


class WsAuthFlagError(PairsimError):
    """A start-up refusal. `message` is the text after `Error: `; the daemon exits 1."""


@dataclass(frozen=True)
class WsAuthFlags:
    """The `--ws-*` flags as given on the command line (None = flag absent)."""

    mode: WsAuthMode | None = None
    token_file: str | None = None
    token_sha256: str | None = None
    shared_secret_file: str | None = None
    issuer: str | None = None
    audience: str | None = None
    max_clock_skew_seconds: int | None = None


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def secret_file_to_read(flags: WsAuthFlags) -> str | None:
    """Validate the flag combination and name the one file the daemon must read next (or None)."""
    signed_only = (flags.shared_secret_file, flags.issuer, flags.audience, flags.max_clock_skew_seconds)
    capability_only = (flags.token_file, flags.token_sha256)
    if flags.mode is None:
        if any(v is not None for v in (*signed_only, *capability_only)):
            raise WsAuthFlagError(
                "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
            )
        return None
    if flags.mode is WsAuthMode.CAPABILITY_TOKEN:
        if any(v is not None for v in signed_only):
            raise WsAuthFlagError(
                "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and "
                "`--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token`"
            )
        if flags.token_file is not None and flags.token_sha256 is not None:
            raise WsAuthFlagError("`--ws-token-file` and `--ws-token-sha256` are mutually exclusive")
        if flags.token_file is None and flags.token_sha256 is None:
            raise WsAuthFlagError(
                "`--ws-token-file` or `--ws-token-sha256` is required when "
                "`--ws-auth capability-token` is set"
            )
        if flags.token_sha256 is not None and not _HEX64.fullmatch(flags.token_sha256):
            raise WsAuthFlagError("--ws-token-sha256 must be a 64-character hex SHA-256 digest")
        return flags.token_file
    if any(v is not None for v in capability_only):
        raise WsAuthFlagError(
            "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, "
            "not `signed-bearer-token`"
        )
    if flags.shared_secret_file is None:
        raise WsAuthFlagError(
            "`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set"
        )
    return flags.shared_secret_file


def unreadable_secret_message(path: str, reason: str) -> str:
    """`reason` in Rust's io::Error wording, e.g. `No such file or directory (os error 2)`."""
    return f"failed to read websocket auth secret {path}: {reason}"


def _blank_is_unset(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def build_ws_auth_config(flags: WsAuthFlags, secret_file_text: str | None) -> WsAuthConfig | None:
    """The listener's auth config. `secret_file_text`: content of the file `secret_file_to_read` named."""
    path = secret_file_to_read(flags)
    if flags.mode is None:
        return None
    secret: str | None = None
    if path is not None:
        if secret_file_text is None:
            raise ValueError("the secret file's text is required")
        secret = secret_file_text.strip()
        if not secret:
            raise WsAuthFlagError(f"websocket auth secret {path} must not be empty")
    if flags.mode is WsAuthMode.CAPABILITY_TOKEN:
        if secret is not None:
            return CapabilityTokenAuth(hashlib.sha256(secret.encode("utf-8")).digest())
        assert flags.token_sha256 is not None
        return CapabilityTokenAuth(bytes.fromhex(flags.token_sha256))
    assert secret is not None and path is not None
    secret_bytes = secret.encode("utf-8")
    if len(secret_bytes) < MIN_SHARED_SECRET_BYTES:
        raise WsAuthFlagError(
            f"signed websocket bearer secret {path} must be at least {MIN_SHARED_SECRET_BYTES} bytes"
        )
    skew = flags.max_clock_skew_seconds
    return SignedBearerTokenAuth(
        shared_secret=secret_bytes,
        issuer=_blank_is_unset(flags.issuer),
        audience=_blank_is_unset(flags.audience),
        max_clock_skew_seconds=DEFAULT_MAX_CLOCK_SKEW_SECONDS if skew is None else skew,
    )
