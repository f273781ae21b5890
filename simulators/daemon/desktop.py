"""The Codex desktop app around the mock daemon: its ChatGPT sign-in, its settings and Settings › Connections.

Sign-in walks the issuer's HTML pages in the Mac's browser (authorization code + PKCE, the Codex CLI client id,
redirect to `http://127.0.0.1:1455/auth/callback`). The redirect is intercepted, not served: the desktop here never
opens port 1455 (`pairsim login` has the real callback server). The browser is the Mac's own and keeps its cookies
between sign-ins, so the issuer's "Remember this device" works as it does for a person: a later sign-in from the
remembered browser skips the authenticator step and gets no MFA assurance (openai/codex#24328). The tokens are
kept in `auth.json` in the daemon home (mode 0600), in the real CLI's shape.

What the desktop shows is decided by the profile (simulators/daemon/profiles.py): `legacy` is today's product,
which only knows the four statuses, so a refused enrollment reads "Remote control is errored." and the QR
button shows that same line (there is no remediation text anywhere); `fixed` shows the cause's remediation
from the catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from simulators import messages
from simulators.backend.pages import REMEMBER_DEVICE_FIELD
from simulators.browser import (
    Browser,
    BrowserError,
    Interception,
    NavigationFailed,
    Page,
    shared_ssl_context,
)
from simulators.clock import Clock
from simulators.daemon.app_server import ChatGptAccount
from simulators.daemon.enrollment_client import ChatGptCredentials
from simulators.daemon.profiles import Profile, ProfileBehaviour, behaviour
from simulators.protocol import jsonrpc
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import (
    AUTH_CLAIM_NAMESPACE,
    CLIENT_ID,
    AuthorizeRequest,
    ClaimsError,
    OpenAIAuthClaims,
    generate_pkce,
    generate_state,
    jwt_expired,
    loopback_redirect_uri,
)
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import render_png, render_terminal
from simulators.remote_projects.link import RemoteLink
from simulators.remote_projects.session import RemoteProject, RemoteProjectSession
from simulators.timers import elapse, moved

AUTH_FILENAME = "auth.json"
# The desktop's own state beside the daemon's (the real app keeps remote-control keys in this file too,
# openai/codex#23112, #22714): here, the phones it has seen paired with this Mac.
GLOBAL_STATE_FILENAME = ".codex-global-state.json"
KNOWN_PHONES_KEY = "remote-control-known-phones"
MAX_PAGES = 20
PERSONAL = "Personal"
MFA_INFO_PATH = "/backend-api/accounts/mfa_info"
MFA_AMR = frozenset({"mfa", "otp"})

# How long today's desktop waits for `remoteControl/pairing/start`: the 2 s every request of the daemon's control
# client gets (`CONTROL_SOCKET_RESPONSE_TIMEOUT`, codex-rs/app-server-daemon/src/client.rs), on the Mac's clock.
PAIRING_START_TIMEOUT_S = 2.0
# Its words when that runs out: the client's context, then the timer's own error (tokio's `Elapsed`), as anyhow
# chains them (openai/codex#38534).
PAIRING_START_TIMED_OUT = "timed out waiting for remoteControl/pairing/start response: deadline has elapsed"
PAIRING_UNAVAILABLE = "remote control pairing is unavailable until enrollment completes"
# The daemon's words when the server token it holds, renewed or not, is past its `expires_at` by the Mac's clock.
PAIRING_TOKEN_EXPIRED = "remote control pairing is unavailable because the server token expired"
# What a daemon answers "Pair phone" with when it holds no server token it may use: newer codex versions say it
# expired; 0.169.0 (observed) says its enrollment is not complete, for an expired token as for a refused one.
TOKEN_UNUSABLE = frozenset({PAIRING_TOKEN_EXPIRED, PAIRING_UNAVAILABLE})
# Where the desktop asks the service the time: any answer carries `Date`; this one needs no sign-in.
SERVICE_TIME_PATH = "/.well-known/openid-configuration"
# A `Date` is whole seconds and the answer takes a moment: a difference under this is the same time.
CLOCKS_AGREE_WITHIN_S = 60.0


@dataclass(frozen=True)
class StoredTokens:
    """The desktop's ChatGPT sign-in. Token values never appear in a repr."""

    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    account_id: str
    last_refresh: str

    def to_json(self) -> dict[str, Any]:
        return {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": self.id_token,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "account_id": self.account_id,
            },
            "last_refresh": self.last_refresh,
        }

    def id_claims(self) -> dict[str, Any]:
        # The desktop reads its own id token for display (email, plan); the backend verifies what matters.
        try:
            payload = jwt.decode(self.id_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}
        return payload if isinstance(payload, dict) else {}


