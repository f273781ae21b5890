from simulators.protocol.errors import ErrorCode
from simulators.protocol.redaction import MASK, redact_secrets


def test_a_typed_error_code_survives_redaction() -> None:
    body = {"detail": "Multi-factor authentication required", "code": ErrorCode.MFA_REQUIRED.value}
    assert redact_secrets(body) == body


def test_an_oauth_authorization_code_is_still_masked() -> None:
    assert redact_secrets({"code": "ac_5hJ2kq", "state": "s"}) == {"code": MASK, "state": "s"}


def test_an_authorization_code_that_spells_an_error_code_elsewhere_is_masked() -> None:
    # Only the value decides: a key other than `code` holding an error-code string is untouched either way.
    assert redact_secrets({"pairing_code": ErrorCode.UNKNOWN.value}) == {"pairing_code": MASK}
