"""The person at the browser during a CLI login: opens a URL and answers the issuer's pages like a person would.

The browser is `simulators.browser` (real HTTP, forms read from HTML). It follows every redirect for real,
including the one to `http://127.0.0.1:<port>/auth/callback`, so the CLI's callback server is reached over a real
socket, and it stops on the first page that is not an issuer sign-in step (the CLI's success or error page, or one
of the device pages). Pages are told apart by their `data-page` marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyotp

from simulators.browser import Browser, Interception, Page
from simulators.clock import Clock
from simulators.protocol.errors import ErrorCode, PairsimError

MAX_PAGES = 20
_ISSUER_STEPS = frozenset({"sign_in", "mfa", "workspace", "consent"})


class UserStuck(PairsimError):
    """The pages did not offer what the person meant to do (wrong password page twice, MFA without a device)."""

    code = ErrorCode.SIGN_IN_FAILED


@dataclass(frozen=True)
class Person:
    email: str
    password: str = field(repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    workspace: str | None = None  # a workspace's label; None takes the first one offered
    deny: bool = False  # press Cancel on the consent page for Codex CLI


async def walk(browser: Browser, url: str, person: Person, clock: Clock) -> Page:
    """Open `url` and answer sign-in steps until a page that is not one; returns that page."""
    navigation: Page | Interception = await browser.open(url)
    password_sent = False
    for _ in range(MAX_PAGES):
        page = navigation.expect_page()
        name = page.data.get("page", "")
        if name not in _ISSUER_STEPS:
            return page
        if page.data.get("error"):
            raise UserStuck(f"the issuer showed {name!r} with error {page.data['error']!r}")
        if name == "sign_in":
            if password_sent:
                raise UserStuck("the issuer asked for the password twice")
            navigation = await browser.press(page, "Continue", {"email": person.email, "password": person.password})
            password_sent = True
        elif name == "mfa":
            if person.totp_secret is None:
                navigation = await browser.press(page, "Skip for now")
            else:
                code = pyotp.TOTP(person.totp_secret).at(int(clock.now()))
                navigation = await browser.press(page, "Verify", {"code": code})
        elif name == "workspace":
            labels = [b.label for f in page.forms for b in f.buttons]
            navigation = await browser.press(page, person.workspace or labels[0])
        else:
            is_cli = "Codex CLI" in page.title
            navigation = await browser.press(page, "Cancel" if (person.deny and is_cli) else "Allow")
    raise UserStuck(f"sign-in did not finish within {MAX_PAGES} pages")


async def enter_device_code(browser: Browser, issuer: str, user_code: str, person: Person, clock: Clock) -> Page:
    """Open `{issuer}/codex/device`, sign in, type the one-time code and authorize Codex CLI."""
    page = await walk(browser, issuer.rstrip("/") + "/codex/device", person, clock)
    if page.data.get("page") != "device_code":
        return page  # e.g. device codes are not enabled for this account
    navigation = await browser.press(page, "Continue", {"user_code": user_code})
    if isinstance(navigation, Page) and navigation.data.get("page") not in _ISSUER_STEPS:
        return navigation
    # The consent for Codex CLI (and a workspace choice) follow on the issuer's pages.
    return await _continue(browser, navigation, person, clock)


async def _continue(browser: Browser, navigation: Page | Interception, person: Person, clock: Clock) -> Page:
    page = navigation.expect_page()
    return await walk_from(browser, page, person, clock)


async def walk_from(browser: Browser, page: Page, person: Person, clock: Clock) -> Page:
    """As `walk`, from a page already open."""
    navigation: Page | Interception = page
    for _ in range(MAX_PAGES):
        current = navigation.expect_page()
        name = current.data.get("page", "")
        if name not in _ISSUER_STEPS:
            return current
        if name == "workspace":
            labels = [b.label for f in current.forms for b in f.buttons]
            navigation = await browser.press(current, person.workspace or labels[0])
        elif name == "consent":
            is_cli = "Codex CLI" in current.title
            navigation = await browser.press(current, "Cancel" if (person.deny and is_cli) else "Allow")
        else:
            raise UserStuck(f"unexpected issuer step {name!r} after entering the code")
    raise UserStuck(f"sign-in did not finish within {MAX_PAGES} pages")
