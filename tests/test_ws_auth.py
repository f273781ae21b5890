"""Listener auth rules (pure): Authorization header parsing, capability tokens, HS256 JWT claims and skew,
and the start-up flag validation with the real server's exact wording."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.protocol.ws_auth import (
    EXPIRED_JWT,
    INVALID_AUTHORIZATION_HEADER,
    INVALID_BEARER_TOKEN,
    INVALID_JWT,
    JWT_AUDIENCE_MISMATCH,
    JWT_ISSUER_MISMATCH,
    JWT_NOT_VALID_YET,
    MISSING_BEARER_TOKEN,
    AuthRejection,
    CapabilityTokenAuth,
    SignedBearerTokenAuth,
    WsAuthFlagError,
    WsAuthFlags,
    WsAuthMode,
    authorize_upgrade,
    build_ws_auth_config,
    secret_file_to_read,
    verify_jwt,
)

NOW = 1_800_000_000
TOKEN = "capability-token-for-tests"
# 64 bytes, so PyJWT signs the HS384/HS512 rows without key-length warnings.
SECRET = b"0123456789abcdef" * 4
CAPABILITY = CapabilityTokenAuth(hashlib.sha256(TOKEN.encode()).digest())
SIGNED = SignedBearerTokenAuth(SECRET, issuer="test-issuer", audience="test-aud", max_clock_skew_seconds=30)
UNCHECKED = SignedBearerTokenAuth(SECRET)

ALL_MESSAGES = {
    MISSING_BEARER_TOKEN,
    INVALID_BEARER_TOKEN,
    INVALID_AUTHORIZATION_HEADER,
    INVALID_JWT,
    EXPIRED_JWT,
    JWT_NOT_VALID_YET,
    JWT_ISSUER_MISMATCH,
    JWT_AUDIENCE_MISMATCH,
}


def outcome(
    config: CapabilityTokenAuth | SignedBearerTokenAuth | None, *headers: tuple[str, str]
) -> str | None:
    result = authorize_upgrade(config, list(headers), NOW)
    return None if result is None else result.message


def token(
    claims: dict[str, object], secret: bytes = SECRET, algorithm: str = "HS256", **headers: object
) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers or None)


def signed_by_hand(header: dict[str, object], claims: dict[str, object]) -> str:
    """For shapes PyJWT refuses to produce (a non-string `iss`, no `typ`)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head, body = b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(hmac.new(SECRET, f'{head}.{body}'.encode(), 'sha256').digest())}"


def valid_claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {"iss": "test-issuer", "aud": "test-aud", "iat": NOW, "exp": NOW + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


# ------------------------------------------------------------------------------------------------------------
# Authorization header and capability tokens (observed §3.3, §3.4)


def test_without_auth_everything_passes_even_a_stray_bearer() -> None:
    assert outcome(None) is None
    assert outcome(None, ("Authorization", "Bearer anything")) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), MISSING_BEARER_TOKEN),
        ((("Authorization", "Bearer wrong-token"),), INVALID_BEARER_TOKEN),
        ((("Authorization", f"Bearer {TOKEN}"),), None),
        ((("authorization", f"bearer {TOKEN}"),), None),
        ((("AUTHORIZATION", f"BEARER {TOKEN}"),), None),
        ((("Authorization", f"Bearer  {TOKEN}"),), None),
        ((("Authorization", f"Bearer {TOKEN} "),), None),
        ((("Authorization", TOKEN),), INVALID_AUTHORIZATION_HEADER),
        ((("Authorization", "Basic dXNlcjpwYXNz"),), INVALID_AUTHORIZATION_HEADER),
        ((("Authorization", "Bearer"),), INVALID_AUTHORIZATION_HEADER),
        ((("Authorization", "Bearer "),), INVALID_AUTHORIZATION_HEADER),
        ((("Authorization", f"Bearer\t{TOKEN}"),), INVALID_AUTHORIZATION_HEADER),
        ((("Authorization", f"Bearer {TOKEN}\u00e9"),), INVALID_AUTHORIZATION_HEADER),
        ((("Sec-WebSocket-Protocol", TOKEN),), MISSING_BEARER_TOKEN),
        ((("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")), INVALID_BEARER_TOKEN),
        ((("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong")), None),
        ((("Authorization", f"Bearer {hashlib.sha256(TOKEN.encode()).hexdigest()}"),), INVALID_BEARER_TOKEN),
    ],
)
def test_capability_token_rows(headers: tuple[tuple[str, str], ...], expected: str | None) -> None:
    assert outcome(CAPABILITY, *headers) == expected


