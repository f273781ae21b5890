"""Codex running in a terminal, as far as its ChatGPT sign-in goes: one CLI process's hold on `auth.json`.

A Codex CLI process (the TUI, `codex exec`) reads `$CODEX_HOME/auth.json` when it starts and keeps the tokens in
memory. When it needs them and the access token has expired by its own clock, it refreshes them at the issuer and
writes the new ones back. Refresh tokens are single-use (rotation), so two sessions holding the same one race: the
second to refresh is refused `refresh_token_reused` (openai/codex#6498, #9634, #24365, #13238). Two processes on one
machine share the file, and codex 0.169.0 reads it again under `auth.lock` before it refreshes, so the second finds
the first one's new tokens and does not refresh at all ("Skipping token refresh because auth changed after guarded
reload.", a string of the 0.169.0 binary). A copy of the sign-in on another computer (auth.json copied to a dev
server, or into a CI secret) has no such luck. A newer sign-in revokes the one it replaces, and every copy of it
with it (#13118, `token_revoked`).

What the terminal says: under `legacy` the real CLI's words (the refresh failures are the binary's strings; a
refused request is its `unexpected status …, auth error code: …` line); under `fixed` the cause (a copy of this
sign-in was used, or replaced, on another computer) and what to do. The request that needs the sign-in is the
backend's access-token check (`/api/accounts/codex/access-token`), which refuses an expired or revoked token the
way the ChatGPT backend does, with an error code.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from dataclasses import replace
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from simulators import messages
from simulators.backend.accounts import RefreshFailure
from simulators.backend.device_auth import ACCESS_TOKEN_METADATA_PATH
from simulators.browser import shared_ssl_context
from simulators.clock import Clock
from simulators.daemon.profiles import Profile
from simulators.login.client import last_refresh_now
from simulators.login.credential_store import AuthTokens, FileCredentialStore, StoredAuth
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import CLIENT_ID, jwt_expired

LOCK_FILENAME = "auth.lock"  # [V: the 0.169.0 binary's name for the lock around a refresh]
REFRESH_SCOPE = "openid profile email"

# Today's words for a refused refresh, by the reason the issuer gives (the CLI's own classification [V]).
_LEGACY_REFRESH_FAILURES: dict[str, str] = {
    RefreshFailure.REUSED.value: messages.CLI_REFRESH_TOKEN_REUSED,
    RefreshFailure.EXPIRED.value: messages.CLI_REFRESH_TOKEN_EXPIRED,
    RefreshFailure.INVALIDATED.value: messages.CLI_REFRESH_TOKEN_REVOKED,
}
# With the fix, where the legacy words leave out why: a copy of the sign-in was refreshed, or replaced, elsewhere.
_FIXED_REFRESH_FAILURES: dict[str, str] = {
    RefreshFailure.REUSED.value: messages.CLI_SIGN_IN_USED_ELSEWHERE,
    RefreshFailure.EXPIRED.value: messages.CLI_REFRESH_TOKEN_EXPIRED,
    RefreshFailure.INVALIDATED.value: messages.CLI_SIGN_IN_REPLACED_ELSEWHERE,
}
_FIXED_REQUEST_FAILURES: dict[str, str] = {"token_revoked": messages.CLI_SIGN_IN_REPLACED_ELSEWHERE}
# What any other refused refresh says [V: a string of 0.169.0].
REFRESH_FAILED = "Your access token could not be refreshed. Please log out and sign in again."


class NotSignedIn(PairsimError):
    code = ErrorCode.SESSION_EXPIRED


class TerminalSession:
    """One Codex CLI process in a terminal, from the moment it starts (reading auth.json) until it is closed.
    Every method runs on one event loop; `clock` is the clock of the computer it runs on."""

    def __init__(self, home: Path, *, issuer_url: str, backend_url: str, clock: Clock, profile: Profile | str,
                 timeout: float = 10.0) -> None:
        self.home = home
        self.issuer_url = issuer_url.rstrip("/")
        self.backend_url = backend_url.rstrip("/")
        self.clock = clock
        self.profile = Profile(profile)
        self._store = FileCredentialStore(home)
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=shared_ssl_context())
        self._auth: StoredAuth | None = None
        self._held: list[str] = []
        self.output: list[str] = []  # every line the terminal showed, in order

    def start(self) -> None:
        """The process starts: it reads the sign-in once and keeps it in memory."""
        self._auth = self._store.load()
        if self._auth is None or self._auth.tokens is None:
            raise NotSignedIn(f"there is no ChatGPT sign-in in {self.home}")
        self._hold(self._auth)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ask(self) -> str:
        """The person asks Codex something, which needs the sign-in; returns the line the terminal shows."""
        line = await self._ask()
        self.output.append(line)
        return line

    async def _ask(self) -> str:
        tokens = self._tokens()
        if jwt_expired(tokens.access_token, self.clock.now()):
            failure = await self._refresh()
            if failure is not None:
                return failure
        response = await self._request()
        if response.status_code == HTTPStatus.UNAUTHORIZED and self._reload():
            # Auth recovery, as 0.169.0 does it first: another process on this computer may have signed in anew.
            response = await self._request()
        if response.status_code == HTTPStatus.OK:
            return messages.CLI_ANSWERED
        return self._refused(response)

    async def _request(self) -> httpx.Response:
        return await self._http.get(self.backend_url + ACCESS_TOKEN_METADATA_PATH,
                                    headers={"Authorization": f"Bearer {self._tokens().access_token}"})

    def _refused(self, response: httpx.Response) -> str:
        code, detail = _error_of(response)
        if self.profile is Profile.FIXED and code in _FIXED_REQUEST_FAILURES:
            return _FIXED_REQUEST_FAILURES[code]
        status = HTTPStatus(response.status_code)
        return messages.CLI_UNEXPECTED_STATUS.format(status=f"{status.value} {status.phrase}", detail=detail,
                                                     code=code or "none")

    async def _refresh(self) -> str | None:
        """Refresh the expired access token; None when there are usable tokens again, else what the terminal says.
        Under the lock other Codex processes of this CODEX_HOME take, it first reads auth.json again: when another
        process already refreshed, its tokens are taken and no refresh is made."""
        async with _locked(self.home / LOCK_FILENAME):
            if self._reload() and not jwt_expired(self._tokens().access_token, self.clock.now()):
                return None
            tokens = self._tokens()
            response = await self._http.post(self.issuer_url + "/oauth/token", json={
                "client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                "scope": REFRESH_SCOPE,
            })
            if response.status_code != HTTPStatus.OK:
                reason, _ = _error_of(response)
                failures = _FIXED_REFRESH_FAILURES if self.profile is Profile.FIXED else _LEGACY_REFRESH_FAILURES
                return failures.get(reason or "", REFRESH_FAILED)
            body = response.json()
            auth = replace(
                self._auth_or_raise(),
                tokens=AuthTokens(id_token=str(body["id_token"]), access_token=str(body["access_token"]),
                                  refresh_token=str(body.get("refresh_token") or tokens.refresh_token),
                                  account_id=tokens.account_id),
                last_refresh=last_refresh_now(self.clock),
            )
            self._store.save(auth)
            self._auth = auth
            self._hold(auth)
            return None

    def _reload(self) -> bool:
        """Read auth.json again; True when it holds another sign-in than this process has (which it then takes)."""
        on_disk = self._store.load()
        if on_disk is None or on_disk.tokens is None:
            return False
        if on_disk.tokens.refresh_token == self._tokens().refresh_token:
            return False
        self._auth = on_disk
        self._hold(on_disk)
        return True

    def _auth_or_raise(self) -> StoredAuth:
        if self._auth is None:
            raise NotSignedIn("the terminal session has not started")
        return self._auth

    def _tokens(self) -> AuthTokens:
        tokens = self._auth_or_raise().tokens
        if tokens is None:
            raise NotSignedIn("the stored sign-in holds no ChatGPT tokens")
        return tokens

    def _hold(self, auth: StoredAuth) -> None:
        if auth.tokens is not None:
            self._held.extend((auth.tokens.id_token, auth.tokens.access_token, auth.tokens.refresh_token))

    def issued_secrets(self) -> list[str]:
        """Every token this session held (none may reach a report)."""
        return list(self._held)


@contextlib.asynccontextmanager
async def _locked(path: Path) -> AsyncIterator[None]:
    """The lock Codex processes of one CODEX_HOME take around a refresh; waited for off the event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    """(error code, message) of an OpenAI-style error body `{"error": {"code", "message"}}`."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase
    code, message = error.get("code"), error.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else response.reason_phrase)
