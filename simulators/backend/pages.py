"""The issuer's HTML: plain forms a browser (or `simulators.browser`) can walk without JavaScript.

Every page names itself in `<body data-page=…>` and, when it shows an error, carries the error's code in
`data-error=…`, so a scripted browser can tell pages apart without scraping copy. Every form has a hidden
`csrf_token`. Nothing here reads state; the issuer passes in what a page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape

LOGIN_PATH = "/u/login"
MFA_PATH = "/u/mfa"
WORKSPACE_PATH = "/u/workspace"
CONSENT_PATH = "/u/consent"
LOGOUT_PATH = "/u/logout"
CSRF_FIELD = "csrf_token"
REMEMBER_DEVICE_FIELD = "remember_device"


class PageName(StrEnum):
    SIGN_IN = "sign_in"
    MFA = "mfa"
    WORKSPACE = "workspace"
    CONSENT = "consent"
    LOCKED = "mfa_locked"
    SIGN_OUT = "sign_out"
    SIGNED_OUT = "signed_out"
    ERROR = "error"


class PageError(StrEnum):
    """Codes in `data-error`; the copy next to them is for people."""

    WRONG_CREDENTIALS = "wrong_credentials"
    MFA_CODE_REJECTED = "mfa_code_rejected"
    MFA_CLOCK_OFF = "mfa_clock_off"
    MFA_REQUIRED = "mfa_required"
    MFA_LOCKED = "mfa_locked"
    NO_SUCH_WORKSPACE = "no_such_workspace"
    SESSION_EXPIRED = "session_expired"
    CSRF = "csrf_failed"
    BAD_REQUEST = "bad_request"


ERROR_COPY: dict[PageError, str] = {
    PageError.WRONG_CREDENTIALS: "Wrong email or password.",
    PageError.MFA_CODE_REJECTED: "That code didn't work. Check your authenticator app and try again.",
    PageError.MFA_CLOCK_OFF: (
        "That code is for another time: the clock on the device with your authenticator app is off. Set its time "
        "automatically, then try again."
    ),
    PageError.MFA_REQUIRED: "Your account requires multi-factor authentication.",
    PageError.MFA_LOCKED: "Too many incorrect codes. Try again in 15 minutes.",
    PageError.NO_SUCH_WORKSPACE: "Choose one of the workspaces listed.",
    PageError.SESSION_EXPIRED: "Your sign-in session has expired. Start again from the app.",
    PageError.CSRF: "This form has expired. Start again from the app.",
    PageError.BAD_REQUEST: "The sign-in request could not be read.",
}


@dataclass(frozen=True)
class WorkspaceChoice:
    id: str
    label: str


def _document(title: str, page: PageName, body: str, error: PageError | None = None, detail: str = "") -> str:
    data_error = f' data-error="{escape(error.value)}"' if error is not None else ""
    error_html = ""
    if error is not None:
        message = detail or ERROR_COPY[error]
        error_html = f'<p class="error" id="error" role="alert">{escape(message)}</p>\n'
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        f'<head><meta charset="utf-8"><title>{escape(title)}</title></head>\n'
        f'<body data-page="{page.value}"{data_error}>\n'
        f"<main>\n<h1>{escape(title)}</h1>\n{error_html}{body}</main>\n"
        "</body>\n</html>\n"
    )


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">\n'


def sign_in_page(*, csrf: str, client_name: str, email: str = "", error: PageError | None = None) -> str:
    body = (
        f"<p>Sign in to continue to {escape(client_name)}.</p>\n"
        f'<form id="sign-in" method="post" action="{LOGIN_PATH}">\n'
        + _csrf(csrf)
        + '<label for="email">Email address</label>\n'
        f'<input id="email" type="email" name="email" value="{escape(email)}" autocomplete="username">\n'
        '<label for="password">Password</label>\n'
        '<input id="password" type="password" name="password" autocomplete="current-password">\n'
        '<button type="submit" name="action" value="continue">Continue</button>\n'
        "</form>\n"
    )
    return _document("Sign in", PageName.SIGN_IN, body, error)


def mfa_page(*, csrf: str, can_skip: bool, error: PageError | None = None) -> str:
    skip = '<button type="submit" name="action" value="skip">Skip for now</button>\n' if can_skip else ""
    body = (
        '<form id="mfa" method="post" action="'
        + MFA_PATH
        + '">\n'
        + _csrf(csrf)
        + '<label for="code">Enter the 6-digit code from your authenticator app</label>\n'
        '<input id="code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code">\n'
        f'<input id="{REMEMBER_DEVICE_FIELD}" type="checkbox" name="{REMEMBER_DEVICE_FIELD}" value="on">\n'
        f'<label for="{REMEMBER_DEVICE_FIELD}">Remember this device for 30 days</label>\n'
        '<button type="submit" name="action" value="verify">Verify</button>\n' + skip + "</form>\n"
    )
    return _document("Verify your identity", PageName.MFA, body, error)


def workspace_page(*, csrf: str, choices: Sequence[WorkspaceChoice], error: PageError | None = None) -> str:
    buttons = "".join(
        f'<button type="submit" name="workspace_id" value="{escape(c.id)}">{escape(c.label)}</button>\n'
        for c in choices
    )
    body = (
        f'<form id="workspace" method="post" action="{WORKSPACE_PATH}">\n'
        + _csrf(csrf)
        + buttons
        + "</form>\n"
    )
    return _document("Choose a workspace", PageName.WORKSPACE, body, error)


def consent_page(
    *, csrf: str, client_name: str, email: str, workspace_label: str, scopes: Sequence[str]
) -> str:
    scope_items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    body = (
        f"<p>{escape(client_name)} wants to access your account {escape(email)} "
        f"in the workspace {escape(workspace_label)}.</p>\n"
        f"<ul>{scope_items}</ul>\n"
        f'<form id="consent" method="post" action="{CONSENT_PATH}">\n'
        + _csrf(csrf)
        + '<button type="submit" name="action" value="allow">Allow</button>\n'
        '<button type="submit" name="action" value="cancel">Cancel</button>\n'
        "</form>\n"
    )
    return _document(f"Authorize {client_name}", PageName.CONSENT, body)


def sign_out_page(*, csrf: str) -> str:
    body = (
        "<p>Sign out of ChatGPT in this browser. It will also stop remembering this device, so the next sign-in "
        "asks for your authenticator code.</p>\n"
        f'<form id="sign-out" method="post" action="{LOGOUT_PATH}">\n'
        + _csrf(csrf)
        + '<button type="submit" name="action" value="sign_out">Sign out</button>\n'
        "</form>\n"
    )
    return _document("Sign out", PageName.SIGN_OUT, body)


def signed_out_page() -> str:
    return _document("Signed out", PageName.SIGNED_OUT, "<p>You are signed out of ChatGPT in this browser.</p>\n")


def locked_page() -> str:
    return _document("Too many attempts", PageName.LOCKED, "", PageError.MFA_LOCKED)


def error_page(error: PageError, detail: str = "") -> str:
    return _document("Sign-in error", PageName.ERROR, "", error, detail)


def authorize_error_page(oauth_error: str, description: str) -> str:
    """RFC 6749 §4.1.2.1: a bad client or redirect URI is shown to the user, never redirected."""
    body = f'<p id="oauth-error" data-oauth-error="{escape(oauth_error)}">{escape(oauth_error)}</p>\n'
    return _document("Sign-in error", PageName.ERROR, body, PageError.BAD_REQUEST, description)
