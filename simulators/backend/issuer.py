"""The OAuth 2.0 / OIDC issuer of the simulated backend: authorize pages, token endpoint, JWKS, discovery.

`Issuer` holds the protocol state (signing key, authorization codes, browser sign-in sessions) and answers in
plain values; `add_routes` puts a thin aiohttp layer over it. Other route modules verify the tokens it mints
with `Issuer.verify_access_token` (or `bearer_claims(request, issuer)` for an `Authorization: Bearer` header).

Sign-in walk (every step a plain HTML form, see `pages.py`):
    GET /oauth/authorize → /u/login (email + password) → /u/mfa when the account has MFA (code, or "Skip for
    now" when MFA is not enforced) → /u/workspace when more than one workspace is eligible → /u/consent
    (Allow/Cancel) → 302 to redirect_uri with `code` and `state` (or `error=access_denied`).

Two cookies: the sign-in cookie (one browser's sign-in, session-long) and the trusted-device cookie that
"Remember this device" on the MFA page sets (30 days). A browser holding a valid trusted-device cookie for the
account skips the MFA step, and the session it opens carries no MFA assurance (`amr` is `pwd` only): that is how
a remembered browser signs someone in without MFA while the account still has it (openai/codex#24328, #39959).
A browser that is already signed in is not asked again, unless its session lacks MFA and the browser is no longer
trusted: then it must complete MFA first (step-up). `/u/logout` signs the browser out and forgets it as a
trusted device.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from simulators.backend import pages
from simulators.backend.accounts import (
    TRUSTED_DEVICE_TTL_SECONDS,
    Account,
    AccountStore,
    MfaOutcome,
    RefreshFailure,
    RefreshGrantRecord,
    RefreshTokenRejected,
    Session,
    Workspace,
    token_digest,
)
from simulators.backend.faults import FaultRegistry
from simulators.clock import Clock
from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError
from simulators.protocol.oauth import (
    ACCESS_TOKEN_AUDIENCE,
    CODEX_SCOPES,
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    KNOWN_CLIENTS,
    KNOWN_SCOPES,
    REQUESTED_TOKEN_API_KEY,
    TOKEN_TYPE_ID_TOKEN,
    AuthorizationCodeGrant,
    AuthorizeErrorCode,
    AuthorizeRequest,
    AuthorizeRequestError,
    ClaimsError,
    OAuthClient,
    OpenAIAuthClaims,
    RandomBytes,
    RefreshTokenGrant,
    TokenClaims,
    TokenErrorCode,
    TokenExchangeGrant,
    TokenGrant,
    TokenRequestError,
    TokenResponse,
    append_query,
    b64url_encode,
    parse_authorize_request,
    parse_form_body,
    parse_token_params,
    parse_token_request,
    system_random_bytes,
    verify_pkce,
)

# ES256 rather than RS256: a P-256 key is made in microseconds, an RSA key in a fifth of a second, and every
# scenario starts a backend. Nothing in the Codex CLI verifies the signature of its own tokens.
SIGNING_ALGORITHM = "ES256"
COOKIE_NAME = "pairsim_auth_session"
TRUSTED_DEVICE_COOKIE = "pairsim_trusted_device"


@dataclass(frozen=True)
class IssuerSettings:
    # Access tokens live about ten days in production [T]; id tokens an hour; codes ten minutes (RFC 6749
    # §4.1.2).
    access_token_ttl: int = 10 * 24 * 3600
    id_token_ttl: int = 3600
    code_ttl: int = 600
    sign_in_ttl: int = 30 * 60
    max_token_body: int = 64 * 1024
    max_form_body: int = 16 * 1024


# ------------------------------------------------------------------------------------------------------------
# Errors


class TokenRejection(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    REVOKED = "revoked"


class AccessTokenRejected(PairsimError):
    """A bearer token the backend will not accept. Route modules answer 401."""

    code = ErrorCode.SESSION_EXPIRED

    def __init__(self, reason: TokenRejection) -> None:
        super().__init__(f"access token rejected: {reason.value}")
        self.reason = reason


class BodyTooLarge(ProtocolError):
    pass


# Messages of the real auth service for refresh failures where known [T: user reports]; the rest are
# pairsim's.
_REFRESH_MESSAGES: dict[RefreshFailure, str] = {
    RefreshFailure.REUSED: (
        "Your refresh token has already been used to generate a new access token. "
        "Please try signing in again."
    ),
    RefreshFailure.UNKNOWN: "Could not validate your token. Please try signing in again.",
    RefreshFailure.INVALIDATED: "Your refresh token has been invalidated. Please try signing in again.",
    RefreshFailure.EXPIRED: "Your refresh token has expired. Please try signing in again.",
}


def refresh_error_body(reason: RefreshFailure) -> dict[str, Any]:
    """The OpenAI error envelope the Codex CLI classifies by `error.code` [V manager.rs, T shape]."""
    return {
        "error": {
            "message": _REFRESH_MESSAGES[reason],
            "type": "invalid_request_error",
            "param": None,
            "code": reason.value,
        }
    }


# ------------------------------------------------------------------------------------------------------------
# Signing


class TokenSigner:
    """A P-256 key made at start-up, published as a JWK with its RFC 7638 thumbprint as `kid`."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        public_jwk: dict[str, Any] = dict(ECAlgorithm.to_jwk(self._private.public_key(), as_dict=True))
        public_jwk.pop("key_ops", None)  # RFC 7517 §4.3: `use` and `key_ops` should not appear together
        canonical = json.dumps(
            {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
        )
        self.kid = b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())
        self.jwk: dict[str, Any] = {**public_jwk, "kid": self.kid, "use": "sig", "alg": SIGNING_ALGORITHM}

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self._private, algorithm=SIGNING_ALGORITHM, headers={"kid": self.kid})

    def decode(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        """Check signature, issuer and audience; time is checked by the caller against the simulated clock."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AccessTokenRejected(TokenRejection.MALFORMED) from exc
        if header.get("kid") != self.kid or header.get("alg") != SIGNING_ALGORITHM:
            raise AccessTokenRejected(TokenRejection.UNKNOWN_KEY)
        try:
            return jwt.decode(
                token,
                self._private.public_key(),
                algorithms=[SIGNING_ALGORITHM],
                audience=audience,
                issuer=issuer,
                # PyJWT reads the wall clock; the simulated clock decides instead.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise AccessTokenRejected(TokenRejection.BAD_SIGNATURE) from exc
        except jwt.InvalidAudienceError as exc:
            raise AccessTokenRejected(TokenRejection.WRONG_AUDIENCE) from exc
        except jwt.InvalidIssuerError as exc:
            raise AccessTokenRejected(TokenRejection.WRONG_ISSUER) from exc
        except jwt.InvalidTokenError as exc:
            raise AccessTokenRejected(TokenRejection.MALFORMED) from exc


# ------------------------------------------------------------------------------------------------------------
# Browser sign-in state


class SignInStep(StrEnum):
    SIGN_IN = "sign_in"
    MFA = "mfa"
    WORKSPACE = "workspace"
    CONSENT = "consent"
    DONE = "done"
    LOCKED = "locked"


_STEP_PATHS = {
    SignInStep.SIGN_IN: pages.LOGIN_PATH,
    SignInStep.MFA: pages.MFA_PATH,
    SignInStep.WORKSPACE: pages.WORKSPACE_PATH,
    SignInStep.CONSENT: pages.CONSENT_PATH,
}


@dataclass
class BrowserSignIn:
    """One browser's sign-in: cookie value, CSRF token and how far the current authorize request got."""

    id: str = field(repr=False)
    csrf: str = field(repr=False)
    started_at: float
    request: AuthorizeRequest | None = None
    step: SignInStep = SignInStep.SIGN_IN
    user_id: str | None = None
    sid: str | None = None
    workspace_id: str | None = None


@dataclass(frozen=True)
class _CodeRecord:
    client_id: str
    redirect_uri: str
    code_challenge: str
    sid: str
    workspace_id: str
    scopes: tuple[str, ...]
    nonce: str | None
    expires_at: float


@dataclass(frozen=True)
class ApiKeyOwner:
    user_id: str
    workspace_id: str


@dataclass(frozen=True)
class PageResult:
    """What a sign-in step answers: an HTML page, or a redirect (to the next step or to the client)."""

    status: int
    html: str | None = None
    location: str | None = None
    set_cookie: str | None = None
    # The trusted-device cookie to set (a value) or to delete (""); None leaves it as the browser has it.
    trusted_device: str | None = field(default=None, repr=False)


def _redirect(location: str, set_cookie: str | None = None) -> PageResult:
    return PageResult(status=302, location=location, set_cookie=set_cookie)


def _page(status: int, html: str) -> PageResult:
    return PageResult(status=status, html=html)


class Issuer:
    """Mints and checks the tokens of the simulated ChatGPT account; drives the browser sign-in steps."""

    def __init__(
        self,
        accounts: AccountStore,
        clock: Clock,
        *,
        settings: IssuerSettings | None = None,
        random_bytes: RandomBytes = system_random_bytes,
        clients: dict[str, OAuthClient] | None = None,
        typed_errors: bool = True,
    ) -> None:
        self.accounts = accounts
        # The typed-error fix: a refused authenticator code that is the code of another time near now is told
        # apart from a mistyped one (the authenticator's clock is off). Today's issuer says only that it failed.
        self.typed_errors = typed_errors
        self.clock = clock
        self.settings = settings or IssuerSettings()
        self.clients = dict(clients or KNOWN_CLIENTS)
        self._random_bytes = random_bytes
        self._signer = TokenSigner()
        self._lock = threading.RLock()
        self._codes: dict[str, _CodeRecord] = {}
        self._used_codes: set[str] = set()
        # Which grant (the code exchange a chain of refreshes started from) each access token belongs to, and the
        # grants revoked since, so a revoked sign-in's access tokens stop working while its browser session (and a
        # newer sign-in made in it) goes on.
        self._grant_of_access_token: dict[str, str] = {}
        self._revoked_grants: set[str] = set()
        self._sign_ins: dict[str, BrowserSignIn] = {}
        self._api_keys: dict[str, ApiKeyOwner] = {}
        self._issuer_url: str | None = None

    # -- identity -------------------------------------------------------------------------------------------

    def bind(self, issuer_url: str) -> None:
        """Set the issuer URL (`iss`) once the server knows its port."""
        self._issuer_url = issuer_url.rstrip("/")

    @property
    def issuer_url(self) -> str:
        if self._issuer_url is None:
            raise RuntimeError("the issuer has no URL until the backend server has started")
        return self._issuer_url

    @property
    def kid(self) -> str:
        return self._signer.kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._signer.jwk)]}

    def discovery(self) -> dict[str, Any]:
        base = self.issuer_url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_TOKEN_EXCHANGE],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "sid", "amr", "email"],
            "prompt_values_supported": ["login", "consent"],
        }

    def _random_token(self, prefix: str = "", n: int = 32) -> str:
        return prefix + b64url_encode(self._random_bytes(n))

    # -- minting and verifying ------------------------------------------------------------------------------

    def mint(
        self,
        session: Session,
        workspace_id: str,
        *,
        client_id: str,
        scopes: tuple[str, ...] = CODEX_SCOPES,
        nonce: str | None = None,
        origin: str | None = None,
    ) -> TokenResponse:
        """Mint id, access and (with `offline_access`) refresh tokens for a sign-in and a workspace."""
        account = self.accounts.get(session.user_id)
        workspace = account.workspace(workspace_id)
        now = self.clock.now_int()
        auth = _auth_claims(account, workspace)
        common = {
            "iss": self.issuer_url,
            "sub": account.user_id,
            "iat": now,
            "auth_time": session.auth_time,
            "sid": session.sid,
            "amr": session.amr,
            "auth": auth,
            "email": account.email,
        }
        id_claims = TokenClaims(
            aud=client_id,
            exp=now + self.settings.id_token_ttl,
            jti=self._random_token(n=12),
            nonce=nonce,
            **common,
        )
        access_claims = TokenClaims(
            aud=(ACCESS_TOKEN_AUDIENCE,),
            exp=now + self.settings.access_token_ttl,
            jti=self._random_token(n=12),
            client_id=client_id,
            scopes=scopes,
            **common,
        )
        if origin is not None:
            with self._lock:
                self._grant_of_access_token[access_claims.jti] = origin
        refresh_token = None
        if "offline_access" in scopes:
            refresh_token = self.accounts.issue_refresh_token(
                RefreshGrantRecord(
                    sid=session.sid,
                    client_id=client_id,
                    workspace_id=workspace.id,
                    scopes=scopes,
                    origin=origin,
                )
            )
        return TokenResponse(
            id_token=self._signer.sign(id_claims.to_payload()),
            access_token=self._signer.sign(access_claims.to_payload()),
            refresh_token=refresh_token,
            expires_in=self.settings.access_token_ttl,
        )

    def _verify(self, token: str, audience: str) -> TokenClaims:
        payload = self._signer.decode(token, audience=audience, issuer=self.issuer_url)
        try:
            claims = TokenClaims.from_payload(payload)
        except ClaimsError as exc:
            raise AccessTokenRejected(TokenRejection.MALFORMED) from exc
        if self.clock.now() >= claims.exp:
            raise AccessTokenRejected(TokenRejection.EXPIRED)
        if self.accounts.active_session(claims.sid) is None:
            raise AccessTokenRejected(TokenRejection.REVOKED)
        with self._lock:
            revoked = self._grant_of_access_token.get(claims.jti or "") in self._revoked_grants
        if revoked:
            raise AccessTokenRejected(TokenRejection.REVOKED)
        return claims

    def revoke(self, token: str, client_id: str) -> bool:
        """RFC 7009 revocation of a refresh token (the Codex CLI revokes the sign-in a new one replaces [V]): the
        grant it belongs to ends, every refresh token and access token of it stops working, wherever a copy of
        it is kept. True when there was such a grant; an unknown token (or another client's) changes nothing."""
        grant = self.accounts.grant_of(token, client_id)
        if grant is None or grant.origin is None:
            return False
        with self._lock:
            self._revoked_grants.add(grant.origin)
        self.accounts.revoke_refresh_tokens_from(grant.origin)
        return True

    def verify_access_token(self, token: str) -> TokenClaims:
        """Signature, issuer, audience, expiry (simulated clock) and revocation (session, password)."""
        return self._verify(token, ACCESS_TOKEN_AUDIENCE)

    def verify_id_token(self, token: str, client_id: str) -> TokenClaims:
        return self._verify(token, client_id)

    def verify_api_key(self, key: str) -> ApiKeyOwner | None:
        with self._lock:
            return self._api_keys.get(token_digest(key))

    # -- token endpoint -------------------------------------------------------------------------------------

    def exchange(self, grant: TokenGrant) -> dict[str, Any]:
        """Answer a parsed token request. Raises `TokenRequestError` or `RefreshTokenRejected`."""
        if grant.client_id not in self.clients:
            raise TokenRequestError(TokenErrorCode.INVALID_CLIENT, "unknown client_id")
        if isinstance(grant, AuthorizationCodeGrant):
            return self._redeem_code(grant).to_body()
        if isinstance(grant, RefreshTokenGrant):
            return self._refresh(grant).to_body()
        return self._exchange_for_api_key(grant)

    def _redeem_code(self, grant: AuthorizationCodeGrant) -> TokenResponse:
        digest = token_digest(grant.code)
        with self._lock:
            if digest in self._used_codes:
                # RFC 6749 §4.1.2: a code presented twice revokes what it already produced.
                self.accounts.revoke_refresh_tokens_from(digest)
                raise TokenRequestError(TokenErrorCode.INVALID_GRANT, "authorization code already used")
            record = self._codes.pop(digest, None)
            if record is None:
                raise TokenRequestError(TokenErrorCode.INVALID_GRANT, "authorization code not recognised")
            # Single use: any attempt that reaches here burns the code, right or wrong.
            self._used_codes.add(digest)
        if self.clock.now() >= record.expires_at:
            raise TokenRequestError(TokenErrorCode.INVALID_GRANT, "authorization code expired")
        if record.client_id != grant.client_id:
            raise TokenRequestError(
                TokenErrorCode.INVALID_GRANT, "authorization code was issued to another client"
            )
        if record.redirect_uri != grant.redirect_uri:
            raise TokenRequestError(
                TokenErrorCode.INVALID_GRANT, "redirect_uri does not match the authorize request"
            )
        if not verify_pkce(grant.code_verifier, record.code_challenge):
            raise TokenRequestError(
                TokenErrorCode.INVALID_GRANT, "code_verifier does not match the code challenge"
            )
        session = self.accounts.active_session(record.sid)
        if session is None:
            raise TokenRequestError(TokenErrorCode.INVALID_GRANT, "the sign-in session has ended")
        return self.mint(
            session,
            record.workspace_id,
            client_id=record.client_id,
            scopes=record.scopes,
            nonce=record.nonce,
            origin=digest,
        )

    def _refresh(self, grant: RefreshTokenGrant) -> TokenResponse:
        record = self.accounts.redeem_refresh_token(grant.refresh_token, grant.client_id)
        if grant.scopes and not set(grant.scopes) <= set(record.scopes):
            raise TokenRequestError(TokenErrorCode.INVALID_SCOPE, "scope exceeds the original grant")
        session = self.accounts.active_session(record.sid)
        if session is None:
            raise RefreshTokenRejected(RefreshFailure.INVALIDATED, "refresh token revoked")
        # A refresh keeps the sign-in's MFA assurance: it proves possession of the token, not a second factor.
        return self.mint(
            session,
            record.workspace_id,
            client_id=record.client_id,
            scopes=record.scopes,
            origin=record.origin,
        )

    def _exchange_for_api_key(self, grant: TokenExchangeGrant) -> dict[str, Any]:
        if grant.subject_token_type != TOKEN_TYPE_ID_TOKEN:
            raise TokenRequestError(TokenErrorCode.INVALID_REQUEST, "subject_token_type must be an id_token")
        if grant.requested_token != REQUESTED_TOKEN_API_KEY:
            raise TokenRequestError(TokenErrorCode.INVALID_TARGET, "requested_token is not supported")
        try:
            claims = self.verify_id_token(grant.subject_token, grant.client_id)
        except AccessTokenRejected as exc:
            raise TokenRequestError(
                TokenErrorCode.INVALID_GRANT, f"subject_token rejected: {exc.reason}"
            ) from exc
        key = self._random_token("sk-proj-", 48)
        workspace_id = claims.auth.chatgpt_account_id if claims.auth else ""
        with self._lock:
            self._api_keys[token_digest(key)] = ApiKeyOwner(user_id=claims.sub, workspace_id=workspace_id)
        return {"access_token": key, "issued_token_type": REQUESTED_TOKEN_API_KEY, "token_type": "Bearer"}

    # -- browser sign-in ------------------------------------------------------------------------------------

    def _sign_in_for(self, cookie: str | None) -> BrowserSignIn | None:
        if not cookie:
            return None
        with self._lock:
            sign_in = self._sign_ins.get(cookie)
            if sign_in is None:
                return None
            if self.clock.now() - sign_in.started_at > self.settings.sign_in_ttl:
                del self._sign_ins[cookie]
                return None
            return sign_in

    def _new_sign_in(self) -> BrowserSignIn:
        sign_in = BrowserSignIn(
            id=self._random_token(n=24), csrf=self._random_token(n=24), started_at=self.clock.now()
        )
        now = self.clock.now()
        with self._lock:
            # Forget abandoned sign-ins so a long run does not keep every browser it ever saw.
            for key in [
                k for k, v in self._sign_ins.items() if now - v.started_at > self.settings.sign_in_ttl
            ]:
                del self._sign_ins[key]
            for key in [k for k, v in self._codes.items() if now >= v.expires_at]:
                del self._codes[key]
            self._sign_ins[sign_in.id] = sign_in
        return sign_in

    def _rotate(self, sign_in: BrowserSignIn) -> BrowserSignIn:
        """A fresh cookie id and CSRF token after the password step, so a pre-login id is worth nothing."""
        with self._lock:
            self._sign_ins.pop(sign_in.id, None)
            sign_in.id = self._random_token(n=24)
            sign_in.csrf = self._random_token(n=24)
            self._sign_ins[sign_in.id] = sign_in
        return sign_in

    def _client_name(self, request: AuthorizeRequest) -> str:
        client = self.clients.get(request.client_id)
        return client.name if client else request.client_id

    def authorize(self, raw_query: str, cookie: str | None, trusted_device: str | None = None) -> PageResult:
        """GET /oauth/authorize: validate, then send the browser to the first step it still needs."""
        try:
            request = parse_authorize_request(raw_query, self.clients)
        except AuthorizeRequestError as exc:
            if exc.redirectable:
                return _redirect(exc.redirect_location())
            return _page(400, pages.authorize_error_page(exc.error.value, exc.description))
        existing = self._sign_in_for(cookie)
        if (
            existing is not None
            and request.prompt != "login"
            and existing.sid is not None
            and self.accounts.active_session(existing.sid) is not None
        ):
            # Already signed in in this browser: no password again, straight to workspace/consent, unless the
            # session lacks the MFA the account now asks of this browser (step-up).
            existing.request = request
            existing.workspace_id = None
            existing.started_at = self.clock.now()
            if self._needs_step_up(existing, trusted_device):
                existing.step = SignInStep.MFA
                return _redirect(pages.MFA_PATH)
            return self._after_authentication(existing, set_cookie=None)
        sign_in = self._new_sign_in()
        sign_in.request = request
        return _redirect(pages.LOGIN_PATH, set_cookie=sign_in.id)

    def _current(self, cookie: str | None, step: SignInStep) -> BrowserSignIn | PageResult:
        sign_in = self._sign_in_for(cookie)
        if sign_in is None or sign_in.request is None:
            return _page(400, pages.error_page(pages.PageError.SESSION_EXPIRED))
        if sign_in.step is SignInStep.LOCKED:
            return _page(429, pages.locked_page())
        if sign_in.sid is not None and self.accounts.active_session(sign_in.sid) is None:
            # Signed out underneath us (password changed): start over.
            sign_in.sid = None
            sign_in.user_id = None
            sign_in.step = SignInStep.SIGN_IN
        if sign_in.step is not step:
            path = _STEP_PATHS.get(sign_in.step)
            if path is None:
                return _page(400, pages.error_page(pages.PageError.SESSION_EXPIRED))
            return _redirect(path)
        return sign_in

    def show(self, step: SignInStep, cookie: str | None) -> PageResult:
        """GET of a sign-in step page."""
        current = self._current(cookie, step)
        if isinstance(current, PageResult):
            return current
        return _page(200, self._render(current))

    def _render(self, sign_in: BrowserSignIn, error: pages.PageError | None = None, email: str = "") -> str:
        request = sign_in.request
        assert request is not None
        if sign_in.step is SignInStep.SIGN_IN:
            return pages.sign_in_page(
                csrf=sign_in.csrf, client_name=self._client_name(request), email=email, error=error
            )
        account = self.accounts.get(sign_in.user_id or "")
        if sign_in.step is SignInStep.MFA:
            return pages.mfa_page(csrf=sign_in.csrf, can_skip=not account.mfa_enforced, error=error)
        if sign_in.step is SignInStep.WORKSPACE:
            choices = [pages.WorkspaceChoice(w.id, w.name) for w in self._eligible(account, request)]
            return pages.workspace_page(csrf=sign_in.csrf, choices=choices, error=error)
        workspace = account.workspace(sign_in.workspace_id or "")
        return pages.consent_page(
            csrf=sign_in.csrf,
            client_name=self._client_name(request),
            email=account.email,
            workspace_label=workspace.name,
            scopes=request.scopes,
        )

    def _needs_step_up(self, sign_in: BrowserSignIn, trusted_device: str | None) -> bool:
        session = self.accounts.active_session(sign_in.sid or "")
        if session is None or session.mfa_assured:
            return False
        account = self.accounts.get(session.user_id)
        return account.mfa_enabled and not self.accounts.is_trusted_device(trusted_device, account.user_id)

    def submit(
        self, step: SignInStep, cookie: str | None, form: dict[str, str], trusted_device: str | None = None
    ) -> PageResult:
        """POST of a sign-in step form (already parsed)."""
        current = self._current(cookie, step)
        if isinstance(current, PageResult):
            return current
        sign_in = current
        if not _same(form.get(pages.CSRF_FIELD, ""), sign_in.csrf):
            return _page(403, pages.error_page(pages.PageError.CSRF))
        if step is SignInStep.SIGN_IN:
            return self._submit_password(sign_in, form, trusted_device)
        handlers: dict[SignInStep, Callable[[BrowserSignIn, dict[str, str]], PageResult]] = {
            SignInStep.MFA: self._submit_mfa,
            SignInStep.WORKSPACE: self._submit_workspace,
            SignInStep.CONSENT: self._submit_consent,
        }
        return handlers[step](sign_in, form)

    def _submit_password(
        self, sign_in: BrowserSignIn, form: dict[str, str], trusted_device: str | None
    ) -> PageResult:
        email = form.get("email", "")
        account = self.accounts.check_password(email, form.get("password", ""))
        if account is None:
            return _page(401, self._render(sign_in, pages.PageError.WRONG_CREDENTIALS, email=email))
        self._rotate(sign_in)
        sign_in.user_id = account.user_id
        if account.mfa_enabled and self.accounts.is_trusted_device(trusted_device, account.user_id):
            # A remembered browser skips the authenticator step; the session proves the password only.
            return self._complete_authentication(sign_in, account, mfa_completed=False)
        if account.mfa_enabled:
            sign_in.step = SignInStep.MFA
            if self.accounts.mfa_locked(account.user_id):
                sign_in.step = SignInStep.LOCKED
                return PageResult(status=429, html=pages.locked_page(), set_cookie=sign_in.id)
            return _redirect(pages.MFA_PATH, set_cookie=sign_in.id)
        return self._complete_authentication(sign_in, account, mfa_completed=False)

    def _submit_mfa(self, sign_in: BrowserSignIn, form: dict[str, str]) -> PageResult:
        account = self.accounts.get(sign_in.user_id or "")
        if form.get("action") == "skip":
            if account.mfa_enforced and account.mfa_enabled:
                return _page(400, self._render(sign_in, pages.PageError.MFA_REQUIRED))
            return self._complete_authentication(sign_in, account, mfa_completed=False)
        outcome = self.accounts.verify_totp(account.user_id, form.get("code", ""))
        if outcome is MfaOutcome.ACCEPTED:
            result = self._complete_authentication(sign_in, account, mfa_completed=True)
            if form.get(pages.REMEMBER_DEVICE_FIELD):
                return replace(result, trusted_device=self.accounts.remember_device(account.user_id))
            return result
        if outcome is MfaOutcome.NOT_ENROLLED:
            # MFA was switched off while this page was open: the password alone signs in.
            return self._complete_authentication(sign_in, account, mfa_completed=False)
        if outcome is MfaOutcome.LOCKED:
            sign_in.step = SignInStep.LOCKED
            return _page(429, pages.locked_page())
        if self.typed_errors and self.accounts.totp_drift(account.user_id, form.get("code", "")) is not None:
            return _page(401, self._render(sign_in, pages.PageError.MFA_CLOCK_OFF))
        return _page(401, self._render(sign_in, pages.PageError.MFA_CODE_REJECTED))

    def _complete_authentication(
        self, sign_in: BrowserSignIn, account: Account, *, mfa_completed: bool
    ) -> PageResult:
        session = self.accounts.open_session(account.user_id, mfa_completed=mfa_completed)
        sign_in.sid = session.sid
        return self._after_authentication(sign_in, set_cookie=sign_in.id)

    def _eligible(self, account: Account, request: AuthorizeRequest) -> list[Workspace]:
        if not request.allowed_workspace_ids:
            return list(account.workspaces)
        return [w for w in account.workspaces if w.id in request.allowed_workspace_ids]

    def _after_authentication(self, sign_in: BrowserSignIn, *, set_cookie: str | None) -> PageResult:
        request = sign_in.request
        assert request is not None and sign_in.sid is not None
        session = self.accounts.session(sign_in.sid)
        assert session is not None
        sign_in.user_id = session.user_id
        account = self.accounts.get(session.user_id)
        eligible = self._eligible(account, request)
        if not eligible:
            return self._finish_with_error(
                sign_in, "none of the account's workspaces is allowed here", set_cookie=set_cookie
            )
        if len(eligible) == 1:
            sign_in.workspace_id = eligible[0].id
            sign_in.step = SignInStep.CONSENT
            return _redirect(pages.CONSENT_PATH, set_cookie=set_cookie)
        sign_in.step = SignInStep.WORKSPACE
        return _redirect(pages.WORKSPACE_PATH, set_cookie=set_cookie)

    def _submit_workspace(self, sign_in: BrowserSignIn, form: dict[str, str]) -> PageResult:
        assert sign_in.request is not None
        account = self.accounts.get(sign_in.user_id or "")
        chosen = form.get("workspace_id", "")
        if chosen not in {w.id for w in self._eligible(account, sign_in.request)}:
            return _page(400, self._render(sign_in, pages.PageError.NO_SUCH_WORKSPACE))
        sign_in.workspace_id = chosen
        sign_in.step = SignInStep.CONSENT
        return _redirect(pages.CONSENT_PATH)

    def _submit_consent(self, sign_in: BrowserSignIn, form: dict[str, str]) -> PageResult:
        request = sign_in.request
        assert request is not None and sign_in.sid is not None and sign_in.workspace_id is not None
        if form.get("action") != "allow":
            return self._finish_with_error(sign_in, "the user cancelled sign-in")
        code = self._random_token(n=32)
        with self._lock:
            self._codes[token_digest(code)] = _CodeRecord(
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                sid=sign_in.sid,
                workspace_id=sign_in.workspace_id,
                scopes=request.scopes,
                nonce=request.nonce,
                expires_at=self.clock.now() + self.settings.code_ttl,
            )
        sign_in.request = None
        sign_in.step = SignInStep.DONE
        return _redirect(append_query(request.redirect_uri, {"code": code, "state": request.state}))

    # -- sign-out -------------------------------------------------------------------------------------------

    def sign_out_page(self, cookie: str | None) -> PageResult:
        """GET /u/logout: the page with the Sign out button (its form carries a CSRF token)."""
        sign_in = self._sign_in_for(cookie)
        if sign_in is None:
            sign_in = self._new_sign_in()
            return PageResult(status=200, html=pages.sign_out_page(csrf=sign_in.csrf), set_cookie=sign_in.id)
        return _page(200, pages.sign_out_page(csrf=sign_in.csrf))

    def sign_out(self, cookie: str | None, trusted_device: str | None, form: dict[str, str]) -> PageResult:
        """POST /u/logout: end this browser's session and forget it as a trusted device."""
        sign_in = self._sign_in_for(cookie)
        if sign_in is None or not _same(form.get(pages.CSRF_FIELD, ""), sign_in.csrf):
            return _page(403, pages.error_page(pages.PageError.CSRF))
        with self._lock:
            self._sign_ins.pop(sign_in.id, None)
        if sign_in.sid is not None:
            self.accounts.end_session(sign_in.sid)
        self.accounts.forget_device(trusted_device)
        return PageResult(status=200, html=pages.signed_out_page(), set_cookie="", trusted_device="")

    def _finish_with_error(
        self, sign_in: BrowserSignIn, description: str, *, set_cookie: str | None = None
    ) -> PageResult:
        request = sign_in.request
        assert request is not None
        sign_in.request = None
        sign_in.step = SignInStep.DONE
        error = AuthorizeRequestError(
            AuthorizeErrorCode.ACCESS_DENIED,
            description,
            redirect_uri=request.redirect_uri,
            state=request.state,
        )
        return _redirect(error.redirect_location(), set_cookie=set_cookie)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def _auth_claims(account: Account, workspace: Workspace) -> OpenAIAuthClaims:
    return OpenAIAuthClaims(
        chatgpt_account_id=workspace.id,
        chatgpt_plan_type=workspace.plan.value,
        chatgpt_user_id=account.user_id,
        organization_id=account.organization_id,
        project_id=account.project_id,
        completed_platform_onboarding=True,
        is_org_owner=workspace.is_personal,
    )


