"""The accounts API the Codex CLI signs in through without a local browser: device code (RFC 8628 as the real
service does it) and the metadata check behind `login --with-access-token`. A route group of the backend.

Device code [V: codex-rs/login/src/device_code_auth.rs; observed 0.169.0 with `--experimental_issuer`]:
    POST /api/accounts/deviceauth/usercode {"client_id"} → {"device_auth_id", "user_code", "interval": "<digits>"}
    POST /api/accounts/deviceauth/token {"device_auth_id", "user_code"} → 403/404 while pending; 200
        {"authorization_code", "code_challenge", "code_verifier"} once approved; the CLI then redeems the code at
        /oauth/token with redirect_uri `{issuer}/deviceauth/callback`.
The person's side is HTML at `{issuer}/codex/device`: sign in (the issuer's own pages, MFA included), see the
account's device-code setting, enter the one-time code, then authorize Codex CLI on the issuer's consent page,
which redirects to `/deviceauth/callback`. Codes expire after 15 minutes on the backend's clock.

Decisions of pairsim [I]: denial answers 400 `access_denied` (the RFC 8628 name; the real client fails on any status but
403/404) and an expired code answers 404 `expired_token`, so the CLI's own 15-minute timeout is what the user reads; polling faster than the interval answers 403 `slow_down`, which the
real client, like pairsim's, treats as pending. The device page signs in as its own OAuth client, and the issuer's
client table is taught that redirects back to the issuer's own device paths are registered, as on the real
service.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from html import escape
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from simulators.backend import pages
from simulators.backend.accounts import AccountStore
from simulators.backend.issuer import (
    AccessTokenRejected,
    BodyTooLarge,
    Issuer,
    TokenRejection,
    bearer_token,
    read_body,
)
from simulators.clock import Clock
from simulators.protocol.errors import ProtocolError
from simulators.protocol.oauth import (
    CLIENT_ID,
    CODEX_SCOPES,
    AuthorizationCodeGrant,
    AuthorizeRequest,
    OAuthClient,
    PkceCodes,
    RandomBytes,
    RedirectPolicy,
    TokenRequestError,
    b64url_encode,
    generate_pkce,
    parse_form_body,
    system_random_bytes,
)

USERCODE_PATH = "/api/accounts/deviceauth/usercode"
TOKEN_PATH = "/api/accounts/deviceauth/token"
DEVICE_PAGE_PATH = "/codex/device"
DEVICE_PAGE_SIGNED_IN_PATH = "/codex/device/signed-in"
DEVICE_CALLBACK_PATH = "/deviceauth/callback"
ACCESS_TOKEN_METADATA_PATH = "/api/accounts/codex/access-token"  # pairsim-defined
PAGE_CLIENT_ID = "app_pairsim_codex_device_page"
PAGE_COOKIE = "pairsim_device_page"

DEVICE_CODE_TTL_S = 15 * 60
DEFAULT_INTERVAL_S = 5
# RFC 8628 §6.1: consonants only, so no code spells a word and no letter looks like a digit.
USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_DIGITS = "0123456789"
MAX_BODY = 16 * 1024

# Copy on the device page. The first is the real service's text [T]; the rest are pairsim's.
DEVICE_CODE_DISABLED = (
    "Enable device code authorization for Codex in ChatGPT Security Settings, then run "
    "`codex login --device-auth` again."
)
DEVICE_PAGE_TITLE = "Sign in to Codex with a device code"
DEVICE_PAGE_PROMPT = "Enter the one-time code shown in your terminal."
DEVICE_CODE_UNKNOWN = "That code isn't valid or has expired. Check the code in your terminal and try again."
DEVICE_APPROVED = "Codex is signed in. You can close this window and return to your terminal."
DEVICE_DENIED = "You denied this sign-in. Codex on your other device was not signed in."
DEVICE_PAGE_SIGN_IN_FAILED = "Sign-in didn't finish. Open the device page again to retry."


class DeviceAuthStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REDEEMED = "redeemed"


class DevicePage(StrEnum):
    """`data-page` markers of the device pages, beside the issuer's own."""

    ENTER_CODE = "device_code"
    APPROVED = "device_approved"
    DENIED = "device_denied"
    DISABLED = "device_code_disabled"
    ERROR = "device_error"


@dataclass(frozen=True)
class DeviceAuthSettings:
    enabled: bool = True
    interval_s: int = DEFAULT_INTERVAL_S
    ttl_s: int = DEVICE_CODE_TTL_S