def test_rejections_are_401() -> None:
    assert authorize_upgrade(CAPABILITY, [], NOW) == AuthRejection(MISSING_BEARER_TOKEN, 401)


def test_config_repr_never_shows_secrets() -> None:
    assert TOKEN not in repr(CAPABILITY)
    assert hashlib.sha256(TOKEN.encode()).hexdigest() not in repr(CAPABILITY)
    assert SECRET.decode() not in repr(SIGNED)


@given(
    st.lists(st.tuples(st.sampled_from(["Authorization", "authorization", "X-Other"]), st.text()), max_size=3)
)
def test_any_headers_give_a_known_outcome(headers: list[tuple[str, str]]) -> None:
    for config in (CAPABILITY, SIGNED):
        result = authorize_upgrade(config, headers, NOW)
        assert result is None or result.message in ALL_MESSAGES


@given(st.text())
def test_any_bearer_value_gives_a_known_jwt_outcome(value: str) -> None:
    assert verify_jwt(value, SIGNED, NOW) in ALL_MESSAGES | {None}


# ------------------------------------------------------------------------------------------------------------
# Signed bearer tokens (observed §3.5)


def bearer(value: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {value}")


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (valid_claims(), None),
        (valid_claims(aud=["other", "test-aud"]), None),
        (valid_claims(iss=None), JWT_ISSUER_MISMATCH),
        (valid_claims(aud=None), JWT_AUDIENCE_MISMATCH),
        (valid_claims(aud=[]), JWT_AUDIENCE_MISMATCH),
        (valid_claims(exp=None), INVALID_JWT),
        (valid_claims(aud="wrong"), JWT_AUDIENCE_MISMATCH),
        (valid_claims(iss="wrong"), JWT_ISSUER_MISMATCH),
        (valid_claims(exp=NOW), None),
        (valid_claims(exp=NOW - 29), None),
        (valid_claims(exp=NOW - 30), None),
        (valid_claims(exp=NOW - 31), EXPIRED_JWT),
        (valid_claims(exp=NOW - 90), EXPIRED_JWT),
        (valid_claims(nbf=NOW + 25), None),
        (valid_claims(nbf=NOW + 30), None),
        (valid_claims(nbf=NOW + 31), JWT_NOT_VALID_YET),
        (valid_claims(nbf=NOW + 90), JWT_NOT_VALID_YET),
        (valid_claims(exp=str(NOW + 300)), INVALID_JWT),
        (valid_claims(exp=NOW + 300.5), INVALID_JWT),
        (valid_claims(exp=float(NOW + 300)), INVALID_JWT),
        (valid_claims(exp=True), INVALID_JWT),
        (valid_claims(nbf="soon"), INVALID_JWT),
        (valid_claims(aud=[1]), INVALID_JWT),
        (valid_claims(iat=NOW + 3600), None),
        (valid_claims(iat=None), None),
        (valid_claims(exp=NOW + 10 * 365 * 86400), None),
        # Check order: exp → nbf → iss → aud.
        (valid_claims(exp=NOW - 60, iss="wrong"), EXPIRED_JWT),
        (valid_claims(nbf=NOW + 60, iss="wrong"), JWT_NOT_VALID_YET),
        (valid_claims(nbf=NOW + 60, exp=NOW - 60), EXPIRED_JWT),
        (valid_claims(iss="wrong", aud="wrong"), JWT_ISSUER_MISMATCH),
    ],
)
def test_signed_bearer_claims(claims: dict[str, object], expected: str | None) -> None:
    assert outcome(SIGNED, bearer(token(claims))) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (token(valid_claims(), secret=b"another-secret-of-at-least-32-bytes!!"), INVALID_JWT),
        (token(valid_claims(exp=NOW - 60), secret=b"another-secret-of-at-least-32-bytes!!"), INVALID_JWT),
        ("not.a.jwt", INVALID_JWT),
        ("garbage", INVALID_JWT),
        (jwt.encode(valid_claims(), None, algorithm="none"), INVALID_JWT),
        (token(valid_claims(), algorithm="HS384"), INVALID_JWT),
        (token(valid_claims(), algorithm="HS512"), INVALID_JWT),
        (token(valid_claims(), kid="key-1"), None),
        (token(valid_claims(), typ="at+jwt"), None),
        (token(valid_claims()) + "=", INVALID_JWT),
        (token(valid_claims()) + ".x", INVALID_JWT),
    ],
)
def test_signed_bearer_format_and_algorithm(value: str, expected: str | None) -> None:
    assert outcome(SIGNED, bearer(value)) == expected


