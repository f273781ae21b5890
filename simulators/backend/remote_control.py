"""The remote-control HTTP API of the simulated ChatGPT backend, under `/backend-api/wham/remote/control/…`.

Daemon side (paths, headers and bodies as the real daemon sends them, codex-protocol-facts §4.2): `server/enroll`,
`server/refresh`, `server/pair`, `server/pair/status`, `environments/{env}/clients` (list, revoke) and the relay
socket `server`. Phone side (pairsim-defined, docs/protocol.md §4): `client/claim` and the phone socket
`client`.

`RemoteControlService` is also the in-process handle tests and scenario steps drive: faults (refuse or delay the
next enrollments, drop the daemon's socket, delay relay delivery, expire pairing codes), the backend's view, and
wait-for-event helpers so nobody sleeps. Errors answer `{"detail": …}` exactly as today's backend does; with
`typed_errors=True` (the typed-error fix) they also carry `code` and `message`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from simulators.backend.accounts import AccountStore, UnknownAccount, UnknownWorkspace
from simulators.backend.environments import (
    CLIENT_REVOKED_DETAIL,
    ClaimError,
    ClaimRequest,
    Client,
    DeviceInfo,
    EnrollmentRequest,
    RemoteControlError,
    RemoteControlStore,
    ServerEnrollment,
    Unauthorized,
)
from simulators.backend.relay import CLOSE_REVOKED, EventLog, HandshakeRefused, RelayEvent, RelayHub
from simulators.clock import Clock
from simulators.protocol.device_key import load_public_key
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import Amr, TokenClaims
from simulators.protocol.relay import PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER
from simulators.protocol.remote_control import (
    OFFLINE_SIGNED_IN_ELSEWHERE,
    ClientListItem,
    ClientListPage,
    ClientListQuery,
    EnrollRequest,
    EnrollResponse,
    PairRequest,
    PairResponse,
    PairStatusRequest,
    PairStatusResponse,
    RefreshRequest,
    RemoteControlModelError,
    format_rfc3339,
    parse_body,
)
from simulators.protocol.versions import Version

BASE_PATH = "/backend-api/"
RC_PREFIX = "wham/remote/control/"
ENROLL_PATH = RC_PREFIX + "server/enroll"
REFRESH_PATH = RC_PREFIX + "server/refresh"
PAIR_PATH = RC_PREFIX + "server/pair"
PAIR_STATUS_PATH = RC_PREFIX + "server/pair/status"
SERVER_SOCKET_PATH = RC_PREFIX + "server"
CLIENT_SOCKET_PATH = RC_PREFIX + "client"
CLAIM_PATH = RC_PREFIX + "client/claim"
CLIENT_PAIR_PATH = RC_PREFIX + "client/pair"
# The computers a controlling Mac runs on (Settings › Connections › Control other devices).
CONTROLLER_PLATFORMS = ("macos", "windows", "linux")
# What the desktop reads before it explains a refused enrollment: whether the account has MFA [T: #31110].
MFA_INFO_PATH = "accounts/mfa_info"
CLIENTS_PATH = RC_PREFIX + "environments/{environment_id}/clients"
CLIENT_PATH = RC_PREFIX + "environments/{environment_id}/clients/{client_id}"
ENVIRONMENTS_PATH = RC_PREFIX + "environments"
# A business workspace's managed configuration; the real daemon asks for it before it enrolls in such a workspace.
CONFIG_BUNDLE_PATH = "wham/config/bundle"
# Why a computer the phone lists is offline, when the backend knows (the typed-error fix only).
SIGNED_IN_ELSEWHERE = OFFLINE_SIGNED_IN_ELSEWHERE

ACCOUNT_ID_HEADER = "chatgpt-account-id"
INSTALLATION_ID_HEADER = "x-codex-installation-id"
REQUEST_ID_HEADER = "x-request-id"

MAX_BODY_BYTES = 64 * 1024
CREDENTIALS_POLL_INTERVAL = 0.05

# Today's backend says only `detail`; these are its texts [T for MFA, the others pairsim's in the same voice].
DETAIL: dict[ErrorCode, str] = {
    ErrorCode.MFA_REQUIRED: "Multi-factor authentication required",
    ErrorCode.SIGN_IN_WITHOUT_MFA: "Multi-factor authentication required",
    ErrorCode.BLOCKED_BY_POLICY: "Remote control is disabled for this workspace",
    ErrorCode.REGION_UNAVAILABLE: "Remote control is not available in your region",
    ErrorCode.SESSION_EXPIRED: "Unauthorized",
    ErrorCode.APP_SERVER_OUTDATED: "App server version is below the minimum supported version",
    ErrorCode.CLIENT_REVOKED: CLIENT_REVOKED_DETAIL,
}
# The typed-error fix adds a `message` written for the person who will read it on a screen or in a log.
MESSAGE: dict[ErrorCode, str] = {
    ErrorCode.MFA_REQUIRED: "Turn on multi-factor authentication for this ChatGPT account and sign in again "
    "to use remote control.",
    ErrorCode.SIGN_IN_WITHOUT_MFA: "This sign-in did not use multi-factor authentication. Sign out and sign in "
    "again with your authenticator code to pair.",
    ErrorCode.BLOCKED_BY_POLICY: "Your workspace administrator has turned off remote control.",
    ErrorCode.REGION_UNAVAILABLE: "Remote control is not available in your region yet.",
    ErrorCode.SESSION_EXPIRED: "Your sign-in has expired. Sign in again.",
    ErrorCode.PROTOCOL_VIOLATION: "The request was not understood.",
    ErrorCode.UNSUPPORTED_VERSION: "This app is too old for remote control. Update it and try again.",
    ErrorCode.APP_SERVER_OUTDATED: "Codex on your computer is too old for remote control. Update it and try again.",
    ErrorCode.RATE_LIMITED: "Too many attempts. Wait a minute and try again.",
    ErrorCode.NOT_A_PAIRING_CODE: "This is not a valid pairing code.",
    ErrorCode.PAIRING_CODE_EXPIRED: "This pairing code has expired.",
    ErrorCode.PAIRING_CODE_CLAIMED: "This pairing code was already used by another device.",
    ErrorCode.ACCOUNT_MISMATCH: "Sign in with the ChatGPT account your computer uses.",
    ErrorCode.WORKSPACE_MISMATCH: "Switch to the workspace your computer uses.",
    ErrorCode.REMOTE_CONTROL_DISABLED: "Remote control is turned off on your computer.",
    ErrorCode.CLIENT_REVOKED: "This device was removed from remote control. Pair it again from your computer.",
    ErrorCode.UNKNOWN: "Something went wrong.",
}

AccessTokenVerifier = Callable[[str], TokenClaims]


class EnrollFault(StrEnum):
    MFA_REQUIRED = "mfa_required"  # 403 with the MFA body, as if the token lacked MFA
    SERVER_ERROR = "server_error"  # 500
    DELAY = "delay"  # answer late (long enough and the daemon's 30 s timeout fires)
    HOLD = "hold"  # answer only once the test releases it (`release_held_enrollments`): a slow backend, no timer


@dataclass
class _PendingFault:
    kind: EnrollFault
    remaining: int
    delay: float


class ApiError(PairsimError):
    """An HTTP refusal: status, the legacy `detail`, and the typed code."""

    def __init__(self, status: int, code: ErrorCode, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, message: str | None = None,
                 extra: dict[str, str] | None = None) -> None:
        super().__init__(message or MESSAGE.get(code, MESSAGE[ErrorCode.UNKNOWN]), code=code)
        self.status = status
        self.detail = detail or DETAIL.get(code) or self.message
        self.headers = headers or {}
        # Facts a client needs to word the refusal (both profiles send them: today's phone shows the versions).
        self.extra = extra or {}


def _mfa_assured(claims: Any) -> bool:
    return bool({Amr.MFA.value, Amr.OTP.value} & set(claims.amr))


def _compact_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def rfc3339(seconds: float) -> str:
    return format_rfc3339(int(seconds))


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _str_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 512) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, f"field `{name}` must be a non-empty string")
    return value


class RemoteControlService:
    """The remote-control area of one backend: store, relay, routes, faults and test control."""

    def __init__(
        self,
        *,
        accounts: AccountStore,
        verify_access_token: AccessTokenVerifier,
        clock: Clock,
        typed_errors: bool = True,
        device_proof_timeout: float = 10.0,
        credentials_poll_interval: float = CREDENTIALS_POLL_INTERVAL,
        store: RemoteControlStore | None = None,
    ) -> None:
        self.accounts = accounts
        self.verify_access_token = verify_access_token
        self.clock = clock
        self.typed_errors = typed_errors
        self.last_responses: dict[str, tuple[int, str]] = {}
        # The oldest Codex a Mac may run for a phone to pair with it (`app_server_version`); None: any.
        self.minimum_app_server_version: str | None = None
        self.store = store or RemoteControlStore(clock)
        self.events = EventLog()
        self.relay = RelayHub(
            self.store, clock, events=self.events, device_proof_timeout=device_proof_timeout,
            refuse=self._refusal_response, check_enrollment=self._check_credentials,
            check_client=self._check_client_credentials, host_reason=self._host_reason,
        )
        self.credentials_poll_interval = credentials_poll_interval
        self._faults: list[_PendingFault] = []
        self._held = 0
        self._release = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------------------------- wiring

    def add_routes(self, app: web.Application, base_path: str = BASE_PATH) -> None:
        base = base_path if base_path.endswith("/") else base_path + "/"
        # Route names double as the backend's generic fault keys (admin.py).
        handlers: list[tuple[str, str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("POST", ENROLL_PATH, "rc.server.enroll", self._enroll),
            ("POST", REFRESH_PATH, "rc.server.refresh", self._refresh),
            ("POST", PAIR_PATH, "rc.server.pair", self._pair),
            ("POST", PAIR_STATUS_PATH, "rc.server.pair_status", self._pair_status),
            ("POST", CLAIM_PATH, "rc.client.claim", self._claim),
            ("POST", CLIENT_PAIR_PATH, "rc.client.pair", self._pair_client),
            ("GET", MFA_INFO_PATH, "accounts.mfa_info", self._mfa_info),
            ("GET", CLIENTS_PATH, "rc.environment.clients", self._list_clients),
            ("DELETE", CLIENT_PATH, "rc.environment.client", self._revoke_client),
            ("GET", CLIENT_PATH, "rc.environment.client.read", self._read_client),
            ("GET", ENVIRONMENTS_PATH, "rc.environments", self._list_environments),
            ("GET", CONFIG_BUNDLE_PATH, "wham.config.bundle", self._config_bundle),
            ("GET", SERVER_SOCKET_PATH, "rc.server.socket", self.relay.handle_daemon),
            ("GET", CLIENT_SOCKET_PATH, "rc.client.socket", self.relay.handle_phone),
        ]
        for method, path, name, handler in handlers:
            app.router.add_route(method, base + path, self._with_errors(name, handler), name=name)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)

    async def _on_startup(self, _app: web.Application) -> None:
        self.start()

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self.stop()

    def start(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_credentials())

    async def stop(self) -> None:
        self.release_held_enrollments()
        await self.relay.close_all()
        tasks = [t for t in (self._watcher, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watcher = None

    def _with_errors(
        self, name: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            request_id = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
            try:
                response = await handler(request)
            except ApiError as exc:
                response = self._error_response(exc)
            except RemoteControlError as exc:
                response = self._error_response(self._api_error(exc))
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = request_id
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                # What the backend last answered per route, newest last, so a scenario can quote the exact body it
                # sent and tell which of two routes answered last.
                self.last_responses.pop(name, None)
                self.last_responses[name] = (response.status, response.body.decode("utf-8", "replace"))
            return response

        return wrapped

    def _api_error(self, exc: RemoteControlError) -> ApiError:
        headers = {}
        if isinstance(exc, ClaimError) and exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 404 and exc.code is ErrorCode.UNKNOWN:
            return ApiError(404, ErrorCode.UNKNOWN, "Not Found", message=MESSAGE[ErrorCode.UNKNOWN])
        # `detail` is today's short text where one exists (the MFA refusal's), else the sentence.
        return ApiError(exc.status, exc.code, headers=headers,
                        extra=exc.details if isinstance(exc, ClaimError) else None)

    def error_body(self, exc: ApiError) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": exc.detail, **exc.extra}
        if self.typed_errors:
            body["code"] = str(exc.code)
            body["message"] = exc.message
        return body

    def _error_response(self, exc: ApiError) -> web.Response:
        # Compact separators: the real backend's body is `{"detail":"Multi-factor authentication required"}`,
        # byte for byte, and the daemon quotes it verbatim in its log line.
        return web.json_response(self.error_body(exc), status=exc.status, headers=exc.headers, dumps=_compact_json)

    def _refusal_response(self, refused: HandshakeRefused, request: web.Request) -> web.Response:
        detail = DETAIL.get(refused.code) if refused.status in (401, 403) else None
        if refused.status == 404:
            detail = "Not Found"
        response = self._error_response(ApiError(refused.status, refused.code, detail or refused.message))
        response.headers[REQUEST_ID_HEADER] = request.headers.get(REQUEST_ID_HEADER) or new_request_id()
        return response

    # ------------------------------------------------------------------------------------------- inputs

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(413, ErrorCode.PROTOCOL_VIOLATION, "Request body too large")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, ErrorCode.PROTOCOL_VIOLATION, "Request body too large")
        try:
            body = parse_body(raw)
        except RemoteControlModelError:
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, "Request body must be a JSON object")
        return body

    def _claims(self, request: web.Request) -> TokenClaims:
        token = _bearer(request)
        if token is None:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED)
        try:
            claims = self.verify_access_token(token)
        except PairsimError:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED) from None
        if claims.auth is None:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED)
        # Revoked sign-ins (a password change) no longer authorise anything, whatever the token's expiry says.
        if self.accounts.active_session(claims.sid) is None:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED)
        return claims

    def _server(self, request: web.Request) -> ServerEnrollment:
        token = _bearer(request)
        if token is None:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED)
        enrollment = self.store.authenticate_server(token)
        self._check_credentials(enrollment)
        return self.store.authenticate_server(token)

    # ------------------------------------------------------------------------------------------- daemon API

    @staticmethod
    def _model(parse: Callable[[object], Any], body: dict[str, Any]) -> Any:
        try:
            return parse(body)
        except RemoteControlModelError as exc:
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, exc.message) from None

    async def _enroll(self, request: web.Request) -> web.Response:
        fault = self._take_fault()
        if fault is not None:
            self.events.emit(RelayEvent("enroll_fault", detail={"kind": str(fault.kind)}))
            if fault.kind is EnrollFault.DELAY:
                await asyncio.sleep(fault.delay)  # the fault itself: a slow backend
            elif fault.kind is EnrollFault.HOLD:
                await self._hold()
            elif fault.kind is EnrollFault.SERVER_ERROR:
                raise ApiError(500, ErrorCode.UNKNOWN, "Internal Server Error")
        claims = self._claims(request)
        assert claims.auth is not None
        enroll: EnrollRequest = self._model(EnrollRequest.from_json, await self._json_body(request))
        installation_id = enroll.installation_id
        header_install = request.headers.get(INSTALLATION_ID_HEADER)
        if not installation_id or (header_install is not None and header_install.strip() != installation_id):
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, "installation_id is missing or does not match "
                           "x-codex-installation-id")
        workspace_id = request.headers.get(ACCOUNT_ID_HEADER, "").strip() or claims.auth.chatgpt_account_id
        try:
            account, workspace = self.accounts.by_workspace(workspace_id)
        except (UnknownWorkspace, UnknownAccount):
            raise ApiError(403, ErrorCode.WORKSPACE_MISMATCH, "Forbidden") from None
        if account.user_id != claims.auth.chatgpt_user_id:
            raise ApiError(403, ErrorCode.ACCOUNT_MISMATCH, "Forbidden")

        refusal: ErrorCode | None = None
        forced_mfa = fault is not None and fault.kind is EnrollFault.MFA_REQUIRED
        if forced_mfa or not _mfa_assured(claims):
            refusal = ErrorCode.MFA_REQUIRED
        elif not workspace.remote_control_allowed:
            refusal = ErrorCode.BLOCKED_BY_POLICY
        elif not account.region.remote_control_available:
            refusal = ErrorCode.REGION_UNAVAILABLE
        if refusal is not None:
            self._record_refusal(workspace_id, installation_id, refusal)
            self.events.emit(RelayEvent("enroll_refused", detail={"code": str(refusal),
                                                                  "installation_id": installation_id}))
            raise ApiError(403, refusal)
        enrollment = self.store.enroll(EnrollmentRequest(
            chatgpt_user_id=account.user_id,
            chatgpt_account_id=workspace_id,
            installation_id=installation_id,
            name=enroll.name,
            os=enroll.os,
            arch=enroll.arch,
            app_server_version=enroll.app_server_version,
            credentials_generation=account.credentials_generation,
        ))
        self.events.emit(RelayEvent("enrolled", enrollment.environment_id,
                                    detail={"server_id": enrollment.server_id}))
        return web.json_response(self._enrollment_body(enrollment))

    @staticmethod
    def _enrollment_body(enrollment: ServerEnrollment) -> dict[str, Any]:
        return EnrollResponse(
            server_id=enrollment.server_id,
            environment_id=enrollment.environment_id,
            remote_control_token=enrollment.remote_control_token,
            expires_at=rfc3339(enrollment.expires_at),
        ).to_json()

    async def _refresh(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        assert claims.auth is not None
        refresh: RefreshRequest = self._model(RefreshRequest.from_json, await self._json_body(request))
        with contextlib.suppress(RemoteControlError):
            self._check_credentials(self.store.enrollment(refresh.server_id))
        if not _mfa_assured(claims):
            # [P] The server credential stays backed by an MFA-assured sign-in: a desktop that signed in again
            # without MFA cannot keep (or renew) its enrollment, exactly as it could not enroll.
            with contextlib.suppress(RemoteControlError):
                enrollment = self.store.enrollment(refresh.server_id)
                self._record_refusal(enrollment.chatgpt_account_id, refresh.installation_id,
                                     ErrorCode.MFA_REQUIRED)
            raise ApiError(403, ErrorCode.MFA_REQUIRED)
        enrollment = self.store.refresh(refresh.server_id, refresh.installation_id, claims.auth.chatgpt_user_id)
        return web.json_response(self._enrollment_body(enrollment))

    async def _pair(self, request: web.Request) -> web.Response:
        enrollment = self._server(request)
        pair: PairRequest = self._model(PairRequest.from_json, await self._json_body(request))
        code = self.store.start_pairing(enrollment, manual_code=pair.manual_code)
        return web.json_response(PairResponse(
            pairing_code=code.pairing_code,
            manual_pairing_code=code.manual_pairing_code,
            server_id=code.server_id,
            environment_id=code.environment_id,
            expires_at=rfc3339(code.expires_at),
        ).to_json())

    async def _pair_status(self, request: web.Request) -> web.Response:
        enrollment = self._server(request)
        status: PairStatusRequest = self._model(PairStatusRequest.from_json, await self._json_body(request))
        claimed = self.store.pairing_status(
            enrollment, pairing_code=status.pairing_code, manual_pairing_code=status.manual_pairing_code
        )
        return web.json_response(PairStatusResponse(claimed=claimed).to_json())

    def _environment_access(self, request: web.Request, environment_id: str) -> None:
        """The daemon lists and revokes with its server token; a signed-in owner may too (with a ChatGPT token)."""
        token = _bearer(request)
        if token is None:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED)
        try:
            enrollment = self.store.authenticate_server(token)
        except Unauthorized:
            claims = self._claims(request)
            assert claims.auth is not None
            env = self.store.environment(environment_id)
            if env.chatgpt_user_id != claims.auth.chatgpt_user_id:
                raise ApiError(404, ErrorCode.UNKNOWN, "Not Found") from None
            return
        self._check_credentials(enrollment)
        self.store.authenticate_server(token)
        if enrollment.environment_id != environment_id:
            raise ApiError(404, ErrorCode.UNKNOWN, "Not Found")

    async def _list_clients(self, request: web.Request) -> web.Response:
        environment_id = request.match_info["environment_id"]
        self._environment_access(request, environment_id)
        try:
            query = ClientListQuery.from_query(request.query)
        except RemoteControlModelError as exc:
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, exc.message) from None
        page = self.store.list_clients(
            environment_id,
            cursor=query.cursor or None,
            limit=query.limit or 50,
            order="asc" if query.order is None else query.order.value,  # type: ignore[arg-type]
        )
        items = tuple(self._client_item(c) for c in page.items)
        return web.json_response(ClientListPage(items=items, cursor=page.next_cursor).to_json())

    @staticmethod
    def _client_item(client: Client) -> ClientListItem:
        return ClientListItem(
            client_id=client.client_id,
            account_user_id=client.chatgpt_user_id,
            enrollment_status=client.enrollment_status,
            display_name=client.device.display_name,
            device_type=client.device.device_type,
            platform=client.device.platform,
            os_version=client.device.os_version,
            device_model=client.device.device_model,
            app_version=client.device.app_version,
            last_seen_at=rfc3339(client.last_seen_at),
        )

    async def _revoke_client(self, request: web.Request) -> web.Response:
        environment_id = request.match_info["environment_id"]
        client_id = request.match_info["client_id"]
        self._environment_access(request, environment_id)
        self._revoke(environment_id, client_id)
        return web.Response(status=204)

    def _revoke(self, environment_id: str, client_id: str) -> None:
        self.store.revoke_client(environment_id, client_id)
        self.events.emit(RelayEvent("client_revoked", environment_id, client_id))
        cause = ErrorCode.CLIENT_REVOKED if self.typed_errors else None
        self._spawn(self.relay.close_client(client_id, CLOSE_REVOKED, "revoked", cause=cause))

    async def _read_client(self, request: web.Request) -> web.Response:
        """[P] One paired phone, as the desktop checks a device it remembers; a removed one is a 403 whose detail
        says so (the words users found in the desktop's log, openai/codex#23247)."""
        environment_id = request.match_info["environment_id"]
        self._environment_access(request, environment_id)
        client = self.store.client_of(environment_id, request.match_info["client_id"])
        return web.json_response(self._client_item(client).to_json())

    async def _config_bundle(self, request: web.Request) -> web.Response:
        """The workspace's cloud-managed configuration: none, in this backend. The real 0.169.0 daemon signed in to
        a business workspace fetches it first and, when it cannot, retries and then reports remote control
        `errored` without enrolling (observed); an empty object is what "no managed policies" looks like."""
        self._claims(request)
        return web.json_response({})

    async def _list_environments(self, request: web.Request) -> web.Response:
        """The computers the signed-in person has in this workspace, as the phone lists them: online or not, and
        when each was last seen (the field names the public reports show for this list). With the typed-error fix
        an offline one also says why, when the backend knows: its Mac is signed in to another account or
        workspace now (openai/codex#23977)."""
        claims = self._claims(request)
        assert claims.auth is not None
        workspace_id = request.headers.get(ACCOUNT_ID_HEADER, "").strip() or claims.auth.chatgpt_account_id
        items = []
        for env in self.store.environments_of(claims.auth.chatgpt_user_id, workspace_id):
            online = self.relay.daemon_connected(env.environment_id)
            item: dict[str, Any] = {
                "environment_id": env.environment_id,
                "server_name": env.server_name,
                "online": online,
                "os": env.os,
                "app_server_version": env.app_server_version,
                "last_seen_at": None if env.last_seen_at is None else rfc3339(env.last_seen_at),
            }
            if self.typed_errors:
                elsewhere = not online and self.store.signed_in_elsewhere(env.environment_id)
                item["offline_reason"] = SIGNED_IN_ELSEWHERE if elsewhere else None
            items.append(item)
        return web.json_response({"items": items})

    # ------------------------------------------------------------------------------------------- phone API

    async def _claim(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        pairing_code = _str_field(body, "pairing_code", required=False)
        manual = _str_field(body, "manual_pairing_code", required=False)
        if (pairing_code is None) == (manual is None):
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, "give exactly one of pairing_code or "
                           "manual_pairing_code")
        return await self._claim_for(request, body, pairing_code=pairing_code, manual=manual, client_id=None)

    async def _pair_client(self, request: web.Request) -> web.Response:
        """`POST …/client/pair` `{client_id, manual_pairing_code}`: a controlling Mac (Settings › Connections ›
        Control other devices) pairs with a host under its own client id, with the code to type the host shows,
        and the same device key and relay socket as a phone. The client is `pending_enrollment` until its first
        device proof on the relay. Field names as third-party analysis of the desktop app shows them
        (real-failure-reports, "(unverified)"); the device fields are the phone's claim's."""
        body = await self._json_body(request)
        client_id = _str_field(body, "client_id", max_len=128)
        manual = _str_field(body, "manual_pairing_code", max_len=64)
        return await self._claim_for(request, body, pairing_code=None, manual=manual, client_id=client_id)

    async def _claim_for(self, request: web.Request, body: dict[str, Any], *, pairing_code: str | None,
                         manual: str | None, client_id: str | None) -> web.Response:
        environment_id = _str_field(body, "environment_id", required=False)
        public_key = _str_field(body, "device_public_key", max_len=4096)
        assert public_key is not None
        try:
            load_public_key(public_key)
        except PairsimError:
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, "device_public_key must be a base64 DER P-256 key") \
                from None
        platform = _str_field(body, "platform", max_len=16)
        platforms = ("ios", "android") if client_id is None else CONTROLLER_PLATFORMS
        if platform not in platforms:
            raise ApiError(400, ErrorCode.PROTOCOL_VIOLATION, f"platform must be {' or '.join(platforms)}")
        device = DeviceInfo(
            device_public_key=public_key,
            display_name=_str_field(body, "display_name", max_len=128) or "",
            device_type=_str_field(body, "device_type", max_len=32) or "",
            platform=platform,
            os_version=_str_field(body, "os_version", max_len=64) or "",
            device_model=_str_field(body, "device_model", max_len=64) or "",
            app_version=_str_field(body, "app_version", max_len=64) or "",
        )
        if request.headers.get(PROTOCOL_VERSION_HEADER, "").strip() != str(PROTOCOL_VERSION):
            raise ApiError(400, ErrorCode.UNSUPPORTED_VERSION, "Unsupported protocol version")
        claims = self._claims(request)
        assert claims.auth is not None
        workspace_id = claims.auth.chatgpt_account_id
        try:
            account, workspace = self.accounts.by_workspace(workspace_id)
            allowed = workspace.remote_control_allowed
        except (UnknownWorkspace, UnknownAccount):
            account, allowed = None, False
        # [P] The policy and the region are checked again at claim: either may have changed since the Mac
        # enrolled and showed its code.
        offered = account is not None and account.region.remote_control_available
        if account is not None and account.mfa_enabled and not _mfa_assured(claims):
            # The account requires MFA for remote control (`mfa_requirement: required`), and this phone's sign-in
            # skipped it: a browser remembered as a trusted device (openai/codex#39959). The code stays unclaimed.
            raise ApiError(403, ErrorCode.SIGN_IN_WITHOUT_MFA)
        client = self.store.claim(ClaimRequest(
            chatgpt_user_id=claims.auth.chatgpt_user_id,
            chatgpt_account_id=workspace_id,
            pairing_code=pairing_code,
            manual_pairing_code=manual,
            environment_id=environment_id,
            device=device,
            workspace_allows_remote_control=allowed,
            region_offers_remote_control=offered,
            credentials_generation=0 if account is None else account.credentials_generation,
            minimum_app_server_version=self.minimum_app_server_version,
            # Today's backend does not look at the Mac's enrollment when a phone claims (the phone then fails
            # later, in secure setup); the fix refuses the claim with the cause the Mac was refused for.
            enrollment_refusal_blocks=self.typed_errors,
            client_id=client_id,
        ))
        env = self.store.environment(client.environment_id)
        self.events.emit(RelayEvent("claimed", client.environment_id, client.client_id))
        return web.json_response({
            "client_id": client.client_id,
            "environment_id": client.environment_id,
            "server_name": env.server_name,
            "client_session_token": client.client_session_token,
            "expires_at": rfc3339(client.session_expires_at),
        })

    async def _mfa_info(self, request: web.Request) -> web.Response:
        """`GET /backend-api/accounts/mfa_info`: whether the signed-in account has MFA (`mfa_enabled_v2`) [T shape,
        openai/codex#31110]; the desktop asks it to tell "turn on MFA" from "sign in again with MFA"."""
        claims = self._claims(request)
        assert claims.auth is not None
        try:
            account = self.accounts.get(claims.auth.chatgpt_user_id)
        except UnknownAccount:
            raise ApiError(401, ErrorCode.SESSION_EXPIRED) from None
        return web.json_response({"mfa_enabled_v2": account.mfa_enabled})

    # ------------------------------------------------------------------------------------------- security

    def _check_credentials(self, enrollment: ServerEnrollment) -> None:
        """Revoke the user's enrollments if their password changed since this one was made."""
        if enrollment.revoked:
            return
        try:
            account = self.accounts.get(enrollment.chatgpt_user_id)
        except UnknownAccount:
            return
        if account.credentials_generation != enrollment.credentials_generation:
            self._revoke_user(enrollment.chatgpt_user_id, account.credentials_generation)

    def _revoke_user(self, user_id: str, credentials_generation: int) -> None:
        for revoked in self.store.revoke_user_enrollments(user_id, credentials_generation):
            self.events.emit(RelayEvent("enrollment_revoked", revoked.environment_id,
                                        detail={"server_id": revoked.server_id}))
            daemon = self.relay.daemon_for(revoked.environment_id)
            if daemon is not None and daemon.enrollment.server_id == revoked.server_id:
                self._spawn(self.relay.close_daemon(revoked.environment_id, CLOSE_REVOKED, "enrollment revoked"))

    def _check_client_credentials(self, client: Client) -> None:
        """End a paired phone's session if its user changed password since it claimed: a password change signs
        ChatGPT out everywhere, the phone included. Its open sockets close with 4401 (the phone shows that its
        sign-in expired); a new socket is refused 401 until it pairs again."""
        if not client.session_live_at(self.clock.now()):
            return
        try:
            account = self.accounts.get(client.chatgpt_user_id)
        except UnknownAccount:
            return
        if account.credentials_generation != client.credentials_generation:
            self.store.end_client_session(client.client_id)
            self.events.emit(RelayEvent("client_signed_out", client.environment_id, client.client_id))
            self._spawn(self.relay.close_client(client.client_id, CLOSE_REVOKED, "signed out"))

    async def _watch_credentials(self) -> None:
        # The account store has no change notifications; polling its credentials generation is cheap.
        while True:
            for enrollment in self.store.enrollments():
                self._check_credentials(enrollment)
            for client in self.store.clients():
                self._check_client_credentials(client)
            await asyncio.sleep(self.credentials_poll_interval)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------------------------------- test control

    def fail_next_enrollments(self, kind: EnrollFault | str, count: int = 1, *, delay: float = 0.0) -> None:
        """Refuse (403 MFA body / 500) or delay the next `count` enroll calls, in the order faults were added."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(_PendingFault(EnrollFault(kind), count, delay))

    async def _hold(self) -> None:
        self._held += 1
        self.events.emit(RelayEvent("enroll_held"))
        try:
            await self._release.wait()
        finally:
            self._held -= 1

    @property
    def held_enrollments(self) -> int:
        """How many enroll calls are waiting for `release_held_enrollments`."""
        return self._held

    def release_held_enrollments(self) -> None:
        """Let every held enroll call go on and be answered; later HOLD faults hold again."""
        released, self._release = self._release, asyncio.Event()
        released.set()

    async def wait_enrollment_held(self, timeout: float | None = 10.0) -> None:
        """Until an enroll call is being held (`timeout=None`: however long that takes)."""
        await self.events.wait_for(lambda: self._held > 0, timeout)

    def clear_faults(self) -> None:
        """Forget pending faults, answer held enrollments, and relay every frame whole and at once again."""
        self._faults.clear()
        self.release_held_enrollments()
        self.relay.delivery_delay = 0.0
        self.relay.garbled_phone_messages = 0

    def _take_fault(self) -> _PendingFault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.pop(0)
        return fault

    def _record_refusal(self, chatgpt_account_id: str, installation_id: str, code: ErrorCode) -> None:
        """Remember why the Mac cannot enroll, and tell the phones paired with it (they are waiting for it)."""
        self.store.record_refusal(chatgpt_account_id, installation_id, code)
        environment = self.store.environment_for(chatgpt_account_id, installation_id)
        if environment is not None:
            self.relay.host_reason_changed(environment.environment_id)

    def _host_reason(self, environment_id: str) -> str | None:
        """[P] Why a Mac is not on the relay, as far as the backend knows: its last enrollment was refused for a
        typed cause. Only the typed-error fix tells the phones; today's backend says only "offline"."""
        if not self.typed_errors:
            return None
        with contextlib.suppress(RemoteControlError):
            refusal = self.store.environment(environment_id).last_refusal
            return None if refusal is None else str(refusal)
        return None

    async def remove_devices_named(self, chatgpt_user_id: str, display_name: str) -> int:
        """The person removes a paired device from her ChatGPT account's settings on the web: every live client
        of hers with that name, on any of her computers. Returns how many were removed, once their open sockets
        are closed."""
        named = [c for c in self.store.clients()
                 if c.chatgpt_user_id == chatgpt_user_id and c.device.display_name == display_name and not c.revoked]
        cause = ErrorCode.CLIENT_REVOKED if self.typed_errors else None
        for client in named:
            self.store.revoke_client(client.environment_id, client.client_id)
            self.events.emit(RelayEvent("client_revoked", client.environment_id, client.client_id))
            await self.relay.close_client(client.client_id, CLOSE_REVOKED, "revoked", cause=cause)
        return len(named)

    def garble_next_phone_messages(self, count: int = 1) -> None:
        """The relay cuts the next `count` messages it delivers to phones short, as a faulty proxy would."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self.relay.garbled_phone_messages += count

    def set_delivery_delay(self, seconds: float) -> None:
        """Every relay frame (both directions) waits this long before it is written."""
        if seconds < 0:
            raise ValueError("delay must not be negative")
        self.relay.delivery_delay = seconds

    async def drop_daemon(self, environment_id: str) -> bool:
        return await self.relay.drop_daemon(environment_id)

    def expire_pairing_codes_now(self, environment_id: str | None = None) -> int:
        return self.store.expire_pairing_codes_now(environment_id)

    def accept_app_servers_from(self, version: str | None) -> None:
        """The oldest Codex a Mac may run for a phone to pair with it (None: any); older Macs still enroll."""
        if version is not None:
            Version.parse(version)
        self.minimum_app_server_version = version

    def set_remote_control_disabled(self, environment_id: str, disabled: bool) -> None:
        self.store.set_remote_control_disabled(environment_id, disabled)

    async def wait_daemon_connected(self, environment_id: str, timeout: float = 10.0) -> None:
        await self.relay.wait_daemon_connected(environment_id, timeout)

    async def wait_daemon_disconnected(self, environment_id: str, timeout: float = 10.0) -> None:
        await self.relay.wait_daemon_disconnected(environment_id, timeout)

    async def wait_phone_connected(self, client_id: str, timeout: float = 10.0) -> None:
        await self.relay.wait_phone_connected(client_id, timeout)

    async def wait_phone_disconnected(self, client_id: str, timeout: float = 10.0) -> None:
        await self.relay.wait_phone_disconnected(client_id, timeout)

    async def wait_event(self, kind: str, *, since: int = 0, timeout: float = 10.0, **match: Any) -> RelayEvent:
        return await self.events.wait_event(kind, since=since, timeout=timeout, **match)

    def view(self) -> dict[str, Any]:
        """The backend's state as JSON-ready data, secrets masked: tokens never, pairing codes by their tail."""
        now = self.clock.now()
        return {
            "environments": [
                {
                    "environment_id": e.environment_id,
                    "chatgpt_account_id": e.chatgpt_account_id,
                    "chatgpt_user_id": e.chatgpt_user_id,
                    "installation_id": e.installation_id,
                    "server_name": e.server_name,
                    "last_refusal": None if e.last_refusal is None else str(e.last_refusal),
                    "remote_control_disabled": e.remote_control_disabled,
                    "daemon_connected": self.relay.daemon_connected(e.environment_id),
                    "phone_streams": len(self.relay.phone_streams(e.environment_id)),
                }
                for e in self.store.environments()
            ],
            "enrollments": [
                {
                    "server_id": s.server_id,
                    "environment_id": s.environment_id,
                    "installation_id": s.installation_id,
                    "chatgpt_user_id": s.chatgpt_user_id,
                    "expires_at": rfc3339(s.expires_at),
                    "revoked": s.revoked,
                }
                for s in self.store.enrollments()
            ],
            "pairing_codes": [
                {
                    "pairing_code": mask_code(c.pairing_code),
                    "manual_pairing_code": None if c.manual_pairing_code is None else mask_code(c.manual_pairing_code),
                    "environment_id": c.environment_id,
                    "expires_at": rfc3339(c.expires_at),
                    "expired": now >= c.expires_at,
                    "claimed_by": c.claimed_by,
                }
                for c in self.store.pairing_codes()
            ],
            "clients": [
                {
                    "client_id": c.client_id,
                    "environment_id": c.environment_id,
                    "chatgpt_user_id": c.chatgpt_user_id,
                    "display_name": c.device.display_name,
                    "platform": c.device.platform,
                    "revoked": c.revoked,
                    "connected": bool(self.relay.streams_of(c.client_id)),
                }
                for c in self.store.clients()
            ],
        }


def mask_code(code: str) -> str:
    """Enough to tell codes apart in a report, never enough to claim one."""
    return "…" + code[-4:] if len(code) > 8 else "…" + code[-2:]


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)
