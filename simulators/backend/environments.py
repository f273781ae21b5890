"""The backend's remote-control state: environments, server enrollments, pairing codes and paired phones.

Pure logic over a `Clock`: no sockets, no files, no wall time. The HTTP routes and the relay are thin adapters that
call these methods and map the typed errors they raise to statuses. Everything a caller may see is a frozen
snapshot; the store keeps its own mutable records so a caller can never corrupt it by holding on to a result.

Model (see docs/protocol.md §4 and §6.3): an *environment* is one desktop installation for one workspace, keyed by
(`chatgpt_account_id`, `installation_id`), and survives re-enrollment. A *server enrollment* is the environment's
credential (`server_id` + `remote_control_token`); a new enrollment supersedes the environment's previous ones. A
*client* is one paired phone.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from simulators.clock import Clock
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.versions import older_than

REMOTE_CONTROL_TOKEN_TTL = 3600.0
# The backend's words for a removed phone's credentials, as users found them in the desktop's log
# (openai/codex#23247) and as their phones got them (a 403, openai/codex#23290).
CLIENT_REVOKED_DETAIL = "Remote-control client has been revoked"
PAIRING_CODE_TTL = 600.0
CLIENT_SESSION_TTL = 24 * 3600.0
CLAIMS_PER_MINUTE = 10
CLAIM_WINDOW = 60.0
MAX_CLIENT_PAGE = 100
ISSUED_SECRETS_KEPT = 10_000

# Refusals that block an environment until the next successful enrollment (the seed story: a desktop that can no
# longer enroll must not let a phone pair with it).
ENROLLMENT_REFUSALS: frozenset[ErrorCode] = frozenset(
    {ErrorCode.MFA_REQUIRED, ErrorCode.BLOCKED_BY_POLICY, ErrorCode.REGION_UNAVAILABLE}
)


# ---------------------------------------------------------------------------------------------------- errors


class RemoteControlError(PairsimError):
    """A refusal by the remote-control store. `status` is the HTTP status the routes answer with."""

    status: ClassVar[int] = 400


class NotFound(RemoteControlError):
    status = 404


class Unauthorized(RemoteControlError):
    status = 401
    code = ErrorCode.SESSION_EXPIRED


class ClientRevoked(RemoteControlError):
    """A paired phone that was removed (on the Mac or from the account) uses its old credentials."""

    status = 403
    code = ErrorCode.CLIENT_REVOKED


class InvalidRequest(RemoteControlError):
    status = 400
    code = ErrorCode.PROTOCOL_VIOLATION


class ClaimError(RemoteControlError):
    """A refused claim; each instance carries the status and code of its row in the contract's claim table."""

    def __init__(self, message: str, *, code: ErrorCode, status: int, retry_after: int | None = None,
                 details: Mapping[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status  # type: ignore[misc]  # per-instance: one class covers every claim row
        self.retry_after = retry_after
        # Fields the refusal's body carries besides `detail`/`code`/`message` (the versions of an outdated Mac).
        self.details = dict(details or {})


# ---------------------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Environment:
    environment_id: str
    chatgpt_account_id: str
    chatgpt_user_id: str
    installation_id: str
    server_name: str
    os: str
    arch: str
    app_server_version: str
    created_at: float
    last_refusal: ErrorCode | None = None
    remote_control_disabled: bool = False
    last_seen_at: float | None = None  # when its daemon's relay socket last opened or closed


@dataclass(frozen=True)
class ServerEnrollment:
    server_id: str
    environment_id: str
    installation_id: str
    chatgpt_user_id: str
    chatgpt_account_id: str
    remote_control_token: str = field(repr=False)
    expires_at: float
    credentials_generation: int = 0  # the user's password generation when it enrolled
    revoked: bool = False

    def usable_at(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass(frozen=True)
class PairingCode:
    pairing_code: str = field(repr=False)
    manual_pairing_code: str | None = field(repr=False)
    environment_id: str
    server_id: str
    issued_at: float
    expires_at: float
    claimed_by: str | None = None  # client_id
    claimed_key: str | None = field(default=None, repr=False)  # device public key (base64 DER) that claimed it

    @property
    def claimed(self) -> bool:
        return self.claimed_by is not None


@dataclass(frozen=True)
class DeviceInfo:
    device_public_key: str = field(repr=False)
    display_name: str
    device_type: str
    platform: str
    os_version: str
    device_model: str
    app_version: str


@dataclass(frozen=True)
class Client:
    client_id: str
    environment_id: str
    chatgpt_user_id: str
    chatgpt_account_id: str
    device: DeviceInfo
    client_session_token: str = field(repr=False)
    session_expires_at: float
    created_at: float
    last_seen_at: float
    revoked: bool = False
    credentials_generation: int = 0  # the user's password generation when the phone claimed
    # A controlling Mac paired with a code to type is `pending_enrollment` until its device key is first proven on
    # the relay; lists leave such clients out (real-failure-reports, "(unverified)" client pairing).
    enrollment_status: str = "active"

    def session_live_at(self, now: float) -> bool:
        return not self.revoked and now < self.session_expires_at


@dataclass(frozen=True)
class EnrollmentRequest:
    """Who enrolls (from the access token and headers) and what the daemon said about itself (the body)."""

    chatgpt_user_id: str
    chatgpt_account_id: str
    installation_id: str
    name: str
    os: str
    arch: str
    app_server_version: str
    credentials_generation: int = 0


@dataclass(frozen=True)
class ClaimRequest:
    chatgpt_user_id: str
    chatgpt_account_id: str
    pairing_code: str | None = field(repr=False)
    manual_pairing_code: str | None = field(repr=False)
    environment_id: str | None
    device: DeviceInfo
    workspace_allows_remote_control: bool = True
    region_offers_remote_control: bool = True
    enrollment_refusal_blocks: bool = True
    credentials_generation: int = 0
    # The oldest Codex (`app_server_version`) the backend accepts on a Mac a phone pairs with; None: any.
    minimum_app_server_version: str | None = None
    # A controlling Mac names its own client id (`client/pair`); a phone's is made by the backend.
    client_id: str | None = None


@dataclass(frozen=True)
class ClientPage:
    items: tuple[Client, ...]
    next_cursor: str | None


Order = Literal["asc", "desc"]


# ---------------------------------------------------------------------------------------------------- helpers

_MANUAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: read aloud from a screen, they look like 1 and 0


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _manual_code() -> str:
    letters = "".join(secrets.choice(_MANUAL_LETTERS) for _ in range(4))
    digits = "".join(secrets.choice(string.digits) for _ in range(4))
    return f"{letters}-{digits}"


def normalise_manual_code(value: str) -> str:
    """People type manual codes in lower case and without the dash; the store keys them canonically."""
    compact = "".join(ch for ch in value.upper() if ch.isalnum())
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else value.upper()


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("cursor is not one this backend issued") from exc
    if not raw.startswith("p") or not raw[1:].isdigit():
        raise InvalidRequest("cursor is not one this backend issued")
    return int(raw[1:])


# ---------------------------------------------------------------------------------------------------- the store


class RemoteControlStore:
    """All remote-control state of one backend. Not thread-safe: the backend calls it from its event loop."""

    def __init__(self, clock: Clock, *, token_factory: Callable[[], str] | None = None) -> None:
        self._clock = clock
        self._new_token = token_factory or (lambda: secrets.token_urlsafe(32))
        # Every token and pairing code handed out (bounded: a long-running backend must not grow without end), so a
        # test can prove none of them reached a report.
        self._issued: deque[str] = deque(maxlen=ISSUED_SECRETS_KEPT)
        self._environments: dict[str, Environment] = {}
        self._env_by_key: dict[tuple[str, str], str] = {}
        self._refusals_without_environment: dict[tuple[str, str], ErrorCode] = {}
        # The workspace each installation last tried to enroll (or renew) in: a Mac that switched account leaves
        # its old environments behind, and this is how the backend can tell.
        self._installation_workspace: dict[str, str] = {}
        self._enrollments: dict[str, ServerEnrollment] = {}
        self._enrollment_by_token: dict[str, str] = {}
        self._codes: dict[str, PairingCode] = {}
        self._code_by_manual: dict[str, str] = {}
        self._clients: dict[str, Client] = {}
        self._client_order: dict[str, int] = {}
        self._claims_by_user: dict[str, deque[float]] = {}
        self._sequence = 0

    def _token(self) -> str:
        token = self._new_token()
        self._issued.append(token)
        return token

    def issued_secrets(self) -> tuple[str, ...]:
        """Every remote-control token, pairing code (manual ones too) and client session token this store issued."""
        return tuple(self._issued)

    # ---- enrollment

    def enroll(self, request: EnrollmentRequest) -> ServerEnrollment:
        now = self._clock.now()
        key = (request.chatgpt_account_id, request.installation_id)
        env_id = self._env_by_key.get(key)
        if env_id is None:
            env_id = _new_id("env")
            self._env_by_key[key] = env_id
            env = Environment(
                environment_id=env_id,
                chatgpt_account_id=request.chatgpt_account_id,
                chatgpt_user_id=request.chatgpt_user_id,
                installation_id=request.installation_id,
                server_name=request.name,
                os=request.os,
                arch=request.arch,
                app_server_version=request.app_server_version,
                created_at=now,
            )
        else:
            env = replace(
                self._environments[env_id],
                chatgpt_user_id=request.chatgpt_user_id,
                server_name=request.name,
                os=request.os,
                arch=request.arch,
                app_server_version=request.app_server_version,
            )
        self._environments[env_id] = replace(env, last_refusal=None)
        self._refusals_without_environment.pop(key, None)
        self._installation_workspace[request.installation_id] = request.chatgpt_account_id
        # One credential per environment: the newest enrollment supersedes older ones.
        for old in [e for e in self._enrollments.values() if e.environment_id == env_id and not e.revoked]:
            self._revoke_enrollment(old.server_id)
        enrollment = ServerEnrollment(
            server_id=_new_id("srv"),
            environment_id=env_id,
            installation_id=request.installation_id,
            chatgpt_user_id=request.chatgpt_user_id,
            chatgpt_account_id=request.chatgpt_account_id,
            remote_control_token=self._token(),
            expires_at=now + REMOTE_CONTROL_TOKEN_TTL,
            credentials_generation=request.credentials_generation,
        )
        self._enrollments[enrollment.server_id] = enrollment
        self._enrollment_by_token[enrollment.remote_control_token] = enrollment.server_id
        return enrollment

    def record_refusal(self, chatgpt_account_id: str, installation_id: str, code: ErrorCode) -> None:
        """Remember why this installation's last enrollment was refused, until one succeeds."""
        if code not in ENROLLMENT_REFUSALS:
            return
        self._installation_workspace[installation_id] = chatgpt_account_id
        key = (chatgpt_account_id, installation_id)
        env_id = self._env_by_key.get(key)
        if env_id is None:
            self._refusals_without_environment[key] = code
        else:
            self._environments[env_id] = replace(self._environments[env_id], last_refusal=code)

    def refresh(self, server_id: str, installation_id: str, chatgpt_user_id: str) -> ServerEnrollment:
        """A new token for an existing enrollment. Anything that is not this user's live enrollment is NotFound, so
        the daemon deletes its persisted enrollment and enrolls again (where the enrollment rules apply)."""
        enrollment = self._enrollments.get(server_id)
        if (
            enrollment is None
            or enrollment.revoked
            or enrollment.installation_id != installation_id
            or enrollment.chatgpt_user_id != chatgpt_user_id
        ):
            raise NotFound("no such server enrollment")
        self._enrollment_by_token.pop(enrollment.remote_control_token, None)
        self._installation_workspace[installation_id] = enrollment.chatgpt_account_id
        refreshed = replace(
            enrollment, remote_control_token=self._token(), expires_at=self._clock.now() + REMOTE_CONTROL_TOKEN_TTL
        )
        self._enrollments[server_id] = refreshed
        self._enrollment_by_token[refreshed.remote_control_token] = server_id
        return refreshed

    def authenticate_server(self, remote_control_token: str) -> ServerEnrollment:
        server_id = self._enrollment_by_token.get(remote_control_token)
        enrollment = self._enrollments.get(server_id) if server_id else None
        if enrollment is None or not enrollment.usable_at(self._clock.now()):
            raise Unauthorized("remote control token is unknown, expired or revoked")
        return enrollment

    def server_for_relay(self, server_id: str, remote_control_token: str) -> ServerEnrollment:
        """The relay handshake: 404 for an unknown or revoked server (the daemon re-enrolls), 401 for a bad token."""
        enrollment = self._enrollments.get(server_id)
        if enrollment is None or enrollment.revoked:
            raise NotFound("no such server enrollment")
        if not secrets.compare_digest(enrollment.remote_control_token, remote_control_token) or not (
            enrollment.usable_at(self._clock.now())
        ):
            raise Unauthorized("remote control token is not valid for this server")
        return enrollment

    def revoke_user_enrollments(
        self, chatgpt_user_id: str, credentials_generation: int
    ) -> tuple[ServerEnrollment, ...]:
        """A password change: every live enrollment the user made with older credentials stops working; one made
        since (a daemon that enrolled again before the change was noticed) stays. Returns the ones revoked."""
        live = [
            e for e in self._enrollments.values()
            if e.chatgpt_user_id == chatgpt_user_id and not e.revoked
            and e.credentials_generation != credentials_generation
        ]
        return tuple(self._revoke_enrollment(e.server_id) for e in live)

    def _revoke_enrollment(self, server_id: str) -> ServerEnrollment:
        revoked = replace(self._enrollments[server_id], revoked=True)
        self._enrollments[server_id] = revoked
        self._enrollment_by_token.pop(revoked.remote_control_token, None)
        return revoked

    def daemon_seen(self, environment_id: str) -> None:
        """The environment's daemon connected to the relay or left it, now."""
        env = self._environments.get(environment_id)
        if env is not None:
            self._environments[environment_id] = replace(env, last_seen_at=self._clock.now())

    def signed_in_elsewhere(self, environment_id: str) -> bool:
        """Whether the installation behind this environment has since tried to enroll in another workspace (the Mac
        switched ChatGPT account or workspace), so this environment is left behind."""
        env = self.environment(environment_id)
        latest = self._installation_workspace.get(env.installation_id)
        return latest is not None and latest != env.chatgpt_account_id

    def set_remote_control_disabled(self, environment_id: str, disabled: bool) -> None:
        env = self.environment(environment_id)
        self._environments[environment_id] = replace(env, remote_control_disabled=disabled)

    # ---- pairing codes

    def start_pairing(self, enrollment: ServerEnrollment, *, manual_code: bool) -> PairingCode:
        now = self._clock.now()
        manual = None
        if manual_code:
            manual = _manual_code()
            while self._live_manual(manual, now):
                manual = _manual_code()
            self._issued.append(manual)
        code = PairingCode(
            pairing_code=self._token(),
            manual_pairing_code=manual,
            environment_id=enrollment.environment_id,
            server_id=enrollment.server_id,
            issued_at=now,
            expires_at=now + PAIRING_CODE_TTL,
        )
        self._codes[code.pairing_code] = code
        if manual is not None:
            self._code_by_manual[manual] = code.pairing_code
        return code

    def _live_manual(self, manual: str, now: float) -> bool:
        existing = self._code_by_manual.get(manual)
        return existing is not None and self._codes[existing].expires_at > now

    def find_code(self, *, pairing_code: str | None = None, manual_pairing_code: str | None = None) -> PairingCode:
        if (pairing_code is None) == (manual_pairing_code is None):
            raise InvalidRequest("give exactly one of pairing_code or manual_pairing_code")
        key = pairing_code
        if manual_pairing_code is not None:
            key = self._code_by_manual.get(normalise_manual_code(manual_pairing_code))
        code = self._codes.get(key) if key is not None else None
        if code is None:
            raise NotFound("no such pairing code", code=ErrorCode.NOT_A_PAIRING_CODE)
        return code

    def pairing_status(
        self, enrollment: ServerEnrollment, *, pairing_code: str | None = None, manual_pairing_code: str | None = None
    ) -> bool:
        code = self.find_code(pairing_code=pairing_code, manual_pairing_code=manual_pairing_code)
        if code.environment_id != enrollment.environment_id:
            # Another environment's code does not exist as far as this server can tell.
            raise NotFound("no such pairing code", code=ErrorCode.NOT_A_PAIRING_CODE)
        return code.claimed

    def expire_pairing_codes_now(self, environment_id: str | None = None) -> int:
        """Test control: every unexpired code (of one environment, or all) expires at this instant."""
        now = self._clock.now()
        count = 0
        for key, code in list(self._codes.items()):
            if code.expires_at > now and environment_id in (None, code.environment_id):
                self._codes[key] = replace(code, expires_at=now)
                count += 1
        return count

    # ---- claims and clients

    def claim(self, request: ClaimRequest) -> Client:
        """The checks of the contract's claim table, in its order (the HTTP layer has done the first three)."""
        now = self._clock.now()
        self._check_claim_rate(request.chatgpt_user_id, now)
        code = self.find_code(pairing_code=request.pairing_code, manual_pairing_code=request.manual_pairing_code)
        if now >= code.expires_at:
            raise ClaimError("pairing code has expired", code=ErrorCode.PAIRING_CODE_EXPIRED, status=410)
        if code.claimed and code.claimed_key != request.device.device_public_key:
            raise ClaimError("pairing code was claimed by another device", code=ErrorCode.PAIRING_CODE_CLAIMED,
                             status=409)
        if request.environment_id is not None and request.environment_id != code.environment_id:
            raise ClaimError("pairing code belongs to another environment", code=ErrorCode.NOT_A_PAIRING_CODE,
                             status=400)
        env = self._environments[code.environment_id]
        if request.chatgpt_user_id != env.chatgpt_user_id:
            raise ClaimError("signed in as another account than the desktop", code=ErrorCode.ACCOUNT_MISMATCH,
                             status=403)
        if request.chatgpt_account_id != env.chatgpt_account_id:
            raise ClaimError("signed in to another workspace than the desktop", code=ErrorCode.WORKSPACE_MISMATCH,
                             status=403)
        if not request.workspace_allows_remote_control:
            raise ClaimError("workspace policy forbids remote control", code=ErrorCode.BLOCKED_BY_POLICY, status=403)
        if not request.region_offers_remote_control:
            raise ClaimError("remote control is not offered in the account's region",
                             code=ErrorCode.REGION_UNAVAILABLE, status=403)
        minimum = request.minimum_app_server_version
        if minimum is not None and older_than(env.app_server_version, minimum):
            # [P] The Mac enrolled (it is listed), but its Codex is older than remote control accepts: the phone is
            # told both versions (openai/codex#22714).
            raise ClaimError(f"the environment runs app server {env.app_server_version}, older than {minimum}",
                             code=ErrorCode.APP_SERVER_OUTDATED, status=426,
                             details={"minimum_version": minimum, "current_version": env.app_server_version})
        if env.last_refusal is not None and request.enrollment_refusal_blocks:
            raise ClaimError("the desktop's last enrollment was refused", code=env.last_refusal, status=403)
        if env.remote_control_disabled:
            raise ClaimError("remote control is disabled on the desktop", code=ErrorCode.REMOTE_CONTROL_DISABLED,
                             status=409)
        if request.client_id is not None:
            named = self._clients.get(request.client_id)
            if named is not None and named.revoked:
                # The id a controlling Mac kept from before it was removed: today's backend never lets it pair
                # again (openai/codex#26193); the Mac must come back under a new id.
                raise ClientRevoked(CLIENT_REVOKED_DETAIL)
            if named is not None and named.environment_id != env.environment_id:
                raise ClaimError("this client id is paired with another computer", code=ErrorCode.PROTOCOL_VIOLATION,
                                 status=409)
        if code.claimed and code.claimed_by is not None:
            existing = self._clients[code.claimed_by]
            if existing.session_live_at(now):
                return existing
            # Its session ended (removed, or signed out by a password change): the same phone gets a new one.
        client = Client(
            client_id=request.client_id or _new_id("cli"),
            environment_id=env.environment_id,
            chatgpt_user_id=request.chatgpt_user_id,
            chatgpt_account_id=request.chatgpt_account_id,
            device=request.device,
            client_session_token=self._token(),
            session_expires_at=now + CLIENT_SESSION_TTL,
            created_at=now,
            last_seen_at=now,
            credentials_generation=request.credentials_generation,
            enrollment_status="active" if request.client_id is None else "pending_enrollment",
        )
        self._clients[client.client_id] = client
        self._sequence += 1
        self._client_order[client.client_id] = self._sequence
        self._codes[code.pairing_code] = replace(
            code, claimed_by=client.client_id, claimed_key=request.device.device_public_key
        )
        return client

    def _check_claim_rate(self, user_id: str, now: float) -> None:
        window = self._claims_by_user.setdefault(user_id, deque())
        while window and window[0] <= now - CLAIM_WINDOW:
            window.popleft()
        if len(window) >= CLAIMS_PER_MINUTE:
            retry_after = max(1, int(window[0] + CLAIM_WINDOW - now + 0.999))
            raise ClaimError("too many pairing attempts", code=ErrorCode.RATE_LIMITED, status=429,
                             retry_after=retry_after)
        window.append(now)

    def authenticate_client(self, client_id: str, client_session_token: str) -> Client:
        """The phone socket handshake: 404 for an unknown or revoked client, 401 for a bad or expired session."""
        client = self._clients.get(client_id)
        if client is None:
            raise NotFound("no such client")
        if client.revoked:
            raise ClientRevoked(CLIENT_REVOKED_DETAIL)
        if not secrets.compare_digest(client.client_session_token, client_session_token) or (
            self._clock.now() >= client.session_expires_at
        ):
            raise Unauthorized("client session token is not valid for this client")
        return client

    def client_of(self, environment_id: str, client_id: str) -> Client:
        """One paired phone of an environment, as its owner asks about it: a removed one says so."""
        client = self._clients.get(client_id)
        if client is None or client.environment_id != environment_id:
            raise NotFound("no such client")
        if client.revoked:
            raise ClientRevoked(CLIENT_REVOKED_DETAIL)
        return client

    def activate_client(self, client_id: str) -> None:
        """The client proved its device key on the relay: a pending controller is enrolled from now on."""
        client = self._clients.get(client_id)
        if client is not None and client.enrollment_status != "active":
            self._clients[client_id] = replace(client, enrollment_status="active")

    def touch_client(self, client_id: str) -> None:
        client = self._clients.get(client_id)
        if client is not None:
            self._clients[client_id] = replace(client, last_seen_at=self._clock.now())

    def list_clients(
        self, environment_id: str, *, cursor: str | None = None, limit: int = 50, order: Order = "asc"
    ) -> ClientPage:
        self.environment(environment_id)
        if not 1 <= limit <= MAX_CLIENT_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_CLIENT_PAGE}")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be asc or desc")
        clients = sorted(
            (c for c in self._clients.values()
             if c.environment_id == environment_id and not c.revoked and c.enrollment_status != "pending_enrollment"),
            key=lambda c: self._client_order[c.client_id],
            reverse=order == "desc",
        )
        if cursor is not None:
            after = _decode_cursor(cursor)
            if order == "asc":
                clients = [c for c in clients if self._client_order[c.client_id] > after]
            else:
                clients = [c for c in clients if self._client_order[c.client_id] < after]
        page = clients[:limit]
        next_cursor = _encode_cursor(self._client_order[page[-1].client_id]) if len(clients) > limit else None
        return ClientPage(items=tuple(page), next_cursor=next_cursor)

    def end_client_session(self, client_id: str) -> Client:
        """The phone's sign-in behind this client is gone (a password change): its session token stops working
        now; the phone signs in and pairs again."""
        client = self.client(client_id)
        ended = replace(client, session_expires_at=min(client.session_expires_at, self._clock.now()))
        self._clients[client_id] = ended
        return ended

    def revoke_client(self, environment_id: str, client_id: str) -> Client:
        client = self._clients.get(client_id)
        if client is None or client.environment_id != environment_id or client.revoked:
            raise NotFound("no such client")
        revoked = replace(client, revoked=True)
        self._clients[client_id] = revoked
        return revoked

    # ---- views

    def environment(self, environment_id: str) -> Environment:
        env = self._environments.get(environment_id)
        if env is None:
            raise NotFound("no such environment")
        return env

    def environment_for(self, chatgpt_account_id: str, installation_id: str) -> Environment | None:
        env_id = self._env_by_key.get((chatgpt_account_id, installation_id))
        return self._environments[env_id] if env_id else None

    def pending_refusal(self, chatgpt_account_id: str, installation_id: str) -> ErrorCode | None:
        env = self.environment_for(chatgpt_account_id, installation_id)
        if env is not None:
            return env.last_refusal
        return self._refusals_without_environment.get((chatgpt_account_id, installation_id))

    def environments(self) -> tuple[Environment, ...]:
        return tuple(self._environments.values())

    def environments_of(self, chatgpt_user_id: str, chatgpt_account_id: str) -> tuple[Environment, ...]:
        """The computers a signed-in person sees in one workspace, oldest first."""
        return tuple(
            env for env in self._environments.values()
            if env.chatgpt_user_id == chatgpt_user_id and env.chatgpt_account_id == chatgpt_account_id
        )

    def enrollments(self) -> tuple[ServerEnrollment, ...]:
        return tuple(self._enrollments.values())

    def enrollment(self, server_id: str) -> ServerEnrollment:
        enrollment = self._enrollments.get(server_id)
        if enrollment is None:
            raise NotFound("no such server enrollment")
        return enrollment

    def pairing_codes(self) -> tuple[PairingCode, ...]:
        return tuple(self._codes.values())

    def clients(self) -> tuple[Client, ...]:
        return tuple(self._clients.values())

    def client(self, client_id: str) -> Client:
        client = self._clients.get(client_id)
        if client is None:
            raise NotFound("no such client")
        return client

    def snapshot(self) -> tuple[object, ...]:
        """Everything stored, as comparable values: tests assert a bad input left this unchanged."""
        return (
            tuple(sorted(self._environments.items())),
            tuple(sorted(self._enrollments.items())),
            tuple(sorted(self._codes.items())),
            tuple(sorted(self._clients.items())),
        )
