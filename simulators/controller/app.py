"""A Mac that controls another Mac: Settings › Connections › Control other devices, with real I/O.

The controlling Mac is a client of the relay, as a phone is, and reuses the phone's client stack: its own device key
(`simulators.protocol.device_key`), a ChatGPT sign-in through a real browser flow (`simulators.phone.sign_in`), and
the phone's relay socket (`simulators.phone.relay_client.PhoneSocket`: device-key challenge and proof, JSON-RPC
through `client_message`, the relay's `host_status`). What differs is how it pairs: it lists the hosts of the
account and workspace (`GET …/wham/remote/control/environments`, online as the relay sees it), and pairs with one
by the code to type the host shows, under a client id of its own (`POST …/wham/remote/control/client/pair`
`{client_id, manual_pairing_code}`).

Messages to a host go through the host's *app-server manager*, registered under `remote-control:<environment id>`,
as the desktop app keys them. Today's app registers one only when it pairs, so after a relaunch every message to a
host it paired before fails with "No AppServerManager registered for hostId: …" (openai/codex#41398); the fix
registers one for every stored pairing at launch. The other profile differences are in `ControlBehaviour`.

All network calls are async; `simulators.world.controllers.ControllingMacDriver` drives it from synchronous steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from simulators import messages
from simulators.browser import Browser
from simulators.clock import Clock
from simulators.phone.app import (
    APPROVAL_METHODS,
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    Approval,
    PhoneApp,
    Tokens,
)
from simulators.phone.app import _tokens_from as tokens_from
from simulators.phone.relay_client import (
    DEFAULT_TIMEOUT,
    HostOffline,
    PhoneSocket,
    RelayUnreachable,
    SocketRefused,
)
from simulators.phone.sign_in import sign_in_with_browser, tls_context
from simulators.phone.trace import Trace
from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.timers import elapse

HOSTS_PATH = "wham/remote/control/environments"
CLIENT_PAIR_PATH = "wham/remote/control/client/pair"
HOST_ID_PREFIX = "remote-control:"
# How long the desktop waits for its relay socket's opening handshake, on the controlling Mac's own clock.
OPEN_HANDSHAKE_TIMEOUT = 30.0
# The socket's own real-time bound while the clock decides: far beyond any scenario, never what ends a wait.
SOCKET_WAIT = 600.0
# The fix tries the relay again this many times when it refuses or ends a socket that is still being set up.
OPEN_ATTEMPTS = 3


class ControlProfile(StrEnum):
    LEGACY = "legacy"
    FIXED = "fixed"


@dataclass(frozen=True)
class ControlBehaviour:
    """What today's desktop does and what the fix does differently."""

    names_causes: bool
    registers_stored_hosts_at_launch: bool
    pairs_again_under_a_new_id: bool
    retries_the_relay: bool

    @classmethod
    def of(cls, profile: ControlProfile) -> ControlBehaviour:
        fixed = profile is ControlProfile.FIXED
        return cls(names_causes=fixed, registers_stored_hosts_at_launch=fixed, pairs_again_under_a_new_id=fixed,
                   retries_the_relay=fixed)


@dataclass(frozen=True)
class HostRow:
    """One host in Control other devices, as the backend listed it (online as the relay saw it then)."""

    environment_id: str
    name: str
    online: bool

    @property
    def presence(self) -> str:
        return messages.CONTROL_ONLINE if self.online else messages.CONTROL_OFFLINE


@dataclass(frozen=True)
class StoredPairing:
    """What the controlling Mac keeps about a host it paired with; it survives a relaunch."""

    environment_id: str
    name: str
    client_id: str
    client_session_token: str = field(repr=False)


@dataclass(frozen=True)
class ControlScreen:
    """What the host's row shows: a status line, and a message under it when something failed."""

    status: str
    message: str | None = None


class ControlFailed(PairsimError):
    """A failure the controlling Mac shows on the host's row (`shown`)."""

    def __init__(self, message: str, *, code: ErrorCode, shown: ControlScreen) -> None:
        super().__init__(message, code=code)
        self.shown = shown


