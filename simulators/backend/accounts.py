"""Accounts of the simulated ChatGPT backend: who can sign in, how, and what they may do.

An account has a password (stored as an scrypt hash only), optional TOTP MFA, a plan, workspaces (Personal
plus optional team workspaces, each with a remote-control policy), a region and a device-code switch. The
store also tracks sign-in sessions and refresh tokens with the MFA assurance of the sign-in that made them, so
a password change can revoke every one of them, and the browsers a person asked the issuer to remember as
trusted devices (which then skip the authenticator step, so their sign-ins carry no MFA assurance).

Every method is thread-safe: scenario steps call them from the test thread while the server runs on its loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

import pyotp
from faker import Faker

from simulators.clock import Clock
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import Amr, RandomBytes, amr_for_sign_in, b64url_encode, system_random_bytes


class Plan(StrEnum):
    FREE = "free"
    PLUS = "plus"
    PRO = "pro"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"

    @property
    def is_workspace_plan(self) -> bool:
        return self in (Plan.BUSINESS, Plan.ENTERPRISE)


class Region(StrEnum):
    US = "us"
    EU = "eu"
    UNSUPPORTED = "unsupported"  # a region where remote control is not offered

    @property
    def remote_control_available(self) -> bool:
        return self is not Region.UNSUPPORTED


class WorkspaceKind(StrEnum):
    PERSONAL = "personal"
    TEAM = "team"


class MfaOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LOCKED = "locked"
    NOT_ENROLLED = "not_enrolled"


class RefreshFailure(StrEnum):
    """Why a refresh token was refused; the values are the codes the real auth service returns [T] and the
    Codex CLI classifies [V: codex-rs/login/src/auth/manager.rs]."""

    EXPIRED = "refresh_token_expired"
    REUSED = "refresh_token_reused"
    INVALIDATED = "refresh_token_invalidated"
    UNKNOWN = "token_expired"  # what the real service says for a token it cannot validate at all [T]


PERSONAL_WORKSPACE_NAME = "Personal"
MIN_PASSWORD_LENGTH = 12
MAX_MFA_FAILURES = 5
MFA_LOCKOUT_SECONDS = 15 * 60
REFRESH_TOKEN_TTL_SECONDS = 60 * 24 * 3600
# How far from now a refused authenticator code is looked for, to tell a slip of the finger from an authenticator
# whose clock is off (its code of another time). Wider would mistake more typos for a clock that is off.
CLOCK_DRIFT_SEARCH_SECONDS = 15 * 60
# How long "Remember this device" lasts: the 30 days sign-in services commonly offer [P].
TRUSTED_DEVICE_TTL_SECONDS = 30 * 24 * 3600

# scrypt cost kept low: the simulator needs hashes that are never reversible in a log, not resistance to GPUs,
# and scenarios create many accounts.
_SCRYPT_N = 2**12
_SCRYPT_R = 8
_SCRYPT_P = 1


class AccountError(PairsimError):
    code = ErrorCode.SIGN_IN_FAILED


class UnknownAccount(AccountError):
    pass


class UnknownWorkspace(AccountError):
    code = ErrorCode.WORKSPACE_MISMATCH


class InvalidAccountChange(AccountError):
    pass


class RefreshTokenRejected(PairsimError):
    code = ErrorCode.SESSION_EXPIRED

    def __init__(self, reason: RefreshFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Workspace:
    """A ChatGPT workspace. Its id is what tokens carry as `chatgpt_account_id`."""

    id: str
    name: str
    kind: WorkspaceKind
    plan: Plan
    remote_control_allowed: bool = True

    @property
    def is_personal(self) -> bool:
        return self.kind is WorkspaceKind.PERSONAL


@dataclass(frozen=True)
class TeamWorkspaceSpec:
    name: str | None = None
    plan: Plan = Plan.BUSINESS
    remote_control_allowed: bool = True


@dataclass(frozen=True)
class AccountSpec:
    """What a scenario asks for; everything left out is made up by Faker from the factory's seed."""

    email: str | None = None
    name: str | None = None
    password: str | None = field(default=None, repr=False)
    plan: Plan = Plan.PLUS
    mfa: bool = False
    mfa_enforced: bool = True
    team_workspaces: tuple[TeamWorkspaceSpec, ...] = ()
    region: Region = Region.US
    device_code_enabled: bool = False


