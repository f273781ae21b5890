"""The mock daemon's remote control: enrollment, the relay connection, the status machine and its JSON-RPC
methods.

Status: `disabled → connecting → connected | errored`. In the `fixed` profile a refusal whose body carries a
typed cause becomes `blocked_<cause>` instead of `errored` (`EnrollmentStatus.BLOCKED_MFA_REQUIRED`, ...); on
the wire the `status` field stays one of the four values real clients know (`errored`) and a `blockedReason`
field names the cause, so an older desktop or CLI still parses the payload (an unknown enum variant breaks
them, openai/codex#26498). The `legacy` profile is today's daemon: a refusal only ever means `errored`, and
the reason stays in the log line.

The connect loop never sleeps to wait for state: after a refusal it waits for an event (the desktop signed in
again, remote control re-enabled, `recheck()`); only network trouble is retried after short, bounded delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import httpx

from simulators.clock import Clock
from simulators.daemon.app_server import AppServer, RequestContext
from simulators.daemon.enrollment_client import (
    HTTP_TIMEOUT_SECONDS,
    ChatGptCredentials,
    EnrollmentClient,
    HostDescription,
    RemoteControlBadResponse,
    RemoteControlRefusal,
    RemoteControlUnreachable,
)
from simulators.daemon.profiles import Profile, ProfileBehaviour, behaviour
from simulators.daemon.proxies import proxy_for
from simulators.daemon.relay_client import (
    DISABLED_CLOSE_REASON,
    PING_INTERVAL_SECONDS,
    PONG_TIMEOUT_SECONDS,
    RelayClient,
    RelayClosed,
    RelayProxyRefused,
    RelayRefused,
)
from simulators.daemon.store import DaemonStore, EnrollmentKey
from simulators.protocol import jsonrpc
from simulators.protocol import relay as rp
from simulators.protocol import remote_control as rc
from simulators.protocol.errors import ErrorCode, PairsimError

log = logging.getLogger("pairsim.daemon.remote_control")

T = TypeVar("T")

STATUS_CHANGED = "remoteControl/status/changed"
DEFAULT_APP_SERVER_CLIENT_NAME = "codex_desktop"

PAIRING_REQUIRES_ENABLED = "remote control pairing requires remote control to be enabled"
PAIRING_UNAVAILABLE = "remote control pairing is unavailable until enrollment completes"
PAIRING_TOKEN_EXPIRED = "remote control pairing is unavailable because the server token expired"
CLIENTS_UNAVAILABLE = "remote control clients are unavailable until enrollment completes"
REQUIRES_CHATGPT_AUTH = "remote control requires ChatGPT authentication"
RELAY_REVOKED_LINE = (
    "remote control websocket closed by the backend ({code} {reason}); checking the enrollment again"
)
STALE_ENROLLMENT_LINE = "deleting the persisted remote control enrollment and enrolling again"
# The real daemon's auth manager, at the start of auth recovery (0.169.0, `codex_login::auth::manager`, INFO).
RELOADED_AUTH_LINE = "Reloaded auth, changed: {changed}"

# Close codes the backend uses (pairsim-defined, see the backend relay).
CLOSE_REPLACED = 4000
CLOSE_REVOKED = 4401

# Delays between retries after network trouble (not after refusals, which wait for an event).
RETRY_DELAYS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


class EnrollmentStatus(StrEnum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ERRORED = "errored"
    BLOCKED_MFA_REQUIRED = "blocked_mfa_required"
    BLOCKED_BY_POLICY = "blocked_by_policy"
    BLOCKED_REGION_UNAVAILABLE = "blocked_region_unavailable"
    BLOCKED_SESSION_EXPIRED = "blocked_session_expired"

    @property
    def blocked_reason(self) -> ErrorCode | None:
        return _REASON_BY_STATUS.get(self)

    @property
    def wire_status(self) -> str:
        """The `status` field: blocked states are `errored` to clients that only know the four real values."""
        return EnrollmentStatus.ERRORED.value if self.blocked_reason is not None else self.value

    @property
    def settled(self) -> bool:
        return self is not EnrollmentStatus.CONNECTING


_BLOCKED_BY_CAUSE: dict[ErrorCode, EnrollmentStatus] = {
    ErrorCode.MFA_REQUIRED: EnrollmentStatus.BLOCKED_MFA_REQUIRED,
    ErrorCode.BLOCKED_BY_POLICY: EnrollmentStatus.BLOCKED_BY_POLICY,
    ErrorCode.REGION_UNAVAILABLE: EnrollmentStatus.BLOCKED_REGION_UNAVAILABLE,
    ErrorCode.SESSION_EXPIRED: EnrollmentStatus.BLOCKED_SESSION_EXPIRED,
}
_REASON_BY_STATUS = {status: cause for cause, status in _BLOCKED_BY_CAUSE.items()}


def status_after_refusal(cause: ErrorCode | None, profile: ProfileBehaviour) -> EnrollmentStatus:
    """What a refused enrollment means: a typed, blocking cause in the fixed profile, `errored` otherwise."""
    if profile.reports_blocked_status and cause is not None:
        return _BLOCKED_BY_CAUSE.get(cause, EnrollmentStatus.ERRORED)
    return EnrollmentStatus.ERRORED


@dataclass(frozen=True)
class RemoteControlSnapshot:
    status: EnrollmentStatus
    server_name: str
    installation_id: str
    environment_id: str | None

    def to_wire(self, *, with_reason: bool) -> dict[str, Any]:
        """The result of enable/disable/status/read and the `remoteControl/status/changed` params. Never
        carries the server id."""
        wire: dict[str, Any] = {
            "status": self.status.wire_status,
            "serverName": self.server_name,
            "installationId": self.installation_id,
            "environmentId": self.environment_id,
        }
        if with_reason:
            reason = self.status.blocked_reason
            wire["blockedReason"] = reason.value if reason is not None else None
        return wire


class DesktopAuth(Protocol):
    """The desktop's ChatGPT sign-in as the daemon sees it."""

    def chatgpt_credentials(self) -> ChatGptCredentials | None:
        """The current access token and workspace, or None when signed out."""

    async def recover_auth(self) -> bool:
        """Auth recovery: refresh the ChatGPT tokens. True when there are new tokens to retry with."""