class HandshakeTimedOut(RelayUnreachable):
    """The relay socket's opening handshake did not finish in time on this Mac's clock."""


class AppServerManager:
    """One host's app-server, reached through the relay: its socket, opened on demand and initialized once."""

    def __init__(self, mac: ControllingMac, pairing: StoredPairing) -> None:
        self.mac = mac
        self.pairing = pairing
        self.socket: PhoneSocket | None = None

    @property
    def host_id(self) -> str:
        return HOST_ID_PREFIX + self.pairing.environment_id

    async def connected(self) -> PhoneSocket:
        if self.socket is None or not self.socket.is_open:
            self.socket = await self.mac.open_socket(self.pairing)
            await self.socket.request("initialize", {
                "clientInfo": {"name": "codex_desktop", "title": "Codex", "version": self.mac.app_version},
                "capabilities": {"experimentalApi": True},
            })
            await self.socket.notify("initialized")
        return self.socket

    async def request(self, method: str, params: Any = None) -> Any:
        """One message to the host. A socket the relay ended before this Mac read the end (a dropped connection)
        is opened again once, as a reconnect, before the message is sent again."""
        reused = self.socket is not None and self.socket.is_open
        socket = await self.connected()
        try:
            return await socket.request(method, params)
        except PairsimError:
            if not reused or socket.closed_with is None:
                raise
        self.socket = None
        return await (await self.connected()).request(method, params)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None