def read_auth_file(path: Path) -> StoredTokens | None:
    """The stored sign-in, or None when there is none (missing, unreadable, or not a ChatGPT sign-in)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        tokens = raw["tokens"]
        return StoredTokens(
            id_token=str(tokens["id_token"]),
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            account_id=str(tokens["account_id"]),
            last_refresh=str(raw.get("last_refresh", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_auth_file(path: Path, tokens: StoredTokens) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(tokens.to_json(), handle, indent=2)
    os.replace(temporary, path)


class DesktopSignInError(PairsimError):
    code = ErrorCode.SIGN_IN_FAILED


@dataclass(frozen=True)
class QrShown:
    png_path: Path
    link: str = field(repr=False)  # carries the pairing code
    terminal: str = field(repr=False)
    # What the pairing page says beside the code when the desktop remembers a phone paired with this Mac.
    prompt: str | None = None


@dataclass(frozen=True)
class KnownPhone:
    """A phone the desktop has seen paired with this Mac (Settings › Connections listed it)."""

    client_id: str
    environment_id: str
    name: str
    removed: bool = False  # the desktop knows it was removed (the fix only: today's desktop never notes it)


# The daemon's JSON-RPC, as the desktop app calls it (method, params) -> result.
DaemonRpc = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Remediation:
    text: str


PairingScreen = QrShown | Remediation


@dataclass(frozen=True)
class Notice:
    """A message the desktop puts up after something the person did did not work."""

    title: str
    body: str


class DesktopCheckFailed(PairsimError):
    """A request the desktop makes for itself (its security check) got no usable answer."""


@dataclass
class _PairingRequest:
    """One press of "Pair phone" still waiting for the daemon: since when (the Mac's moved clock), and whether
    today's 2 s limit applies."""

    started: float
    limited: bool
    task: asyncio.Task[PairingScreen] | None = None


class DesktopApp:
    """The desktop app. Implements the daemon's `DesktopAuth` (credentials, auth recovery) and its account
    provider."""

    def __init__(
        self,
        home: Path,
        *,
        issuer_url: str,
        backend_origin: str,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        profile: Profile | str = Profile.FIXED,
    ) -> None:
        self.home = home
        # The desktop's own ways; what it can say about the daemon's state depends on the daemon (`controller`).
        self.behaviour: ProfileBehaviour = behaviour(profile)
        self.log_lines: list[str] = []
        self.notice: Notice | None = None
        self.pairing_screen: PairingScreen | None = None
        self._pairing: _PairingRequest | None = None
        self.auth_path = home / AUTH_FILENAME
        self.global_state_path = home / GLOBAL_STATE_FILENAME
        self.forgets_removed_phones = self.behaviour.desktop_forgets_removed_phones
        self.daemon_rpc: DaemonRpc | None = None  # set once the daemon behind it runs
        self.issuer_url = issuer_url.rstrip("/")
        self.backend_origin = backend_origin.rstrip("/")
        self.clock = clock or Clock()
        self._http = http or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, verify=shared_ssl_context()
        )
        self._owns_http = http is None
        self.timeout = timeout
        self._controller: Any = None  # RemoteControlController, attached once the daemon exists
        # The SSH remote projects the desktop has open, by id (issue 12).
        self.remote_projects: dict[str, RemoteProjectSession] = {}
        self._tokens = read_auth_file(self.auth_path)
        self._held: list[str] = []  # every token this app has held, for reports to be checked against
        self._redirect_uri = loopback_redirect_uri()
        # The callback is intercepted rather than served: nothing listens on 1455 in this simulation.
        self.browser = Browser(intercept=[self._redirect_uri], timeout=timeout)
        # The issuer's pages the browser showed in the last sign-in, in order.
        self.sign_in_pages: tuple[str, ...] = ()

    def attach(self, controller: Any) -> None:
        self._controller = controller

    @property
    def controller(self) -> Any:
        if self._controller is None:
            raise PairsimError("the desktop app has no daemon attached")
        return self._controller

    # -- SSH remote projects (issue 12) -----------------------------------------------------------------------

    async def open_remote_project(self, project: RemoteProject, link: RemoteLink) -> RemoteProjectSession:
        """Open a project on another computer through its link (the SSH tunnel): the desktop's own session with
        the app-server there, kept (and reconnected) while the desktop runs. Its daemon may carry it to phones."""
        if project.id in self.remote_projects:
            raise PairsimError(f"{project.name} on {project.host} is already open")
        session = await RemoteProjectSession(project, link).open()
        self.remote_projects[project.id] = session
        return session

    async def aclose(self) -> None:
        for session in self.remote_projects.values():
            with contextlib.suppress(Exception):
                await session.close()
        await self.browser.aclose()
        if self._owns_http:
            await self._http.aclose()

    # -- the daemon's view of the sign-in --------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self._tokens is not None

    def chatgpt_credentials(self) -> ChatGptCredentials | None:
        tokens = self._tokens
        return None if tokens is None else ChatGptCredentials(tokens.access_token, tokens.account_id)

    def account(self) -> ChatGptAccount | None:
        tokens = self._tokens
        if tokens is None:
            return None
        claims = tokens.id_claims()
        auth = claims.get(AUTH_CLAIM_NAMESPACE, {})
        return ChatGptAccount(
            email=str(claims.get("email", "")),
            plan_type=str(auth.get("chatgpt_plan_type", "unknown")) if isinstance(auth, dict) else "unknown",
            user_id=auth.get("chatgpt_user_id") if isinstance(auth, dict) else None,
        )

    def access_token_expired(self) -> bool:
        """Whether the access token has expired by this Mac's clock (its `exp`; the backend decides by its own)."""
        tokens = self._tokens
        return tokens is not None and jwt_expired(tokens.access_token, self.clock.now())

    async def refresh_if_expired(self) -> None:
        """Before the desktop uses its sign-in: when the access token has expired by the Mac's clock, refresh it,
        as codex 0.169.0 does (observed: it refreshes when the token's `exp` has passed on the machine's clock)."""
        if self.access_token_expired():
            await self.recover_auth()

    async def recover_auth(self) -> bool:
        """Get usable ChatGPT tokens again: first read auth.json, where another Codex process on this Mac may have
        put newer ones (codex 0.169.0 reloads under `auth.lock` and skips its own refresh then: "Skipping token
        refresh because auth changed after guarded reload."); only if it holds nothing newer, refresh with the
        refresh token. A refused refresh (revoked by a password change, or used up by another session) signs
        the desktop out, as the real app does when its refresh token is dead."""
        tokens = self._tokens
        if tokens is None or tokens.refresh_token is None:
            return False
        on_disk = read_auth_file(self.auth_path)
        if on_disk is not None and on_disk.refresh_token != tokens.refresh_token:
            self._tokens = on_disk
            self._held.extend(t for t in (on_disk.id_token, on_disk.access_token, on_disk.refresh_token) if t)
            if not jwt_expired(on_disk.access_token, self.clock.now()):
                return True
            tokens = on_disk
        body = {
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "scope": "openid profile email",
        }
        try:
            response = await self._http.post(f"{self.issuer_url}/oauth/token", json=body)
        except httpx.TransportError:
            return False
        if response.status_code in (400, 401):
            self._forget_tokens()
            return False
        if response.status_code != 200:
            return False
        try:
            self._store_tokens(_json_object(response, "the token refresh"), previous=tokens)
        except DesktopSignInError as exc:
            self._log(f"auth recovery failed: {exc.message}")
            return False
        return True

    # -- sign-in ---------------------------------------------------------------------------------------------

    async def sign_in(
        self,
        email: str,
        password: str,
        totp_code: str | None = None,
        *,
        skip_mfa: bool = False,
        workspace: str | None = None,
        remember_device: bool = False,
    ) -> None:
        """Sign in through the issuer's pages, entering the authenticator code when asked (and ticking "Remember
        this device" when told to); then the daemon checks its enrollment again."""
        body = await self._browser_sign_in(email, password, totp_code, skip_mfa, workspace, remember_device)
        previous = self._tokens
        self._store_tokens(body, previous=None)
        if previous is not None:
            await self._revoke(previous)
        if self._controller is not None:
            await self._controller.recheck()

    async def adopt_tokens(self, body: dict[str, Any]) -> None:
        """Install a token response as if signed in (a scenario precondition), then re-check the
        enrollment."""
        self._store_tokens(body, previous=None)
        if self._controller is not None:
            await self._controller.recheck()

    async def sign_out(self) -> None:
        self._forget_tokens()
        if self._controller is not None:
            await self._controller.recheck()

    async def switch_account(
        self, email: str, password: str, totp_code: str | None = None, *, workspace: str | None = None,
        remember_device: bool = False,
    ) -> None:
        """The account menu's "Switch account": sign out (the browser's sign-in goes too, so the issuer asks who is
        signing in) and sign in as `email`, in `workspace`; the daemon checks its enrollment once, for the new
        account."""
        self._forget_tokens()
        self.browser.end_session()
        await self.sign_in(email, password, totp_code, workspace=workspace, remember_device=remember_device)

    def _store_tokens(self, body: dict[str, Any], *, previous: StoredTokens | None) -> None:
        try:
            id_token = str(body["id_token"])
            access_token = str(body["access_token"])
        except KeyError:
            raise DesktopSignInError("the token response has no id_token or access_token") from None
        account_id = _account_id(id_token)
        refresh_token = body.get("refresh_token") or (previous.refresh_token if previous else None)
        tokens = StoredTokens(
            id_token=id_token,
            access_token=access_token,
            refresh_token=refresh_token,
            account_id=account_id,
            last_refresh=self.clock.now_datetime().isoformat().replace("+00:00", "Z"),
        )
        write_auth_file(self.auth_path, tokens)
        self._tokens = tokens
        self._held.extend(token for token in (id_token, access_token, refresh_token) if token)

    async def _revoke(self, replaced: StoredTokens) -> None:
        """A new sign-in revokes the one it replaces, as the Codex CLI does when it saves a login [V]: its refresh
        token, and with it that sign-in's session everywhere it was copied to. Best effort: the new sign-in
        stands whether or not the issuer could be told."""
        if replaced.refresh_token is None:
            return
        body = {"token": replaced.refresh_token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID}
        with contextlib.suppress(httpx.TransportError):
            await self._http.post(f"{self.issuer_url}/oauth/revoke", data=body)

    def issued_secrets(self) -> list[str]:
        """Every token this desktop app has held (it keeps none in a report; a test proves that with these)."""
        return list(self._held)

    def _forget_tokens(self) -> None:
        self._tokens = None
        with contextlib.suppress(FileNotFoundError):
            self.auth_path.unlink()

    async def _browser_sign_in(
        self,
        email: str,
        password: str,
        totp_code: str | None,
        skip_mfa: bool,
        workspace: str | None,
        remember_device: bool,
    ) -> dict[str, Any]:
        pkce = generate_pkce()
        state = generate_state()
        url = AuthorizeRequest(
            client_id=CLIENT_ID, redirect_uri=self._redirect_uri, code_challenge=pkce.challenge, state=state
        ).url(self.issuer_url)
        browser = self.browser
        shown: list[str] = []
        try:
            navigation = await browser.open(url)
            for _ in range(MAX_PAGES):
                if isinstance(navigation, Interception):
                    code = _callback_code(navigation, state)
                    return await self._exchange(code, pkce.verifier, self._redirect_uri)
                shown.append(navigation.data.get("page", ""))
                navigation = await self._answer_page(
                    browser, navigation, email, password, totp_code, skip_mfa, workspace, remember_device
                )
        except (BrowserError, NavigationFailed) as exc:
            raise DesktopSignInError(f"sign-in failed in the browser: {exc.message}") from None
        finally:
            self.sign_in_pages = tuple(shown)
        raise DesktopSignInError(f"sign-in did not finish within {MAX_PAGES} pages")

    @staticmethod
    async def _answer_page(
        browser: Browser,
        page: Page,
        email: str,
        password: str,
        totp_code: str | None,
        skip_mfa: bool,
        workspace: str | None,
        remember_device: bool,
    ) -> Page | Interception:
        name, error = page.data.get("page"), page.data.get("error")
        if error:
            raise DesktopSignInError(f"the issuer showed page {name!r} with error {error!r}")
        if name == "sign_in":
            return await browser.press(page, "Continue", {"email": email, "password": password})
        if name == "mfa":
            if skip_mfa:
                return await browser.press(page, "Skip for now")
            if totp_code is None:
                raise DesktopSignInError(
                    "the issuer asked for an MFA code and none was given", code=ErrorCode.MFA_CODE_REJECTED
                )
            fields = {"code": totp_code}
            if remember_device:
                fields[REMEMBER_DEVICE_FIELD] = "on"
            return await browser.press(page, "Verify", fields)
        if name == "workspace":
            return await browser.press(page, _workspace_label(page, workspace))
        if name == "consent":
            return await browser.press(page, "Allow")
        raise DesktopSignInError(f"unexpected sign-in page {name!r} (HTTP {page.status})")

    async def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        response = await self._http.post(
            f"{self.issuer_url}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": CLIENT_ID,
                "code_verifier": verifier,
            },
        )
        if response.status_code != 200:
            raise DesktopSignInError(f"the token endpoint answered HTTP {response.status_code}"
                                     + _not_json(response))
        return _json_object(response, "the token exchange")

    # -- settings --------------------------------------------------------------------------------------------

    async def set_allow_other_devices(self, allowed: bool) -> None:
        """Settings › Connections › Allow other devices to connect (off by default). When turning it on does not
        take, the desktop puts up a notice (`notice`)."""
        self.notice = None
        await self.refresh_if_expired()
        if not allowed:
            await self.controller.disable()
            return
        failure = await self.controller.enable()
        # The mock daemon answers with the status (a refusal is `errored`); the real one fails the request.
        error = failure if isinstance(failure, str) else None
        status = self.controller.status.wire_status
        if error is None and status in ("connecting", "connected"):
            return
        # What today's desktop logs: the request's error code, which is null when the request itself succeeded and
        # only the status says it did not work (openai/codex#46449).
        self._log(f"Failed to update remote control availability: status={status} "
                  f"errorCode={'null' if error is None else jsonrpc.INVALID_REQUEST}")
        self.notice = await self._connections_failed_notice()

    async def _connections_failed_notice(self) -> Notice:
        copy = messages.DESKTOP_CONNECTIONS_FAILED
        if not self.behaviour.desktop_names_why_connections_failed:
            return Notice(copy.title, copy.body)
        # Remote control needs a sign-in with MFA on an account that has it: check both before blaming anything else.
        try:
            account_has_mfa = await self._account_has_mfa()
        except DesktopCheckFailed as exc:
            self._log(f"security check failed: {exc.message}")
            return Notice(copy.title, messages.DESKTOP_SECURITY_CHECK_FAILED)
        if account_has_mfa and not self.signed_in_with_mfa:
            return Notice(copy.title, messages.DESKTOP_SIGNED_IN_WITHOUT_MFA)
        if not account_has_mfa:
            return Notice(copy.title, messages.DESKTOP_BLOCKED[ErrorCode.MFA_REQUIRED])
        return Notice(copy.title, self.connections_text())

    @property
    def signed_in_with_mfa(self) -> bool:
        """Whether the desktop's sign-in completed MFA (its id token's `amr`)."""
        tokens = self._tokens
        amr = tokens.id_claims().get("amr", []) if tokens is not None else []
        return isinstance(amr, list) and bool(MFA_AMR & set(amr))

    async def _account_has_mfa(self) -> bool:
        """The security check: `GET /backend-api/accounts/mfa_info` with the desktop's sign-in."""
        credentials = self.chatgpt_credentials()
        if credentials is None:
            raise DesktopCheckFailed("the desktop is not signed in")
        url = self.backend_origin + MFA_INFO_PATH
        try:
            response = await self._http.get(url, headers={"Authorization": f"Bearer {credentials.access_token}",
                                                          "chatgpt-account-id": credentials.account_id})
        except httpx.TransportError as exc:
            raise DesktopCheckFailed(f"GET {MFA_INFO_PATH} failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise DesktopCheckFailed(f"GET {MFA_INFO_PATH} answered HTTP {response.status_code}{_not_json(response)}")
        try:
            enabled = _json_object(response, f"GET {MFA_INFO_PATH}").get("mfa_enabled_v2")
        except DesktopSignInError as exc:
            raise DesktopCheckFailed(exc.message) from None
        if not isinstance(enabled, bool):
            raise DesktopCheckFailed(f"GET {MFA_INFO_PATH} answered no `mfa_enabled_v2`")
        return enabled

    def _log(self, line: str) -> None:
        self.log_lines.append(line)

    def set_keep_awake(self, keep_awake: bool) -> None:
        self.controller.store.update_settings(keep_awake=keep_awake)

    def settings(self) -> dict[str, bool]:
        stored = self.controller.store.settings()
        return {
            messages.DESKTOP_ALLOW_CONNECTIONS: stored.allow_other_devices,
            messages.DESKTOP_KEEP_AWAKE: stored.keep_awake,
        }

    def connections_text(self) -> str:
        """The status line under Settings › Connections."""
        controller = self.controller
        reason = controller.status.blocked_reason
        if reason is not None and controller.behaviour.desktop_shows_remediation:
            return messages.DESKTOP_BLOCKED[reason]
        # The real daemon does not say that its proxy refused the relay, so only the mock's controller can know.
        proxy_refused = getattr(controller, "proxy_refusal", None) is not None
        if proxy_refused and controller.status.wire_status == "errored" and controller.behaviour.desktop_shows_remediation:
            return messages.DESKTOP_PROXY_REFUSED
        return messages.DESKTOP_STATUS[controller.status.wire_status]

    # -- the phones that control this Mac ----------------------------------------------------------------------

    async def phones(self) -> list[str]:
        """Settings › Connections › the phones that control this Mac, as the daemon lists them; the desktop
        remembers each in its global state."""
        known = {phone.client_id: phone for phone in self.known_phones()}
        environment_id, items = await self._listed_phones()
        for item in items:
            client_id = str(item["clientId"])
            if client_id not in known:
                known[client_id] = KnownPhone(client_id, environment_id, str(item.get("displayName") or ""))
        self._keep_known_phones(list(known.values()))
        return [str(item.get("displayName") or "") for item in items]

    async def remove_phone(self, name: str) -> str:
        """Settings › Connections › a phone › Remove: the daemon revokes it at the backend; returns its client id.
        The fix also notes that this phone is gone; today's desktop keeps its entry as it was (openai/codex#23112)."""
        await self.phones()
        environment_id, items = await self._listed_phones()
        client_id = next((str(i["clientId"]) for i in items if i.get("displayName") == name), None)
        if client_id is None:
            raise PairsimError(f"no phone called {name!r} controls this Mac")
        await self._rpc("remoteControl/client/revoke", {"environmentId": environment_id, "clientId": client_id})
        if self.forgets_removed_phones:
            self._keep_known_phones([replace(p, removed=True) if p.client_id == client_id else p
                                     for p in self.known_phones()])
        return client_id

    def known_phones(self) -> list[KnownPhone]:
        try:
            raw = json.loads(self.global_state_path.read_text(encoding="utf-8"))
            return [KnownPhone(**entry) for entry in raw.get(KNOWN_PHONES_KEY, [])]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError, AttributeError):
            # A global state this desktop did not write: it starts over rather than failing to show Settings.
            return []

    def _keep_known_phones(self, phones: list[KnownPhone]) -> None:
        try:
            raw = json.loads(self.global_state_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            raw = {}
        raw = raw if isinstance(raw, dict) else {}
        raw[KNOWN_PHONES_KEY] = [asdict(phone) for phone in phones]
        self.global_state_path.parent.mkdir(parents=True, exist_ok=True)
        self.global_state_path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")

    async def _listed_phones(self) -> tuple[str, list[dict[str, Any]]]:
        environment_id = self.controller.environment_id
        if environment_id is None:
            raise PairsimError("this Mac has no remote-control environment yet, so no phone controls it")
        listed = await self._rpc("remoteControl/client/list", {"environmentId": environment_id})
        data = listed.get("data") if isinstance(listed, dict) else None
        return environment_id, [item for item in data or [] if isinstance(item, dict)]

    async def _rpc(self, method: str, params: dict[str, Any]) -> Any:
        if self.daemon_rpc is None:
            raise PairsimError("the desktop app has no daemon to ask")
        return await self.daemon_rpc(method, params)

    async def _pairing_prompt(self, environment_id: str) -> str | None:
        """What the pairing page says beside the code when the desktop remembers phones paired with this Mac: it
        waits for one of them to approve. It asks the backend about each first; one that was removed cannot
        approve, which today's desktop only logs (openai/codex#23247) and the fix says, with what to do."""
        remembered = [p for p in self.known_phones() if p.environment_id == environment_id]
        if not remembered:
            return None
        for phone in remembered:
            removed = phone.removed or not await self._phone_still_paired(phone)
            if removed and self.forgets_removed_phones:
                self._keep_known_phones([p for p in self.known_phones() if p.client_id != phone.client_id])
                return messages.DESKTOP_REMEMBERED_PHONE_REMOVED.format(device=phone.name)
        return messages.DESKTOP_APPROVE_ON_MOBILE

    async def _phone_still_paired(self, phone: KnownPhone) -> bool:
        """Ask the backend about a remembered phone with this Mac's ChatGPT sign-in; a refusal goes to the log."""
        tokens = self._tokens
        if tokens is None:
            return True  # signed out: nothing to ask with, and nothing to conclude
        url = (f"{self.issuer_url}/backend-api/wham/remote/control/environments/{phone.environment_id}/clients/"
               f"{phone.client_id}")
        headers = {"Authorization": f"Bearer {tokens.access_token}", "chatgpt-account-id": tokens.account_id}
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.TransportError as exc:
            self.log_lines.append(f"remote-control phone check failed: {type(exc).__name__}")
            return True
        if response.status_code == 200:
            return True
        detail = _detail(response)
        self.log_lines.append(f"remote-control phone check failed: HTTP {response.status_code}: {detail}")
        return response.status_code not in (403, 404)

    async def show_pairing_qr(self, path: Path) -> PairingScreen:
        """ "Pair phone": a QR code when pairing can work, otherwise what the desktop says instead. Returns once the
        screen is final; `open_pairing` returns at once and leaves the screen to change."""
        task = await self.open_pairing(path)
        return await task

    async def open_pairing(self, path: Path) -> asyncio.Task[PairingScreen]:
        """Press "Pair phone": the screen says what it is waiting for (`pairing_screen`) until the task ends. A sign-in
        expired by the Mac's clock is refreshed first, as for every use of it."""
        self.cancel_pairing()
        await self.refresh_if_expired()
        controller = self.controller
        status = controller.status.value
        connecting = status == "connecting" and controller.enabled
        if connecting and self.behaviour.desktop_waits_for_enrollment_to_pair:
            self.pairing_screen = Remediation(messages.DESKTOP_PAIRING_WAITS_FOR_ENROLLMENT)
            request = _PairingRequest(moved(self.clock), limited=False)
            runner = self._pair_once_enrolled(path)
        elif status == "connected" or connecting:
            # Today's desktop asks the daemon even while it is still connecting, and waits at most 2 s.
            self.pairing_screen = Remediation(messages.DESKTOP_PAIRING_STARTING)
            request = _PairingRequest(moved(self.clock), limited=not self.behaviour.desktop_waits_for_enrollment_to_pair)
            runner = self._pair(path, request)
        else:
            self.pairing_screen = Remediation(self.connections_text())
            request = _PairingRequest(moved(self.clock), limited=False)
            runner = _done(self.pairing_screen)
        self._pairing = request
        request.task = asyncio.ensure_future(self._finish_pairing(request, runner))
        return request.task

    def pairing_now(self) -> PairingScreen:
        """What "Pair phone" shows at this moment: a request today's desktop still waits for shows the timeout once
        the Mac's clock has passed its 2 s, whether or not the task has run since."""
        request = self._pairing
        if (request is not None and request.limited and request.task is not None and not request.task.done()
                and moved(self.clock) - request.started >= PAIRING_START_TIMEOUT_S):
            return self._pairing_timed_out()
        assert self.pairing_screen is not None, "Pair phone was never pressed"
        return self.pairing_screen

    def pairing_pending(self) -> bool:
        request = self._pairing
        return request is not None and request.task is not None and not request.task.done()

    async def wait_pairing(self) -> PairingScreen:
        request = self._pairing
        if request is not None and request.task is not None:
            await asyncio.shield(request.task)
        return self.pairing_now()

    def cancel_pairing(self) -> None:
        request, self._pairing = self._pairing, None
        if request is not None and request.task is not None and not request.task.done():
            request.task.cancel()

    async def _finish_pairing(self, request: _PairingRequest, runner: Any) -> PairingScreen:
        try:
            screen: PairingScreen = await runner
        except asyncio.CancelledError:
            raise
        if self._pairing is request:
            self.pairing_screen = screen
        return screen

    async def _pair(self, path: Path, request: _PairingRequest) -> PairingScreen:
        started = asyncio.ensure_future(self.controller.start_pairing(manual_code=False))
        waits: set[asyncio.Future[Any]] = {started}
        deadline: asyncio.Future[None] | None = None
        if request.limited:
            deadline = asyncio.ensure_future(elapse(self.clock, PAIRING_START_TIMEOUT_S))
            waits.add(deadline)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if deadline is not None:
                deadline.cancel()
        if not started.done():
            started.cancel()
            return self._pairing_timed_out()
        try:
            result = started.result()
        except jsonrpc.RpcMethodError as exc:
            return await self._pairing_refused(path, exc)
        return await self._render_pairing(path, result)

    def _pairing_timed_out(self) -> Remediation:
        if not any(line.startswith("remoteControl/pairing/start timed out") for line in self.log_lines[-1:]):
            status = self.controller.status.wire_status
            environment = self.controller.environment_id
            self._log(f"remoteControl/pairing/start timed out after {PAIRING_START_TIMEOUT_S:g} s; status: {status}, "
                      f"environmentId: {'null' if environment is None else environment}")
        return Remediation(messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_START_TIMED_OUT))

    async def _pairing_refused(self, path: Path, exc: jsonrpc.RpcMethodError) -> PairingScreen:
        self._log(f"remoteControl/pairing/start failed ({exc.rpc_error.code}): {exc.message}")
        if exc.message in TOKEN_UNUSABLE and self.behaviour.desktop_names_clocks_that_disagree:
            # The daemon renews its token before it says so, so a token still unusable is one it judged expired by
            # this Mac's clock: the service's clock and this Mac's disagree by more than a token's lifetime. The
            # service's `Date` says whether they do, and by how much.
            ahead = await self.ahead_of_service()
            if ahead is not None and ahead > CLOCKS_AGREE_WITHIN_S:
                return Remediation(messages.DESKTOP_CLOCK_AHEAD.format(how_far=how_far(ahead)))
            if exc.message == PAIRING_TOKEN_EXPIRED:
                return Remediation(messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=exc.message.rstrip(".")))
        if exc.message == PAIRING_UNAVAILABLE and self.behaviour.desktop_waits_for_enrollment_to_pair:
            # The daemon dropped a server token the backend refused; it renews it on the next request. Ask once
            # more when the Mac is connected, and say so if that is refused too.
            if await self._until_settled() == "connected":
                try:
                    return await self._render_pairing(path, await self.controller.start_pairing(manual_code=False))
                except jsonrpc.RpcMethodError as again:
                    self._log(f"remoteControl/pairing/start failed again ({again.code}): {again.message}")
            return Remediation(messages.DESKTOP_PAIRING_REFUSED)
        if self.behaviour.desktop_waits_for_enrollment_to_pair:
            return Remediation(self.connections_text())
        return Remediation(messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=exc.message.rstrip(".")))

    async def ahead_of_service(self) -> float | None:
        """How many seconds this Mac's clock is ahead of the ChatGPT service's (behind when negative), from the
        `Date` of the service's answer compared with this Mac's clock when it came, as clients tell a clock that is
        off; None when no dated answer came."""
        try:
            response = await self._http.get(f"{self.issuer_url}{SERVICE_TIME_PATH}")
        except httpx.TransportError as exc:
            self._log(f"checking the service's time failed: {type(exc).__name__}")
            return None
        received = self.clock.now()
        try:
            served = parsedate_to_datetime(response.headers.get("date", "")).timestamp()
        except (TypeError, ValueError):
            self._log("checking the service's time failed: its answer had no usable Date")
            return None
        ahead = received - served
        self._log(f"this Mac's clock is {ahead:+.0f} s from the service's (its Date: {response.headers['date']})")
        return ahead

    async def _pair_once_enrolled(self, path: Path) -> PairingScreen:
        if await self._until_settled() != "connected":
            return Remediation(self.connections_text())
        request = _PairingRequest(moved(self.clock), limited=False)
        return await self._pair(path, request)

    async def _until_settled(self) -> str:
        """The daemon's status once it is no longer connecting (an enrollment may take as long as the backend)."""
        controller = self.controller
        while controller.status.value == "connecting":
            await controller.wait_settled(timeout=None)
        return str(controller.status.value)

    async def _render_pairing(self, path: Path, started: dict[str, Any]) -> QrShown:
        link = PairingLink(
            origin=self.backend_origin,
            pairing_code=started["pairingCode"],
            environment_id=started["environmentId"],
            server_name=self.controller.app_server.server_name,
            expires_at=int(started["expiresAt"]),
        )
        url = link.to_url()
        path.parent.mkdir(parents=True, exist_ok=True)
        render_png(url, path)
        return QrShown(path, url, render_terminal(url), prompt=await self._pairing_prompt(started["environmentId"]))


