"""The laptop's browser as a process: `python -m simulators.netns.browser_walk sign-in|open`, run on the laptop
(inside its namespace), printing one JSON object with what it saw.

    sign-in   stdin, one JSON line {"url": authorize URL, "email", "password", "totp_secret"?}: walks the
              issuer's pages as a person would (simulators.browser), then follows the issuer's redirect wherever
              it points, the loopback callback included, as a real browser does. With `--pause-before-leaving`
              it stops at that redirect, prints {"paused_at": address} and follows it when a line arrives on
              stdin (so a scenario can change the world between sign-in and the redirect).
    open URL  loads URL (say, the callback address after the user edited its port) and follows redirects.

The report: `pages` (issuer page names seen), `hops` (each loaded address, without its query, and its status),
`landed` (the final page: status, title, data-page, text) or `failed` (the address that could not be loaded and
the OS error: `errno` name and text, e.g. ECONNREFUSED / "Connection refused"), and `last_url`, the full address
of the last hop (so a test can edit its port, as the user does in the address bar). The password never appears
in the report; `last_url` can carry the authorization code, so callers keep it out of messages.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import pyotp

from simulators.browser import REDIRECT_STATUSES, Browser, Interception, Navigation, NavigationFailed, Page

MAX_PAGES = 20
TIMEOUT_S = 10.0
LOOPBACK_PREFIXES = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")


@dataclass
class WalkReport:
    pages: list[str] = field(default_factory=list)
    hops: list[dict[str, Any]] = field(default_factory=list)
    landed: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    last_url: str = ""

    def to_json(self) -> str:
        return json.dumps({"pages": self.pages, "hops": self.hops, "landed": self.landed, "failed": self.failed,
                           "last_url": self.last_url})


def _address(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _os_error(exc: BaseException) -> OSError | None:
    """The OS error under a failed navigation (httpx wraps it twice; the refusal is at the bottom)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _Walk:
    """One browser profile following redirects wherever they lead, as a real browser does, and noting each hop."""

    def __init__(self, browser: Browser, report: WalkReport) -> None:
        self.browser = browser
        self.report = report

    async def go(self, navigation: Awaitable[Navigation], start_url: str) -> Page | None:
        before = len(self.browser.history)
        try:
            result = await navigation
            if isinstance(result, Interception) and self.browser.intercept_prefixes:
                self._record(before, start_url)
                print(json.dumps({"paused_at": _address(result.url)}), flush=True)
                sys.stdin.readline()
                self.browser.intercept_prefixes.clear()
                before, start_url = len(self.browser.history), result.url
                result = await self.browser.open(result.url)
        except NavigationFailed as exc:
            self._record(before, start_url)
            failure = _os_error(exc)
            code = failure.errno if failure is not None else None
            self.report.failed = {
                "url": _address(self.report.last_url),
                "errno": errno.errorcode.get(code, "") if code is not None else "",
                "error": os.strerror(code) if code is not None else exc.message,
            }
            return None
        self._record(before, start_url)
        if isinstance(result, Interception):  # a non-http scheme: not part of these flows
            raise RuntimeError(f"the browser was sent to a {result.scheme}: address")
        return result

    def _record(self, before: int, start_url: str) -> None:
        # The address being loaded when things stopped: the last redirect's target, or where we started.
        self.report.last_url = start_url
        for exchange in self.browser.history[before:]:
            self.report.hops.append({"url": _address(exchange.url), "status": exchange.status})
            location = dict((k.lower(), v) for k, v in exchange.response_headers).get("location")
            if exchange.status in REDIRECT_STATUSES and location:
                self.report.last_url = urljoin(exchange.url, location)
            else:
                self.report.last_url = exchange.url


def _land(report: WalkReport, page: Page) -> None:
    report.landed = {"url": _address(page.url), "status": page.status, "title": page.title,
                     "page": page.data.get("page", ""), "error": page.data.get("error", ""), "text": page.text}


async def sign_in(url: str, email: str, password: str, totp_secret: str | None, *, pause: bool) -> WalkReport:
    report = WalkReport()
    # With `pause`, stop at the first redirect to this machine's loopback (the CLI's callback address).
    async with Browser(timeout=TIMEOUT_S, intercept=LOOPBACK_PREFIXES if pause else ()) as browser:
        walk = _Walk(browser, report)
        page = await walk.go(browser.open(url), url)
        for _ in range(MAX_PAGES):
            if page is None:
                return report
            name = page.data.get("page", "")
            error = page.data.get("error", "")
            if name:
                report.pages.append(name)
            if name == "sign_in" and not error:
                action = browser.press(page, "Continue", {"email": email, "password": password})
            elif name == "mfa" and totp_secret and not error:
                action = browser.press(page, "Verify", {"code": pyotp.TOTP(totp_secret).now()})
            elif name == "workspace" and not error:
                action = browser.press(page, page.forms[0].buttons[0].label)
            elif name == "consent":
                action = browser.press(page, "Allow")
            else:
                _land(report, page)
                return report
            page = await walk.go(action, page.url)
    raise RuntimeError(f"sign-in did not end within {MAX_PAGES} pages")


async def open_url(url: str) -> WalkReport:
    report = WalkReport()
    async with Browser(timeout=TIMEOUT_S) as browser:
        page = await _Walk(browser, report).go(browser.open(url), url)
        if page is not None:
            _land(report, page)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.netns.browser_walk")
    sub = parser.add_subparsers(dest="command", required=True)
    signer = sub.add_parser("sign-in", help="sign in with the account on stdin (JSON), then follow the redirect")
    signer.add_argument("--pause-before-leaving", action="store_true",
                        help="wait for a line on stdin before following the issuer's redirect out")
    opener = sub.add_parser("open", help="load an address and follow its redirects")
    opener.add_argument("url")
    args = parser.parse_args(argv)
    if args.command == "sign-in":
        spec = json.loads(sys.stdin.readline())
        report = asyncio.run(sign_in(spec["url"], spec["email"], spec["password"], spec.get("totp_secret"),
                                     pause=args.pause_before_leaving))
    else:
        report = asyncio.run(open_url(args.url))
    print(report.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
