"""`pairsim login`: the Codex CLI's browser sign-in, as the real client does it.

Bind the callback port (`callback_server`), print the banner with the authorize URL built exactly as the CLI
builds it (`simulators.protocol.oauth`), wait for the browser to come back, exchange the code at
`{issuer}/oauth/token`, try the API-key token exchange (best effort, as the real one), and save the tokens in
the chosen credential store. The texts the user sees are the real CLI's [V/observed 0.169.0 §5].
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulators.clock import Clock
from simulators.login.callback_server import (
    BindPolicy,
    CallbackServer,
    CallbackSuccess,
    LoginFailed,
    Sleep,
    bind_callback_port,
    send_cancel,
)
from simulators.login.credential_store import AuthMode, AuthTokens, CredentialStore, StoredAuth
from simulators.protocol.oauth import (
    AUTH_CLAIM_NAMESPACE,
    CLIENT_ID,
    GRANT_AUTHORIZATION_CODE,
    GRANT_TOKEN_EXCHANGE,
    ORIGINATOR,
    REQUESTED_TOKEN_API_KEY,
    TOKEN_TYPE_ID_TOKEN,
    RandomBytes,
    build_authorize_url,
    generate_pkce,
    generate_state,
    loopback_redirect_uri,
    system_random_bytes,
)

# The real CLI's lines [V: cli/src/login.rs; observed 0.169.0 §5].
BANNER = (
    "Starting local login server on http://localhost:{port}.\n"
    "If your browser did not open, navigate to this URL to authenticate:\n\n{url}\n\n"
    "On a remote or headless machine? Use `codex login --device-auth` instead."
)
SUCCESS = "Successfully logged in"
ERROR_PREFIX = "Error logging in: "
TOKEN_ENDPOINT_STATUS = "token endpoint returned status {status}: {detail}"
HTTP_TIMEOUT_S = 10.0


def status_text(response: httpx.Response) -> str:
    """A status as reqwest prints it: `400 Bad Request`."""
    return f"{response.status_code} {response.reason_phrase}".strip()


def last_refresh_now(clock: Clock) -> str:
    return clock.now_datetime().isoformat().replace("+00:00", "Z")


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT without checking its signature: the CLI only reads its own tokens' claims."""
    import jwt  # here, not at the top: PyJWT pulls in `cryptography`, which most CLI runs never need

    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LoginFailed("the id token is not a JWT") from exc
    return payload if isinstance(payload, dict) else {}


def auth_claims(token: str) -> dict[str, Any]:
    raw = unverified_claims(token).get(AUTH_CLAIM_NAMESPACE)
    return raw if isinstance(raw, dict) else {}


@dataclass(frozen=True)
class TokenSet:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)

    @classmethod
    def from_body(cls, body: object) -> TokenSet:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body.get(k) for k in ("id_token", "access_token", "refresh_token")
        ):
            raise LoginFailed("token response is missing id_token, access_token or refresh_token")
        return cls(body["id_token"], body["access_token"], body["refresh_token"])