def how_far(seconds: float) -> str:
    """A clock's error in words, to the nearest unit a person would set it by: "2 hours", "40 minutes", "3 days"."""
    minutes = round(abs(seconds) / 60)
    for size, unit in ((24 * 60, "day"), (60, "hour")):
        if minutes >= size * 1.5 or minutes == size:
            count = round(minutes / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _detail(response: httpx.Response) -> str:
    """The backend's `detail`, or the start of whatever else it sent."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else response.text[:200]


async def _done(screen: PairingScreen) -> PairingScreen:
    return screen


def _not_json(response: httpx.Response) -> str:
    """`, with text/html, not JSON` when a response is not JSON (a proxy's challenge page), else nothing."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    return "" if content_type == "application/json" else f", with {content_type or 'no content type'}, not JSON"


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise DesktopSignInError(f"{what} answered HTTP {response.status_code}{_not_json(response)}") from None
    if not isinstance(body, dict):
        raise DesktopSignInError(f"{what} answered something other than a JSON object")
    return body


def _callback_code(callback: Interception, state: str) -> str:
    params = callback.params
    if params.get("state") != state:
        raise DesktopSignInError(
            "the callback carried another state than this sign-in sent", code=ErrorCode.PROTOCOL_VIOLATION
        )
    if params.get("error"):
        raise DesktopSignInError(f"the issuer refused the sign-in: {params['error']}")
    code = params.get("code")
    if not code:
        raise DesktopSignInError("the callback carried no authorization code")
    return code


def _workspace_label(page: Page, workspace: str | None) -> str:
    wanted = (workspace or PERSONAL).casefold()
    for form in page.forms:
        for button in form.buttons:
            if button.label.casefold() == wanted or button.value == workspace:
                return button.label
    raise DesktopSignInError(
        f"the workspace {workspace or PERSONAL!r} is not offered", code=ErrorCode.WORKSPACE_MISMATCH
    )


def _account_id(id_token: str) -> str:
    try:
        payload = jwt.decode(id_token, options={"verify_signature": False})
        return OpenAIAuthClaims.from_dict(payload.get(AUTH_CLAIM_NAMESPACE)).chatgpt_account_id
    except (jwt.PyJWTError, ClaimsError, AttributeError):
        raise DesktopSignInError("the id token carries no ChatGPT account id") from None
