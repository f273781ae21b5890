"""OAuth 2.0 / OIDC values shared by the issuer, the desktop login and the phone: pure, no I/O.

PKCE, state, the authorize URL exactly as the Codex CLI builds it, parsers for authorize and token requests
that return typed values or raise typed errors, and the JWT claim model (the `https://api.openai.com/auth`
namespace and `amr`). Randomness is a parameter (`random_bytes`) so tests can pin it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit

from simulators.protocol.errors import ErrorCode, ProtocolError

RandomBytes = Callable[[int], bytes]

# The Codex CLI's public client id [T: seen in several third-party files; V in codex-rs/login auth manager].
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
# The phone app's client id is not public; pairsim defines one so the issuer can hold it to its own redirect
# rule.
CHATGPT_APP_CLIENT_ID = "app_pairsim_chatgpt_mobile"
CHATGPT_APP_REDIRECT_SCHEME = "com.openai.chat"
CHATGPT_APP_REDIRECT_URI = "com.openai.chat://auth0.openai.com/ios/com.openai.chat/callback"

DEFAULT_ISSUER = "https://auth.openai.com"
ORIGINATOR = "codex_cli_rs"
CODEX_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "api.connectors.read",
    "api.connectors.invoke",
)
KNOWN_SCOPES: frozenset[str] = frozenset(CODEX_SCOPES)
CALLBACK_PORT = 1455
FALLBACK_CALLBACK_PORT = 1457
CALLBACK_PATH = "/auth/callback"

AUTH_CLAIM_NAMESPACE = "https://api.openai.com/auth"
PROFILE_CLAIM_NAMESPACE = "https://api.openai.com/profile"
ACCESS_TOKEN_AUDIENCE = "https://api.openai.com/v1"

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPE_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
REQUESTED_TOKEN_API_KEY = "openai-api-key"

# RFC 7636 §4.1: the verifier alphabet and length; an S256 challenge is always 43 characters.
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_S256_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_PARAMETERS = 64


# ------------------------------------------------------------------------------------------------------------
# Encoding and randomness


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url; anything else raises `ProtocolError` (never binascii's own)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ProtocolError("not base64url text")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("not base64url text") from exc
    if b64url_encode(decoded) != text:
        # Stray low bits in the last character: two spellings of one value are one too many.
        raise ProtocolError("not canonical base64url text")
    return decoded


def jwt_expired(token: str, now: float) -> bool:
    """Whether a JWT's `exp` has passed at `now` (unix seconds), read without checking the signature, as a client
    reads its own token's expiry before using it. A token whose `exp` cannot be read counts as expired."""
    parts = token.split(".")
    try:
        payload = json.loads(b64url_decode(parts[1])) if len(parts) == 3 else None
    except (ProtocolError, ValueError, RecursionError):
        return True
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= now


def system_random_bytes(n: int) -> bytes:
    return secrets.token_bytes(n)


def seeded_random_bytes(seed: int) -> RandomBytes:
    """Deterministic bytes for tests. Not for anything a real attacker could see."""
    rng = random.Random(seed)
    return rng.randbytes


# ------------------------------------------------------------------------------------------------------------
# PKCE and state


@dataclass(frozen=True)
class PkceCodes:
    verifier: str = field(repr=False)
    challenge: str

    method = "S256"


def pkce_challenge(verifier: str) -> str:
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def generate_pkce(random_bytes: RandomBytes = system_random_bytes) -> PkceCodes:
    # As the Codex CLI does: 64 random bytes, base64url without padding (86 characters).
    verifier = b64url_encode(random_bytes(64))
    return PkceCodes(verifier=verifier, challenge=pkce_challenge(verifier))


def verify_pkce(verifier: str, challenge: str) -> bool:
    """True when `verifier` is well formed and hashes (S256) to `challenge`; compared in constant time."""
    if not _VERIFIER_RE.fullmatch(verifier):
        return False
    return hmac.compare_digest(pkce_challenge(verifier).encode("ascii"), challenge.encode("ascii", "replace"))


