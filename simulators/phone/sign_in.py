"""The phone's sign-in: an in-app browser session through the issuer's HTML pages, then the token exchange.

OAuth 2.0 authorization code flow with PKCE (S256) and `state`, as a native app does it (RFC 8252): the redirect URI
uses the app's private scheme, so the browser (`simulators.browser`) stops at it instead of loading it; the app
reads the code from the intercepted redirect, checks `state` and exchanges the code at `/oauth/token`. Pages are
recognised by their `data-page` marker (simulators/backend/pages.py) and driven by pressing buttons by their label,
as a person would. The browser is the phone's own and keeps its cookies from one sign-in to the next, as a shared
web-authentication session does: a browser still signed in is not asked for the password, and one the issuer
remembers as a trusted device is not asked for the authenticator code (openai/codex#39959).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pyotp

from simulators.backend.accounts import CLOCK_DRIFT_SEARCH_SECONDS
from simulators.backend.pages import LOGOUT_PATH, REMEMBER_DEVICE_FIELD
from simulators.browser import (
    Browser,
    BrowserError,
    Exchange,
    Interception,
    NavigationFailed,
    Page,
    parse_page,
    shared_ssl_context,
)
from simulators.clock import Clock
from simulators.phone.machine import PhoneEvent
from simulators.phone.trace import Trace
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import (
    CHATGPT_APP_CLIENT_ID,
    CHATGPT_APP_REDIRECT_URI,
    AuthorizeRequest,
    generate_pkce,
    generate_state,
)
from simulators.protocol.redaction import MASK

MAX_PAGES = 20
PERSONAL = "Personal"

# What each `data-error` on an issuer page means to the phone.
PAGE_ERRORS: dict[str, ErrorCode] = {
    "wrong_credentials": ErrorCode.SIGN_IN_FAILED,
    "mfa_code_rejected": ErrorCode.MFA_CODE_REJECTED,
    "mfa_locked": ErrorCode.MFA_CODE_REJECTED,
    # The issuer could tell the code was one of another time: the authenticator's clock is off.
    "mfa_clock_off": ErrorCode.AUTHENTICATOR_CLOCK_OFF,
    "mfa_required": ErrorCode.MFA_REQUIRED,
    "no_such_workspace": ErrorCode.WORKSPACE_MISMATCH,
    # The sign-in page outlived its session (left open too long): the ChatGPT sign-in itself is not the problem.
    "session_expired": ErrorCode.SIGN_IN_EXPIRED,
    "csrf_failed": ErrorCode.SIGN_IN_FAILED,
    "bad_request": ErrorCode.PROTOCOL_VIOLATION,
}
# Form fields whose values never go into a trace.
_MASKED_FIELDS = frozenset({"password", "code", "csrf_token"})


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every HTTP client of the phone shares (loading the CA store is slow)."""
    return shared_ssl_context()


class SignInError(PairsimError):
    code = ErrorCode.SIGN_IN_FAILED


@dataclass(frozen=True)
class SignInResult:
    token_body: dict[str, Any] = field(repr=False)
    pages: tuple[str, ...]