class ControllingMac:
    def __init__(self, name: str, clock: Clock, backend_origin: str, *, profile: ControlProfile,
                 device_key: DeviceKey | None = None, trace: Trace | None = None,
                 pairings: dict[str, StoredPairing] | None = None, tokens: Tokens | None = None,
                 app_version: str = "26.1203.0") -> None:
        self.name = name
        self.clock = clock
        self.origin = backend_origin.rstrip("/")
        self.profile = profile
        self.behaviour = ControlBehaviour.of(profile)
        self.device_key = device_key or DeviceKey.generate()
        self.trace = trace or Trace(clock)
        self.app_version = app_version
        self.tokens = tokens
        self.browser = Browser(timeout=DEFAULT_TIMEOUT)
        # By environment id: what it stored about each host it paired with (its client id and session token).
        self.pairings: dict[str, StoredPairing] = dict(pairings or {})
        # By host id (`remote-control:<environment id>`): where every message to a host goes.
        self.managers: dict[str, AppServerManager] = {}
        if self.behaviour.registers_stored_hosts_at_launch:
            for pairing in self.pairings.values():
                self._register(pairing)
        self.hosts: tuple[HostRow, ...] = ()
        self.screens: dict[str, ControlScreen] = {}
        self.threads: dict[str, list[dict[str, Any]]] = {}
        self._approval_socket: PhoneSocket | None = None

    @property
    def backend_base_url(self) -> str:
        return f"{self.origin}/backend-api/"

    # ----------------------------------------------------------------------------------------- signing in

    async def sign_in(self, email: str, password: str, totp_secret: str | None) -> None:
        """Codex on this Mac signs in to ChatGPT through the browser, with the authenticator code when asked."""
        result = await sign_in_with_browser(
            self.browser, self.origin, email=email, password=password, totp_secret=totp_secret, workspace=None,
            skip_mfa=False, cancel=False, clock=self.clock, trace=self.trace, on_page=lambda _event: None,
            timeout=DEFAULT_TIMEOUT)
        self.tokens = tokens_from(result.token_body)

    # ----------------------------------------------------------------------------------------- the list of hosts

    async def turn_on(self, enable_remote_control: Callable[[], Awaitable[Any]] | None) -> ControlScreen:
        """Turn on "Control other devices": remote control on this Mac's own daemon first (when it has one), then
        the list of hosts. Today's desktop words any failure of the whole as one (openai/codex#35351)."""
        if enable_remote_control is not None:
            await enable_remote_control()
        try:
            await self.list_hosts()
        except ControlFailed as failed:
            if self.behaviour.names_causes:
                return failed.shown
            return ControlScreen(messages.CONTROL_OFFLINE, messages.CONTROL_LEGACY["state_failed"])
        return ControlScreen(messages.CONTROL_ONLINE)

    async def list_hosts(self) -> tuple[HostRow, ...]:
        """The account's computers in this workspace (this Mac's own excepted), online as the relay sees them."""
        tokens = self._signed_in()
        url = self.backend_base_url + HOSTS_PATH
        response = await self._http("GET", url, None, tokens)
        if response.status_code != 200:
            raise self._refused(response, listing=True)
        try:
            items = response.json()["items"]
            rows = tuple(HostRow(str(i["environment_id"]), str(i["server_name"]), bool(i["online"])) for i in items)
        except (ValueError, KeyError, TypeError):
            raise self._failure(ErrorCode.PROTOCOL_VIOLATION, "the list of hosts is not the documented JSON",
                                "update_failed", "hosts_unavailable", http_status="200") from None
        self.hosts = tuple(row for row in rows if row.name != self.name)
        return self.hosts

    def host(self, name: str) -> HostRow:
        for row in self.hosts:
            if row.name == name:
                return row
        raise PairsimError(f"{self.name} lists no host named {name!r} (it lists: "
                           f"{', '.join(r.name for r in self.hosts) or 'none'})", code=ErrorCode.UNKNOWN)

    # ----------------------------------------------------------------------------------------- pairing

    async def pair(self, host_name: str, manual_code: str) -> ControlScreen:
        """Pair with a listed host by the code to type it shows, then open it. Never raises for a product failure:
        the row's screen says what happened."""
        try:
            host = self.host(host_name) if self.hosts else None
            if host is None:
                await self.list_hosts()
                host = self.host(host_name)
            pairing = await self._pair(host, manual_code)
            self.pairings[host.environment_id] = pairing
            replaced = self._register(pairing)
            if replaced is not None:
                await replaced.close()
        except ControlFailed as failed:
            self.screens[host_name] = failed.shown
            return failed.shown
        return await self.open(host_name)

    async def _pair(self, host: HostRow, manual_code: str) -> StoredPairing:
        tokens = self._signed_in()
        stored = self.pairings.get(host.environment_id)
        client_id = stored.client_id if stored is not None else self._new_client_id()
        response = await self._pair_call(tokens, client_id, manual_code)
        if response.status_code == 403 and self.behaviour.pairs_again_under_a_new_id and \
                _error_code(response) is ErrorCode.CLIENT_REVOKED:
            # The host removed this Mac; its old id can never pair again, so it comes back as a new client.
            client_id = self._new_client_id()
            response = await self._pair_call(tokens, client_id, manual_code)
        if response.status_code != 200:
            raise self._refused(response, listing=False, host=host.name)
        try:
            data = response.json()
            return StoredPairing(str(data["environment_id"]), str(data["server_name"]), str(data["client_id"]),
                                 str(data["client_session_token"]))
        except (ValueError, KeyError, TypeError):
            raise self._failure(ErrorCode.PROTOCOL_VIOLATION, "the pairing answer is not the documented JSON",
                                "update_failed", "service_unavailable", http_status="200") from None

    async def _pair_call(self, tokens: Tokens, client_id: str, manual_code: str) -> httpx.Response:
        body = {
            "client_id": client_id,
            "manual_pairing_code": manual_code,
            "device_public_key": self.device_key.public_key_base64,
            "display_name": self.name,
            "device_type": "desktop",
            "platform": "macos",
            "os_version": "15.5",
            "device_model": "Mac",
            "app_version": self.app_version,
        }
        return await self._http("POST", self.backend_base_url + CLIENT_PAIR_PATH, body, tokens)

    # ----------------------------------------------------------------------------------------- opening a host

    async def open(self, host_name: str) -> ControlScreen:
        """Open a paired host: connect through its app-server manager, then list its threads."""
        pairing = next((p for p in self.pairings.values() if p.name == host_name), None)
        if pairing is None:
            raise PairsimError(f"{self.name} is not paired with {host_name!r}", code=ErrorCode.UNKNOWN)
        self.screens[host_name] = ControlScreen(messages.CONTROL_CONNECTING)
        try:
            result = await self.request(pairing.environment_id, "thread/list", {})
        except ControlFailed as failed:
            self.screens[host_name] = failed.shown
            return failed.shown
        data = result.get("data") if isinstance(result, dict) else None
        self.threads[host_name] = [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []
        manager = self.managers[HOST_ID_PREFIX + pairing.environment_id]
        assert manager.socket is not None
        self._approval_socket = manager.socket
        if manager.socket.host_status == "offline" and self.behaviour.names_causes:
            shown = ControlScreen(messages.CONTROL_OFFLINE,
                                  messages.CONTROL_CAUSES["host_offline"].format(server_name=host_name))
        else:
            shown = ControlScreen(messages.CONTROL_CONNECTED.format(server_name=host_name))
        self.screens[host_name] = shown
        return shown

    async def request(self, environment_id: str, method: str, params: Any = None) -> Any:
        """One message to a host's app-server, through the manager registered for it."""
        host_id = HOST_ID_PREFIX + environment_id
        manager = self.managers.get(host_id)
        name = self.pairings[environment_id].name if environment_id in self.pairings else environment_id
        if manager is None:
            text = messages.CONTROL_LEGACY["no_manager"].format(environment_id=environment_id)
            raise ControlFailed(text, code=ErrorCode.PROTOCOL_VIOLATION,
                                shown=ControlScreen(messages.CONTROL_CONNECTING, text))
        try:
            return await manager.request(method, params)
        except HandshakeTimedOut:
            raise self._failure(ErrorCode.RELAY_UNREACHABLE, "the opening handshake timed out", "handshake_timeout",
                                "handshake_timeout", title=messages.CONTROL_LEGACY["connection_failed"],
                                server_name=name) from None
        except SocketRefused as refused:
            if refused.status == 401:
                raise self._failure(ErrorCode.SESSION_EXPIRED, "the relay refused this Mac's pairing",
                                    "stale_enrollment", "pairing_expired", server_name=name) from None
            raise self._failure(refused.code, refused.message, "connection_failed", "offline") from None
        except HostOffline:
            # The relay has no daemon to deliver to: the host left the relay (its connections are off, or it is
            # offline). Today's row stays grey, "Connecting…", with nothing said (openai/codex#23933).
            if not self.behaviour.names_causes:
                raise ControlFailed("the host is offline", code=ErrorCode.HOST_OFFLINE,
                                    shown=ControlScreen(messages.CONTROL_CONNECTING)) from None
            raise self._failure(ErrorCode.HOST_OFFLINE, "the host is offline", "connection_failed", "host_offline",
                                server_name=name) from None
        except ControlFailed:
            raise
        except PairsimError as exc:
            raise self._failure(exc.code, exc.message, "connection_failed", "offline") from None

    async def open_socket(self, pairing: StoredPairing) -> PhoneSocket:
        """The relay socket for one host, its opening handshake bounded on this Mac's clock. The fix tries again
        when the relay refuses the socket with a server error or ends it during setup."""
        attempts = OPEN_ATTEMPTS if self.behaviour.retries_the_relay else 1
        for attempt in range(1, attempts + 1):
            try:
                socket = await self._open_once(pairing)
                socket.timeout = DEFAULT_TIMEOUT
                return socket
            except SocketRefused as refused:
                if refused.status < 500 or attempt == attempts:
                    raise
            except HandshakeTimedOut:
                raise
            except RelayUnreachable:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def _open_once(self, pairing: StoredPairing) -> PhoneSocket:
        tokens = self._signed_in()
        opening = asyncio.ensure_future(PhoneSocket.open(
            self.backend_base_url, client_id=pairing.client_id, client_session_token=pairing.client_session_token,
            access_token=tokens.access_token, account_id=tokens.account_id, device_key=self.device_key,
            trace=self.trace, timeout=SOCKET_WAIT))
        deadline = asyncio.ensure_future(elapse(self.clock, OPEN_HANDSHAKE_TIMEOUT))
        try:
            await asyncio.wait({opening, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
        if opening.done():
            return opening.result()
        opening.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await opening
        raise HandshakeTimedOut("the relay socket's opening handshake did not finish in 30 seconds")

    # ----------------------------------------------------------------------------------------- using a host

    async def start_turn(self, host_name: str, text: str) -> str:
        """Ask Codex on the host something, on its first thread (or a new one); returns the turn's id."""
        environment_id = self._paired(host_name).environment_id
        threads = self.threads.get(host_name) or []
        thread_id = threads[0].get("id") if threads else None
        if not thread_id:
            started = await self.request(environment_id, "thread/start", {})
            thread_id = started["thread"]["id"]
        result = await self.request(environment_id, "turn/start",
                                    {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
        self._approval_socket = self.managers[HOST_ID_PREFIX + environment_id].socket
        turn = result.get("turn", {}) if isinstance(result, dict) else {}
        return str(turn.get("id") or "")

    async def wait_for_approval(self, kind: str) -> Approval:
        socket = self._need_socket()
        wanted = {"command": (COMMAND_APPROVAL,), "file_change": (FILE_CHANGE_APPROVAL,)}.get(kind, APPROVAL_METHODS)
        request = await socket.wait_server_request(lambda r: r.method in wanted)
        return Approval.from_request(request, PhoneApp._file_changes(socket))

    async def decide(self, approval: Approval, decision: str) -> None:
        """Answer on this Mac; returns once the host has acted on it (`item/completed`)."""
        socket = self._need_socket()
        await socket.respond(approval.request, {"decision": decision})
        if approval.item_id is not None:
            item_id = approval.item_id
            await socket.wait_notification(
                "item/completed",
                lambda n: isinstance(n.params, dict) and isinstance(n.params.get("item"), dict)
                and n.params["item"].get("id") == item_id)

    async def close_host(self, host_name: str) -> None:
        """Leave the host: its connection closes; its pairing and its manager stay."""
        manager = self.managers.get(HOST_ID_PREFIX + self._paired(host_name).environment_id)
        if manager is not None:
            await manager.close()
        self.screens.pop(host_name, None)

    async def wait_host_status(self, host_name: str, status: str) -> str:
        """Until the relay says the open host is `status` ("online"/"offline"); the row's presence then."""
        environment_id = self._paired(host_name).environment_id
        manager = self.managers.get(HOST_ID_PREFIX + environment_id)
        if manager is None or manager.socket is None:
            raise PairsimError(f"{host_name} is not open on {self.name}", code=ErrorCode.UNKNOWN)
        await manager.socket.wait_host_status(status)
        return messages.CONTROL_ONLINE if manager.socket.host_status == "online" else messages.CONTROL_OFFLINE

    # ----------------------------------------------------------------------------------------- the app's life

    def relaunched(self) -> ControllingMac:
        """Codex on this Mac quits and starts again: the sign-in, the device key and the stored pairings stay;
        connections and registered managers do not (the fix registers them again at launch)."""
        return ControllingMac(self.name, self.clock, self.origin, profile=self.profile, device_key=self.device_key,
                              trace=self.trace, pairings=self.pairings, tokens=self.tokens,
                              app_version=self.app_version)

    async def close(self) -> None:
        for manager in self.managers.values():
            with contextlib.suppress(Exception):
                await manager.close()
        await self.browser.aclose()

    def issued_secrets(self) -> list[str]:
        secrets = [p.client_session_token for p in self.pairings.values()]
        if self.tokens is not None:
            secrets += [t for t in (self.tokens.access_token, self.tokens.refresh_token, self.tokens.id_token) if t]
        return secrets

    # ----------------------------------------------------------------------------------------- internals

    def _register(self, pairing: StoredPairing) -> AppServerManager | None:
        """Register the host's manager; returns the one it replaces (its socket, if open, is the caller's to
        close)."""
        manager = AppServerManager(self, pairing)
        old = self.managers.get(manager.host_id)
        self.managers[manager.host_id] = manager
        return old

    @staticmethod
    def _new_client_id() -> str:
        return f"ctl-{uuid.uuid4()}"

    def _signed_in(self) -> Tokens:
        if self.tokens is None:
            raise PairsimError(f"Codex on {self.name} is not signed in to ChatGPT", code=ErrorCode.SIGN_IN_FAILED)
        return self.tokens

    def _paired(self, host_name: str) -> StoredPairing:
        for pairing in self.pairings.values():
            if pairing.name == host_name:
                return pairing
        raise PairsimError(f"{self.name} is not paired with {host_name!r}", code=ErrorCode.UNKNOWN)

    def _need_socket(self) -> PhoneSocket:
        if self._approval_socket is None:
            raise PairsimError(f"no host is open on {self.name}", code=ErrorCode.UNKNOWN)
        return self._approval_socket

    async def _http(self, method: str, url: str, body: dict[str, Any] | None, tokens: Tokens) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens.access_token}", "x-codex-protocol-version": "3"}
        if tokens.account_id:
            headers["chatgpt-account-id"] = tokens.account_id
        self.trace.http_request(method, url, headers=headers, body=body)
        try:
            async with httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, verify=tls_context()) as client:
                response = await client.request(method, url, json=body, headers=headers)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.NetworkError) as exc:
            self.trace.note(f"{method} {url} failed: {type(exc).__name__}")
            raise self._failure(ErrorCode.RELAY_UNREACHABLE, f"cannot reach the backend ({type(exc).__name__})",
                                "connection_failed", "offline") from None
        self.trace.http_response(method, url, response.status_code, headers=response.headers, body=response.text)
        return response

    def _refused(self, response: httpx.Response, *, listing: bool, host: str | None = None) -> ControlFailed:
        status = response.status_code
        code = _error_code(response) or ErrorCode.UNKNOWN
        if listing:
            return self._failure(code, f"the list of hosts was refused with HTTP {status}", "update_failed",
                                 "hosts_unavailable", http_status=str(status))
        if status == 429:
            return self._failure(ErrorCode.RATE_LIMITED, "too many pairing attempts", "update_failed", "rate_limited")
        if status in (400, 404, 409, 410):
            return self._failure(code, f"the code was refused with HTTP {status}", "update_failed", "code_not_valid")
        return self._failure(code, f"the pairing was refused with HTTP {status}", "update_failed",
                             "service_unavailable", http_status=str(status))

    def _failure(self, code: ErrorCode, detail: str, legacy: str, cause: str, *, title: str | None = None,
                 **values: str) -> ControlFailed:
        """The failure as this profile's desktop shows it: today's words, or the cause."""
        if self.behaviour.names_causes:
            text = messages.CONTROL_CAUSES[cause].format(**values)
            status = messages.CONTROL_OFFLINE if cause == "host_offline" else messages.CONTROL_NOT_CONNECTED
            shown = ControlScreen(status, text)
        else:
            shown = ControlScreen(title or messages.CONTROL_CONNECTING, messages.CONTROL_LEGACY[legacy])
        return ControlFailed(detail, code=code, shown=shown)


def _error_code(response: httpx.Response) -> ErrorCode | None:
    """The typed code of a refusal; today's backend sends none, so its `detail` decides for a revoked client."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str):
        with contextlib.suppress(ValueError):
            return ErrorCode(code)
    if body.get("detail") == "Remote-control client has been revoked":
        return ErrorCode.CLIENT_REVOKED
    return None


__all__ = ["AppServerManager", "ControlFailed", "ControlProfile", "ControlScreen", "ControllingMac", "HostRow",
           "StoredPairing"]