class NoChatGptAuth(PairsimError):
    code = ErrorCode.SESSION_EXPIRED

    def __init__(self) -> None:
        super().__init__(REQUIRES_CHATGPT_AUTH)


@dataclass
class _ServerCredential:
    key: EnrollmentKey
    server_id: str
    environment_id: str
    token: str | None = field(default=None, repr=False)
    expires_at: int = 0

    def usable(self, now: float) -> bool:
        return self.token is not None and self.expires_at > now + rc.SERVER_TOKEN_REFRESH_SKEW_SECONDS


class RemoteControlController:
    def __init__(
        self,
        app_server: AppServer,
        store: DaemonStore,
        auth: DesktopAuth,
        *,
        base_url: str,
        profile: Profile = Profile.FIXED,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        host: HostDescription | None = None,
        app_server_client_name: str = DEFAULT_APP_SERVER_CLIENT_NAME,
        ping_interval: float = PING_INTERVAL_SECONDS,
        pong_timeout: float = PONG_TIMEOUT_SECONDS,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.app_server = app_server
        self.store = store
        self.auth = auth
        self.profile = Profile(profile)
        self.behaviour = behaviour(self.profile)
        self.clock = clock or app_server.clock
        self.app_server_client_name = app_server_client_name
        self.retry_delays = retry_delays
        self._base_url = base_url
        self._host = host or HostDescription.detect(app_server.server_name)
        # The variables the daemon inherited from the shell that started it; only the proxy ones matter here.
        self.environment: dict[str, str] = dict(os.environ)
        self.client = EnrollmentClient(
            base_url, app_server.installation_id, self._host, http=http,
            proxy=proxy_for(base_url, self.environment),
        )
        self.websocket_url = self.client.endpoints.websocket_url
        self.relay = RelayClient(app_server, ping_interval=ping_interval, pong_timeout=pong_timeout)
        self.relay.proxy = proxy_for(self.websocket_url, self.environment)
        # The status of the tunnel the proxy last refused to the relay (None: no proxy refused one since).
        self.proxy_refusal: int | None = None
        self.log_lines: list[str] = []
        self._logged = asyncio.Event()  # replaced by a fresh one at every line, after waking its waiters
        self._status = EnrollmentStatus.DISABLED
        self._environment_id: str | None = None
        self._desired = False
        # An `enable` call is waiting for its first attempt: a missing sign-in then refuses the call itself.
        self._enabling = False
        self._credential: _ServerCredential | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._status_waiters: list[
            tuple[frozenset[EnrollmentStatus], asyncio.Future[RemoteControlSnapshot]]
        ] = []
        self._attempt_waiters: list[asyncio.Future[None]] = []
        store.set_profile(self.profile)
        app_server.set_remote_control_status_provider(self.wire_status)
        self._register_methods()

    # -- observable state ------------------------------------------------------------------------------------

    @property
    def status(self) -> EnrollmentStatus:
        return self._status

    @property
    def environment_id(self) -> str | None:
        return self._environment_id

    @property
    def enabled(self) -> bool:
        return self._desired

    def snapshot(self) -> RemoteControlSnapshot:
        return RemoteControlSnapshot(
            self._status, self.app_server.server_name, self.app_server.installation_id, self._environment_id
        )

    def wire_status(self) -> dict[str, Any]:
        return self.snapshot().to_wire(with_reason=self.behaviour.reports_blocked_status)

    async def wait_for_status(
        self, *statuses: EnrollmentStatus | str, timeout: float = 10.0
    ) -> RemoteControlSnapshot:
        """Wait until the status is one of `statuses` (returns at once if it already is)."""
        wanted = frozenset(EnrollmentStatus(s) for s in statuses)
        if self._status in wanted:
            return self.snapshot()
        future: asyncio.Future[RemoteControlSnapshot] = asyncio.get_running_loop().create_future()
        entry = (wanted, future)
        self._status_waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._status_waiters.remove(entry)

    async def wait_settled(self, timeout: float = 10.0) -> RemoteControlSnapshot:
        """Wait until remote control is no longer `connecting`."""
        return await self.wait_for_status(*(s for s in EnrollmentStatus if s.settled), timeout=timeout)

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """At daemon start: connect when the persisted preference says remote control is on."""
        if self.store.settings().allow_other_devices:
            await self._begin()

    async def close(self) -> None:
        self._desired = False
        await self._stop_loop(reason="")
        await self.relay.reset()
        await self.client.aclose()

    async def enable(self, *, ephemeral: bool = False) -> RemoteControlSnapshot:
        """Turn remote control on; returns once the enroll (or refresh) call has been answered."""
        if not ephemeral:
            self.store.update_settings(allow_other_devices=True)
            if self._credential is not None:
                self.store.set_enrollment_enabled(self._credential.key, True)
        self._enabling = True
        try:
            if self._desired and self._task is not None and not self._task.done():
                if self._status.settled and self._status is not EnrollmentStatus.CONNECTED:
                    attempt = self._next_attempt()
                    self._wake.set()
                    await self._await_attempt(attempt)
                return self.snapshot()
            await self._begin()
            return self.snapshot()
        finally:
            self._enabling = False

    async def disable(self, *, ephemeral: bool = False) -> RemoteControlSnapshot:
        if not ephemeral:
            self.store.update_settings(allow_other_devices=False)
            if self._credential is not None:
                self.store.set_enrollment_enabled(self._credential.key, False)
        self._desired = False
        await self._stop_loop(reason=DISABLED_CLOSE_REASON if self.behaviour.announces_connections_off else "")
        await self.relay.reset()
        await self._publish(EnrollmentStatus.DISABLED, None)
        self._finish_attempts()
        return self.snapshot()

    def runs_version(self, version: str) -> None:
        """This Mac's Codex is `version`: what it reports when it next enrolls."""
        self.client.app_server_version = version

    async def recheck(self) -> None:
        """The desktop's sign-in changed (signed in again, switched account, signed out): check the enrollment
        again. Returns once the daemon has tried, when it had given up waiting for a change."""
        if not self._desired:
            return
        credentials = self.auth.chatgpt_credentials()
        current = self._credential
        if current is not None and (credentials is None or current.key != self._key(credentials)):
            # Enrollment is per account: another account means another enrollment.
            attempt = self._next_attempt()
            await self.relay.disconnect("account changed")
            self._wake.set()
            await self._await_attempt(attempt)
        elif self._status.settled and self._status is not EnrollmentStatus.CONNECTED:
            attempt = self._next_attempt()
            # Trying again after a refusal is connecting again, as the real daemon says when it starts a cycle; a
            # desktop asking for a pairing code meanwhile learns that enrollment is under way.
            await self._publish(EnrollmentStatus.CONNECTING, self._environment_id)
            self._wake.set()
            await self._await_attempt(attempt)
        elif current is not None and credentials is not None:
            # Signed in again on the same account: the server token must be renewed under the new sign-in, so
            # a sign-in the backend no longer accepts for remote control (no MFA) is found now, not at expiry.
            self._credential = replace(current, token=None, expires_at=0)
            attempt = self._next_attempt()
            await self.relay.disconnect("signed in again")
            self._wake.set()
            await self._await_attempt(attempt)
        else:
            self._wake.set()

    async def inherit_environment(self, variables: dict[str, str]) -> None:
        """The daemon is started again from a shell with these variables (HTTP_PROXY, ...): its connections go the
        way the new environment says, and remote control, if on, connects again through them."""
        self.environment = {**os.environ, **variables}
        desired = self._desired
        if desired:
            await self._stop_loop(reason="")
        old, self.client = self.client, EnrollmentClient(
            self._base_url, self.app_server.installation_id, self._host,
            proxy=proxy_for(self._base_url, self.environment),
        )
        await old.aclose()
        self.relay.proxy = proxy_for(self.websocket_url, self.environment)
        if desired:
            await self._begin()

    async def _begin(self) -> None:
        self._desired = True
        attempt = self._next_attempt()
        await self._publish(EnrollmentStatus.CONNECTING, self._environment_id)
        self._task = asyncio.ensure_future(self._run())
        await self._await_attempt(attempt)

    async def _stop_loop(self, *, reason: str) -> None:
        self._wake.set()
        await self.relay.disconnect(reason)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _next_attempt(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._attempt_waiters.append(future)
        return future

    async def _await_attempt(self, attempt: asyncio.Future[None]) -> None:
        # The enroll call has its own 30 s timeout; this bound only guards against a bug leaving us waiting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(attempt), HTTP_TIMEOUT_SECONDS * 2 + 5)

    def _finish_attempts(self) -> None:
        waiters, self._attempt_waiters = self._attempt_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    # -- the connect loop ------------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while self._desired:
            self._wake.clear()
            try:
                credential = await self._ensure_credential()
            except (RemoteControlRefusal, NoChatGptAuth) as refusal:
                await self._refused(refusal)
                await self._wake.wait()
                continue
            except (RemoteControlUnreachable, RemoteControlBadResponse) as exc:
                self._log(exc.message)
                self.store.record_enrollment_error(
                    code=exc.code,
                    http_status=None,
                    url=self.client.endpoints.enroll_url,
                    log_line=exc.message,
                )
                await self._publish(EnrollmentStatus.ERRORED, None)
                self._finish_attempts()
                await self._pause(failures)
                failures += 1
                continue
            self._finish_attempts()
            outcome = await self.relay.run(
                self.websocket_url, self._handshake(credential), self._relay_opened
            )
            if not self._desired:
                break
            if isinstance(outcome, RelayRefused):
                failures = await self._relay_refused(outcome, credential, failures)
                continue
            if isinstance(outcome, RelayProxyRefused):
                # As the real daemon: the line, `errored`, and retries with backoff (the proxy may change its mind).
                self._log(outcome.message)
                self.proxy_refusal = outcome.status
                await self._publish(EnrollmentStatus.ERRORED, self._environment_id)
                await self._pause(failures + 1)
                failures += 1
                continue
            failures = 0 if outcome.opened else failures + 1
            await self._relay_closed(outcome, failures)

    async def _relay_refused(
        self, outcome: RelayRefused, credential: _ServerCredential, failures: int
    ) -> int:
        if outcome.status == 404:
            # The backend no longer knows this server: forget it and enroll again.
            self._log(outcome.message)
            self._log(STALE_ENROLLMENT_LINE)
            self.store.delete_enrollment(credential.key)
            self._credential = None
            await self.relay.reset()
            return failures + 1
        if outcome.status in (401, 403):
            self._log(rc.websocket_auth_failure_message(outcome.status))
            credential.token = None
        else:
            self._log(outcome.message)
            await self._publish(EnrollmentStatus.ERRORED, self._environment_id)
        await self._pause(failures)
        return failures + 1

    async def _relay_closed(self, outcome: RelayClosed, failures: int) -> None:
        if outcome.code == CLOSE_REVOKED:
            # Password change (or revoked server): the server token is gone; refresh, and enroll again if
            # refused.
            self._log(RELAY_REVOKED_LINE.format(code=outcome.code, reason=outcome.reason or "revoked"))
            self._credential = None
            await self._publish(EnrollmentStatus.CONNECTING, self._environment_id)
            return
        if outcome.code == CLOSE_REPLACED:
            self._log("remote control websocket replaced by a newer connection for this environment")
            await self._publish(EnrollmentStatus.ERRORED, self._environment_id)
            await self._wake.wait()
            return
        if outcome.opened:
            self._log(f"remote control websocket closed ({outcome.code}); reconnecting")
        await self._publish(EnrollmentStatus.CONNECTING, self._environment_id)
        await self._pause(failures)

    async def _pause(self, failures: int) -> None:
        """A bounded delay that ends early when something changes (sign-in, enable, recheck)."""
        if not failures:
            return
        delay = self.retry_delays[min(failures, len(self.retry_delays)) - 1]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        self._wake.clear()

    async def _relay_opened(self) -> None:
        self.proxy_refusal = None
        self.store.clear_enrollment_error()
        await self._publish(EnrollmentStatus.CONNECTED, self._environment_id)

    def _handshake(self, credential: _ServerCredential) -> rp.RelayHandshake:
        assert credential.token is not None
        return rp.RelayHandshake(
            server_id=credential.server_id,
            server_name=self.app_server.server_name,
            installation_id=self.app_server.installation_id,
            remote_control_token=credential.token,
            # 0.169.0 sends no chatgpt-account-id on the relay upgrade (observed); the server token says who it is.
            subscribe_cursor=self.relay.cursor.header_value(),
        )

    def _key(self, credentials: ChatGptCredentials) -> EnrollmentKey:
        return EnrollmentKey(self.websocket_url, credentials.account_id, self.app_server_client_name)

    def _credentials(self) -> ChatGptCredentials:
        credentials = self.auth.chatgpt_credentials()
        if credentials is None:
            raise NoChatGptAuth()
        return credentials

    async def _ensure_credential(self) -> _ServerCredential:
        """A usable server token: the one in memory, else a refresh of the persisted enrollment, else a new
        enrollment. A refused refresh deletes the persisted enrollment and enrolls again."""
        key = self._key(self._credentials())
        credential = self._credential
        if credential is not None and credential.key == key and credential.usable(self.clock.now()):
            return credential
        if credential is not None and credential.key != key:
            await self.relay.reset()
            credential = None
        if credential is None:
            record = self.store.get_enrollment(key)
            if record is not None:
                credential = _ServerCredential(key, record.server_id, record.environment_id)
        if credential is not None:
            try:
                refreshed = await self._refresh(credential)
            except RemoteControlRefusal as refusal:
                self._log(refusal.message)
                self._log(STALE_ENROLLMENT_LINE)
                self.store.delete_enrollment(key)
                self._credential = None
                await self.relay.reset()
            else:
                await self._publish(EnrollmentStatus.CONNECTING, refreshed.environment_id)
                return refreshed
        return await self._enroll(key)

    async def _refresh(self, credential: _ServerCredential) -> _ServerCredential:
        response = await self.client.refresh(self._credentials(), credential.server_id)
        if (response.server_id, response.environment_id) != (credential.server_id, credential.environment_id):
            raise RemoteControlBadResponse(
                rc.mismatched_enrollment_message(
                    rc.RemoteControlOperation.REFRESH,
                    expected_server_id=credential.server_id,
                    expected_environment_id=credential.environment_id,
                    got_server_id=response.server_id,
                    got_environment_id=response.environment_id,
                )
            )
        refreshed = replace(
            credential, token=response.remote_control_token, expires_at=response.expires_at_unix
        )
        self._credential = refreshed
        return refreshed

    async def _enroll(self, key: EnrollmentKey) -> _ServerCredential:
        response = await self._with_auth_recovery(self.client.enroll)
        self.store.save_enrollment(
            key,
            server_id=response.server_id,
            environment_id=response.environment_id,
            server_name=self.app_server.server_name,
            enabled=self.store.settings().allow_other_devices or self._desired,
        )
        self.store.clear_enrollment_error()
        credential = _ServerCredential(
            key,
            response.server_id,
            response.environment_id,
            response.remote_control_token,
            response.expires_at_unix,
        )
        self._credential = credential
        await self._publish(EnrollmentStatus.CONNECTING, credential.environment_id)
        return credential

    async def _with_auth_recovery(self, call: Callable[[ChatGptCredentials], Awaitable[T]]) -> T:
        """On 401/403, let the desktop refresh its ChatGPT tokens once and retry; a second refusal stands."""
        used = self._credentials()
        try:
            return await call(used)
        except RemoteControlRefusal as refusal:
            if refusal.kind is not rc.HttpFailureKind.PERMISSION_DENIED:
                raise
            # The real daemon's recovery starts by reading the sign-in again; it says whether it changed, which
            # is how a sign-in made before MFA was turned on shows in its log (openai/codex#41747).
            self._log(RELOADED_AUTH_LINE.format(changed=str(self.auth.chatgpt_credentials() != used).lower()))
            if not await self.auth.recover_auth():
                raise
            self._log(refusal.message + rc.AUTH_RECOVERY_SUFFIX)
        return await call(self._credentials())

    async def _refused(self, refusal: RemoteControlRefusal | NoChatGptAuth) -> None:
        self._log(refusal.message)
        if isinstance(refusal, NoChatGptAuth):
            cause: ErrorCode | None = ErrorCode.SESSION_EXPIRED
            self.store.record_enrollment_error(
                code=cause, http_status=None, url=self.client.endpoints.enroll_url, log_line=refusal.message
            )
            # Observed in 0.169.0: `remoteControl/enable` without a ChatGPT sign-in fails and leaves `disabled`;
            # a daemon already running with remote control on that has no sign-in (the desktop signed out and
            # started it again) reports `errored` and retries until there is one.
            today = EnrollmentStatus.DISABLED if self._enabling else EnrollmentStatus.ERRORED
            status = (
                status_after_refusal(cause, self.behaviour) if self.behaviour.reports_blocked_status else today
            )
        else:
            cause = refusal.cause
            self.store.record_enrollment_error(
                code=cause, http_status=refusal.status, url=refusal.url, log_line=refusal.message
            )
            status = status_after_refusal(cause, self.behaviour)
        self._credential = None
        await self._publish(status, None)
        self._finish_attempts()

    async def _publish(self, status: EnrollmentStatus, environment_id: str | None) -> None:
        changed = (status, environment_id) != (self._status, self._environment_id)
        self._status, self._environment_id = status, environment_id
        snapshot = self.snapshot()
        for wanted, future in list(self._status_waiters):
            if status in wanted and not future.done():
                future.set_result(snapshot)
        if changed:
            log.info("remote control status: %s (environment %s)", status.value, environment_id)
            await self.app_server.broadcast(STATUS_CHANGED, self.wire_status())

    def _log(self, line: str) -> None:
        self.log_lines.append(line)
        log.warning("%s", line)
        logged, self._logged = self._logged, asyncio.Event()
        logged.set()

    async def wait_for_log(self, pattern: str, timeout: float = 10.0) -> str | None:
        """The first log line matching the regular expression `pattern`, waiting (up to `timeout`) for the daemon to
        write it: what it does after a dropped or refused socket happens on its own time, after its retry delay."""
        compiled = re.compile(pattern)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := next((line for line in self.log_lines if compiled.search(line)), None)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._logged.wait(), remaining)
        return found

    # -- server-token operations (pairing, clients) ----------------------------------------------------------

    async def _server_call(
        self, unavailable: str, call: Callable[[str], Awaitable[T]], *, expired: str | None = None
    ) -> tuple[T, _ServerCredential]:
        """Run `call` with the server token; on 401/403 refresh the token and retry once, as the daemon
        does. With `expired`, a token already past its `expires_at` by this Mac's clock is refused with that
        message instead of being sent."""
        credential = self._credential
        if credential is None or self._status not in (
            EnrollmentStatus.CONNECTING,
            EnrollmentStatus.CONNECTED,
        ):
            raise jsonrpc.invalid_request(unavailable)
        if not credential.usable(self.clock.now()):
            credential = await self._refresh(credential)
        self._refuse_expired(credential, expired)
        assert credential.token is not None
        try:
            return await call(credential.token), credential
        except RemoteControlRefusal as refusal:
            if refusal.kind is not rc.HttpFailureKind.PERMISSION_DENIED:
                raise
            self._log(refusal.message)
            credential.token = None
            credential = await self._refresh(credential)
        self._refuse_expired(credential, expired)
        assert credential.token is not None
        try:
            return await call(credential.token), credential
        except RemoteControlRefusal as refusal:
            if refusal.kind is not rc.HttpFailureKind.PERMISSION_DENIED:
                raise
            # Refused again with a token the backend has just issued: as the real daemon, forget the token (the
            # next request renews it) and say the enrollment is not complete (`-32600`).
            self._log(refusal.message)
            credential.token = None
            raise jsonrpc.invalid_request(unavailable) from None

    def _refuse_expired(self, credential: _ServerCredential, message: str | None) -> None:
        # Renewal comes first (30 s or less left), so only a token the service has just issued can be past its
        # `expires_at` here: the service's clock is behind this Mac's by more than the token's lifetime (an hour),
        # and every renewal will say the same until the clocks agree. The real daemon checks this before pairing
        # only, with `<=`, by the machine's clock.
        if message is not None and credential.expires_at <= self.clock.now():
            raise jsonrpc.invalid_request(message)

    async def start_pairing(self, *, manual_code: bool = False) -> dict[str, Any]:
        """`remoteControl/pairing/start`: the result, or the JSON-RPC error the daemon answers with, as the desktop
        gets it from either daemon."""
        return await _rpc_errors(self._start_pairing(manual_code=manual_code))

    async def _start_pairing(self, *, manual_code: bool = False) -> dict[str, Any]:
        if not self._desired:
            raise jsonrpc.invalid_request(PAIRING_REQUIRES_ENABLED)
        if self._credential is None and self._status is EnrollmentStatus.CONNECTING:
            # An enrollment is under way: as in the real daemon (its pairing waits on the enrollment lock), the
            # request waits for it rather than failing at once, however long the backend takes to answer.
            await self._await_attempt(self._next_attempt())
        response, credential = await self._server_call(
            PAIRING_UNAVAILABLE, lambda token: self.client.pair(token, manual_code=manual_code),
            expired=PAIRING_TOKEN_EXPIRED,
        )
        if (response.server_id, response.environment_id) != (credential.server_id, credential.environment_id):
            raise jsonrpc.RpcMethodError(
                jsonrpc.INTERNAL_ERROR,
                rc.mismatched_enrollment_message(
                    rc.RemoteControlOperation.PAIR,
                    expected_server_id=credential.server_id,
                    expected_environment_id=credential.environment_id,
                    got_server_id=response.server_id,
                    got_environment_id=response.environment_id,
                ),
            )
        return {
            "pairingCode": response.pairing_code,
            "manualPairingCode": response.manual_pairing_code,
            "environmentId": response.environment_id,
            "expiresAt": response.expires_at_unix,
        }

    async def pairing_status(self, request: rc.PairStatusRequest) -> bool:
        if not self._desired:
            raise jsonrpc.invalid_request(PAIRING_REQUIRES_ENABLED)
        claimed, _ = await self._server_call(
            PAIRING_UNAVAILABLE, lambda token: self.client.pair_status(token, request)
        )
        return claimed

    async def list_clients(self, environment_id: str, query: rc.ClientListQuery) -> dict[str, Any]:
        page, _ = await self._server_call(
            CLIENTS_UNAVAILABLE, lambda token: self.client.list_clients(token, environment_id, query)
        )
        return {"data": [_client_to_wire(item) for item in page.items], "nextCursor": page.cursor}

    async def revoke_client(self, environment_id: str, client_id: str) -> None:
        await self._server_call(
            CLIENTS_UNAVAILABLE, lambda token: self.client.revoke_client(token, environment_id, client_id)
        )

    # -- JSON-RPC --------------------------------------------------------------------------------------------

    def _register_methods(self) -> None:
        register = self.app_server.register_method
        register("remoteControl/enable", self._rpc_enable, True)
        register("remoteControl/disable", self._rpc_disable, True)
        register("remoteControl/status/read", self._rpc_status_read, True)
        register("remoteControl/pairing/start", self._rpc_pairing_start, True)
        register("remoteControl/pairing/status", self._rpc_pairing_status, True)
        register("remoteControl/client/list", self._rpc_client_list, True, required_params=("environmentId",))
        register(
            "remoteControl/client/revoke",
            self._rpc_client_revoke,
            True,
            required_params=("environmentId", "clientId"),
        )

    async def _rpc_enable(self, ctx: RequestContext) -> dict[str, Any]:
        snapshot = await _rpc_errors(self.enable(ephemeral=_bool_param(ctx.params, "ephemeral")))
        return snapshot.to_wire(with_reason=self.behaviour.reports_blocked_status)

    async def _rpc_disable(self, ctx: RequestContext) -> dict[str, Any]:
        snapshot = await self.disable(ephemeral=_bool_param(ctx.params, "ephemeral"))
        return snapshot.to_wire(with_reason=self.behaviour.reports_blocked_status)

    async def _rpc_status_read(self, ctx: RequestContext) -> dict[str, Any]:
        return self.wire_status()

    async def _rpc_pairing_start(self, ctx: RequestContext) -> dict[str, Any]:
        return await _rpc_errors(self.start_pairing(manual_code=_bool_param(ctx.params, "manualCode")))

    async def _rpc_pairing_status(self, ctx: RequestContext) -> dict[str, Any]:
        params = ctx.params
        try:
            request = rc.PairStatusRequest(
                pairing_code=_str_param(params, "pairingCode"),
                manual_pairing_code=_str_param(params, "manualPairingCode"),
            )
        except rc.RemoteControlModelError as exc:
            raise jsonrpc.invalid_request(exc.message) from None
        return {"claimed": await _rpc_errors(self.pairing_status(request))}

    async def _rpc_client_list(self, ctx: RequestContext) -> dict[str, Any]:
        params = ctx.params
        try:
            query = rc.ClientListQuery(
                cursor=_str_param(params, "cursor"), limit=params.get("limit"), order=params.get("order")
            )
        except rc.InvalidFieldError as exc:
            message = rc.CLIENT_LIST_LIMIT_ERROR if exc.field == "limit" else exc.message
            raise jsonrpc.invalid_request(message) from None
        environment_id = _str_param(params, "environmentId") or ""
        return await _rpc_errors(self.list_clients(environment_id, query))

    async def _rpc_client_revoke(self, ctx: RequestContext) -> dict[str, Any]:
        params = ctx.params
        await _rpc_errors(
            self.revoke_client(
                _str_param(params, "environmentId") or "", _str_param(params, "clientId") or ""
            )
        )
        return {}


def _client_to_wire(item: rc.ClientListItem) -> dict[str, Any]:
    return {
        "clientId": item.client_id,
        "displayName": item.display_name,
        "deviceType": item.device_type,
        "platform": item.platform,
        "osVersion": item.os_version,
        "deviceModel": item.device_model,
        "appVersion": item.app_version,
        "lastSeenAt": item.last_seen_at_unix,
    }


def _bool_param(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise jsonrpc.invalid_request_shape(f"invalid type for `{name}`, expected a boolean")
    return value


def _str_param(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise jsonrpc.invalid_request_shape(f"invalid type for `{name}`, expected a string")
    return value


async def _rpc_errors(call: Awaitable[T]) -> T:
    """Backend failures as JSON-RPC errors, worded like the daemon's log lines (never a token)."""
    try:
        return await call
    except RemoteControlRefusal as refusal:
        code = (
            jsonrpc.INVALID_REQUEST
            if refusal.kind is rc.HttpFailureKind.NOT_FOUND
            else jsonrpc.INTERNAL_ERROR
        )
        raise jsonrpc.RpcMethodError(code, refusal.message) from None
    except (RemoteControlUnreachable, RemoteControlBadResponse, NoChatGptAuth) as exc:
        raise jsonrpc.RpcMethodError(jsonrpc.INTERNAL_ERROR, exc.message) from None
