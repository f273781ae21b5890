"""One typed error taxonomy for the whole product.

Every failure a user can meet has a stable code string (`ErrorCode`). Exceptions carry one; the message catalogue
maps each code to the copy a phone, the desktop and `pairsim doctor` show. Exception messages are for engineers and
never contain secrets (tokens, pairing codes, passwords).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    MFA_REQUIRED = "mfa_required"
    SIGN_IN_WITHOUT_MFA = "sign_in_without_mfa"
    PAIRING_CODE_EXPIRED = "pairing_code_expired"
    PAIRING_CODE_CLAIMED = "pairing_code_claimed"
    NOT_A_PAIRING_CODE = "not_a_pairing_code"
    ACCOUNT_MISMATCH = "account_mismatch"
    WORKSPACE_MISMATCH = "workspace_mismatch"
    REMOTE_CONTROL_DISABLED = "remote_control_disabled"
    BLOCKED_BY_POLICY = "blocked_by_policy"
    HOST_OFFLINE = "host_offline"
    RELAY_UNREACHABLE = "relay_unreachable"
    RATE_LIMITED = "rate_limited"
    REGION_UNAVAILABLE = "region_unavailable"
    UNSUPPORTED_VERSION = "unsupported_version"
    # The Mac's Codex is older than the backend accepts for remote control (the phone's app is fine).
    APP_SERVER_OUTDATED = "app_server_outdated"
    QR_UNREADABLE = "qr_unreadable"
    QR_NOT_FOUND = "qr_not_found"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_CANCELLED = "sign_in_cancelled"
    MFA_CODE_REJECTED = "mfa_code_rejected"
    SESSION_EXPIRED = "session_expired"
    DEVICE_PROOF_REJECTED = "device_proof_rejected"
    CLIENT_REVOKED = "client_revoked"  # this paired phone was removed, on the Mac or from the account
    PROTOCOL_VIOLATION = "protocol_violation"
    # Time and clocks (issue 10): a code from an authenticator whose clock is off; a sign-in page open too long.
    AUTHENTICATOR_CLOCK_OFF = "authenticator_clock_off"
    SIGN_IN_EXPIRED = "sign_in_expired"
    UNKNOWN = "unknown"


class PairsimError(Exception):
    """Base of every error pairsim raises on purpose. `code` is the product-level cause."""

    code: ClassVar[ErrorCode] = ErrorCode.UNKNOWN

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # per-instance override of the class default

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class ProtocolError(PairsimError):
    """Bytes or JSON on a wire did not follow the protocol (malformed frame, wrong type, unknown envelope)."""

    code = ErrorCode.PROTOCOL_VIOLATION


def error_for_code(code: ErrorCode | str, message: str) -> PairsimError:
    """Rebuild a typed error from a code string received over a wire; unknown strings become `unknown`."""
    try:
        parsed = ErrorCode(code)
    except ValueError:
        parsed = ErrorCode.UNKNOWN
    return PairsimError(message, code=parsed)