async def sign_in_with_browser(browser: Browser, issuer: str, *, email: str, password: str, totp_secret: str | None,
                               workspace: str | None, skip_mfa: bool, cancel: bool, clock: Clock, trace: Trace,
                               on_page: Callable[[PhoneEvent], None], timeout: float,
                               remember_device: bool = False, wrong_mfa_codes: int = 0,
                               dwell: Callable[[str], None] | None = None) -> SignInResult:
    """Walk the issuer's pages in `browser` as the user would and return the token endpoint's JSON body.

    `wrong_mfa_codes`: the person first types that many wrong authenticator codes, each after the issuer said the
    last one did not work, then the right one (if the issuer still asks). `dwell` is told the name of each page
    as it is shown, before the person acts on it: what happens meanwhile (time passing) happens while the page is
    open."""
    pkce = generate_pkce()
    state = generate_state()
    authorize = AuthorizeRequest(
        client_id=CHATGPT_APP_CLIENT_ID, redirect_uri=CHATGPT_APP_REDIRECT_URI, code_challenge=pkce.challenge,
        state=state, codex_cli_simplified_flow=False, originator=None,
    ).url(issuer)
    on_page(PhoneEvent.BROWSER_OPENED)
    seen: list[str] = []
    recorder = _Recorder(browser, trace)
    navigation = await recorder.go(browser.open(authorize))
    submitted_credentials = False
    asked_for_mfa = typed_a_wrong_code = False
    wrong_codes_left = wrong_mfa_codes
    for _ in range(MAX_PAGES + wrong_mfa_codes):
        if isinstance(navigation, Interception):
            code = _authorization_code(navigation, state)
            on_page(PhoneEvent.AUTHORIZATION_CODE_RECEIVED)
            body = await exchange_code(issuer, code, pkce.verifier, trace=trace, timeout=timeout)
            return SignInResult(body, tuple(seen))
        page = navigation
        name = page.data.get("page")
        error = page.data.get("error")
        if not name:
            raise SignInError(f"the issuer answered HTTP {page.status} without a sign-in page")
        seen.append(name)
        if dwell is not None:
            dwell(name)
        if name == "sign_in":
            if error or submitted_credentials:
                raise _page_error(page, ErrorCode.SIGN_IN_FAILED)
            navigation = await recorder.go(browser.press(page, "Continue", {"email": email, "password": password}))
            submitted_credentials = True
            on_page(PhoneEvent.CREDENTIALS_SUBMITTED)
        elif name == "mfa":
            # An error after a code the person knowingly mistyped is expected; after the right code it is not.
            if error and not typed_a_wrong_code:
                raise _page_error(page, ErrorCode.MFA_CODE_REJECTED)
            if not asked_for_mfa:
                on_page(PhoneEvent.MFA_REQUESTED)
                asked_for_mfa = True
            typed_a_wrong_code = wrong_codes_left > 0
            if typed_a_wrong_code:
                wrong_codes_left -= 1
                navigation = await recorder.go(browser.press(page, "Verify", {"code": wrong_code(totp_secret, clock)}))
            else:
                navigation = await recorder.go(
                    _answer_mfa(browser, page, totp_secret, skip_mfa, clock, remember_device))
        elif name == "workspace":
            if error:
                raise _page_error(page, ErrorCode.WORKSPACE_MISMATCH)
            on_page(PhoneEvent.WORKSPACE_CHOICE_SHOWN)
            navigation = await recorder.go(browser.press(page, _workspace_label(page, workspace)))
        elif name == "consent":
            on_page(PhoneEvent.CONSENT_SHOWN)
            navigation = await recorder.go(browser.press(page, "Cancel" if cancel else "Allow"))
        else:
            raise _page_error(page, ErrorCode.SIGN_IN_FAILED)
    raise SignInError(f"sign-in did not finish within {MAX_PAGES} pages")


async def sign_out_of_browser(browser: Browser, issuer: str, *, trace: Trace) -> None:
    """Sign out of ChatGPT in this browser, which also makes the issuer forget it as a trusted device."""
    recorder = _Recorder(browser, trace)
    page = await recorder.go(browser.open(f"{issuer.rstrip('/')}{LOGOUT_PATH}"))
    if isinstance(page, Interception) or page.data.get("page") != "sign_out":
        raise SignInError("the issuer did not offer its sign-out page")
    done = await recorder.go(browser.press(page, "Sign out"))
    if isinstance(done, Interception) or done.data.get("page") != "signed_out":
        raise SignInError("the issuer did not confirm the sign-out")


def _answer_mfa(browser: Browser, page: Page, totp_secret: str | None, skip_mfa: bool,
                clock: Clock, remember_device: bool) -> Awaitable[Page | Interception]:
    form = page.form("mfa")
    if skip_mfa:
        if not form.has_button("Skip for now"):
            raise SignInError("the account requires MFA and the page offers no way to skip it",
                              code=ErrorCode.MFA_REQUIRED)
        return browser.press(page, "Skip for now")
    if totp_secret is None:
        raise SignInError("the issuer asked for an MFA code and no authenticator is set up on this phone",
                          code=ErrorCode.MFA_CODE_REJECTED)
    # The code the user's authenticator shows at the phone's time.
    fields = {"code": pyotp.TOTP(totp_secret).at(int(clock.now()))}
    if remember_device:
        fields[REMEMBER_DEVICE_FIELD] = "on"
    return browser.press(page, "Verify", fields)