def generate_state(random_bytes: RandomBytes = system_random_bytes) -> str:
    return b64url_encode(random_bytes(32))


# ------------------------------------------------------------------------------------------------------------
# Clients and redirect URIs


class RedirectPolicy(StrEnum):
    LOOPBACK = "loopback"  # http://localhost:<port>/… or http://127.0.0.1:<port>/… (RFC 8252 §7.3)
    APP_SCHEME = "app_scheme"  # com.openai.chat://… (RFC 8252 §7.1, private-use URI scheme)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    name: str
    redirect_policy: RedirectPolicy

    def accepts_redirect(self, redirect_uri: str) -> bool:
        if self.redirect_policy is RedirectPolicy.LOOPBACK:
            return is_loopback_redirect(redirect_uri)
        return is_app_redirect(redirect_uri)


KNOWN_CLIENTS: Mapping[str, OAuthClient] = {
    CLIENT_ID: OAuthClient(CLIENT_ID, "Codex CLI", RedirectPolicy.LOOPBACK),
    CHATGPT_APP_CLIENT_ID: OAuthClient(CHATGPT_APP_CLIENT_ID, "ChatGPT", RedirectPolicy.APP_SCHEME),
}

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback_redirect(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in _LOOPBACK_HOSTS
        and port is not None
        and port > 0
        and not parts.username
        and not parts.password
        and not parts.fragment
        and "#" not in uri
    )


