"""The phone app with real I/O: scan a QR image, sign in through a browser, claim, connect through the relay.

`PhoneApp` drives one `PhoneMachine` per paired host. Each step method feeds the machine as it goes; a product
failure (an expired code, a 403 from the claim, a host that does not answer) moves the machine to `failed(code)`
and raises `SetupFailed` carrying that code. `pair(...)` runs every step and never raises for product failures: it
returns a `PairingResult` that ends in `live` or `failed(code)` with the screens the user saw.

All network calls are async (httpx, websockets); use `BlockingPhone` from synchronous code.
"""

from __future__ import annotations

import base64
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt

from simulators.browser import Browser
from simulators.clock import Clock
from simulators.phone import screens
from simulators.phone.live import TurnView, display_command, live_turns, read_turns
from simulators.phone.machine import PhoneEvent, PhoneMachine, PhoneState
from simulators.phone.relay_client import DEFAULT_TIMEOUT, PROTOCOL_VERSION, PhoneSocket, RpcCallFailed
from simulators.phone.screens import FailureCopy, Screen
from simulators.phone.sign_in import SignInResult, sign_in_with_browser, sign_out_of_browser, tls_context
from simulators.phone.trace import Trace
from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import ErrorCode, PairsimError, error_for_code
from simulators.protocol.jsonrpc import Request
from simulators.protocol.oauth import TokenClaims
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import decode_pairing_link
from simulators.runtime import LoopThread

T = TypeVar("T")

CLAIM_PATH = "wham/remote/control/client/claim"
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


class PhoneApp:
    def __init__(self, clock: Clock, *, device_key: DeviceKey | None = None, profile: PhoneProfile | None = None,
                 trace: Trace | None = None, issuer_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, failure_copy: FailureCopy = FailureCopy.NAMES_CAUSE) -> None:
        self.clock = clock
        self.device_key = device_key or DeviceKey.generate()
        self.profile = profile or PhoneProfile()
        self.trace = trace or Trace(clock)
        # The QR code names only the backend; the issuer is the same origin unless told otherwise.
        self.issuer_url = issuer_url
        self.timeout = timeout
        self.failure_copy = failure_copy
        # The phone's browser keeps its cookies between sign-ins (and so what the issuer remembers about it).
        self.browser = Browser(timeout=timeout)
        self._current = self._new_session()
        self.hosts: dict[str, HostSession] = {}
        # The pages the browser showed in the last sign-in, in order (a page the issuer skipped is not there).
        self.sign_in_pages: tuple[str, ...] = ()

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
                      wrong_mfa_codes: int = 0) -> Tokens:
        """Sign in to ChatGPT in a browser (OAuth code flow with PKCE) and exchange the code for tokens.
        `wrong_mfa_codes`: the person mistypes the authenticator code that many times first."""
        link = self._need(self.session.link, "scan a QR code first")
        issuer = self.issuer_url or link.origin
        self.sign_in_pages = ()
        try:
            result: SignInResult = await sign_in_with_browser(
                self.browser, issuer, email=email, password=password, totp_secret=totp_secret, workspace=workspace,
                skip_mfa=skip_mfa, cancel=cancel, clock=self.clock, trace=self.trace, on_page=self._on_sign_in_page,
                timeout=self.timeout, wrong_mfa_codes=wrong_mfa_codes)
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
            self._fail(code, detail or f"claim refused with HTTP {response.status_code}")
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
            trace=self.trace, timeout=self.timeout, on_close=lambda error: self._socket_lost(session, error)))
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
        return len(self.session.threads)

    def _socket_lost(self, session: HostSession, error: PairsimError) -> None:
        """The relay ended a socket this phone did not close. A revoked credential or a rejected device is the
        end of this pairing (its error screen); anything else only drops the connection (reconnect with
        `connect()`)."""
        machine = session.machine
        session.socket = None
        if error.code in (ErrorCode.SESSION_EXPIRED, ErrorCode.DEVICE_PROOF_REJECTED):
            if machine.can(PhoneEvent.FAILURE):
                machine.fail(error.code, error.message)
        elif machine.can(PhoneEvent.CONNECTION_LOST):
            machine.fire(PhoneEvent.CONNECTION_LOST)

    # ----------------------------------------------------------------------------------------- whole flows

    async def pair(self, png: str | os.PathLike[str] | bytes, email: str, password: str,
                   totp_secret: str | None = None, *, workspace: str | None = None, skip_mfa: bool = False,
                   cancel_sign_in: bool = False, wrong_mfa_codes: int = 0) -> PairingResult:
        """Scan → validate → sign in → claim → connect → initialize → load. Ends `live` or `failed(code)`."""
        try:
            await self.scan(png)
            self.validate_link()
            await self.sign_in(email, password, totp_secret, workspace=workspace, skip_mfa=skip_mfa,
                               cancel=cancel_sign_in, wrong_mfa_codes=wrong_mfa_codes)
            await self.claim()
            await self.connect()
            await self.initialize()
            await self.load_live_state()
        except SetupFailed:
            pass
        if self.machine.is_live and self.session.name:
            self.hosts[self.session.name] = self.session
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

    async def reopen(self) -> PairingResult:
        """Open the app on a host it holds credentials for: connect, prove the device key, initialize, load."""
        try:
            await self.connect()
            await self.initialize()
            await self.load_live_state()
        except SetupFailed:
            pass
        return self.result()

    def switch_host(self, name: str) -> HostSession:
        try:
            self._current = self.hosts[name]
        except KeyError:
            raise NotReady(f"no paired host named {name!r} (paired: {', '.join(self.hosts) or 'none'})") from None
        return self._current

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
        sessions = {id(s): s for s in [*self.hosts.values(), self._current]}
        for session in sessions.values():
            if session.socket is not None:
                await session.socket.close()
        await self.browser.aclose()

    # ----------------------------------------------------------------------------------------- internals

    def _new_session(self) -> HostSession:
        return HostSession(PhoneMachine(self.clock, failure_copy=self.failure_copy))

    def _start_new_session(self) -> None:
        self._current = self._new_session()

    def _socket(self) -> PhoneSocket:
        return self._need(self.session.socket, "connect to the host first")

    def _fail(self, code: ErrorCode | None, detail: str) -> Any:
        if self.machine.can(PhoneEvent.FAILURE):
            self.machine.fail(code, detail)
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
    "HostRecord",
    "HostSession",
    "PairingResult",
    "PhoneApp",
    "PhoneBackup",
    "PhoneProfile",
    "SetupFailed",
    "Tokens",
]