def test_hand_signed_shapes() -> None:
    assert outcome(SIGNED, bearer(signed_by_hand({"alg": "HS256"}, valid_claims()))) is None  # no typ
    assert outcome(SIGNED, bearer(signed_by_hand({"alg": "HS256"}, valid_claims(iss=7)))) == INVALID_JWT
    assert outcome(SIGNED, bearer(signed_by_hand({"alg": "HS256"}, valid_claims(exp=2**64)))) == INVALID_JWT


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        # exp and nbf are signed 64-bit integers (observed on 0.169.0).
        (valid_claims(exp=-1), EXPIRED_JWT),
        (valid_claims(exp=-(2**63)), EXPIRED_JWT),
        (valid_claims(exp=-(2**63) - 1), INVALID_JWT),
        (valid_claims(exp=2**63 - 1), None),
        (valid_claims(exp=2**63), INVALID_JWT),
        (valid_claims(nbf=-5), None),
        (valid_claims(nbf=-(2**63)), None),
        (valid_claims(nbf=2**63 - 1), JWT_NOT_VALID_YET),
        (valid_claims(nbf=2**63), INVALID_JWT),
    ],
)
def test_exp_and_nbf_are_signed_64_bit(claims: dict[str, object], expected: str | None) -> None:
    assert outcome(SIGNED, bearer(signed_by_hand({"alg": "HS256"}, claims))) == expected
    assert outcome(SIGNED, bearer(signed_by_hand({"typ": "JWT"}, valid_claims()))) == INVALID_JWT  # no alg
    assert outcome(SIGNED, bearer(signed_by_hand({"alg": "HS256"}, [1]))) == INVALID_JWT  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("skew", "exp_offset", "expected"),
    [
        (0, 0, None),
        (0, -5, EXPIRED_JWT),
        (120, -120, None),
        (120, -299, EXPIRED_JWT),
    ],
)
def test_skew_boundaries(skew: int, exp_offset: int, expected: str | None) -> None:
    config = SignedBearerTokenAuth(SECRET, "test-issuer", "test-aud", max_clock_skew_seconds=skew)
    assert outcome(config, bearer(token(valid_claims(exp=NOW + exp_offset)))) == expected


def test_issuer_and_audience_are_not_checked_when_unset() -> None:
    for claims in (valid_claims(iss="anyone", aud="anything"), valid_claims(iss=None, aud=None)):
        assert outcome(UNCHECKED, bearer(token(claims))) is None


def test_a_missing_header_in_signed_mode() -> None:
    assert outcome(SIGNED) == MISSING_BEARER_TOKEN


# ------------------------------------------------------------------------------------------------------------
# Start-up flag validation (observed §3.4)

