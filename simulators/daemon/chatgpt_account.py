"""The mock daemon's ChatGPT account as its clients see it: workspace routing in `account/read`, and a ChatGPT
sign-in started from a client (`account/login/start {type: "chatgpt"}`, the TUI's "Sign in with ChatGPT").

Both as codex app-server 0.169.0 does them (`tests/fixtures/tui_traffic/{signed-in-start,chatgpt-sign-in}.jsonl`):

* `account/read`, signed in with ChatGPT, answers only after workspace routing discovery (`GET
  {chatgpt_base_url}wham/accounts/check` with the access token and `chatgpt-account-id`), and carries what it found:
  `workspaceRouting {chatgptAccountId, backendOrigin, accountRoutingOverride}`, kept for later reads of the same
  sign-in. A discovery that fails fails the read with `-32603 workspace routing discovery failed` (what the TUI
  then shows as `account/read failed`).
* The sign-in binds the login callback server on 127.0.0.1:1455 (the one `pairsim login` runs,
  `simulators.login.client.BrowserLogin`), answers `{type: "chatgpt", loginId, authUrl}` at once with the issuer's
  authorize address (`originator` = the daemon's first client), and when the browser comes back and the code is
  exchanged, the Mac is signed in (the desktop adopts the tokens, as auth.json is shared), the caller hears
  `account/login/completed {loginId, success: true, error: null, onboardingEntrypoint: null}` and every client
  `account/updated {authMode: "chatgpt", planType}`. A sign-in that fails ends `success: false` with its words.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from simulators.daemon.app_server import AppServer, RequestContext
from simulators.daemon.model_client import TIMEOUT_SECONDS, ModelAccess
from simulators.login.callback_server import LoginFailed
from simulators.login.client import BrowserLogin, LoginSettings
from simulators.login.credential_store import CredentialStoreMode, StoredAuth
from simulators.protocol import jsonrpc
from simulators.protocol.jsonrpc import RpcMethodError

DISCOVERY_FAILED = "workspace routing discovery failed"

AdoptTokens = Callable[[dict[str, Any]], Awaitable[None]]


class WorkspaceRouting:
    """The `workspaceRouting` of `account/read`, discovered once per sign-in: codex 0.169.0 keeps what it found, so
    a backend that stops answering discovery later does not fail its reads (tests/test_chatgpt_account.py)."""

    def __init__(self, access: ModelAccess) -> None:
        self.access = access
        self._found: tuple[str, dict[str, Any]] | None = None  # (the access token it was found with, routing)

    async def __call__(self) -> dict[str, Any]:
        credentials = self.access.credentials()
        token = credentials.access_token if credentials is not None else ""
        if self._found is not None and self._found[0] == token:
            return dict(self._found[1])
        routing = await workspace_routing(self.access)
        self._found = (token, routing)
        return dict(routing)


async def workspace_routing(access: ModelAccess) -> dict[str, Any]:
    """The `workspaceRouting` of `account/read` for the Mac's sign-in; `RpcMethodError` as the real daemon fails."""
    credentials = access.credentials()
    if credentials is None:
        raise RpcMethodError(jsonrpc.INTERNAL_ERROR, DISCOVERY_FAILED)
    url = access.chatgpt_base_url.rstrip("/") + "/wham/accounts/check"
    headers = {"Authorization": f"Bearer {credentials.access_token}", "chatgpt-account-id": credentials.account_id}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False) as client:
            response = await client.get(url, headers=headers)
        accounts = response.json().get("accounts") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        accounts = None
    entry = next((a for a in accounts or [] if isinstance(a, dict) and a.get("id") == credentials.account_id), None)
    if entry is None or not isinstance(entry.get("workspace_backend_origin"), str):
        raise RpcMethodError(jsonrpc.INTERNAL_ERROR, DISCOVERY_FAILED)
    return {
        "chatgptAccountId": credentials.account_id,
        "backendOrigin": entry["workspace_backend_origin"].rstrip("/"),
        "accountRoutingOverride": entry.get("account_routing_override"),
    }