@dataclass
class DeviceAuthorization:
    device_auth_id: str
    user_code: str = field(repr=False)
    client_id: str
    created_at: float
    expires_at: float
    pkce: PkceCodes = field(repr=False)
    browser_state: str = field(repr=False)
    status: DeviceAuthStatus = DeviceAuthStatus.PENDING
    authorization_code: str | None = field(default=None, repr=False)
    last_poll: float | None = None
    polls: int = 0
    poll_times: list[float] = field(default_factory=list)  # each poll's instant on the backend's clock
    approver_user_id: str | None = None


@dataclass(frozen=True)
class PollAnswer:
    status: int
    body: dict[str, Any] = field(repr=False)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def normalise_user_code(text: str) -> str:
    """What a person typed, as the code it names: case, spaces and a missing dash do not matter."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else compact


@dataclass
class _PageSession:
    user_id: str
    sid: str
    csrf: str = field(repr=False)


@dataclass(frozen=True)
class _PageLogin:
    pkce: PkceCodes = field(repr=False)
    redirect_uri: str


class DeviceAuthRegistry:
    """The device authorizations and device-page sessions of one backend. Thread-safe; plain values in and out."""

    def __init__(
        self, clock: Clock, accounts: AccountStore, issuer: Issuer, *, random_bytes: RandomBytes = system_random_bytes
    ) -> None:
        self.clock = clock
        self.accounts = accounts
        self.issuer = issuer
        self._random_bytes = random_bytes
        self.settings = DeviceAuthSettings()
        self._lock = threading.Condition()  # also tells waiters that a poll arrived
        self._by_id: dict[str, DeviceAuthorization] = {}
        self._page_logins: dict[str, _PageLogin] = {}
        self._page_sessions: dict[str, _PageSession] = {}

    def configure(self, **changes: Any) -> DeviceAuthSettings:
        with self._lock:
            self.settings = DeviceAuthSettings(**{**self.settings.__dict__, **changes})
            return self.settings

    def _token(self, n: int = 24) -> str:
        return b64url_encode(self._random_bytes(n))

    def _user_code(self) -> str:
        raw = self._random_bytes(8)
        letters = "".join(USER_CODE_LETTERS[b % len(USER_CODE_LETTERS)] for b in raw[:4])
        digits = "".join(USER_CODE_DIGITS[b % 10] for b in raw[4:])
        return f"{letters}-{digits}"

    def start(self, client_id: str) -> DeviceAuthorization:
        now = self.clock.now()
        record = DeviceAuthorization(
            device_auth_id="deviceauth_" + self._token(16),
            user_code=self._user_code(),
            client_id=client_id,
            created_at=now,
            expires_at=now + self.settings.ttl_s,
            pkce=generate_pkce(self._random_bytes),
            browser_state=self._token(32),
        )
        with self._lock:
            self._by_id[record.device_auth_id] = record
        return record

    def get(self, device_auth_id: str) -> DeviceAuthorization | None:
        with self._lock:
            return self._by_id.get(device_auth_id)

    def all(self) -> list[DeviceAuthorization]:
        with self._lock:
            return list(self._by_id.values())

    def wait_for_polls(self, count: int, timeout: float) -> bool:
        """Block until some device authorization has been polled `count` times; False after `timeout` seconds."""
        with self._lock:
            return self._lock.wait_for(
                lambda: max((record.polls for record in self._by_id.values()), default=0) >= count, timeout
            )

    def poll(self, device_auth_id: str, user_code: str) -> PollAnswer:
        now = self.clock.now()
        with self._lock:
            record = self._by_id.get(device_auth_id)
            if record is None or not hmac.compare_digest(record.user_code.encode(), user_code.encode()):
                return PollAnswer(404, _error("deviceauth_not_found", "Unknown device authorization."))
            previous, record.last_poll = record.last_poll, now
            record.polls += 1
            record.poll_times.append(now)
            self._lock.notify_all()
            if record.status is DeviceAuthStatus.REDEEMED:
                return PollAnswer(400, _error("invalid_grant", "This device code was already used."))
            if record.status is DeviceAuthStatus.DENIED:
                return PollAnswer(400, _error("access_denied", "The sign-in was denied."))
            if now >= record.expires_at:
                # Answered like an unknown code (404, "not yet" to the CLI): the CLI's own 15-minute timer then
                # tells the user what happened, instead of a bare HTTP status.
                return PollAnswer(404, _error("expired_token", "This device code has expired."))
            if record.status is DeviceAuthStatus.APPROVED:
                record.status = DeviceAuthStatus.REDEEMED
                assert record.authorization_code is not None
                return PollAnswer(
                    200,
                    {
                        "authorization_code": record.authorization_code,
                        "code_challenge": record.pkce.challenge,
                        "code_verifier": record.pkce.verifier,
                    },
                )
            interval = self.settings.interval_s
            # One second of slack: a client that sleeps `interval` and then pays for a request is on time.
            if previous is not None and interval > 1 and now - previous < interval - 1:
                return PollAnswer(403, _error("slow_down", "Polling too fast; wait the interval between polls."))
            return PollAnswer(
                403, _error("deviceauth_authorization_pending", "The user has not authorized this device yet.")
            )

    def pending_by_user_code(self, typed: str) -> DeviceAuthorization | None:
        wanted = normalise_user_code(typed).encode()
        now = self.clock.now()
        with self._lock:
            for record in self._by_id.values():
                if (
                    record.status is DeviceAuthStatus.PENDING
                    and now < record.expires_at
                    and hmac.compare_digest(record.user_code.encode(), wanted)
                ):
                    return record
        return None

    def by_browser_state(self, state: str) -> DeviceAuthorization | None:
        with self._lock:
            for record in self._by_id.values():
                if hmac.compare_digest(record.browser_state.encode(), state.encode("utf-8", "replace")):
                    return record
        return None

    def settle(self, record: DeviceAuthorization, *, code: str | None) -> None:
        with self._lock:
            if record.status is not DeviceAuthStatus.PENDING:
                return
            if code is None:
                record.status = DeviceAuthStatus.DENIED
            else:
                record.status = DeviceAuthStatus.APPROVED
                record.authorization_code = code

    # -- the device page's own sign-in ----------------------------------------------------------------------

    def begin_page_login(self, redirect_uri: str) -> tuple[str, PkceCodes]:
        state = self._token(32)
        pkce = generate_pkce(self._random_bytes)
        with self._lock:
            self._page_logins[state] = _PageLogin(pkce, redirect_uri)
        return state, pkce

    def take_page_login(self, state: str) -> _PageLogin | None:
        with self._lock:
            return self._page_logins.pop(state, None)

    def open_page_session(self, user_id: str, sid: str) -> tuple[str, _PageSession]:
        cookie = self._token(24)
        session = _PageSession(user_id=user_id, sid=sid, csrf=self._token(24))
        with self._lock:
            self._page_sessions[cookie] = session
        return cookie, session

    def page_session(self, cookie: str | None) -> _PageSession | None:
        if not cookie:
            return None
        with self._lock:
            session = self._page_sessions.get(cookie)
        if session is None or self.accounts.active_session(session.sid) is None:
            return None
        return session


# ------------------------------------------------------------------------------------------------------------
# The issuer's client table: redirects back to the issuer's own device paths are registered


@dataclass(frozen=True)
class _OwnPathsClient(OAuthClient):
    issuer_url: Callable[[], str] = field(default=lambda: "", compare=False)
    own_paths: tuple[str, ...] = ()

    def accepts_redirect(self, redirect_uri: str) -> bool:
        if super().accepts_redirect(redirect_uri):
            return True
        try:
            own = urlsplit(self.issuer_url())
            parts = urlsplit(redirect_uri)
        except ValueError:
            return False
        return (
            (parts.scheme, parts.netloc) == (own.scheme, own.netloc)
            and parts.path in self.own_paths
            and not parts.query
            and not parts.fragment
        )


def _teach_clients(issuer: Issuer) -> None:

    def url() -> str:
        return issuer.issuer_url

    cli = issuer.clients.get(CLIENT_ID)
    if cli is not None and not isinstance(cli, _OwnPathsClient):
        issuer.clients[CLIENT_ID] = _OwnPathsClient(
            cli.client_id, cli.name, cli.redirect_policy, issuer_url=url, own_paths=(DEVICE_CALLBACK_PATH,)
        )
    issuer.clients.setdefault(
        PAGE_CLIENT_ID,
        _OwnPathsClient(
            PAGE_CLIENT_ID,
            "Codex device sign-in",
            RedirectPolicy.LOOPBACK,
            issuer_url=url,
            own_paths=(DEVICE_PAGE_SIGNED_IN_PATH,),
        ),
    )


# ------------------------------------------------------------------------------------------------------------
# HTML


def _document(title: str, page: DevicePage, body: str, *, error: str = "", error_code: str = "") -> str:
    data_error = f' data-error="{escape(error_code)}"' if error_code else ""
    error_html = f'<p class="error" id="error" role="alert">{escape(error)}</p>\n' if error else ""
    return (
        "<!doctype html>\n<html lang=\"en\">\n"
        f"<head><meta charset=\"utf-8\"><title>{escape(title)}</title></head>\n"
        f"<body data-page=\"{page.value}\"{data_error}>\n<main>\n<h1>{escape(title)}</h1>\n{error_html}{body}"
        "</main>\n</body>\n</html>\n"
    )


def enter_code_page(csrf: str, *, error: str = "") -> str:
    body = (
        f"<p>{escape(DEVICE_PAGE_PROMPT)}</p>\n"
        f'<form id="device-code" method="post" action="{DEVICE_PAGE_PATH}">\n'
        f'<input type="hidden" name="{pages.CSRF_FIELD}" value="{escape(csrf)}">\n'
        '<label for="user_code">One-time code</label>\n'
        '<input id="user_code" type="text" name="user_code" autocomplete="one-time-code">\n'
        '<button type="submit" name="action" value="continue">Continue</button>\n'
        "</form>\n"
    )
    return _document(DEVICE_PAGE_TITLE, DevicePage.ENTER_CODE, body, error=error,
                     error_code="unknown_code" if error else "")


def message_page(page: DevicePage, message: str, *, error_code: str = "") -> str:
    return _document(DEVICE_PAGE_TITLE, page, f'<p id="message">{escape(message)}</p>\n', error_code=error_code)


# ------------------------------------------------------------------------------------------------------------
# Routes


def _html(status: int, html: str) -> web.Response:
    return web.Response(status=status, text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        raw = await read_body(request, MAX_BODY)
        decoded = json.loads(raw.decode("utf-8"))
    except (BodyTooLarge, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError("body is not a JSON object") from exc
    if not isinstance(decoded, dict):
        raise ProtocolError("body is not a JSON object")
    return decoded


def _authorize_url(issuer_url: str, *, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    return AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        state=state,
        scopes=CODEX_SCOPES,
        originator=None,
        codex_cli_simplified_flow=False,
    ).url(issuer_url)


_REJECTION_CODES: dict[TokenRejection, str] = {
    TokenRejection.EXPIRED: "token_expired",
    TokenRejection.REVOKED: "token_revoked",
}


def add_routes(app: web.Application, devices: DeviceAuthRegistry) -> None:
    """Device-code endpoints, the `/codex/device` pages and the access-token metadata check."""
    issuer = devices.issuer
    accounts = devices.accounts
    _teach_clients(issuer)

    async def usercode(request: web.Request) -> web.Response:
        if not devices.settings.enabled:
            return web.json_response(_error("not_found", "Not found"), status=404)
        try:
            body = await _json_object(request)
        except ProtocolError as exc:
            return web.json_response(_error("invalid_request", exc.message), status=400)
        client_id = body.get("client_id")
        if not isinstance(client_id, str) or client_id not in issuer.clients:
            return web.json_response(_error("invalid_client", "Unknown client_id."), status=400)
        record = devices.start(client_id)
        # `interval` is a string of digits on the wire [V: the CLI parses it as a string].
        return web.json_response(
            {
                "device_auth_id": record.device_auth_id,
                "user_code": record.user_code,
                "interval": str(devices.settings.interval_s),
            }
        )

    async def token(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
        except ProtocolError as exc:
            return web.json_response(_error("invalid_request", exc.message), status=400)
        device_auth_id, user_code = body.get("device_auth_id"), body.get("user_code")
        if not isinstance(device_auth_id, str) or not isinstance(user_code, str):
            return web.json_response(_error("invalid_request", "device_auth_id and user_code are required."),
                                     status=400)
        answer = devices.poll(device_auth_id, user_code)
        return web.json_response(answer.body, status=answer.status, headers={"Cache-Control": "no-store"})

    def page_for_session(session: _PageSession, *, error: str = "") -> web.Response:
        account = accounts.get(session.user_id)
        if not account.device_code_enabled:
            return _html(403, message_page(DevicePage.DISABLED, DEVICE_CODE_DISABLED,
                                           error_code="device_code_disabled"))
        return _html(400 if error else 200, enter_code_page(session.csrf, error=error))

    async def device_page(request: web.Request) -> web.Response:
        session = devices.page_session(request.cookies.get(PAGE_COOKIE))
        if session is not None:
            return page_for_session(session)
        redirect_uri = issuer.issuer_url + DEVICE_PAGE_SIGNED_IN_PATH
        login_state, pkce = devices.begin_page_login(redirect_uri)
        return _redirect(_authorize_url(issuer.issuer_url, client_id=PAGE_CLIENT_ID, redirect_uri=redirect_uri,
                                        challenge=pkce.challenge, state=login_state))

    async def device_page_signed_in(request: web.Request) -> web.Response:
        query = request.rel_url.query
        login = devices.take_page_login(query.get("state", ""))
        code = query.get("code")
        if login is None or not code:
            return _html(400, message_page(DevicePage.ERROR, DEVICE_PAGE_SIGN_IN_FAILED, error_code="sign_in"))
        try:
            tokens = issuer.exchange(
                AuthorizationCodeGrant(code=code, redirect_uri=login.redirect_uri, client_id=PAGE_CLIENT_ID,
                                       code_verifier=login.pkce.verifier)
            )
            claims = issuer.verify_id_token(tokens["id_token"], PAGE_CLIENT_ID)
        except (TokenRequestError, AccessTokenRejected):
            return _html(400, message_page(DevicePage.ERROR, DEVICE_PAGE_SIGN_IN_FAILED, error_code="sign_in"))
        cookie, _ = devices.open_page_session(claims.sub, claims.sid)
        response = _redirect(DEVICE_PAGE_PATH)
        response.set_cookie(PAGE_COOKIE, cookie, httponly=True, samesite="Lax", path="/")
        return response

    async def device_page_submit(request: web.Request) -> web.Response:
        session = devices.page_session(request.cookies.get(PAGE_COOKIE))
        if session is None:
            return _redirect(DEVICE_PAGE_PATH)
        try:
            form = parse_form_body(await read_body(request, MAX_BODY))
        except (BodyTooLarge, TokenRequestError):
            return _html(400, message_page(DevicePage.ERROR, DEVICE_PAGE_SIGN_IN_FAILED, error_code="bad_request"))
        if not hmac.compare_digest(form.get(pages.CSRF_FIELD, "").encode(), session.csrf.encode()):
            return _html(403, message_page(DevicePage.ERROR, DEVICE_PAGE_SIGN_IN_FAILED, error_code="csrf_failed"))
        if not accounts.get(session.user_id).device_code_enabled:
            return page_for_session(session)
        record = devices.pending_by_user_code(form.get("user_code", ""))
        if record is None:
            return page_for_session(session, error=DEVICE_CODE_UNKNOWN)
        record.approver_user_id = session.user_id
        return _redirect(_authorize_url(
            issuer.issuer_url, client_id=record.client_id, redirect_uri=issuer.issuer_url + DEVICE_CALLBACK_PATH,
            challenge=record.pkce.challenge, state=record.browser_state,
        ))

    async def device_callback(request: web.Request) -> web.Response:
        query = request.rel_url.query
        record = devices.by_browser_state(query.get("state", ""))
        if record is None:
            return _html(400, message_page(DevicePage.ERROR, DEVICE_CODE_UNKNOWN, error_code="unknown_code"))
        code = query.get("code")
        if query.get("error") or not code:
            devices.settle(record, code=None)
            return _html(200, message_page(DevicePage.DENIED, DEVICE_DENIED))
        devices.settle(record, code=code)
        return _html(200, message_page(DevicePage.APPROVED, DEVICE_APPROVED))

    async def access_token_metadata(request: web.Request) -> web.Response:
        token = bearer_token(request)
        if token is None:
            return web.json_response(_error("invalid_token", "An access token is required."), status=401)
        try:
            claims = issuer.verify_access_token(token)
        except AccessTokenRejected as exc:
            code = _REJECTION_CODES.get(exc.reason, "invalid_token")
            return web.json_response(_error(code, f"The access token was rejected ({exc.reason.value})."),
                                     status=401)
        auth = claims.auth
        return web.json_response(
            {
                "chatgpt_account_id": auth.chatgpt_account_id if auth else None,
                "chatgpt_plan_type": auth.chatgpt_plan_type if auth else None,
                "chatgpt_user_id": claims.sub,
                "email": claims.email,
                "expires_at": claims.exp,
            },
            headers={"Cache-Control": "no-store"},
        )

    app.router.add_resource(USERCODE_PATH, name="deviceauth.usercode").add_route("POST", usercode)
    app.router.add_resource(TOKEN_PATH, name="deviceauth.token").add_route("POST", token)
    page = app.router.add_resource(DEVICE_PAGE_PATH, name="deviceauth.page")
    page.add_route("GET", device_page)
    page.add_route("POST", device_page_submit)
    app.router.add_resource(DEVICE_PAGE_SIGNED_IN_PATH, name="deviceauth.page_signed_in").add_route(
        "GET", device_page_signed_in
    )
    app.router.add_resource(DEVICE_CALLBACK_PATH, name="deviceauth.callback").add_route("GET", device_callback)
    app.router.add_resource(ACCESS_TOKEN_METADATA_PATH, name="accounts.access_token").add_route(
        "GET", access_token_metadata
    )
