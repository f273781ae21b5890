"""The login callback server of `codex login`: a real HTTP server on 127.0.0.1 that the browser is sent back to.

Binding follows the real CLI [V: codex-rs/login/src/server.rs; observed 0.169.0 §5]: bind 127.0.0.1:1455; when the
port is taken, send `GET /cancel` to whoever holds it (an older login server stops on that), retry 10 times 200 ms
apart, then move to the registered fallback port 1457 (retried the same way, without `/cancel`), then fail with
`Port 127.0.0.1:<port> is already in use`. Ports, tries and the pause are parameters so tests can use ephemeral
ports and not wait.

Routes [V + observed]: `/auth/callback` (state check → `400 State mismatch`; `error` → error page; no `code` →
error page; else exchange, then `302` to `/success`), `/success` (success page, `Connection: close`, login done),
`/cancel` (`Login cancelled`, login fails), anything else `404 Not Found`. The outcome is one future the CLI awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.oauth import CALLBACK_PATH, CALLBACK_PORT, FALLBACK_CALLBACK_PORT

if TYPE_CHECKING:
    from aiohttp import web

# aiohttp is imported where the server starts, not with this module: `pairsim login status`, `--device-auth` and
# `--with-access-token` share the module's errors and rules but run no server, and aiohttp's import is most of
# their start-up time.

logger = logging.getLogger(__name__)

# The real CLI's texts [V/observed], reproduced verbatim.
PORT_IN_USE = "Port {host}:{port} is already in use"
STATE_MISMATCH = "State mismatch"
LOGIN_CANCELLED = "Login cancelled"
MISSING_CODE = "Missing authorization code. Sign-in could not be completed."
SIGN_IN_FAILED = "Sign-in failed: {detail}"
NOT_FOUND = "Not Found"
ERROR_PAGE_TITLE = "Codex Sign-in Error"
SUCCESS_PAGE_TITLE = "Signed in to Codex"
FALLBACK_WARNING = (
    "default login callback port is unavailable; falling back to the registered fallback port "
    "preferred_bind_address={host}:{preferred} fallback_bind_address={host}:{fallback}"
)

BIND_ATTEMPTS = 10
BIND_RETRY_DELAY_S = 0.2
CANCEL_TIMEOUT_S = 2.0


class LoginFailed(PairsimError):
    """The login ended without tokens. `message` is what the CLI prints after `Error logging in: `."""

    code = ErrorCode.SIGN_IN_FAILED


class LoginCancelled(LoginFailed):
    code = ErrorCode.SIGN_IN_CANCELLED


class PortInUse(LoginFailed):
    pass


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class BindPolicy:
    host: str = "127.0.0.1"
    port: int = CALLBACK_PORT
    # None: the real rule, a fallback only when the preferred port is 1455.
    fallback_port: int | None = None
    attempts: int = BIND_ATTEMPTS
    retry_delay_s: float = BIND_RETRY_DELAY_S

    @property
    def effective_fallback(self) -> int | None:
        if self.fallback_port is not None:
            return self.fallback_port if self.fallback_port != self.port else None
        return FALLBACK_CALLBACK_PORT if self.port == CALLBACK_PORT else None


@dataclass(frozen=True)
class BoundPort:
    sock: socket.socket
    port: int
    fell_back: bool
    cancel_sent: bool


def _try_bind(host: str, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As Rust's TcpListener does on Unix: reuse a port whose old connections are in TIME_WAIT, never a live one.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    sock.setblocking(False)
    return sock


async def send_cancel(host: str, port: int, timeout: float = CANCEL_TIMEOUT_S) -> bool:
    """Ask a previous login server on this port to stop (`GET /cancel`); True when anything answered."""
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            await client.get(f"http://{host}:{port}/cancel")
    except httpx.HTTPError:
        return False
    return True


async def bind_callback_port(
    policy: BindPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    cancel: Callable[[str, int], Awaitable[bool]] = send_cancel,
) -> BoundPort:
    """Bind the callback port the way the real CLI does; raises `PortInUse` with its text."""

    async def attempt(port: int, send_cancel_first: bool) -> tuple[socket.socket | None, bool]:
        cancel_sent = False
        for index in range(policy.attempts):
            sock = _try_bind(policy.host, port)
            if sock is not None:
                return sock, cancel_sent
            if index == 0 and send_cancel_first:
                cancel_sent = await cancel(policy.host, port)
            if index + 1 < policy.attempts:
                await sleep(policy.retry_delay_s)
        return None, cancel_sent

    sock, cancel_sent = await attempt(policy.port, True)
    if sock is not None:
        return BoundPort(sock, sock.getsockname()[1], fell_back=False, cancel_sent=cancel_sent)
    fallback = policy.effective_fallback
    if fallback is None:
        raise PortInUse(PORT_IN_USE.format(host=policy.host, port=policy.port))
    logger.warning(FALLBACK_WARNING.format(host=policy.host, preferred=policy.port, fallback=fallback))
    sock, _ = await attempt(fallback, False)
    if sock is None:
        raise PortInUse(PORT_IN_USE.format(host=policy.host, port=fallback))
    return BoundPort(sock, sock.getsockname()[1], fell_back=True, cancel_sent=cancel_sent)


@dataclass(frozen=True)
class CallbackSuccess:
    """What the code exchange produced, as the `/success` redirect's query [V: field names]."""

    id_token: str
    needs_setup: bool = False
    org_id: str = ""
    project_id: str = ""
    plan_type: str = ""
    platform_url: str = ""

    def __repr__(self) -> str:
        return f"CallbackSuccess(plan_type={self.plan_type!r}, <id_token redacted>)"

    def query(self) -> str:
        return urlencode(
            {
                "id_token": self.id_token,
                "needs_setup": "true" if self.needs_setup else "false",
                "org_id": self.org_id,
                "project_id": self.project_id,
                "plan_type": self.plan_type,
                "platform_url": self.platform_url,
            }
        )