RATE_LIMITS_FAILED = "failed to fetch codex rate limits: GET {url} failed: {status}; content-type={type}; body={body}"
NOT_SIMULATED = "`account/rateLimits/read` {case} is not something pairsim's mock simulates"


def install_rate_limits(server: AppServer, access: ModelAccess) -> None:
    """`account/rateLimits/read`: the real daemon asks the backend (`GET {chatgpt_base_url}wham/usage`) each time.
    pairsim's backend does not serve usage, so the read fails as the real one's does against it; a signed-out Mac
    or a backend that answered are cases the recordings do not show."""

    async def read(ctx: RequestContext) -> dict[str, Any]:
        credentials = access.credentials()
        if credentials is None:
            raise RpcMethodError(jsonrpc.METHOD_NOT_FOUND, NOT_SIMULATED.format(case="without a ChatGPT sign-in"))
        url = access.chatgpt_base_url.rstrip("/") + "/wham/usage"
        headers = {"Authorization": f"Bearer {credentials.access_token}",
                   "chatgpt-account-id": credentials.account_id}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise RpcMethodError(jsonrpc.INTERNAL_ERROR, f"failed to fetch codex rate limits: {exc}") from None
        if response.is_success:
            raise RpcMethodError(jsonrpc.METHOD_NOT_FOUND, NOT_SIMULATED.format(case="with usage from the backend"))
        status = f"{response.status_code} {response.reason_phrase}"
        raise RpcMethodError(jsonrpc.INTERNAL_ERROR, RATE_LIMITS_FAILED.format(
            url=url, status=status, type=response.headers.get("content-type", ""), body=response.text))

    server.register_method("account/rateLimits/read", read)


class _HandedOver:
    """Where the login keeps what it got until the daemon hands it to the Mac's sign-in: memory, never a file."""

    mode = CredentialStoreMode.EPHEMERAL

    def __init__(self) -> None:
        self.auth: StoredAuth | None = None

    def load(self) -> StoredAuth | None:
        return self.auth

    def save(self, auth: StoredAuth) -> None:
        self.auth = auth

    def delete(self) -> bool:
        had, self.auth = self.auth is not None, None
        return had

    def describe(self) -> str:
        return "handed to the Mac's sign-in"


class ChatGptLogin:
    """`account/login/start {type: "chatgpt"}` for one `AppServer`, signing in at `issuer_url`."""

    def __init__(self, server: AppServer, issuer_url: str, adopt: AdoptTokens) -> None:
        self.server = server
        self.issuer_url = issuer_url
        self.adopt = adopt

    def install(self) -> ChatGptLogin:
        self.server.chatgpt_login = self.start
        return self

    async def start(self, ctx: RequestContext) -> dict[str, Any]:
        store = _HandedOver()
        login = BrowserLogin(LoginSettings(issuer=self.issuer_url, originator=self.server.originator), store,
                             clock=self.server.clock)
        try:
            await login.start()
        except LoginFailed as exc:
            raise RpcMethodError(jsonrpc.INTERNAL_ERROR, exc.message) from None
        login_id = str(uuid.uuid4())
        connection = ctx.connection

        async def finish() -> None:
            try:
                result = await login.wait()
            except LoginFailed as exc:
                await connection.notify("account/login/completed", {
                    "loginId": login_id, "success": False, "error": exc.message, "onboardingEntrypoint": None})
                return
            finally:
                await login.close()
            auth = store.auth
            assert auth is not None and auth.tokens is not None, "a finished login saved its tokens"
            await self.adopt({"id_token": auth.tokens.id_token, "access_token": auth.tokens.access_token,
                              "refresh_token": auth.tokens.refresh_token})
            await connection.notify("account/login/completed", {
                "loginId": login_id, "success": True, "error": None, "onboardingEntrypoint": None})
            await self.server.broadcast("account/updated",
                                        {"authMode": "chatgpt", "planType": result.plan_type or None})

        ctx.after_response(finish)
        return {"type": "chatgpt", "loginId": login_id, "authUrl": login.authorize_url}