@dataclass(frozen=True)
class Account:
    """A snapshot of an account, safe to show anywhere: it holds no password and no TOTP secret."""

    account_id: str
    user_id: str
    email: str
    name: str
    plan: Plan
    region: Region
    mfa_enabled: bool
    mfa_enforced: bool
    device_code_enabled: bool
    workspaces: tuple[Workspace, ...]
    organization_id: str
    project_id: str
    credentials_generation: int

    @property
    def personal_workspace(self) -> Workspace:
        return self.workspaces[0]

    @property
    def team_workspaces(self) -> tuple[Workspace, ...]:
        return self.workspaces[1:]

    def workspace(self, workspace_id: str) -> Workspace:
        for workspace in self.workspaces:
            if workspace.id == workspace_id:
                return workspace
        raise UnknownWorkspace("the account has no such workspace")


@dataclass(frozen=True)
class CreatedAccount:
    """What `create` hands back once: the account plus its plaintext password and TOTP secret."""

    account: Account
    password: str = field(repr=False)
    totp_secret: str | None = field(repr=False)

    def totp(self) -> pyotp.TOTP:
        if self.totp_secret is None:
            raise InvalidAccountChange("this account has no MFA")
        return pyotp.TOTP(self.totp_secret)


@dataclass(frozen=True)
class Session:
    """One sign-in: the `sid` in its tokens, and what the sign-in proved."""

    sid: str
    user_id: str
    amr: tuple[str, ...]
    auth_time: int
    credentials_generation: int
    revoked: bool = False

    @property
    def mfa_assured(self) -> bool:
        return Amr.MFA.value in self.amr


@dataclass(frozen=True)
class RefreshGrantRecord:
    """What a redeemed refresh token was bound to, so the issuer can mint the next set."""

    sid: str
    client_id: str
    workspace_id: str
    scopes: tuple[str, ...]
    origin: str | None


class _TokenState(StrEnum):
    ACTIVE = "active"
    USED = "used"
    REVOKED = "revoked"


@dataclass
class _RefreshToken:
    grant: RefreshGrantRecord
    user_id: str
    expires_at: float
    state: _TokenState = _TokenState.ACTIVE


@dataclass
class _TrustedDevice:
    user_id: str
    expires_at: float


@dataclass
class _AccountRecord:
    account: Account
    password_hash: bytes = field(repr=False)
    password_salt: bytes = field(repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    mfa_failures: int = 0
    mfa_locked_until: float = 0.0


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )


def token_digest(token: str) -> str:
    """Stores key tokens by digest so a dump of the store never holds a usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountFactory:
    """Makes believable accounts from a seed: the same seed gives the same people, ids and passwords."""

    def __init__(self, seed: int = 0) -> None:
        self._faker = Faker()
        self._faker.seed_instance(seed)
        self._rng = random.Random(seed)

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)

    def hex_id(self, prefix: str, n_bytes: int = 8) -> str:
        return f"{prefix}{self._rng.randbytes(n_bytes).hex()}"

    def password(self) -> str:
        return self._faker.password(
            length=16, special_chars=True, digits=True, upper_case=True, lower_case=True
        )

    def totp_secret(self) -> str:
        # 20 bytes, RFC 4226's recommended shared-secret length, as base32 the way authenticator apps expect.
        return base64.b32encode(self._rng.randbytes(20)).decode("ascii")

    def salt(self) -> bytes:
        return self._rng.randbytes(16)

    def make(self, spec: AccountSpec) -> tuple[_AccountRecord, CreatedAccount]:
        name = spec.name or self._faker.name()
        email = (spec.email or self._faker.unique.email()).lower()
        password = spec.password or self.password()
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidAccountChange(f"passwords have at least {MIN_PASSWORD_LENGTH} characters")
        account_id = self.hex_id("acct-")
        personal_plan = Plan.FREE if spec.plan.is_workspace_plan else spec.plan
        workspaces = [Workspace(account_id, PERSONAL_WORKSPACE_NAME, WorkspaceKind.PERSONAL, personal_plan)]
        teams = spec.team_workspaces
        if spec.plan.is_workspace_plan and not teams:
            teams = (TeamWorkspaceSpec(plan=spec.plan),)
        for team in teams:
            workspaces.append(
                Workspace(
                    id=self.hex_id("acct-"),
                    name=team.name or self._faker.company(),
                    kind=WorkspaceKind.TEAM,
                    plan=team.plan,
                    remote_control_allowed=team.remote_control_allowed,
                )
            )
        totp_secret = self.totp_secret() if spec.mfa else None
        account = Account(
            account_id=account_id,
            user_id=self.hex_id("user-", 12),
            email=email,
            name=name,
            plan=spec.plan,
            region=spec.region,
            mfa_enabled=spec.mfa,
            mfa_enforced=spec.mfa_enforced,
            device_code_enabled=spec.device_code_enabled,
            workspaces=tuple(workspaces),
            organization_id=self.hex_id("org-", 12),
            project_id=self.hex_id("proj_", 12),
            credentials_generation=1,
        )
        salt = self.salt()
        record = _AccountRecord(
            account=account,
            password_hash=hash_password(password, salt),
            password_salt=salt,
            totp_secret=totp_secret,
        )
        return record, CreatedAccount(account=account, password=password, totp_secret=totp_secret)


class AccountStore:
    """The directory of accounts plus their sessions and refresh tokens."""

    def __init__(
        self,
        clock: Clock,
        factory: AccountFactory | None = None,
        *,
        random_bytes: RandomBytes = system_random_bytes,
    ) -> None:
        self._clock = clock
        self._factory = factory or AccountFactory()
        self._random_bytes = random_bytes
        self._lock = threading.RLock()
        self._accounts: dict[str, _AccountRecord] = {}  # by user_id
        self._by_email: dict[str, str] = {}
        self._by_account_id: dict[str, str] = {}
        self._by_workspace: dict[str, str] = {}
        self._sessions: dict[str, Session] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._trusted_devices: dict[str, _TrustedDevice] = {}  # by digest of the browser's cookie value

    # -- accounts -------------------------------------------------------------------------------------------

    def create(self, spec: AccountSpec | None = None) -> CreatedAccount:
        spec = spec or AccountSpec()
        with self._lock:
            if spec.email is not None and spec.email.lower() in self._by_email:
                raise InvalidAccountChange("an account with this email already exists")
            record, created = self._factory.make(spec)
            if record.account.email in self._by_email:
                raise InvalidAccountChange("an account with this email already exists")
            account = record.account
            self._accounts[account.user_id] = record
            self._by_email[account.email] = account.user_id
            self._by_account_id[account.account_id] = account.user_id
            for workspace in account.workspaces:
                self._by_workspace[workspace.id] = account.user_id
            return created

    def _record(self, account_or_user_id: str) -> _AccountRecord:
        user_id = self._by_account_id.get(account_or_user_id, account_or_user_id)
        record = self._accounts.get(user_id)
        if record is None:
            raise UnknownAccount("no such account")
        return record

    def get(self, account_or_user_id: str) -> Account:
        """Look an account up by its account id (`acct-…`) or user id (`user-…`)."""
        with self._lock:
            return self._record(account_or_user_id).account

    def find_by_email(self, email: str) -> Account | None:
        with self._lock:
            user_id = self._by_email.get(email.strip().lower())
            return None if user_id is None else self._accounts[user_id].account

    def by_workspace(self, workspace_id: str) -> tuple[Account, Workspace]:
        with self._lock:
            user_id = self._by_workspace.get(workspace_id)
            if user_id is None:
                raise UnknownWorkspace("no such workspace")
            account = self._accounts[user_id].account
            return account, account.workspace(workspace_id)

    def all(self) -> list[Account]:
        with self._lock:
            return [record.account for record in self._accounts.values()]

    def check_password(self, email: str, password: str) -> Account | None:
        """The account when the password is right; None for a wrong password or an unknown email alike."""
        with self._lock:
            user_id = self._by_email.get(email.strip().lower())
            record = None if user_id is None else self._accounts[user_id]
        if record is None:
            # Hash anyway, so an unknown email costs the same time as a wrong password.
            hash_password(password, b"\0" * 16)
            return None
        candidate = hash_password(password, record.password_salt)
        with self._lock:
            if hmac.compare_digest(candidate, record.password_hash):
                return record.account
        return None

    def _update(self, record: _AccountRecord, **changes: object) -> Account:
        record.account = replace(record.account, **changes)  # type: ignore[arg-type]
        return record.account

    # -- security operations a scenario drives -------------------------------------------------------------

    def enable_mfa(self, account_id: str) -> str:
        """Turn MFA on (or set it up again) with a new TOTP secret and return it (the only time it is shown).

        Setting up the authenticator again also forgets every browser remembered as a trusted device: each has to
        prove the new factor once before it may skip it again."""
        with self._lock:
            record = self._record(account_id)
            record.totp_secret = self._factory.totp_secret()
            record.mfa_failures = 0
            record.mfa_locked_until = 0.0
            self._forget_devices_of(record.account.user_id)
            self._update(record, mfa_enabled=True)
            return record.totp_secret

    def disable_mfa(self, account_id: str) -> Account:
        with self._lock:
            record = self._record(account_id)
            record.totp_secret = None
            return self._update(record, mfa_enabled=False)

    def set_mfa_enforced(self, account_id: str, enforced: bool) -> Account:
        with self._lock:
            return self._update(self._record(account_id), mfa_enforced=enforced)

    def change_password(self, account_id: str, new_password: str | None = None) -> str:
        """Set a new password (generated when None); revoke every session and refresh token of the account.

        Trusted devices survive it, as they do on the real service: the next sign-in from a remembered browser
        asks for the new password only, which is how a desktop ends up signed in without MFA assurance
        (openai/codex#24328)."""
        with self._lock:
            record = self._record(account_id)
            password = new_password or self._factory.password()
            if len(password) < MIN_PASSWORD_LENGTH:
                raise InvalidAccountChange(f"passwords have at least {MIN_PASSWORD_LENGTH} characters")
            record.password_salt = self._factory.salt()
            record.password_hash = hash_password(password, record.password_salt)
            self._update(record, credentials_generation=record.account.credentials_generation + 1)
            self._revoke_all(record.account.user_id)
            return password

    def set_device_code_enabled(self, account_id: str, enabled: bool) -> Account:
        with self._lock:
            return self._update(self._record(account_id), device_code_enabled=enabled)

    def set_region(self, account_id: str, region: Region) -> Account:
        with self._lock:
            return self._update(self._record(account_id), region=Region(region))

    def set_workspace_policy(self, workspace_id: str, *, remote_control_allowed: bool) -> Workspace:
        with self._lock:
            user_id = self._by_workspace.get(workspace_id)
            if user_id is None:
                raise UnknownWorkspace("no such workspace")
            record = self._accounts[user_id]
            workspaces = tuple(
                replace(w, remote_control_allowed=remote_control_allowed) if w.id == workspace_id else w
                for w in record.account.workspaces
            )
            return self._update(record, workspaces=workspaces).workspace(workspace_id)

    # -- MFA ------------------------------------------------------------------------------------------------

    def verify_totp(self, account_id: str, code: str) -> MfaOutcome:
        """Check a TOTP code against the clock (one step of drift either way); too many misses lock MFA."""
        now = self._clock.now()
        with self._lock:
            record = self._record(account_id)
            if record.totp_secret is None:
                return MfaOutcome.NOT_ENROLLED
            if now < record.mfa_locked_until:
                return MfaOutcome.LOCKED
            totp = pyotp.TOTP(record.totp_secret)
            cleaned = code.strip().replace(" ", "")
            if (
                cleaned.isdigit()
                and len(cleaned) == totp.digits
                and totp.verify(cleaned, for_time=now, valid_window=1)
            ):
                record.mfa_failures = 0
                return MfaOutcome.ACCEPTED
            record.mfa_failures += 1
            if record.mfa_failures >= MAX_MFA_FAILURES:
                record.mfa_failures = 0
                record.mfa_locked_until = now + MFA_LOCKOUT_SECONDS
                return MfaOutcome.LOCKED
            return MfaOutcome.REJECTED

    def totp_drift(self, account_id: str, code: str) -> float | None:
        """When a code `verify_totp` refused is the authenticator's code for another time near now, how far that
        time is from now in seconds (positive: the authenticator's clock is ahead); None for any other code.
        Read-only: the refusal has already been counted."""
        now = self._clock.now()
        with self._lock:
            secret = self._record(account_id).totp_secret
        if secret is None:
            return None
        totp = pyotp.TOTP(secret)
        cleaned = code.strip().replace(" ", "")
        if not (cleaned.isdigit() and len(cleaned) == totp.digits):
            return None
        step = totp.timecode(datetime.fromtimestamp(now, UTC))
        # The nearest times first, so a code that happens to repeat further out is not preferred.
        for distance in range(2, int(CLOCK_DRIFT_SEARCH_SECONDS // totp.interval) + 1):
            for direction in (1, -1):
                if hmac.compare_digest(totp.generate_otp(step + direction * distance), cleaned):
                    return float(direction * distance * totp.interval)
        return None

    def mfa_locked(self, account_id: str) -> bool:
        with self._lock:
            return self._clock.now() < self._record(account_id).mfa_locked_until

    # -- trusted devices ("Remember this device") ---------------------------------------------------------

    def remember_device(self, account_id: str) -> str:
        """Remember a browser that just completed MFA; returns the cookie value it keeps (shown only here)."""
        with self._lock:
            user_id = self._record(account_id).account.user_id
            token = "td_" + b64url_encode(self._random_bytes(24))
            self._trusted_devices[token_digest(token)] = _TrustedDevice(
                user_id=user_id, expires_at=self._clock.now() + TRUSTED_DEVICE_TTL_SECONDS
            )
            return token

    def is_trusted_device(self, token: str | None, account_id: str) -> bool:
        """Whether the browser holding this cookie value may skip the authenticator step for this account."""
        if not token:
            return False
        with self._lock:
            device = self._trusted_devices.get(token_digest(token))
            if device is None or device.user_id != self._record(account_id).account.user_id:
                return False
            if self._clock.now() >= device.expires_at:
                del self._trusted_devices[token_digest(token)]
                return False
            return True

    def forget_device(self, token: str | None) -> bool:
        """Forget one browser (it signed out); True when it was remembered."""
        if not token:
            return False
        with self._lock:
            return self._trusted_devices.pop(token_digest(token), None) is not None

    def forget_trusted_devices(self, account_id: str) -> int:
        """Forget every remembered browser of the account (security settings); returns how many there were."""
        with self._lock:
            return self._forget_devices_of(self._record(account_id).account.user_id)

    def trusted_devices(self, account_id: str) -> int:
        """How many browsers the account still remembers (expired ones do not count)."""
        now = self._clock.now()
        with self._lock:
            user_id = self._record(account_id).account.user_id
            return sum(1 for d in self._trusted_devices.values() if d.user_id == user_id and now < d.expires_at)

    def _forget_devices_of(self, user_id: str) -> int:
        doomed = [key for key, device in self._trusted_devices.items() if device.user_id == user_id]
        for key in doomed:
            del self._trusted_devices[key]
        return len(doomed)

    # -- sessions -------------------------------------------------------------------------------------------

    def open_session(self, account_id: str, *, mfa_completed: bool) -> Session:
        with self._lock:
            account = self._record(account_id).account
            session = Session(
                sid=b64url_encode(self._random_bytes(18)),
                user_id=account.user_id,
                amr=amr_for_sign_in(mfa_completed),
                auth_time=self._clock.now_int(),
                credentials_generation=account.credentials_generation,
            )
            self._sessions[session.sid] = session
            return session

    def session(self, sid: str) -> Session | None:
        with self._lock:
            return self._sessions.get(sid)

    def active_session(self, sid: str) -> Session | None:
        """The session when it is still good: not revoked and made with the account's current password."""
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or session.revoked:
                return None
            record = self._accounts.get(session.user_id)
            if record is None or record.account.credentials_generation != session.credentials_generation:
                return None
            return session

    def sessions_of(self, account_id: str) -> list[Session]:
        with self._lock:
            user_id = self._record(account_id).account.user_id
            return [s for s in self._sessions.values() if s.user_id == user_id]

    def end_session(self, sid: str) -> bool:
        """Sign one session out (the browser that holds it signed out); its tokens stop working."""
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or session.revoked:
                return False
            self._sessions[sid] = replace(session, revoked=True)
            for token in self._refresh_tokens.values():
                if token.grant.sid == sid and token.state is _TokenState.ACTIVE:
                    token.state = _TokenState.REVOKED
            return True

    def revoke_sessions(self, account_id: str) -> int:
        """Sign the account out everywhere; returns how many sessions were live."""
        with self._lock:
            return self._revoke_all(self._record(account_id).account.user_id)

    def _revoke_all(self, user_id: str) -> int:
        live = 0
        for sid, session in list(self._sessions.items()):
            if session.user_id == user_id and not session.revoked:
                self._sessions[sid] = replace(session, revoked=True)
                live += 1
        for token in self._refresh_tokens.values():
            if token.user_id == user_id and token.state is _TokenState.ACTIVE:
                token.state = _TokenState.REVOKED
        return live

    # -- refresh tokens -------------------------------------------------------------------------------------

    def issue_refresh_token(self, grant: RefreshGrantRecord) -> str:
        with self._lock:
            session = self._sessions.get(grant.sid)
            if session is None:
                raise UnknownAccount("no such session")
            token = "rt_" + b64url_encode(self._random_bytes(32))
            self._refresh_tokens[token_digest(token)] = _RefreshToken(
                grant=grant,
                user_id=session.user_id,
                expires_at=self._clock.now() + REFRESH_TOKEN_TTL_SECONDS,
            )
            return token

    def redeem_refresh_token(self, token: str, client_id: str) -> RefreshGrantRecord:
        """Use a refresh token once (rotation); the caller issues the next. Raises `RefreshTokenRejected`."""
        with self._lock:
            record = self._refresh_tokens.get(token_digest(token))
            if record is None or record.grant.client_id != client_id:
                raise RefreshTokenRejected(RefreshFailure.UNKNOWN, "refresh token not recognised")
            if record.state is _TokenState.USED:
                raise RefreshTokenRejected(RefreshFailure.REUSED, "refresh token already used")
            if record.state is _TokenState.REVOKED or self.active_session(record.grant.sid) is None:
                record.state = _TokenState.REVOKED
                raise RefreshTokenRejected(RefreshFailure.INVALIDATED, "refresh token revoked")
            if self._clock.now() >= record.expires_at:
                raise RefreshTokenRejected(RefreshFailure.EXPIRED, "refresh token expired")
            record.state = _TokenState.USED
            return record.grant

    def grant_of(self, token: str, client_id: str) -> RefreshGrantRecord | None:
        """What a refresh token (used or not) was issued for, when it is this client's; None otherwise."""
        with self._lock:
            record = self._refresh_tokens.get(token_digest(token))
            if record is None or record.grant.client_id != client_id:
                return None
            return record.grant

    def revoke_refresh_tokens_from(self, origin: str) -> int:
        """Revoke what one authorization code produced (RFC 6749 §4.1.2: a replayed code revokes them)."""
        with self._lock:
            revoked = 0
            for token in self._refresh_tokens.values():
                if token.grant.origin == origin and token.state is _TokenState.ACTIVE:
                    token.state = _TokenState.REVOKED
                    revoked += 1
            return revoked

    def live_refresh_tokens(self, account_id: str) -> int:
        with self._lock:
            user_id = self._record(account_id).account.user_id
            return sum(
                1
                for t in self._refresh_tokens.values()
                if t.user_id == user_id and t.state is _TokenState.ACTIVE
            )


def team_specs(names: Iterable[str], *, remote_control_allowed: bool = True) -> tuple[TeamWorkspaceSpec, ...]:
    return tuple(
        TeamWorkspaceSpec(name=name, remote_control_allowed=remote_control_allowed) for name in names
    )