def is_app_redirect(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme == CHATGPT_APP_REDIRECT_SCHEME and bool(parts.netloc or parts.path) and "#" not in uri


def loopback_redirect_uri(port: int = CALLBACK_PORT) -> str:
    # The banner says localhost, the redirect itself uses 127.0.0.1 [observed 0.169.0].
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


# ------------------------------------------------------------------------------------------------------------
# Authorize request


class AuthorizeErrorCode(StrEnum):
    """RFC 6749 §4.1.2.1 error codes for the authorization endpoint."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    ACCESS_DENIED = "access_denied"
    UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
    INVALID_SCOPE = "invalid_scope"
    SERVER_ERROR = "server_error"


class AuthorizeRequestError(ProtocolError):
    """An authorize request the issuer refuses.

    `redirect_uri` is set only when the client and redirect URI were valid: then the error goes back to the
    client as a redirect; otherwise (RFC 6749 §4.1.2.1) the user sees an error page and nothing is redirected.
    """

    code = ErrorCode.SIGN_IN_FAILED

    def __init__(
        self,
        error: AuthorizeErrorCode,
        description: str,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(f"{error.value}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def redirectable(self) -> bool:
        return self.redirect_uri is not None

    def redirect_location(self) -> str:
        if self.redirect_uri is None:
            raise ValueError("this authorize error must not be redirected")
        params = {"error": self.error.value, "error_description": self.description}
        if self.state is not None:
            params["state"] = self.state
        return append_query(self.redirect_uri, params)


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    code_challenge: str
    state: str
    scopes: tuple[str, ...] = CODEX_SCOPES
    response_type: str = "code"
    code_challenge_method: str = "S256"
    id_token_add_organizations: bool = True
    codex_cli_simplified_flow: bool = True
    originator: str | None = ORIGINATOR
    allowed_workspace_ids: tuple[str, ...] = ()
    prompt: str | None = None
    nonce: str | None = None

    def query_pairs(self) -> list[tuple[str, str]]:
        # Order as the real CLI sends it [observed 0.169.0 §5].
        pairs = [
            ("response_type", self.response_type),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("code_challenge", self.code_challenge),
            ("code_challenge_method", self.code_challenge_method),
            ("state", self.state),
            ("scope", " ".join(self.scopes)),
        ]
        if self.id_token_add_organizations:
            pairs.append(("id_token_add_organizations", "true"))
        if self.codex_cli_simplified_flow:
            pairs.append(("codex_cli_simplified_flow", "true"))
        if self.originator is not None:
            pairs.append(("originator", self.originator))
        if self.allowed_workspace_ids:
            pairs.append(("allowed_workspace_id", ",".join(self.allowed_workspace_ids)))
        if self.prompt is not None:
            pairs.append(("prompt", self.prompt))
        if self.nonce is not None:
            pairs.append(("nonce", self.nonce))
        return pairs

    def url(self, issuer: str = DEFAULT_ISSUER) -> str:
        return f"{issuer.rstrip('/')}/oauth/authorize?{urlencode(self.query_pairs())}"


def build_authorize_url(
    issuer: str,
    *,
    redirect_uri: str,
    pkce: PkceCodes,
    state: str,
    client_id: str = CLIENT_ID,
    allowed_workspace_ids: Iterable[str] = (),
    originator: str = ORIGINATOR,
) -> str:
    """The authorize URL exactly as `codex login` prints it."""
    request = AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=pkce.challenge,
        state=state,
        originator=originator,
        allowed_workspace_ids=tuple(allowed_workspace_ids),
    )
    return request.url(issuer)


def append_query(uri: str, params: Mapping[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}{urlencode(list(params.items()))}"


def _single_values(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    duplicates: set[str] = set()
    for key, value in pairs:
        if key in values:
            duplicates.add(key)
        values[key] = value
    return values, duplicates


def _query_pairs(query: str | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(query, str):
        try:
            return parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_PARAMETERS, errors="strict")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthorizeRequestError(AuthorizeErrorCode.INVALID_REQUEST, "malformed query string") from exc
    return list(query.items())


def parse_authorize_request(
    query: str | Mapping[str, str],
    clients: Mapping[str, OAuthClient] = KNOWN_CLIENTS,
) -> AuthorizeRequest:
    """Validate an authorize request (a raw query string or its parameters) in RFC 6749 order.

    The client and redirect URI are checked first; until both are known good, errors carry no redirect URI.
    """
    pairs = _query_pairs(query)
    values, duplicates = _single_values(pairs)

    def refuse(description: str, error: AuthorizeErrorCode = AuthorizeErrorCode.INVALID_REQUEST) -> NoReturn:
        raise AuthorizeRequestError(error, description)

    client_id = values.get("client_id", "")
    if not client_id or "client_id" in duplicates:
        refuse("client_id is missing or repeated")
    client = clients.get(client_id)
    if client is None:
        refuse("unknown client_id", AuthorizeErrorCode.UNAUTHORIZED_CLIENT)
    redirect_uri = values.get("redirect_uri", "")
    if not redirect_uri or "redirect_uri" in duplicates:
        refuse("redirect_uri is missing or repeated")
    if not client.accepts_redirect(redirect_uri):
        refuse("redirect_uri is not registered for this client")

    state = values.get("state") or None

    def refuse_to_client(
        description: str, error: AuthorizeErrorCode = AuthorizeErrorCode.INVALID_REQUEST
    ) -> NoReturn:
        raise AuthorizeRequestError(error, description, redirect_uri=redirect_uri, state=state)

    if duplicates:
        refuse_to_client(f"parameter repeated: {sorted(duplicates)[0]}")
    response_type = values.get("response_type", "")
    if not response_type:
        refuse_to_client("response_type is missing")
    if response_type != "code":
        refuse_to_client("only response_type=code is supported", AuthorizeErrorCode.UNSUPPORTED_RESPONSE_TYPE)
    challenge = values.get("code_challenge", "")
    method = values.get("code_challenge_method", "")
    if not challenge:
        refuse_to_client("code challenge required")
    if method != "S256":
        refuse_to_client("transform algorithm not supported")
    if not _S256_CHALLENGE_RE.fullmatch(challenge):
        refuse_to_client("code_challenge is not an S256 challenge")
    if state is None:
        refuse_to_client("state is required")
    scopes = tuple(values.get("scope", "").split())
    if "openid" not in scopes:
        refuse_to_client("scope must include openid", AuthorizeErrorCode.INVALID_SCOPE)
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        refuse_to_client(f"unknown scope: {unknown[0]}", AuthorizeErrorCode.INVALID_SCOPE)
    prompt = values.get("prompt") or None
    # prompt=none would need a consent-free path; pairsim always shows consent, so it refuses it up front.
    if prompt not in (None, "login", "consent"):
        refuse_to_client("unsupported prompt value")
    workspaces = tuple(w for w in values.get("allowed_workspace_id", "").split(",") if w)
    return AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        state=state,
        scopes=scopes,
        response_type=response_type,
        code_challenge_method=method,
        id_token_add_organizations=values.get("id_token_add_organizations") == "true",
        codex_cli_simplified_flow=values.get("codex_cli_simplified_flow") == "true",
        originator=values.get("originator") or None,
        allowed_workspace_ids=workspaces,
        prompt=prompt,
        nonce=values.get("nonce") or None,
    )


# ------------------------------------------------------------------------------------------------------------
# Token endpoint requests


class TokenErrorCode(StrEnum):
    """RFC 6749 §5.2 token endpoint error codes (plus RFC 8693 `invalid_target`)."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"
    INVALID_TARGET = "invalid_target"


class TokenRequestError(ProtocolError):
    """The token endpoint refuses a request. `status` is the HTTP status RFC 6749 §5.2 asks for."""

    code = ErrorCode.SIGN_IN_FAILED

    def __init__(self, error: TokenErrorCode, description: str, *, status: int | None = None) -> None:
        super().__init__(f"{error.value}: {description}")
        self.error = error
        self.description = description
        self.status = (
            status if status is not None else (401 if error is TokenErrorCode.INVALID_CLIENT else 400)
        )

    def to_body(self) -> dict[str, str]:
        return {"error": self.error.value, "error_description": self.description}


@dataclass(frozen=True)
class AuthorizationCodeGrant:
    code: str = field(repr=False)
    redirect_uri: str
    client_id: str
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class RefreshTokenGrant:
    refresh_token: str = field(repr=False)
    client_id: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenExchangeGrant:
    client_id: str
    subject_token: str = field(repr=False)
    subject_token_type: str
    requested_token: str


TokenGrant = AuthorizationCodeGrant | RefreshTokenGrant | TokenExchangeGrant

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


def parse_form_body(body: bytes) -> dict[str, str]:
    """Decode an `application/x-www-form-urlencoded` body; repeated or undecodable parameters are refused."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "malformed form body") from exc
    values, duplicates = _single_values(pairs)
    if duplicates:
        # RFC 6749 §3.2: request parameters must not be included more than once.
        raise TokenRequestError(
            TokenErrorCode.INVALID_REQUEST, f"parameter repeated: {sorted(duplicates)[0]}"
        )
    return values


def _parse_json_body(body: bytes) -> dict[str, str]:
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "malformed JSON body") from exc
    if not isinstance(decoded, dict) or len(decoded) > MAX_PARAMETERS:
        raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "JSON body must be an object of strings")
    if not all(isinstance(v, str) for v in decoded.values()):
        raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "JSON body must be an object of strings")
    return decoded


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_token_params(content_type: str | None, body: bytes) -> dict[str, str]:
    """The parameters of a body sent to the token or the revocation endpoint.

    Form bodies are the OAuth standard; JSON is accepted too because the Codex CLI sends its refresh request
    as JSON [V: codex-rs/login/src/auth/manager.rs].
    """
    kind = media_type(content_type)
    if kind == FORM_CONTENT_TYPE:
        return parse_form_body(body)
    if kind == JSON_CONTENT_TYPE:
        return _parse_json_body(body)
    raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "unsupported content type")


def parse_token_request(content_type: str | None, body: bytes) -> TokenGrant:
    """Parse a token endpoint body into a typed grant (see `parse_token_params` for the body's forms)."""
    params = parse_token_params(content_type, body)

    def required(name: str) -> str:
        value = params.get(name, "")
        if not value:
            raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, f"{name} is required")
        return value

    grant_type = required("grant_type")
    if grant_type == GRANT_AUTHORIZATION_CODE:
        return AuthorizationCodeGrant(
            code=required("code"),
            redirect_uri=required("redirect_uri"),
            client_id=required("client_id"),
            code_verifier=required("code_verifier"),
        )
    if grant_type == GRANT_REFRESH_TOKEN:
        return RefreshTokenGrant(
            refresh_token=required("refresh_token"),
            client_id=required("client_id"),
            scopes=tuple(params.get("scope", "").split()),
        )
    if grant_type == GRANT_TOKEN_EXCHANGE:
        return TokenExchangeGrant(
            client_id=required("client_id"),
            subject_token=required("subject_token"),
            subject_token_type=required("subject_token_type"),
            requested_token=required("requested_token"),
        )
    raise TokenRequestError(TokenErrorCode.UNSUPPORTED_GRANT_TYPE, "grant_type is not supported")


@dataclass(frozen=True)
class TokenResponse:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    token_type: str = "Bearer"
    scope: str | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id_token": self.id_token,
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.scope is not None:
            body["scope"] = self.scope
        return body


# ------------------------------------------------------------------------------------------------------------
# JWT claims


class Amr(StrEnum):
    """Authentication methods (RFC 8176). `pwd` always; `otp` and `mfa` only when MFA was completed."""

    PWD = "pwd"
    OTP = "otp"
    MFA = "mfa"


class ClaimsError(ProtocolError):
    """A JWT payload does not have the claims pairsim and the Codex CLI expect."""


@dataclass(frozen=True)
class OpenAIAuthClaims:
    """The `https://api.openai.com/auth` claim namespace the Codex CLI reads [V: login/src/token_data.rs]."""

    chatgpt_account_id: str
    chatgpt_plan_type: str
    chatgpt_user_id: str
    organization_id: str | None = None
    project_id: str | None = None
    completed_platform_onboarding: bool = False
    is_org_owner: bool = False

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chatgpt_account_id": self.chatgpt_account_id,
            "chatgpt_plan_type": self.chatgpt_plan_type,
            "chatgpt_user_id": self.chatgpt_user_id,
            # The CLI falls back to `user_id` when `chatgpt_user_id` is missing; real tokens carry both.
            "user_id": self.chatgpt_user_id,
            "completed_platform_onboarding": self.completed_platform_onboarding,
            "is_org_owner": self.is_org_owner,
        }
        if self.organization_id is not None:
            body["organization_id"] = self.organization_id
        if self.project_id is not None:
            body["project_id"] = self.project_id
        return body

    @classmethod
    def from_dict(cls, raw: object) -> OpenAIAuthClaims:
        if not isinstance(raw, Mapping):
            raise ClaimsError(f"{AUTH_CLAIM_NAMESPACE} must be an object")
        user_id = raw.get("chatgpt_user_id", raw.get("user_id"))
        return cls(
            chatgpt_account_id=_claim_str(raw, "chatgpt_account_id"),
            chatgpt_plan_type=_claim_str(raw, "chatgpt_plan_type"),
            chatgpt_user_id=_as_str(user_id, "chatgpt_user_id"),
            organization_id=_optional_str(raw, "organization_id"),
            project_id=_optional_str(raw, "project_id"),
            completed_platform_onboarding=_optional_bool(raw, "completed_platform_onboarding"),
            is_org_owner=_optional_bool(raw, "is_org_owner"),
        )