CAP = WsAuthMode.CAPABILITY_TOKEN
JWT_MODE = WsAuthMode.SIGNED_BEARER_TOKEN


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            WsAuthFlags(mode=CAP),
            "`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set",
        ),
        (
            WsAuthFlags(token_file="t.txt"),
            "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
        ),
        (
            WsAuthFlags(max_clock_skew_seconds=5),
            "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
        ),
        (
            WsAuthFlags(mode=CAP, token_file="t.txt", token_sha256="a" * 64),
            "`--ws-token-file` and `--ws-token-sha256` are mutually exclusive",
        ),
        (
            WsAuthFlags(mode=CAP, token_sha256="abcd"),
            "--ws-token-sha256 must be a 64-character hex SHA-256 digest",
        ),
        (
            WsAuthFlags(mode=CAP, token_sha256="g" * 64),
            "--ws-token-sha256 must be a 64-character hex SHA-256 digest",
        ),
        (
            WsAuthFlags(mode=JWT_MODE),
            "`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set",
        ),
        (
            WsAuthFlags(mode=JWT_MODE, shared_secret_file="s", token_file="t.txt"),
            "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, "
            "not `signed-bearer-token`",
        ),
        (
            WsAuthFlags(mode=CAP, token_file="t.txt", issuer="i"),
            "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` "
            "require `--ws-auth signed-bearer-token`",
        ),
    ],
)
def test_flag_combinations(flags: WsAuthFlags, message: str) -> None:
    with pytest.raises(WsAuthFlagError) as caught:
        secret_file_to_read(flags)
    assert caught.value.message == message
    with pytest.raises(WsAuthFlagError):
        build_ws_auth_config(flags, "irrelevant-secret-text-0123456789abcdef")


def test_no_flags_means_no_auth() -> None:
    assert secret_file_to_read(WsAuthFlags()) is None
    assert build_ws_auth_config(WsAuthFlags(), None) is None


def test_token_file_is_trimmed_and_short_tokens_are_fine() -> None:
    flags = WsAuthFlags(mode=CAP, token_file="token.txt")
    assert secret_file_to_read(flags) == "token.txt"  # relative paths are accepted, as observed
    assert build_ws_auth_config(flags, f"{TOKEN}\n") == CAPABILITY
    assert build_ws_auth_config(flags, "short") == CapabilityTokenAuth(hashlib.sha256(b"short").digest())


def test_token_digest_flag_accepts_upper_case_hex() -> None:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest().upper()
    assert build_ws_auth_config(WsAuthFlags(mode=CAP, token_sha256=digest), None) == CAPABILITY


def test_empty_secret_files_are_refused() -> None:
    with pytest.raises(WsAuthFlagError) as caught:
        build_ws_auth_config(WsAuthFlags(mode=CAP, token_file="/tmp/empty.txt"), " \n")
    assert caught.value.message == "websocket auth secret /tmp/empty.txt must not be empty"


def test_shared_secret_is_trimmed_and_at_least_32_bytes() -> None:
    flags = WsAuthFlags(mode=JWT_MODE, shared_secret_file="/w/secret_short.txt")
    with pytest.raises(WsAuthFlagError) as caught:
        build_ws_auth_config(flags, "8 bytes!\n")
    assert (
        caught.value.message == "signed websocket bearer secret /w/secret_short.txt must be at least 32 bytes"
    )
    with pytest.raises(WsAuthFlagError):
        build_ws_auth_config(flags, " " + "x" * 31 + "\n")  # 31 bytes once trimmed
    config = build_ws_auth_config(flags, SECRET.decode() + "\n")
    assert config == SignedBearerTokenAuth(SECRET, None, None, 30)


def test_issuer_and_audience_are_trimmed_and_blank_means_unset() -> None:
    flags = WsAuthFlags(
        mode=JWT_MODE,
        shared_secret_file="s",
        issuer="  test-issuer ",
        audience="   ",
        max_clock_skew_seconds=0,
    )
    assert build_ws_auth_config(flags, SECRET.decode()) == SignedBearerTokenAuth(
        SECRET, "test-issuer", None, 0
    )