def wrong_code(totp_secret: str | None, clock: Clock) -> str:
    """A six-digit code the issuer cannot accept now and cannot take for a clock that is off: none of the codes of
    the times the issuer looks at around now."""
    if totp_secret is None:
        return "000000"
    totp = pyotp.TOTP(totp_secret)
    now = int(clock.now())
    # One step more than the issuer searches, for the step boundary between the phone's reading and the issuer's.
    reach = int(CLOCK_DRIFT_SEARCH_SECONDS // totp.interval) + 1
    valid = {totp.at(now + step * totp.interval) for step in range(-reach, reach + 1)}
    candidate = int(totp.at(now))
    while f"{candidate:06d}" in valid:
        candidate = (candidate + 1) % 1_000_000
    return f"{candidate:06d}"


def _workspace_label(page: Page, workspace: str | None) -> str:
    wanted = workspace or PERSONAL
    labels = [button.label for form in page.forms for button in form.buttons]
    if not any(label.casefold() == wanted.casefold() for label in labels):
        raise SignInError(f"the workspace {wanted!r} is not offered (offered: {', '.join(labels)})",
                          code=ErrorCode.WORKSPACE_MISMATCH)
    return wanted


def _page_error(page: Page, default: ErrorCode) -> SignInError:
    error = page.data.get("error")
    code = PAGE_ERRORS.get(error or "", default)
    return SignInError(f"the issuer showed page {page.data.get('page')!r} with error {error or 'none'!r}",
                       code=code)


def _authorization_code(interception: Interception, state: str) -> str:
    if not interception.url.startswith(CHATGPT_APP_REDIRECT_URI):
        raise SignInError("the browser was sent to a URL this app does not own", code=ErrorCode.PROTOCOL_VIOLATION)
    params = interception.params
    if params.get("state") != state:
        # Someone else's authorization response: never exchange it.
        raise SignInError("the sign-in redirect carried another state than this phone sent",
                          code=ErrorCode.PROTOCOL_VIOLATION)
    error = params.get("error")
    if error == "access_denied":
        raise SignInError("sign-in was cancelled in the browser", code=ErrorCode.SIGN_IN_CANCELLED)
    if error:
        raise SignInError(f"the issuer refused the sign-in: {error}")
    code = params.get("code")
    if not code:
        raise SignInError("the sign-in redirect carried no authorization code")
    return code


async def exchange_code(issuer: str, code: str, verifier: str, *, trace: Trace, timeout: float) -> dict[str, Any]:
    """The app (not the browser) redeems the code with its PKCE verifier."""
    url = f"{issuer.rstrip('/')}/oauth/token"
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CHATGPT_APP_REDIRECT_URI,
            "client_id": CHATGPT_APP_CLIENT_ID, "code_verifier": verifier}
    trace.http_request("POST", url, body=data)
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=tls_context()) as client:
            response = await client.post(url, data=data)
    except (httpx.ConnectError, httpx.TimeoutException, httpx.NetworkError) as exc:
        raise SignInError(f"cannot reach the sign-in service ({type(exc).__name__})",
                          code=ErrorCode.RELAY_UNREACHABLE) from None
    trace.http_response("POST", url, response.status_code, body=response.text)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise SignInError(f"the token endpoint answered HTTP {response.status_code} ({error or 'no error code'})")
    return body


class _Recorder:
    """Copies the browser's exchanges into the phone's trace, redacted, as they happen."""

    def __init__(self, browser: Browser, trace: Trace) -> None:
        self._browser = browser
        self._trace = trace
        self._recorded = len(browser.history)  # the phone's browser outlives one sign-in

    async def go(self, navigation: Awaitable[Page | Interception]) -> Page | Interception:
        try:
            return await navigation
        except NavigationFailed as exc:
            # A request that never got an answer is not in the browser's history; say so in the trace.
            self._trace.note(f"browser: {exc.message}")
            raise SignInError(exc.message, code=ErrorCode.RELAY_UNREACHABLE) from None
        except BrowserError as exc:
            raise SignInError(f"the sign-in page did not offer what the user needed: {exc.message}") from None
        finally:
            self._flush()

    def _flush(self) -> None:
        for exchange in self._browser.history[self._recorded:]:
            self._trace.http_request(exchange.method, exchange.url, headers=_safe_headers(exchange.request_headers),
                                     body=_masked_form(exchange.request_body), party="browser")
            self._trace.http_response(exchange.method, exchange.url, exchange.status, party="browser",
                                      headers=[(k, v) for k, v in exchange.response_headers
                                               if k.lower() == "location"],
                                      body=_page_summary(exchange))
        self._recorded = len(self._browser.history)


def _safe_headers(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    # Cookies are the browser session; the redactor masks them, the rest is noise for a pairing report.
    return [(k, v) for k, v in headers if k.lower() in ("cookie", "content-type", "origin", "referer")]


def _masked_form(body: bytes) -> dict[str, str] | None:
    if not body:
        return None
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: MASK if key in _MASKED_FIELDS else value for key, value in pairs}


def _page_summary(exchange: Exchange) -> Any:
    """Pages carry CSRF tokens and personal data; the trace keeps which page it was and its error."""
    content_type = next((v for k, v in exchange.response_headers if k.lower() == "content-type"), "")
    if "html" not in content_type:
        return None
    page = parse_page(exchange.url, exchange.status, (), exchange.response_body.decode("utf-8", "replace"))
    return {"page": page.data.get("page"), "error": page.data.get("error")}


__all__ = ["SignInError", "SignInResult", "exchange_code", "sign_in_with_browser", "sign_out_of_browser",
           "tls_context", "wrong_code"]