ExchangeCode = Callable[[str], Awaitable[CallbackSuccess]]


def _html(title: str, message: str, page: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title></head>\n<body data-page=\"{page}\"><main>"
        f"<h1>{escape(title)}</h1><p id=\"message\">{escape(message)}</p></main></body></html>\n"
    )


class CallbackServer:
    """One login attempt's server. `outcome` resolves once: with the exchange result, or with `LoginFailed`."""

    def __init__(self, bound: BoundPort, *, state: str, exchange_code: ExchangeCode) -> None:
        self.bound = bound
        self._state = state
        self._exchange_code = exchange_code
        self._runner: web.AppRunner | None = None
        self._success: CallbackSuccess | None = None
        self.outcome: asyncio.Future[CallbackSuccess] = asyncio.get_running_loop().create_future()
        self.requests: list[str] = []  # paths only: queries carry codes and state

    @property
    def port(self) -> int:
        return self.bound.port

    def _finish(self, result: CallbackSuccess | LoginFailed) -> None:
        if self.outcome.done():
            return
        if isinstance(result, LoginFailed):
            self.outcome.set_exception(result)
        else:
            self.outcome.set_result(result)

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get(CALLBACK_PATH, self._callback)
        app.router.add_get("/success", self._success_page)
        app.router.add_get("/cancel", self._cancel)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, self.bound.sock).start()
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        with contextlib.suppress(OSError):
            self.bound.sock.close()

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        query = request.rel_url.query
        state = query.get("state", "")
        if not hmac.compare_digest(state.encode("utf-8", "replace"), self._state.encode("ascii")):
            # A stray or forged callback: refused, and the real login keeps waiting [observed].
            return _response(status=400, text=STATE_MISMATCH)
        error = query.get("error")
        if error:
            failure = LoginFailed(SIGN_IN_FAILED.format(detail=query.get("error_description") or error))
            if error == "access_denied":
                failure = LoginFailed(failure.message, code=ErrorCode.SIGN_IN_CANCELLED)
            self._finish(failure)
            return self._error_page(failure.message)
        code = query.get("code")
        if not code:
            self._finish(LoginFailed(MISSING_CODE))
            return self._error_page(MISSING_CODE)
        try:
            success = await self._exchange_code(code)
        except LoginFailed as exc:
            self._finish(exc)
            return self._error_page(exc.message)
        self._success = success
        location = f"http://localhost:{self.port}/success?{success.query()}"
        return _response(status=302, headers={"Location": location})

    async def _success_page(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = _response(
            text=_html(SUCCESS_PAGE_TITLE, "You can close this window and return to your terminal.", "success"),
            content_type="text/html",
            headers={"Connection": "close"},
        )
        if self._success is not None:
            self._finish(self._success)
        return response

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        self._finish(LoginCancelled(LOGIN_CANCELLED))
        return _response(text=LOGIN_CANCELLED)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        return _response(status=404, text=NOT_FOUND)

    @staticmethod
    def _error_page(message: str) -> web.Response:
        return _response(text=_html(ERROR_PAGE_TITLE, message, "error"), content_type="text/html")


def _response(**fields: Any) -> web.Response:
    from aiohttp import web

    return web.Response(**fields)
