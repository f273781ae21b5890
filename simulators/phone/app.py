"""The phone app with real I/O: scan a QR image, sign in through a browser, claim, connect through the relay.

`PhoneApp` drives one `PhoneMachine` per paired host. Each step method feeds the machine as it goes; a product
failure (an expired code, a 403 from the claim, a host that does not answer) moves the machine to `failed(code)`
and raises `SetupFailed` carrying that code. `pair(...)` runs every step and never raises for product failures: it
returns a `PairingResult` that ends in `live` or `failed(code)` with the screens the user saw.

All network calls are async (httpx, websockets); use `BlockingPhone` from synchronous code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt

from simulators import messages
from simulators.browser import Browser
from simulators.clock import Clock
from simulators.phone import screens
from simulators.phone.live import TurnView, display_command, live_turns, read_turns
from simulators.phone.machine import PhoneEvent, PhoneMachine, PhoneState
from simulators.phone.relay_client import (
    DEFAULT_TIMEOUT,
    PROTOCOL_VERSION,
    PhoneSocket,
    RpcCallFailed,
    SocketRefused,
)
from simulators.phone.screens import FailureCopy, Screen
from simulators.phone.sign_in import SignInResult, sign_in_with_browser, sign_out_of_browser, tls_context
from simulators.phone.storage import PhoneStorage, StoredConnections, StoredHost
from simulators.phone.trace import Trace
from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import ErrorCode, PairsimError, error_for_code
from simulators.protocol.jsonrpc import Request
from simulators.protocol.oauth import TokenClaims
from simulators.protocol.pairing_link import PairingLink
from simulators.protocol.remote_control import parse_rfc3339
from simulators.qr import decode_pairing_link
from simulators.runtime import LoopThread

T = TypeVar("T")

CLAIM_PATH = "wham/remote/control/client/claim"
COMPUTERS_PATH = "wham/remote/control/environments"
REMOTE_PROJECTS_LIST = "remoteProjects/list"  # issue 12: the Mac's SSH remote projects (docs/protocol.md §13)
COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
APPROVAL_METHODS = (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL)
DECISIONS = ("accept", "acceptForSession", "decline", "cancel")


@dataclass(frozen=True)
class PhoneProfile:
    """What the phone says about itself in the claim and in `initialize`."""

    display_name: str = "iPhone"
    platform: str = "ios"
    os_version: str = "18.5"
    device_model: str = "iPhone17,1"
    app_version: str = "1.2026.112"
    client_name: str = "codex_ios"
    client_title: str = "ChatGPT for iOS"


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    account_id: str | None
    user_id: str | None
    email: str | None


@dataclass(frozen=True)
class ClaimedClient:
    client_id: str
    environment_id: str
    server_name: str
    client_session_token: str = field(repr=False)
    expires_at: str | None


@dataclass(frozen=True)
class Approval:
    """A command or file change the host asks this phone to approve."""

    kind: str  # "command" | "file_change"
    request: Request
    thread_id: str | None
    turn_id: str | None
    item_id: str | None
    command: str | None
    cwd: str | None
    paths: tuple[str, ...]
    screen: Screen

    @classmethod
    def from_request(cls, request: Request, changes: dict[str, list[str]] | None = None) -> Approval:
        params = request.params if isinstance(request.params, dict) else {}
        item_id = _str_or_none(params.get("itemId"))
        if request.method == COMMAND_APPROVAL:
            command = _command_text(params.get("command"))
            cwd = _str_or_none(params.get("cwd")) or ""
            screen = screens.command_approval_screen(command, cwd)
            return cls("command", request, _str_or_none(params.get("threadId")), _str_or_none(params.get("turnId")),
                       item_id, command, cwd, (), screen)
        # The file-change request names only the item; its paths arrived with `item/started`.
        paths = tuple((changes or {}).get(item_id or "", ()))
        screen = screens.file_change_approval_screen(", ".join(paths) if paths else "files")
        return cls("file_change", request, _str_or_none(params.get("threadId")),
                   _str_or_none(params.get("turnId")), item_id, None, None, paths, screen)


@dataclass
class HostSession:
    """Everything the phone holds for one paired host."""

    machine: PhoneMachine
    link: PairingLink | None = None
    tokens: Tokens | None = None
    claim: ClaimedClient | None = None
    socket: PhoneSocket | None = None
    status: dict[str, Any] | None = None
    threads: list[dict[str, Any]] = field(default_factory=list)
    thread_id: str | None = None
    turn_id: str | None = None
    # The thread as the phone last read it (`catch_up`): what happened while it was not watching.
    read_back: dict[str, TurnView] = field(default_factory=dict)
    # The host's SSH remote projects, as last listed (issue 12).
    remote_projects: tuple[RemoteProjectRow, ...] = ()

    @property
    def name(self) -> str | None:
        return self.machine.server_name


@dataclass(frozen=True)
class HostRecord:
    """One paired host as the app stores it (and a device backup copies it)."""

    name: str
    link: PairingLink
    tokens: Tokens
    claim: ClaimedClient


@dataclass(frozen=True)
class PhoneBackup:
    hosts: tuple[HostRecord, ...]
    active_host: str | None


@dataclass(frozen=True)
class Computer:
    """One computer in the phone's list, as the backend described it when the list was last loaded."""

    environment_id: str
    name: str
    online: bool
    last_seen_at: float | None  # unix seconds
    offline_reason: str | None  # the typed-error fix names why an offline computer is offline, when it knows