# ------------------------------------------------------------------------------------------------------------
# HTTP helpers route modules share


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """Read at most `limit` bytes of body; more raises `BodyTooLarge` (the caller answers 413)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge("request body too large")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge("request body too large")
        chunks.append(chunk)


def bearer_token(request: web.BaseRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_claims(request: web.BaseRequest, issuer: Issuer) -> TokenClaims:
    """Claims of the request's `Authorization: Bearer` access token; raises `AccessTokenRejected`."""
    token = bearer_token(request)
    if token is None:
        raise AccessTokenRejected(TokenRejection.MALFORMED)
    return issuer.verify_access_token(token)


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, headers=_NO_STORE)


def _to_response(result: PageResult) -> web.Response:
    headers = dict(_NO_STORE)
    if result.location is not None:
        headers["Location"] = result.location
    response = web.Response(
        status=result.status,
        text=result.html,
        content_type="text/html" if result.html is not None else None,
        headers=headers,
    )
    for name, value, max_age in (
        (COOKIE_NAME, result.set_cookie, None),
        (TRUSTED_DEVICE_COOKIE, result.trusted_device, TRUSTED_DEVICE_TTL_SECONDS),
    ):
        if value == "":
            response.del_cookie(name, path="/")
        elif value is not None:
            response.set_cookie(name, value, httponly=True, samesite="Lax", path="/", max_age=max_age)
    return response


