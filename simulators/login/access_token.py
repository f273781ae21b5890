"""`pairsim login --with-access-token`: sign a CI machine in with a ChatGPT access token read from stdin.

The stdin handling and its texts are the real CLI's [V: cli/src/login.rs strings in 0.169.0]. What is checked is
pairsim's model [I]: the token must be a ChatGPT access-token JWT [V text "External ChatGPT auth requires a valid
ChatGPT access token JWT."], not expired on the CLI's clock, accepted by the backend (signature, expiry,
revocation: `GET {issuer}/api/accounts/codex/access-token`, pairsim-defined), and minted for a Business or
Enterprise workspace. (The real 0.169.0 binary expects an agent-identity credential here instead; see
docs/protocol.md §5.10.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from simulators import messages
from simulators.clock import Clock
from simulators.login.callback_server import LoginFailed
from simulators.login.client import SUCCESS, last_refresh_now, unverified_claims
from simulators.login.credential_store import AuthMode, AuthTokens, CredentialStore, StoredAuth
from simulators.protocol.errors import ErrorCode
from simulators.protocol.oauth import AUTH_CLAIM_NAMESPACE

METADATA_PATH = "/api/accounts/codex/access-token"
ALLOWED_PLANS = frozenset({"business", "enterprise"})

# The real CLI's texts, verbatim.
STDIN_IS_TTY = (
    "--with-access-token expects the access token on stdin. Try piping it, e.g. "
    "`printenv CODEX_ACCESS_TOKEN | codex login --with-access-token`."
)
READING = "Reading access token from stdin..."
EMPTY = "No access token provided via stdin."
ERROR_PREFIX = "Error logging in with access token: "
NOT_A_JWT = "External ChatGPT auth requires a valid ChatGPT access token JWT."


class AccessTokenRefused(LoginFailed):
    pass


@dataclass(frozen=True)
class AccessTokenLogin:
    issuer: str
    store: CredentialStore
    clock: Clock
    http_timeout_s: float = 10.0
    on_output: Callable[[str], None] | None = None

    async def run(self, token_text: str) -> StoredAuth:
        """Check the token and save it; raises `AccessTokenRefused` whose message follows `ERROR_PREFIX`."""
        token = token_text.strip()
        if not token:
            raise AccessTokenRefused(EMPTY)
        try:
            claims = unverified_claims(token)
        except LoginFailed as exc:
            raise AccessTokenRefused(NOT_A_JWT) from exc
        auth = claims.get(AUTH_CLAIM_NAMESPACE)
        exp = claims.get("exp")
        if not isinstance(auth, dict) or not isinstance(exp, int):
            raise AccessTokenRefused(NOT_A_JWT)
        if exp <= self.clock.now():
            raise AccessTokenRefused(messages.CLI_ACCESS_TOKEN_EXPIRED, code=ErrorCode.SESSION_EXPIRED)
        metadata = await self._metadata(token)
        plan = str(metadata.get("chatgpt_plan_type") or "")
        if plan not in ALLOWED_PLANS:
            raise AccessTokenRefused(
                messages.CLI_ACCESS_TOKEN_PLAN.format(plan=plan or "unknown"), code=ErrorCode.BLOCKED_BY_POLICY
            )
        account_id = metadata.get("chatgpt_account_id")
        stored = StoredAuth(
            auth_mode=AuthMode.ACCESS_TOKEN,
            tokens=AuthTokens(
                id_token="",
                access_token=token,
                refresh_token="",
                account_id=account_id if isinstance(account_id, str) else None,
            ),
            last_refresh=last_refresh_now(self.clock),
        )
        self.store.save(stored)
        if self.on_output:
            self.on_output(SUCCESS)
        return stored

    async def _metadata(self, token: str) -> dict[str, object]:
        url = self.issuer.rstrip("/") + METADATA_PATH
        try:
            async with httpx.AsyncClient(timeout=self.http_timeout_s, trust_env=False) as http:
                response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise AccessTokenRefused(f"error sending request for url ({url})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict):
            return body
        code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(
            body.get("error"), dict) else None
        if code == "token_expired":
            raise AccessTokenRefused(messages.CLI_ACCESS_TOKEN_EXPIRED, code=ErrorCode.SESSION_EXPIRED)
        if code == "token_revoked":
            raise AccessTokenRefused(messages.CLI_ACCESS_TOKEN_REVOKED, code=ErrorCode.SESSION_EXPIRED)
        raise AccessTokenRefused(NOT_A_JWT)