def _as_str(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ClaimsError(f"claim {name} must be a non-empty string")
    return value


def _claim_str(raw: Mapping[str, Any], name: str) -> str:
    return _as_str(raw.get(name), name)


def _optional_str(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    return _as_str(value, name)


def _optional_bool(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise ClaimsError(f"claim {name} must be a boolean")
    return value


def _claim_int(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClaimsError(f"claim {name} must be an integer")
    return value


def _str_tuple(raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClaimsError(f"claim {name} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class TokenClaims:
    """Claims of an id token or access token minted by the pairsim issuer (and what verifiers parse back)."""

    iss: str
    sub: str
    aud: str | tuple[str, ...]
    exp: int
    iat: int
    auth_time: int
    sid: str
    amr: tuple[str, ...]
    auth: OpenAIAuthClaims | None
    email: str | None = None
    email_verified: bool = True
    jti: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    nonce: str | None = None

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.aud,) if isinstance(self.aud, str) else self.aud

    @property
    def mfa_assured(self) -> bool:
        return Amr.MFA.value in self.amr

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud if isinstance(self.aud, str) else list(self.aud),
            "exp": self.exp,
            "iat": self.iat,
            "auth_time": self.auth_time,
            "sid": self.sid,
            "amr": list(self.amr),
        }
        if self.email is not None:
            payload["email"] = self.email
            payload[PROFILE_CLAIM_NAMESPACE] = {"email": self.email, "email_verified": self.email_verified}
        if self.auth is not None:
            payload[AUTH_CLAIM_NAMESPACE] = self.auth.to_dict()
        if self.jti is not None:
            payload["jti"] = self.jti
        if self.client_id is not None:
            payload["client_id"] = self.client_id
        if self.scopes:
            payload["scp"] = list(self.scopes)
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> TokenClaims:
        """Parse a decoded JWT payload; any shape other than the expected one raises `ClaimsError`."""
        if not isinstance(payload, Mapping):
            raise ClaimsError("JWT payload must be an object")
        aud_raw = payload.get("aud")
        aud: str | tuple[str, ...]
        if isinstance(aud_raw, str) and aud_raw:
            aud = aud_raw
        elif isinstance(aud_raw, list) and aud_raw and all(isinstance(a, str) for a in aud_raw):
            aud = tuple(aud_raw)
        else:
            raise ClaimsError("claim aud must be a string or a list of strings")
        auth_raw = payload.get(AUTH_CLAIM_NAMESPACE)
        profile = payload.get(PROFILE_CLAIM_NAMESPACE)
        email = _optional_str(payload, "email")
        email_verified = True
        if isinstance(profile, Mapping):
            email = email or _optional_str(profile, "email")
            verified = profile.get("email_verified", True)
            email_verified = verified if isinstance(verified, bool) else True
        return cls(
            iss=_claim_str(payload, "iss"),
            sub=_claim_str(payload, "sub"),
            aud=aud,
            exp=_claim_int(payload, "exp"),
            iat=_claim_int(payload, "iat"),
            auth_time=_claim_int(payload, "auth_time"),
            sid=_claim_str(payload, "sid"),
            amr=_str_tuple(payload, "amr"),
            auth=None if auth_raw is None else OpenAIAuthClaims.from_dict(auth_raw),
            email=email,
            email_verified=email_verified,
            jti=_optional_str(payload, "jti"),
            client_id=_optional_str(payload, "client_id"),
            scopes=_str_tuple(payload, "scp"),
            nonce=_optional_str(payload, "nonce"),
        )


def amr_for_sign_in(mfa_completed: bool) -> tuple[str, ...]:
    if mfa_completed:
        return (Amr.PWD.value, Amr.OTP.value, Amr.MFA.value)
    return (Amr.PWD.value,)


def is_mfa_assured(claims: TokenClaims | Mapping[str, Any]) -> bool:
    """True when the sign-in behind these claims completed MFA (`mfa` in `amr`)."""
    if isinstance(claims, TokenClaims):
        return claims.mfa_assured
    amr = claims.get("amr")
    return isinstance(amr, list) and Amr.MFA.value in amr