def add_routes(app: web.Application, issuer: Issuer, faults: FaultRegistry) -> None:
    """The issuer's route group: `/oauth/*`, `/.well-known/*` and the `/u/*` sign-in pages."""
    settings = issuer.settings

    async def authorize(request: web.Request) -> web.Response:
        return _to_response(
            issuer.authorize(
                request.rel_url.raw_query_string,
                request.cookies.get(COOKIE_NAME),
                request.cookies.get(TRUSTED_DEVICE_COOKIE),
            )
        )

    async def token(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, settings.max_token_body)
        except BodyTooLarge:
            return _json(413, {"error": "invalid_request", "error_description": "request body too large"})
        try:
            grant = parse_token_request(request.headers.get("Content-Type"), body)
        except TokenRequestError as exc:
            return _json(exc.status, exc.to_body())
        fault = await faults.respond(f"oauth.token:{_grant_key(grant)}")
        if fault is not None:
            return fault
        try:
            return _json(200, issuer.exchange(grant))
        except TokenRequestError as exc:
            return _json(exc.status, exc.to_body())
        except RefreshTokenRejected as exc:
            return _json(401, refresh_error_body(exc.reason))

    async def revoke(request: web.Request) -> web.Response:
        # RFC 7009 §2.2: 200 whether or not the token was known, so a caller learns nothing about other tokens.
        try:
            body = await read_body(request, settings.max_token_body)
            params = parse_token_params(request.headers.get("Content-Type"), body)
        except BodyTooLarge:
            return _json(413, {"error": "invalid_request", "error_description": "request body too large"})
        except TokenRequestError as exc:
            return _json(exc.status, exc.to_body())
        token, client_id = params.get("token", ""), params.get("client_id", "")
        if not token or not client_id:
            return _json(400, {"error": "invalid_request", "error_description": "token and client_id are required"})
        issuer.revoke(token, client_id)
        return _json(200, {})

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(issuer.jwks())

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response(issuer.discovery())

    async def read_form(request: web.Request) -> dict[str, str] | web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _to_response(_page(415, pages.error_page(pages.PageError.BAD_REQUEST)))
        try:
            return parse_form_body(await read_body(request, settings.max_form_body))
        except BodyTooLarge:
            return _to_response(_page(413, pages.error_page(pages.PageError.BAD_REQUEST)))
        except TokenRequestError:
            return _to_response(_page(400, pages.error_page(pages.PageError.BAD_REQUEST)))

    def step_handlers(
        step: SignInStep,
    ) -> tuple[
        Callable[[web.Request], Awaitable[web.Response]], Callable[[web.Request], Awaitable[web.Response]]
    ]:
        async def show(request: web.Request) -> web.Response:
            return _to_response(issuer.show(step, request.cookies.get(COOKIE_NAME)))

        async def submit(request: web.Request) -> web.Response:
            form = await read_form(request)
            if isinstance(form, web.Response):
                return form
            cookies = request.cookies
            return _to_response(issuer.submit(step, cookies.get(COOKIE_NAME), form, cookies.get(TRUSTED_DEVICE_COOKIE)))

        return show, submit

    async def sign_out_page(request: web.Request) -> web.Response:
        return _to_response(issuer.sign_out_page(request.cookies.get(COOKIE_NAME)))

    async def sign_out(request: web.Request) -> web.Response:
        form = await read_form(request)
        if isinstance(form, web.Response):
            return form
        return _to_response(
            issuer.sign_out(request.cookies.get(COOKIE_NAME), request.cookies.get(TRUSTED_DEVICE_COOKIE), form)
        )

    app.router.add_resource("/oauth/authorize", name="oauth.authorize").add_route("GET", authorize)
    app.router.add_resource("/oauth/token", name="oauth.token").add_route("POST", token)
    app.router.add_resource("/oauth/revoke", name="oauth.revoke").add_route("POST", revoke)
    app.router.add_resource("/.well-known/jwks.json", name="oauth.jwks").add_route("GET", jwks)
    app.router.add_resource("/.well-known/openid-configuration", name="oauth.discovery").add_route(
        "GET", discovery
    )
    logout = app.router.add_resource(pages.LOGOUT_PATH, name="signin.logout")
    logout.add_route("GET", sign_out_page)
    logout.add_route("POST", sign_out)
    for step, path in _STEP_PATHS.items():
        show, submit = step_handlers(step)
        resource = app.router.add_resource(path, name=f"signin.{step.value}")
        resource.add_route("GET", show)
        resource.add_route("POST", submit)


def _grant_key(grant: TokenGrant) -> str:
    if isinstance(grant, AuthorizationCodeGrant):
        return GRANT_AUTHORIZATION_CODE
    if isinstance(grant, RefreshTokenGrant):
        return GRANT_REFRESH_TOKEN
    return "token_exchange"