@dataclass(frozen=True)
class PairingResult:
    outcome: str  # "paired" or an ErrorCode value
    state: str
    error_code: str | None
    message: str  # the body of the outcome's screen (`paired`, or the error's)
    screens: list[dict[str, Any]]
    host_name: str | None
    thread_count: int | None
    error_detail: str | None = None

    @property
    def paired(self) -> bool:
        return self.outcome == "paired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "state": self.state,
            "error_code": self.error_code,
            "error_detail": self.error_detail,
            "message": self.message,
            "screens": self.screens,
            "host_name": self.host_name,
            "thread_count": self.thread_count,
        }


class SetupFailed(PairsimError):
    """A product failure: the machine is in `failed(code)` and shows that code's screen."""


class NotReady(PairsimError):
    """A step was called before the step it needs (e.g. `claim()` before `sign_in()`)."""


@dataclass(frozen=True)
class RemoteProjectRow:
    """One of the Mac's SSH remote projects, as the phone lists it (issue 12)."""

    id: str
    name: str
    host: str


class PhoneApp:
    def __init__(self, clock: Clock, *, device_key: DeviceKey | None = None, profile: PhoneProfile | None = None,
                 trace: Trace | None = None, issuer_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, failure_copy: FailureCopy = FailureCopy.NAMES_CAUSE,
                 storage: PhoneStorage | None = None, replaces_stored_connection: bool = True) -> None:
        self.clock = clock
        # What the app keeps on the phone (`simulators.phone.storage`): with it, a launch finds the device key and
        # the paired computers of the app's earlier life.
        self.storage = storage
        self.device_key = device_key or (storage.device_key() if storage is not None else DeviceKey.generate())
        self.profile = profile or PhoneProfile()
        self.trace = trace or Trace(clock)
        # The QR code names only the backend; the issuer is the same origin unless told otherwise.
        self.issuer_url = issuer_url
        self.timeout = timeout
        self.failure_copy = failure_copy
        # Scanning the code of a computer the app already holds a connection for: the fix claims the new code and
        # replaces the stored connection; today's app opens the stored one instead (openai/codex#23290, #23112).
        self.replaces_stored_connection = replaces_stored_connection
        # The phone's browser keeps its cookies between sign-ins (and so what the issuer remembers about it).
        self.browser = Browser(timeout=timeout)
        self._screen_shown = asyncio.Event()  # replaced by a fresh one at every screen, after waking its waiters
        self._current = self._new_session()
        self.hosts: dict[str, HostSession] = {}
        # The pages the browser showed in the last sign-in, in order (a page the issuer skipped is not there).
        self.sign_in_pages: tuple[str, ...] = ()
        # The computers the list showed when it was last loaded (`list_computers`).
        self.computers: tuple[Computer, ...] = ()
        # The backend's last refusal of a socket (its status and request id, which today's app shows).
        self._last_refusal: SocketRefused | None = None
        if storage is not None:
            self._load(storage.connections())

    # ----------------------------------------------------------------------------------------- observation

    @property
    def session(self) -> HostSession:
        return self._current

    @property
    def machine(self) -> PhoneMachine:
        return self._current.machine

    @property
    def state(self) -> PhoneState:
        return self.machine.state

    @property
    def screen(self) -> Screen:
        return self.machine.screen

    @property
    def active_host(self) -> str | None:
        return self._current.name

    # ----------------------------------------------------------------------------------------- setup steps

    async def scan(self, png: str | os.PathLike[str] | bytes) -> PairingLink:
        """Read the pairing link from the QR image's pixels."""
        if self.machine.state is not PhoneState.IDLE:
            self._start_new_session()
        try:
            link = decode_pairing_link(png if isinstance(png, bytes) else Path(png))
        except PairsimError as exc:
            self._fail(exc.code, exc.message)
        self.session.link = link
        self.machine.fire(PhoneEvent.QR_DECODED)
        return link

    def validate_link(self) -> PairingLink:
        """Check the scanned link against the phone's clock before asking the user to sign in."""
        link = self._need(self.session.link, "scan a QR code first")
        if link.is_expired(self.clock.now()):
            self._fail(ErrorCode.PAIRING_CODE_EXPIRED, "the pairing link expired by the phone's clock")
        self.machine.accept_link(link.server_name)
        return link

    async def sign_in(self, email: str, password: str, totp_secret: str | None = None, *,
                      workspace: str | None = None, skip_mfa: bool = False, cancel: bool = False,
                      wrong_mfa_codes: int = 0, dwell: Callable[[str], None] | None = None) -> Tokens:
        """Sign in to ChatGPT in a browser (OAuth code flow with PKCE) and exchange the code for tokens.
        `wrong_mfa_codes`: the person mistypes the authenticator code that many times first; `dwell` is told each
        page as it is shown, before the person acts on it."""
        link = self._need(self.session.link, "scan a QR code first")
        issuer = self.issuer_url or link.origin
        self.sign_in_pages = ()
        try:
            result: SignInResult = await sign_in_with_browser(
                self.browser, issuer, email=email, password=password, totp_secret=totp_secret, workspace=workspace,
                skip_mfa=skip_mfa, cancel=cancel, clock=self.clock, trace=self.trace, on_page=self._on_sign_in_page,
                timeout=self.timeout, wrong_mfa_codes=wrong_mfa_codes, dwell=dwell)
        except PairsimError as exc:
            self._fail(exc.code, exc.message)
        self.sign_in_pages = result.pages
        tokens = _tokens_from(result.token_body)
        self.session.tokens = tokens
        self.machine.fire(PhoneEvent.TOKENS_RECEIVED)
        return tokens

    async def sign_in_to_chatgpt(self, email: str, password: str, totp_secret: str | None, *,
                                 remember_device: bool = False) -> None:
        """Sign in to ChatGPT in the phone's browser outside pairing (the app's own sign-in), optionally asking
        the issuer to remember this device. The tokens are the app's business, not a pairing's."""
        issuer = self._need(self.issuer_url, "the phone knows no sign-in service yet")
        result = await sign_in_with_browser(
            self.browser, issuer, email=email, password=password, totp_secret=totp_secret, workspace=None,
            skip_mfa=False, cancel=False, clock=self.clock, trace=self.trace, on_page=lambda _event: None,
            timeout=self.timeout, remember_device=remember_device)
        self.sign_in_pages = result.pages

    def close_browser_session(self) -> None:
        """The phone's browser forgets what lasts only while it runs (its sign-in), as when the app is closed."""
        self.browser.end_session()

    async def sign_out_of_chatgpt(self) -> None:
        """Sign out of ChatGPT in the phone's browser; the issuer stops remembering this device."""
        await sign_out_of_browser(self.browser, self._need(self.issuer_url, "the phone knows no sign-in service"),
                                  trace=self.trace)

    def _on_sign_in_page(self, event: PhoneEvent) -> None:
        # The browser reports each page it reached; pages the issuer skipped are simply not reported.
        self.machine.fire(event)

    async def claim(self) -> ClaimedClient:
        """Claim the pairing code with this phone's device key."""
        link = self._need(self.session.link, "scan a QR code first")
        tokens = self._need(self.session.tokens, "sign in first")
        url = link.backend_base_url + CLAIM_PATH
        headers = self._chatgpt_headers(tokens)
        body = {
            "pairing_code": link.pairing_code,
            "environment_id": link.environment_id,
            "device_public_key": self.device_key.public_key_base64,
            "display_name": self.profile.display_name,
            "device_type": "phone",
            "platform": self.profile.platform,
            "os_version": self.profile.os_version,
            "device_model": self.profile.device_model,
            "app_version": self.profile.app_version,
        }
        response = await self._post_json(url, body, headers)
        if response.status_code != 200:
            code, detail = backend_error(response)
            outdated = outdated_mac(response)
            if outdated is not None:
                # The phone knows what 426 means, with or without a typed code: the Mac's Codex is too old.
                self._fail(ErrorCode.APP_SERVER_OUTDATED, detail or "the Mac's Codex is out of date", fields=outdated)
            self._fail(code, detail or not_json_detail("the claim", response)
                       or f"claim refused with HTTP {response.status_code}")
        try:
            data = response.json()
            claimed = ClaimedClient(
                client_id=str(data["client_id"]),
                environment_id=str(data["environment_id"]),
                server_name=str(data["server_name"]),
                client_session_token=str(data["client_session_token"]),
                expires_at=_str_or_none(data.get("expires_at")),
            )
        except (ValueError, KeyError, TypeError):
            self._fail(ErrorCode.PROTOCOL_VIOLATION, "the claim response is not the documented JSON")
        self.session.claim = claimed
        self.machine.fire(PhoneEvent.CLAIM_ACCEPTED)
        return claimed

    async def connect(self) -> PhoneSocket:
        """Open the phone socket and prove the device key."""
        link = self._need(self.session.link, "scan a QR code first")
        tokens = self._need(self.session.tokens, "sign in first")
        claimed = self._need(self.session.claim, "claim the pairing code first")
        session = self.session
        socket = await self._guard(PhoneSocket.open(
            link.backend_base_url, client_id=claimed.client_id, client_session_token=claimed.client_session_token,
            access_token=tokens.access_token, account_id=tokens.account_id, device_key=self.device_key,
            trace=self.trace, timeout=self.timeout, on_close=lambda error: self._socket_lost(session, error),
            on_host_status=lambda status, reason: self._host_status(session, status, reason)))
        self.session.socket = socket
        self.machine.fire(PhoneEvent.SOCKET_OPENED)
        self.machine.fire(PhoneEvent.DEVICE_KEY_ACCEPTED)
        return socket

    async def initialize(self) -> dict[str, Any]:
        """The app-server handshake through the relay: `initialize` (experimental API on), then `initialized`."""
        socket = self._socket()
        params = {
            "clientInfo": {"name": self.profile.client_name, "title": self.profile.client_title,
                           "version": self.profile.app_version},
            "capabilities": {"experimentalApi": True},
        }
        result = await self._guard(socket.request("initialize", params))
        await self._guard(socket.notify("initialized"))
        self.machine.fire(PhoneEvent.SESSION_INITIALIZED)
        return result if isinstance(result, dict) else {}

    async def load_live_state(self) -> int:
        """Read the host's remote-control status and its threads; returns the thread count."""
        socket = self._socket()
        status = await self._guard(socket.request("remoteControl/status/read"))
        threads = await self._guard(socket.request("thread/list", {}))
        self.session.status = status if isinstance(status, dict) else None
        data = threads.get("data") if isinstance(threads, dict) else None
        self.session.threads = [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []
        if self.machine.state is PhoneState.INITIALIZED:
            self.machine.fire(PhoneEvent.LIVE_STATE_LOADED)
        self.machine.show_threads(len(self.session.threads))
        if self.session.name in self.hosts:
            self._keep()  # the chats it lists now are the ones it shows next time, before it connects
        return len(self.session.threads)

    def _host_status(self, session: HostSession, status: str, reason: str | None) -> None:
        """The relay says the paired Mac left or came back while this phone is open. Without a cause the phone
        waits for the Mac (today's app waits however long that takes); an app that names causes stops waiting when
        the relay says why the Mac is gone, and shows what to do about it."""
        machine = session.machine
        if status == "online":
            if machine.can(PhoneEvent.HOST_BACK):
                machine.fire(PhoneEvent.HOST_BACK)
            return
        if reason is not None and self.failure_copy is FailureCopy.NAMES_CAUSE:
            if machine.state in (PhoneState.LIVE, PhoneState.WAITING_FOR_HOST):
                machine.fail(error_for_code(reason, reason).code, f"the relay says the Mac is offline: {reason}")
            return
        if machine.can(PhoneEvent.HOST_WENT_OFFLINE):
            machine.fire(PhoneEvent.HOST_WENT_OFFLINE)

    async def wait_for_screen(self, matches: Callable[[Screen], bool], timeout: float) -> Screen:
        """The screen on top once it `matches`, or after `timeout` whatever is on top: what the relay already sent
        may still be on its way when a person looks."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not matches(self.screen):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._screen_shown.wait(), remaining)
        return self.screen

    async def wait_live(self, timeout: float) -> bool:
        """Whether the phone is live with its host again within `timeout` (it goes back to the screen it had)."""
        await self.wait_for_screen(lambda _screen: self.machine.is_live, timeout)
        return self.machine.is_live

    def _shown(self, _screen: Screen) -> None:
        shown, self._screen_shown = self._screen_shown, asyncio.Event()
        shown.set()

    def _socket_lost(self, session: HostSession, error: PairsimError) -> None:
        """The relay ended a socket this phone did not close. A revoked credential or a rejected device is the
        end of this pairing (its error screen); anything else only drops the connection (reconnect with
        `connect()`)."""
        machine = session.machine
        session.socket = None
        if error.code in (ErrorCode.SESSION_EXPIRED, ErrorCode.DEVICE_PROOF_REJECTED, ErrorCode.CLIENT_REVOKED):
            if machine.can(PhoneEvent.FAILURE):
                machine.fail(error.code, error.message)
        elif machine.can(PhoneEvent.CONNECTION_LOST):
            machine.fire(PhoneEvent.CONNECTION_LOST)

    # ----------------------------------------------------------------------------------------- whole flows

    async def pair(self, png: str | os.PathLike[str] | bytes, email: str, password: str,
                   totp_secret: str | None = None, *, workspace: str | None = None, skip_mfa: bool = False,
                   cancel_sign_in: bool = False, wrong_mfa_codes: int = 0,
                   dwell: Callable[[str], None] | None = None) -> PairingResult:
        """Scan → validate → sign in → claim → connect → initialize → load. Ends `live` or `failed(code)`."""
        try:
            link = await self.scan(png)
            stored = self._stored_host_of(link)
            if stored is not None and not self.replaces_stored_connection:
                # Today's app: the code names a computer it already holds a connection for, so it opens that one
                # instead of claiming the code it just read.
                self._current = stored
                return await self.reopen(setup=True)
            self.validate_link()
            await self.sign_in(email, password, totp_secret, workspace=workspace, skip_mfa=skip_mfa,
                               cancel=cancel_sign_in, wrong_mfa_codes=wrong_mfa_codes, dwell=dwell)
            await self.claim()
            await self.connect()
            await self.initialize()
            await self.load_live_state()
        except SetupFailed:
            pass
        if self.machine.is_live and self.session.name:
            self.hosts[self.session.name] = self.session
            self._keep()
        return self.result()

    async def pair_host(self, png: str | os.PathLike[str] | bytes, email: str, password: str,
                        totp_secret: str | None = None, **options: Any) -> PairingResult:
        """Pair one more host, keeping the hosts already paired; the new host becomes the active one."""
        self._start_new_session()
        return await self.pair(png, email, password, totp_secret, **options)

    def backup(self) -> PhoneBackup:
        """What a device backup holds of this app: each paired host's link, sign-in and client credentials, and
        which host was in use. Never the device key: it lives in the phone's secure hardware and cannot leave it."""
        return PhoneBackup(
            hosts=tuple(
                HostRecord(name, session.link, session.tokens, session.claim)
                for name, session in self.hosts.items()
                if session.link is not None and session.tokens is not None and session.claim is not None
            ),
            active_host=self.active_host if self.active_host in self.hosts else None,
        )

    def restore(self, backup: PhoneBackup) -> None:
        """Load a backup into this (new) app: its hosts come back as claimed, not yet connected, and the host that
        was in use is the active one again. This phone keeps its own device key."""
        self.hosts = {}
        for record in backup.hosts:
            session = self._new_session()
            session.link, session.tokens, session.claim = record.link, record.tokens, record.claim
            session.machine.restore_credentials(record.name)
            self.hosts[record.name] = session
        if backup.active_host is not None:
            self._current = self.hosts[backup.active_host]
        self._keep()

    async def reopen(self, *, setup: bool = False) -> PairingResult:
        """Open the app on a host it holds credentials for: connect, prove the device key, initialize, load.

        When that fails outside setup (the app was launched, or restored), today's app names no cause: it goes on
        showing the chats it listed before (openai/codex#23290), and only opening one shows what went wrong."""
        socket = self.session.socket
        if socket is not None and not socket.is_open:
            await socket.wait_closed()  # the relay has ended it: the app takes that in before going on
        if self.machine.is_live:
            return self.result()
        self._resume(self.session)
        try:
            await self.connect()
            await self.initialize()
            await self.load_live_state()
        except SetupFailed:
            if not setup and self.failure_copy is FailureCopy.STAGE_ONLY:
                self.machine.show_instead(screens.threads_screen(self.session.name or "", len(self.session.threads)))
        return self.result()

    async def open_chat(self) -> Screen:
        """The person opens her last chat with the computer in use: its messages load from the Mac, through the
        relay (connecting first when the app is not connected). Returns what the phone shows."""
        session = self.session
        self._need(session.claim, "this phone holds no connection to open a chat on")
        thread = session.threads[0] if session.threads else None
        if not self.machine.is_live:
            self._last_refusal = None
            await self.reopen()
        if not self.machine.is_live:
            refused = self._last_refusal
            if self.failure_copy is FailureCopy.STAGE_ONLY and refused is not None:
                body = messages.LEGACY_LOAD_MESSAGES_ERROR.format(http_status=refused.status,
                                                                  request_id=refused.request_id or "")
                title = str(thread.get("preview") or "") if thread else ""
                self.machine.show_instead(Screen("error:load_messages", title or session.name or "", body))
            return self.machine.screen
        socket = self._socket()
        if thread is not None:
            await self._guard(socket.request("thread/read", {"threadId": thread.get("id")}), setup=False)
        else:
            await self.load_live_state()
        return self.machine.screen

    async def list_computers(self) -> tuple[Computer, ...]:
        """Load the list of computers (the Codex tab's list): every computer of the signed-in person in this
        workspace, online or not, with when it was last seen. Uses the sign-in of the computer in use."""
        session = self.session if self.session.tokens is not None else next(iter(self.hosts.values()), None)
        if session is None or session.tokens is None or session.link is None:
            raise NotReady("this phone is not signed in to any computer's account")
        url = session.link.backend_base_url + COMPUTERS_PATH
        headers = self._chatgpt_headers(session.tokens)
        self.trace.http_request("GET", url, headers=headers)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as client:
                response = await client.get(url, headers=headers)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.NetworkError) as exc:
            raise PairsimError(f"cannot reach the backend ({type(exc).__name__})",
                               code=ErrorCode.RELAY_UNREACHABLE) from None
        self.trace.http_response("GET", url, response.status_code, headers=response.headers, body=response.text)
        if response.status_code != 200:
            code, detail = backend_error(response)
            raise PairsimError(detail or f"the list of computers was refused with HTTP {response.status_code}",
                               code=code or ErrorCode.UNKNOWN)
        try:
            self.computers = tuple(_computer(item) for item in response.json()["items"])
        except (ValueError, KeyError, TypeError, AttributeError, PairsimError):
            raise PairsimError("the list of computers is not the documented JSON",
                               code=ErrorCode.PROTOCOL_VIOLATION) from None
        return self.computers

    def switch_host(self, name: str) -> HostSession:
        try:
            self._current = self.hosts[name]
        except KeyError:
            raise NotReady(f"no paired host named {name!r} (paired: {', '.join(self.hosts) or 'none'})") from None
        self._keep()
        return self._current

    async def settle(self) -> None:
        """Take in a connection the relay has ended but whose end this app has not read yet, so that what it shows
        next is what it shows once it knows."""
        for session in self._sessions():
            socket = session.socket
            if socket is not None and not socket.is_open:
                await socket.wait_closed()

    # ----------------------------------------------------------------------------------------- the app's life

    async def kill(self) -> None:
        """The app is killed: its sockets end without a goodbye and whatever it held only in memory is lost."""
        for session in self._sessions():
            if session.socket is not None:
                await session.socket.abort()
                session.socket = None
        await self.browser.aclose()

    def relaunched(self) -> PhoneApp:
        """The app launched again after `kill()`, on the same phone: it reads what it stored (device key, paired
        computers, their last chats) and starts with nothing else. The phone's browser is another app: the cookies
        it keeps on disk (a remembered device) are still there, its sign-in session is not."""
        storage = self._need(self.storage, "this app stores nothing on the phone, so it cannot come back")
        app = PhoneApp(self.clock, profile=self.profile, trace=self.trace, issuer_url=self.issuer_url,
                       timeout=self.timeout, failure_copy=self.failure_copy, storage=storage,
                       replaces_stored_connection=self.replaces_stored_connection)
        self.browser.end_session()
        for cookie in self.browser.cookies.jar:
            app.browser.cookies.jar.set_cookie(cookie)
        return app

    def _load(self, stored: StoredConnections) -> None:
        for host in stored.hosts:
            session = self._new_session()
            session.link = host.link
            session.tokens = Tokens(**host.tokens)
            session.claim = ClaimedClient(**host.claim)
            session.threads = [dict(thread) for thread in host.threads]
            session.machine.restore_credentials(host.name)
            self.hosts[host.name] = session
        if stored.active_host in self.hosts:
            self._current = self.hosts[stored.active_host]

    def _keep(self) -> None:
        if self.storage is None:
            return
        hosts = tuple(
            StoredHost(name, session.link, dict(vars(session.tokens)), dict(vars(session.claim)),
                       tuple(session.threads))
            for name, session in self.hosts.items()
            if session.link is not None and session.tokens is not None and session.claim is not None
        )
        active = self.active_host if self.active_host in self.hosts else None
        self.storage.keep_connections(StoredConnections(hosts, active))

    def _stored_host_of(self, link: PairingLink) -> HostSession | None:
        return next((s for s in self.hosts.values()
                     if s.claim is not None and s.claim.environment_id == link.environment_id), None)

    def _resume(self, session: HostSession) -> None:
        """Back to the stored credentials of a host whose last attempt failed, to try again."""
        machine = session.machine
        if machine.is_failed and session.name is not None:
            name = session.name
            machine.fire(PhoneEvent.RESTART)
            machine.restore_credentials(name)

    def _sessions(self) -> list[HostSession]:
        return list({id(s): s for s in [*self.hosts.values(), self._current]}.values())

    def result(self) -> PairingResult:
        machine = self.machine
        live = machine.is_live
        outcome = "paired" if live else (machine.error_code or ErrorCode.UNKNOWN).value
        return PairingResult(
            outcome=outcome,
            state=machine.state.value,
            error_code=None if live else outcome,
            message=machine.state_screen.body,
            screens=[s.screen.to_dict() for s in machine.screens],
            host_name=machine.server_name,
            thread_count=len(self.session.threads) if live else None,
            error_detail=machine.error_detail,
        )

    # ----------------------------------------------------------------------------------------- remote projects

    async def list_remote_projects(self) -> tuple[RemoteProjectRow, ...]:
        """The Mac's SSH remote projects (`remoteProjects/list`, issue 12). A Mac whose Codex does not serve them
        (today's, openai/codex#23527) refuses the method: the phone then lists none, as today's app does."""
        try:
            result = await self._guard(self._socket().request(REMOTE_PROJECTS_LIST, {}), setup=False)
        except RpcCallFailed:
            result = {}
        data = result.get("data") if isinstance(result, dict) else None
        rows = tuple(RemoteProjectRow(str(item["id"]), str(item["name"]), str(item["host"]))
                     for item in data or [] if isinstance(item, dict) and {"id", "name", "host"} <= item.keys())
        self.session.remote_projects = rows
        return rows

    async def start_remote_turn(self, text: str, project_name: str) -> str:
        """Start a turn in a new thread of one of the Mac's remote projects (by its name as listed); the Mac
        carries it to the remote computer. Returns the turn's id."""
        project = next((row for row in self.session.remote_projects if row.name == project_name), None)
        if project is None:
            raise NotReady(f"the phone lists no remote project {project_name!r}")
        started = await self._guard(self._socket().request("thread/start", {"remoteProjectId": project.id}),
                                    setup=False)
        self.session.thread_id = str(started["thread"]["id"])
        self.session.turn_id = None
        return await self.start_turn(text, thread_id=self.session.thread_id)

    # ----------------------------------------------------------------------------------------- live session

    async def start_turn(self, text: str, *, thread_id: str | None = None) -> str:
        """Start a turn on a thread (the first listed one, or a new one when the host has none); returns its id."""
        socket = self._socket()
        thread = thread_id or self.session.thread_id or (self.session.threads[0].get("id")
                                                          if self.session.threads else None)
        if not thread:
            started = await self._guard(socket.request("thread/start", {}), setup=False)
            thread = str(started["thread"]["id"])
        self.session.thread_id = str(thread)
        result = await self._guard(socket.request(
            "turn/start", {"threadId": self.session.thread_id, "input": [{"type": "text", "text": text}]}),
            setup=False)
        turn = result.get("turn", {}) if isinstance(result, dict) else {}
        self.session.turn_id = _str_or_none(turn.get("id"))
        return self.session.turn_id or ""

    async def send_follow_up(self, text: str, *, timeout: float | None = None) -> str:
        """Send another message on the current thread: a new turn once the previous one has completed (the host
        refuses a second turn while one is in progress)."""
        if not self.session.thread_id:
            raise NotReady("start a turn before sending a follow-up")
        if self.session.turn_id:
            await self.wait_turn_completed(self.session.turn_id, timeout=timeout)
        return await self.start_turn(text, thread_id=self.session.thread_id)

    async def steer(self, text: str) -> str:
        """Send a follow-up into the turn that is running (`turn/steer`): Codex takes it into account in that same
        turn. Returns the turn's id."""
        if not self.session.thread_id or not self.session.turn_id:
            raise NotReady("start a turn before steering it")
        result = await self._guard(self._socket().request("turn/steer", {
            "threadId": self.session.thread_id, "expectedTurnId": self.session.turn_id,
            "input": [{"type": "text", "text": text}]}), setup=False)
        return str(result.get("turnId")) if isinstance(result, dict) else self.session.turn_id

    def turn_view(self, turn_id: str | None = None) -> TurnView:
        """What the phone shows of a turn (the current one by default): live, from what it watched on this
        connection, or as it read it back after being away."""
        wanted = turn_id or self.session.turn_id
        if wanted is None:
            raise NotReady("no turn to show")
        socket = self.session.socket
        watched = live_turns(socket.notifications) if socket is not None else {}
        view = self.session.read_back.get(wanted) or watched.get(wanted)
        return view if view is not None else TurnView(wanted)

    async def catch_up(self) -> TurnView:
        """Read the current thread back from the host (`thread/read` with its turns): how the phone learns what
        happened while it was away. Returns the current turn as read."""
        if not self.session.thread_id:
            raise NotReady("no thread to read")
        result = await self._guard(self._socket().request(
            "thread/read", {"threadId": self.session.thread_id, "includeTurns": True}), setup=False)
        thread = result.get("thread") if isinstance(result, dict) else None
        self.session.read_back = read_turns(thread) if isinstance(thread, dict) else {}
        return self.turn_view()

    async def fetch_image(self, path: str) -> bytes:
        """The bytes of an image on the host (one Codex showed), read through the host (`fs/readFile`)."""
        result = await self._guard(self._socket().request("fs/readFile", {"path": path}), setup=False)
        data = result.get("dataBase64") if isinstance(result, dict) else None
        if not isinstance(data, str):
            raise NotReady(f"the host sent no image for {path}")
        return base64.b64decode(data)

    async def wait_item_started(self, item_type: str, *, timeout: float | None = None) -> None:
        """Until the current turn shows an item of `item_type` (`fileChange`, ...) on this phone."""
        socket = self._socket()
        turn_id = self.session.turn_id

        def matches(n: Any) -> bool:
            params = n.params if isinstance(n.params, dict) else {}
            item = params.get("item")
            return params.get("turnId") == turn_id and isinstance(item, dict) and item.get("type") == item_type

        await self._guard(socket.wait_notification("item/started", matches, timeout=timeout), setup=False)

    async def wait_item_completed(self, item_id: str, *, timeout: float | None = None) -> None:
        """Until the host reports the item done (`item/completed`): a decision on it has been acted on."""
        socket = self._socket()

        def matches(n: Any) -> bool:
            item = n.params.get("item", {}) if isinstance(n.params, dict) else {}
            return isinstance(item, dict) and item.get("id") == item_id

        await self._guard(socket.wait_notification("item/completed", matches, timeout=timeout), setup=False)

    def pending_approvals(self) -> list[Approval]:
        socket = self._socket()
        changes = self._file_changes(socket)
        return [Approval.from_request(r, changes) for r in socket.server_requests if r.method in APPROVAL_METHODS]

    async def wait_for_approval(self, kind: str | None = None, *, timeout: float | None = None) -> Approval:
        """Wait until the host asks for an approval (of `kind` "command"/"file_change"), and show it."""
        socket = self._socket()
        wanted = {"command": (COMMAND_APPROVAL,), "file_change": (FILE_CHANGE_APPROVAL,)}.get(kind or "",
                                                                                               APPROVAL_METHODS)
        request = await self._guard(socket.wait_server_request(lambda r: r.method in wanted, timeout=timeout),
                                    setup=False)
        approval = Approval.from_request(request, self._file_changes(socket))
        self.machine.show_approval(approval.screen)
        return approval

    async def decide(self, approval: Approval, decision: str) -> Screen:
        """Answer an approval with "accept", "acceptForSession", "decline" or "cancel"."""
        if decision not in DECISIONS:
            raise NotReady(f"decision must be one of {', '.join(DECISIONS)}")
        await self._guard(self._socket().respond(approval.request, {"decision": decision}), setup=False)
        return self.machine.show_decision(decision)

    async def wait_turn_completed(self, turn_id: str | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        socket = self._socket()
        wanted = turn_id or self.session.turn_id

        def matches(n: Any) -> bool:
            turn = n.params.get("turn", {}) if isinstance(n.params, dict) else {}
            return wanted is None or turn.get("id") == wanted

        notification = await self._guard(socket.wait_notification("turn/completed", matches, timeout=timeout),
                                         setup=False)
        return notification.params.get("turn", {}) if isinstance(notification.params, dict) else {}

    async def close(self) -> None:
        for session in self._sessions():
            if session.socket is not None:
                await session.socket.close()
        await self.browser.aclose()

    # ----------------------------------------------------------------------------------------- internals

    def _new_session(self) -> HostSession:
        return HostSession(PhoneMachine(self.clock, failure_copy=self.failure_copy, on_screen=self._shown))

    def _start_new_session(self) -> None:
        self._current = self._new_session()

    def _socket(self) -> PhoneSocket:
        return self._need(self.session.socket, "connect to the host first")

    def _fail(self, code: ErrorCode | None, detail: str, *, fields: dict[str, str] | None = None) -> Any:
        if self.machine.can(PhoneEvent.FAILURE):
            self.machine.fail(code, detail, fields=fields)
        raise SetupFailed(detail, code=code or ErrorCode.UNKNOWN)

    async def _guard(self, awaitable: Awaitable[T], *, setup: bool = True) -> T:
        """Await a network step; a typed failure moves the machine to `failed(code)`.

        In a live session a JSON-RPC error answer (e.g. "a turn is already in progress") is the host refusing one
        request, not a broken connection: it is raised as `RpcCallFailed` and the session stays live.
        """
        try:
            return await awaitable
        except RpcCallFailed as exc:
            if not setup:
                raise
            self._fail(ErrorCode.PROTOCOL_VIOLATION, exc.message)
        except PairsimError as exc:
            if isinstance(exc, SocketRefused):
                self._last_refusal = exc
            self._fail(exc.code, exc.message)
        raise AssertionError("unreachable")

    @staticmethod
    def _need(value: T | None, message: str) -> T:
        if value is None:
            raise NotReady(message)
        return value

    def _chatgpt_headers(self, tokens: Tokens) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {tokens.access_token}", "x-codex-protocol-version": PROTOCOL_VERSION}
        if tokens.account_id:
            headers["chatgpt-account-id"] = tokens.account_id
        return headers

    async def _post_json(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        self.trace.http_request("POST", url, headers=headers, body=body)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as client:
                response = await client.post(url, json=body, headers=headers)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.NetworkError) as exc:
            self.trace.note(f"POST {url} failed: {type(exc).__name__}")
            self._fail(ErrorCode.RELAY_UNREACHABLE, f"cannot reach the backend ({type(exc).__name__})")
        self.trace.http_response("POST", url, response.status_code, headers=response.headers, body=response.text)
        return response

    @staticmethod
    def _file_changes(socket: PhoneSocket) -> dict[str, list[str]]:
        """Paths per file-change item, from the `item/started` notifications seen so far."""
        paths: dict[str, list[str]] = {}
        for note in socket.notifications:
            params = note.params if isinstance(note.params, dict) else {}
            item = params.get("item")
            if note.method == "item/started" and isinstance(item, dict) and item.get("type") == "fileChange":
                changes = item.get("changes") if isinstance(item.get("changes"), list) else []
                paths[str(item.get("id"))] = [str(c.get("path")) for c in changes if isinstance(c, dict)]
        return paths


def backend_error(response: httpx.Response) -> tuple[ErrorCode | None, str | None]:
    """The typed cause in a backend error body `{detail, code}`; no `code` (the legacy backend) gives None."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    code = body.get("code")
    if not isinstance(code, str) or not code:
        return None, detail
    return error_for_code(code, detail or code).code, detail


UPGRADE_REQUIRED = 426


def outdated_mac(response: httpx.Response) -> dict[str, str] | None:
    """The versions in a refusal saying the Mac's Codex is too old (HTTP 426 with `minimum_version` and
    `current_version`), or None for any other answer."""
    if response.status_code != UPGRADE_REQUIRED:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    versions = {name: body.get(name) for name in ("minimum_version", "current_version")}
    if not all(isinstance(value, str) and 0 < len(value) <= 64 for value in versions.values()):
        return None
    return {name: str(value) for name, value in versions.items()}


def not_json_detail(what: str, response: httpx.Response) -> str | None:
    """For the trace: `what` was answered with something that is not JSON (a proxy's HTML page, say), or None."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    if content_type == "application/json":
        return None
    return f"{what} was answered HTTP {response.status_code} with {content_type}, not JSON"


def _tokens_from(body: dict[str, Any]) -> Tokens:
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise SetupFailed("the token response has no access token", code=ErrorCode.SIGN_IN_FAILED)
    account_id = user_id = email = None
    try:
        # The phone reads its own token's claims to learn the workspace; the backend verifies the signature.
        payload = jwt.decode(access_token, options={"verify_signature": False})
        claims = TokenClaims.from_payload(payload)
        if claims.auth is not None:
            account_id, user_id = claims.auth.chatgpt_account_id, claims.auth.chatgpt_user_id
        email = claims.email
    except (jwt.PyJWTError, PairsimError):
        pass
    refresh = body.get("refresh_token")
    id_token = body.get("id_token")
    return Tokens(access_token, refresh if isinstance(refresh, str) else None,
                  id_token if isinstance(id_token, str) else None, account_id, user_id, email)


def _computer(item: Any) -> Computer:
    last_seen = item.get("last_seen_at")
    reason = item.get("offline_reason")
    return Computer(
        environment_id=str(item["environment_id"]),
        name=str(item["server_name"]),
        online=bool(item["online"]),
        last_seen_at=None if last_seen is None else float(parse_rfc3339(str(last_seen))),
        offline_reason=reason if isinstance(reason, str) else None,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _command_text(command: Any) -> str:
    return display_command(command) if command is not None else ""


class BlockingPhone:
    """A `PhoneApp` for synchronous callers (steps, CLI): each coroutine method runs on a `LoopThread`."""

    def __init__(self, app: PhoneApp, loop: LoopThread) -> None:
        self.app = app
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.app, name)
        if not callable(attr) or not _is_coroutine_function(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run(attr(*args, **kwargs))

        return call


def _is_coroutine_function(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func)


__all__ = [
    "Approval",
    "BlockingPhone",
    "ClaimedClient",
    "Computer",
    "HostRecord",
    "HostSession",
    "PairingResult",
    "PhoneApp",
    "PhoneBackup",
    "PhoneProfile",
    "SetupFailed",
    "Tokens",
]
