"""`pairsim login --device-auth`: the Codex CLI's device-code sign-in, client side, as the real client does it.

[V: codex-rs/login/src/device_code_auth.rs; observed 0.169.0 against pairsim's backend with `--experimental_issuer`]
Ask `{issuer}/api/accounts/deviceauth/usercode` for a code, print the steps, poll
`{issuer}/api/accounts/deviceauth/token` (first at once, then every `interval` seconds; 403 and 404 mean "not
yet"), give up after 15 minutes, then redeem the authorization code at `{issuer}/oauth/token` with the redirect
URI `{issuer}/deviceauth/callback`. No API-key exchange in this flow. Time comes from the injected clock and the
waiting from the injected sleep, so a test can expire a code without waiting 15 minutes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulators.clock import Clock
from simulators.login.callback_server import LoginFailed, Sleep
from simulators.login.client import (
    SUCCESS,
    TokenSet,
    exchange_authorization_code,
    status_text,
    stored_chatgpt_auth,
)
from simulators.login.credential_store import CredentialStore
from simulators.protocol.errors import ErrorCode
from simulators.protocol.oauth import CLIENT_ID

USERCODE_PATH = "/api/accounts/deviceauth/usercode"
TOKEN_PATH = "/api/accounts/deviceauth/token"
DEVICE_PAGE_PATH = "/codex/device"
CALLBACK_PATH = "/deviceauth/callback"
MAX_WAIT_S = 15 * 60

# The real CLI's texts [V/observed 0.169.0], verbatim.
PROMPT = (
    "Follow these steps to sign in with ChatGPT using device code authorization:\n\n"
    "1. Open this link in your browser and sign in to your account\n"
    "   {url}\n\n"
    "2. Enter this one-time code (expires in 15 minutes)\n"
    "   {code}\n\n"
    "Continue only if you started this login in Codex. If a website or another person gave you this code, cancel."
)
NOT_ENABLED = (
    "device code login is not enabled for this Codex server. Use the browser login or verify the server URL."
)
REQUEST_FAILED = "device code request failed with status {status}"
POLL_FAILED = "device auth failed with status {status}"
TIMED_OUT = "device auth timed out after 15 minutes"
EXCHANGE_FAILED = "device code exchange failed: {detail}"
SEND_FAILED = "error sending request for url ({url})"

_INTERVAL_RE = re.compile(r"^\s*([0-9]+)\s*$")


@dataclass(frozen=True)
class DeviceCode:
    device_auth_id: str
    user_code: str = field(repr=False)
    interval_s: int
    verification_url: str

    def prompt(self) -> str:
        return PROMPT.format(url=self.verification_url, code=self.user_code)


def parse_usercode_response(body: object, issuer: str) -> DeviceCode:
    """The usercode answer; `user_code` may be spelled `usercode`, and `interval` is a string of digits [V]."""
    if not isinstance(body, dict):
        raise LoginFailed("failed to request device code: the response is not a JSON object")
    device_auth_id = body.get("device_auth_id")
    user_code = body.get("user_code", body.get("usercode"))
    interval = body.get("interval", "5")
    if not isinstance(device_auth_id, str) or not device_auth_id or not isinstance(user_code, str) or not user_code:
        raise LoginFailed("failed to request device code: device_auth_id or user_code is missing")
    digits = _INTERVAL_RE.match(interval) if isinstance(interval, str) else None
    if digits is None:
        raise LoginFailed("failed to request device code: interval is not a string of digits")
    # The digits alone: `int()` refuses some of the whitespace `\s` lets through (U+001C..U+001F).
    return DeviceCode(device_auth_id, user_code, int(digits.group(1)), issuer + DEVICE_PAGE_PATH)


@dataclass(frozen=True)
class DeviceLoginResult:
    polls: int
    waited_s: float
    account_id: str | None


class DeviceCodeLogin:
    """One device-code login run: `request_code()`, then `complete()`."""

    def __init__(
        self,
        issuer: str,
        store: CredentialStore,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        client_id: str = CLIENT_ID,
        http_timeout_s: float = 10.0,
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.store = store
        self.clock = clock or Clock()
        self._sleep = sleep
        self.client_id = client_id
        self._http = httpx.AsyncClient(timeout=http_timeout_s, trust_env=False)
        self._output = on_output or (lambda line: None)
        self.code: DeviceCode | None = None
        self.requested_at: float | None = None
        self.waits: list[float] = []

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        url = self.issuer + path
        try:
            return await self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise LoginFailed(SEND_FAILED.format(url=url)) from exc

    async def request_code(self) -> DeviceCode:
        response = await self._post(USERCODE_PATH, {"client_id": self.client_id})
        if response.status_code == 404:
            raise LoginFailed(NOT_ENABLED)
        if response.status_code != 200:
            raise LoginFailed(REQUEST_FAILED.format(status=status_text(response)))
        try:
            body = response.json()
        except ValueError as exc:
            raise LoginFailed("failed to request device code: the response is not JSON") from exc
        self.code = parse_usercode_response(body, self.issuer)
        self.requested_at = self.clock.now()  # the 15 minutes run from here, as the prompt says
        self._output(self.code.prompt())
        return self.code

    async def _poll_until_authorized(self, code: DeviceCode) -> dict[str, Any]:
        started = self.requested_at if self.requested_at is not None else self.clock.now()
        while True:
            # Checked before each poll too, so a code the backend already expired is reported as the timeout.
            if self.clock.now() - started >= MAX_WAIT_S:
                raise LoginFailed(TIMED_OUT, code=ErrorCode.SESSION_EXPIRED)
            response = await self._post(
                TOKEN_PATH, {"device_auth_id": code.device_auth_id, "user_code": code.user_code}
            )
            if response.status_code == 200:
                try:
                    body = response.json()
                except ValueError as exc:
                    raise LoginFailed(POLL_FAILED.format(status=status_text(response))) from exc
                if isinstance(body, dict):
                    return body
                raise LoginFailed(POLL_FAILED.format(status=status_text(response)))
            if response.status_code not in (403, 404):
                raise LoginFailed(
                    POLL_FAILED.format(status=status_text(response)),
                    code=ErrorCode.SIGN_IN_CANCELLED if response.status_code == 400 else None,
                )
            remaining = MAX_WAIT_S - (self.clock.now() - started)
            if remaining <= 0:
                raise LoginFailed(TIMED_OUT, code=ErrorCode.SESSION_EXPIRED)
            wait = min(float(code.interval_s), remaining)
            self.waits.append(wait)
            await self._sleep(wait)

    async def complete(self) -> DeviceLoginResult:
        code = self.code or await self.request_code()
        started = self.clock.now()
        try:
            grant = await self._poll_until_authorized(code)
            authorization_code = grant.get("authorization_code")
            verifier = grant.get("code_verifier")
            if not isinstance(authorization_code, str) or not isinstance(verifier, str):
                raise LoginFailed(EXCHANGE_FAILED.format(detail="the answer has no authorization_code"))
            try:
                tokens: TokenSet = await exchange_authorization_code(
                    self._http,
                    self.issuer,
                    code=authorization_code,
                    redirect_uri=self.issuer + CALLBACK_PATH,
                    verifier=verifier,
                    client_id=self.client_id,
                )
            except LoginFailed as exc:
                raise LoginFailed(EXCHANGE_FAILED.format(detail=exc.message)) from exc
            auth = stored_chatgpt_auth(tokens, None, self.clock)
            self.store.save(auth)
        finally:
            await self.aclose()
        self._output(SUCCESS)
        return DeviceLoginResult(
            polls=len(self.waits) + 1,
            waited_s=self.clock.now() - started,
            account_id=auth.tokens.account_id if auth.tokens else None,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