async def exchange_authorization_code(
    http: httpx.AsyncClient, issuer: str, *, code: str, redirect_uri: str, verifier: str, client_id: str
) -> TokenSet:
    """`POST {issuer}/oauth/token` with the authorization-code grant [V: form body and fields]."""
    try:
        response = await http.post(
            f"{issuer}/oauth/token",
            data={
                "grant_type": GRANT_AUTHORIZATION_CODE,
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    except httpx.HTTPError as exc:
        raise LoginFailed(f"error sending request for url ({issuer}/oauth/token)") from exc
    if response.status_code != 200:
        raise LoginFailed(TOKEN_ENDPOINT_STATUS.format(status=status_text(response), detail=_detail(response)))
    try:
        return TokenSet.from_body(response.json())
    except ValueError as exc:
        raise LoginFailed("token response is not JSON") from exc


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        description = body.get("error_description") or body.get("error")
        if isinstance(description, str):
            return description
    return response.reason_phrase


async def obtain_api_key(http: httpx.AsyncClient, issuer: str, id_token: str, client_id: str) -> str | None:
    """The best-effort API-key token exchange [V]; any failure just means no key."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = await http.post(
            f"{issuer}/oauth/token",
            data={
                "grant_type": GRANT_TOKEN_EXCHANGE,
                "client_id": client_id,
                "requested_token": REQUESTED_TOKEN_API_KEY,
                "subject_token": id_token,
                "subject_token_type": TOKEN_TYPE_ID_TOKEN,
            },
        )
        if response.status_code == 200:
            key = response.json().get("access_token")
            if isinstance(key, str) and key:
                return key
    return None


def stored_chatgpt_auth(tokens: TokenSet, api_key: str | None, clock: Clock) -> StoredAuth:
    account_id = auth_claims(tokens.id_token).get("chatgpt_account_id")
    return StoredAuth(
        auth_mode=AuthMode.CHATGPT,
        tokens=AuthTokens(
            id_token=tokens.id_token,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            account_id=account_id if isinstance(account_id, str) else None,
        ),
        openai_api_key=api_key,
        last_refresh=last_refresh_now(clock),
    )


@dataclass(frozen=True)
class LoginSettings:
    issuer: str
    bind: BindPolicy = field(default_factory=BindPolicy)
    client_id: str = CLIENT_ID
    originator: str = ORIGINATOR
    allowed_workspace_ids: tuple[str, ...] = ()
    http_timeout_s: float = HTTP_TIMEOUT_S


@dataclass(frozen=True)
class LoginResult:
    port: int
    plan_type: str
    account_id: str | None
    api_key_saved: bool


class BrowserLogin:
    """One `login` run. `start()` binds and returns the banner; `wait()` returns the result or raises
    `LoginFailed`, whose message is what follows `Error logging in: `."""

    def __init__(
        self,
        settings: LoginSettings,
        store: CredentialStore,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        random_bytes: RandomBytes = system_random_bytes,
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        self._sleep = sleep
        self._pkce = generate_pkce(random_bytes)
        self._state = generate_state(random_bytes)
        self._server: CallbackServer | None = None
        self._output = on_output or (lambda line: None)
        self.authorize_url: str | None = None
        self.banner: str | None = None
        self.fell_back = False
        self._http: httpx.AsyncClient | None = None
        self._api_key_saved = False

    @property
    def issuer(self) -> str:
        return self.settings.issuer.rstrip("/")

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the login server is not started")
        return self._server.port

    @property
    def redirect_uri(self) -> str:
        return loopback_redirect_uri(self.port)

    @property
    def server(self) -> CallbackServer:
        if self._server is None:
            raise RuntimeError("the login server is not started")
        return self._server

    async def start(self) -> str:
        bound = await bind_callback_port(self.settings.bind, sleep=self._sleep, cancel=send_cancel)
        self.fell_back = bound.fell_back
        self._http = httpx.AsyncClient(timeout=self.settings.http_timeout_s, trust_env=False)
        self._server = CallbackServer(bound, state=self._state, exchange_code=self._exchange)
        await self._server.start()
        self.authorize_url = build_authorize_url(
            self.issuer,
            redirect_uri=loopback_redirect_uri(bound.port),
            pkce=self._pkce,
            state=self._state,
            client_id=self.settings.client_id,
            allowed_workspace_ids=self.settings.allowed_workspace_ids,
            originator=self.settings.originator,
        )
        self.banner = BANNER.format(port=bound.port, url=self.authorize_url)
        self._output(self.banner)
        return self.banner

    async def _exchange(self, code: str) -> CallbackSuccess:
        assert self._http is not None
        tokens = await exchange_authorization_code(
            self._http,
            self.issuer,
            code=code,
            redirect_uri=self.redirect_uri,
            verifier=self._pkce.verifier,
            client_id=self.settings.client_id,
        )
        claims = auth_claims(tokens.id_token)
        api_key = await obtain_api_key(self._http, self.issuer, tokens.id_token, self.settings.client_id)
        self.store.save(stored_chatgpt_auth(tokens, api_key, self.clock))
        self._api_key_saved = api_key is not None
        return CallbackSuccess(
            id_token=tokens.id_token,
            needs_setup=not claims.get("completed_platform_onboarding", False),
            org_id=str(claims.get("organization_id") or ""),
            project_id=str(claims.get("project_id") or ""),
            plan_type=str(claims.get("chatgpt_plan_type") or ""),
        )

    async def wait(self, timeout: float | None = None) -> LoginResult:
        server = self.server
        try:
            success = await asyncio.wait_for(asyncio.shield(server.outcome), timeout)
        finally:
            await self.close()
        auth = self.store.load()
        account_id = auth.tokens.account_id if auth and auth.tokens else None
        self._output(SUCCESS)
        return LoginResult(
            port=server.port,
            plan_type=success.plan_type,
            account_id=account_id,
            api_key_saved=self._api_key_saved,
        )

    async def close(self) -> None:
        if self._server is not None:
            await self._server.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def error_line(exc: LoginFailed) -> str:
    return ERROR_PREFIX + exc.message
