"""The phone's socket to the backend relay (`wham/remote/control/client`) and the JSON-RPC session inside it.

Opening it proves the device key (challenge → proof → `device_key_accepted`); after that every JSON-RPC message to
the daemon travels as `client_message`, every message from it arrives as `server_message {message, seq_id}` and is
acknowledged. One reader task owns the socket; callers wait on conditions (a response, a server request, a host
status) with bounded timeouts that end in typed errors, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from simulators.phone.trace import RECEIVED, SENT, Trace
from simulators.protocol.device_key import DeviceKey, DeviceKeyChallenge
from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError, error_for_code
from simulators.protocol.jsonrpc import (
    ErrorResponse,
    JsonRpcError,
    Notification,
    Request,
    RequestId,
    Response,
    parse_object,
    to_wire,
)

PROTOCOL_VERSION = "3"
CLIENT_SOCKET_PATH = "wham/remote/control/client"
DEFAULT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0

# Close codes the backend uses on the phone socket (docs/protocol.md §3.8).
CLOSE_SESSION_REVOKED = 4401
CLOSE_PROOF_REJECTED = 4403
CLOSE_PROOF_TIMEOUT = 4408

T = TypeVar("T")


class RelayUnreachable(PairsimError):
    """The relay could not be reached (connection refused, reset, timed out before the handshake)."""

    code = ErrorCode.RELAY_UNREACHABLE


class HostOffline(PairsimError):
    """The daemon did not answer in time, or the backend said it cannot deliver to it."""

    code = ErrorCode.HOST_OFFLINE


class SocketRefused(PairsimError):
    """The backend refused the socket's HTTP upgrade; `status` is what it answered, `request_id` the id it gave
    that answer (its `x-request-id`)."""

    def __init__(self, message: str, *, code: ErrorCode, status: int, request_id: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.request_id = request_id


class RpcCallFailed(PairsimError):
    """The daemon answered a JSON-RPC request with an error object."""

    code = ErrorCode.PROTOCOL_VIOLATION

    def __init__(self, method: str, rpc_code: int, rpc_message: str) -> None:
        super().__init__(f"{method} failed: {rpc_code} {rpc_message}")
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message


@dataclass(frozen=True)
class DeviceKeyAccepted:
    client_id: str
    environment_id: str
    server_name: str
    host_status: str


def client_socket_url(backend_base_url: str) -> str:
    """`ws(s)://…/backend-api/wham/remote/control/client` for an `http(s)://…/backend-api/` base."""
    parts = urlsplit(backend_base_url if backend_base_url.endswith("/") else backend_base_url + "/")
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + CLIENT_SOCKET_PATH, "", ""))


def status_error(status: int) -> ErrorCode:
    """What a refused upgrade means to the phone ([P], see docs/protocol.md §4.4)."""
    if status == 401:
        return ErrorCode.SESSION_EXPIRED
    if status == 400:
        return ErrorCode.UNSUPPORTED_VERSION
    if status in (403, 404):
        # An unknown or revoked client: this phone is no longer a paired device and must pair again.
        return ErrorCode.DEVICE_PROOF_REJECTED
    return ErrorCode.RELAY_UNREACHABLE


def refusal_code(status: int, body: bytes | None) -> ErrorCode:
    """A typed `code` in the refusal body wins; otherwise the status decides."""
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        parsed = None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if isinstance(code, str) and code:
        return error_for_code(code, code).code
    return status_error(status)


def close_error(code: int | None) -> ErrorCode:
    if code == CLOSE_SESSION_REVOKED:
        return ErrorCode.SESSION_EXPIRED
    if code in (CLOSE_PROOF_REJECTED, CLOSE_PROOF_TIMEOUT):
        return ErrorCode.DEVICE_PROOF_REJECTED
    return ErrorCode.RELAY_UNREACHABLE


class PhoneSocket:
    """One open, device-proven phone socket. Use `PhoneSocket.open(...)`; close with `close()`."""

    def __init__(self, ws: ClientConnection, *, trace: Trace, device_key: DeviceKey, client_id: str,
                 target_origin: str, timeout: float,
                 on_close: Callable[[PairsimError], None] | None = None,
                 on_host_status: Callable[[str, str | None], None] | None = None) -> None:
        self._ws = ws
        self._on_close = on_close
        self._on_host_status = on_host_status
        self._closing = False
        self._trace = trace
        self._device_key = device_key
        self._client_id = client_id
        self._target_origin = target_origin.lower()
        self.timeout = timeout
        self._changed = asyncio.Condition()
        self._next_id = 1
        self._pending: dict[RequestId, asyncio.Future[Any]] = {}
        self._requests: dict[RequestId, str] = {}
        self.accepted: DeviceKeyAccepted | None = None
        self.host_status: str | None = None
        # Why the host is offline, when the relay knows (a typed code; only a backend with typed errors says).
        self.host_reason: str | None = None
        self.server_requests: list[Request] = []
        self.notifications: list[Notification] = []
        self.errors: list[PairsimError] = []
        self.closed_with: PairsimError | None = None
        self.close_code: int | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="phone-socket-reader")

    @classmethod
    async def open(cls, backend_base_url: str, *, client_id: str, client_session_token: str, access_token: str,
                   account_id: str | None, device_key: DeviceKey, trace: Trace,
                   timeout: float = DEFAULT_TIMEOUT,
                   on_close: Callable[[PairsimError], None] | None = None,
                   on_host_status: Callable[[str, str | None], None] | None = None) -> PhoneSocket:
        """Connect, answer the device-key challenge and return once the backend accepted the proof.

        `on_close(error)` is called when an accepted socket ends without this phone closing it."""
        url = client_socket_url(backend_base_url)
        headers = {
            "x-codex-client-session-token": f"Bearer {client_session_token}",
            "x-codex-client-id": client_id,
            "x-codex-protocol-version": PROTOCOL_VERSION,
            "Authorization": f"Bearer {access_token}",
        }
        if account_id:
            headers["chatgpt-account-id"] = account_id
        trace.ws_open(url, headers=headers)
        try:
            ws = await asyncio.wait_for(
                connect(url, additional_headers=headers, open_timeout=None, max_size=None), timeout)
        except InvalidStatus as exc:
            status = exc.response.status_code
            trace.http_response("GET", url, status, body=exc.response.body)
            raise SocketRefused(f"the relay refused the phone socket with HTTP {status}",
                                code=refusal_code(status, exc.response.body), status=status,
                                request_id=exc.response.headers.get("x-request-id")) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise RelayUnreachable(f"cannot open the phone socket ({type(exc).__name__})") from None
        origin = urlsplit(backend_base_url)
        sock = cls(ws, trace=trace, device_key=device_key, client_id=client_id,
                   target_origin=f"{origin.scheme}://{origin.netloc}", timeout=timeout, on_close=on_close,
                   on_host_status=on_host_status)
        try:
            await sock._wait_for(lambda: sock.accepted is not None, RelayUnreachable,
                                 "the relay did not accept the device key in time")
        except BaseException:
            await sock.close()
            raise
        return sock

    # ------------------------------------------------------------------------------------------- JSON-RPC

    async def request(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """Send a JSON-RPC request to the daemon and return its result; `HostOffline` if none comes in time."""
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._requests[request_id] = method
        try:
            await self._send_rpc(to_wire(Request(request_id, method, params)))
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout or self.timeout)
            except TimeoutError:
                raise HostOffline(f"no answer to {method} from the host in time") from None
        finally:
            self._pending.pop(request_id, None)
            self._requests.pop(request_id, None)

    async def notify(self, method: str, params: Any = None) -> None:
        await self._send_rpc(to_wire(Notification(method, params)))

    async def respond(self, request: Request, result: Any) -> None:
        """Answer a server→client request (an approval) and forget it."""
        await self._send_rpc(to_wire(Response(request.id, result)))
        if request in self.server_requests:
            self.server_requests.remove(request)

    async def wait_server_request(self, predicate: Callable[[Request], bool] = lambda r: True, *,
                                  timeout: float | None = None) -> Request:
        def found() -> Request | None:
            return next((r for r in self.server_requests if predicate(r)), None)

        await self._wait_for(lambda: found() is not None, HostOffline,
                             "the host sent no such request in time", timeout)
        request = found()
        assert request is not None
        return request

    async def wait_notification(self, method: str, predicate: Callable[[Notification], bool] = lambda n: True,
                                *, after: int = 0, timeout: float | None = None) -> Notification:
        """The first notification `method` at index >= `after` that satisfies `predicate`."""
        def found() -> Notification | None:
            return next((n for n in self.notifications[after:] if n.method == method and predicate(n)), None)

        await self._wait_for(lambda: found() is not None, HostOffline,
                             f"the host sent no {method} in time", timeout)
        notification = found()
        assert notification is not None
        return notification

    async def wait_host_status(self, status: str, *, timeout: float | None = None) -> None:
        await self._wait_for(lambda: self.host_status == status, HostOffline,
                             f"host status did not become {status} in time", timeout)

    async def wait_closed(self, *, timeout: float | None = None) -> PairsimError:
        """Wait until the relay ends this socket; returns why."""
        await self._wait_for(lambda: self.closed_with is not None, RelayUnreachable,
                             "the phone socket is still open", timeout)
        assert self.closed_with is not None
        return self.closed_with

    async def close(self) -> None:
        self._closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    async def abort(self) -> None:
        """End the connection at once, with no close frame (the app's process is gone)."""
        self._closing = True
        transport = self._ws.transport
        if transport is not None:
            transport.abort()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    @property
    def is_open(self) -> bool:
        # The connection's own state too: a close the relay sent may not have reached the reader task yet.
        return self.closed_with is None and not self._reader.done() and self._ws.state is State.OPEN

    # ------------------------------------------------------------------------------------------- internals

    async def _send_rpc(self, message: dict[str, Any]) -> None:
        if self.closed_with is not None:
            raise self.closed_with
        await self._send({"type": "client_message", "message": message})

    async def _send(self, frame: dict[str, Any]) -> None:
        self._trace.ws_frame(SENT, frame)
        try:
            await self._ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise RelayUnreachable(f"the phone socket is closed ({exc.rcvd.code if exc.rcvd else 'no code'})") \
                from None

    async def _wait_for(self, ready: Callable[[], bool], error: type[PairsimError], message: str,
                        timeout: float | None = None) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: ready() or self.closed_with is not None)

        try:
            await asyncio.wait_for(wait(), timeout or self.timeout)
        except TimeoutError:
            raise error(message) from None
        if not ready() and self.closed_with is not None:
            raise self.closed_with

    async def _read_loop(self) -> None:
        failure: PairsimError | None = None
        try:
            async for raw in self._ws:
                try:
                    await self._handle(raw)
                except PairsimError as exc:
                    # A malformed or hostile frame from the relay ends this socket with a typed error.
                    failure = exc
                    break
                async with self._changed:
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            rcvd = self._ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd else None
            if failure is None and self.errors and self.errors[-1].code is not ErrorCode.HOST_OFFLINE:
                # The relay said why before closing (e.g. device_proof_rejected, then close 4403).
                failure = self.errors[-1]
            if failure is None:
                failure = error_for_code(close_error(self.close_code),
                                         f"the relay closed the phone socket (close code {self.close_code})")
            self._trace.ws_close(self.close_code, rcvd.reason if rcvd else "")
            self.closed_with = failure
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(failure)
            # Wake the waiters before the closing handshake, which may take the peer's time.
            async with self._changed:
                self._changed.notify_all()
            if self._on_close is not None and self.accepted is not None and not self._closing:
                self._on_close(failure)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)

    async def _handle(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self._trace.ws_frame(RECEIVED, {"unparsed_length": len(raw)})
            raise ProtocolError("the relay sent a frame that is not JSON") from None
        self._trace.ws_frame(RECEIVED, frame)
        if not isinstance(frame, dict):
            raise ProtocolError("the relay sent a frame that is not an object")
        kind = frame.get("type")
        if kind == "device_key_challenge":
            await self._answer_challenge(frame)
        elif kind == "device_key_accepted":
            self.accepted = DeviceKeyAccepted(
                client_id=str(frame.get("clientId", "")),
                environment_id=str(frame.get("environmentId", "")),
                server_name=str(frame.get("serverName", "")),
                host_status=str(frame.get("hostStatus", "")),
            )
            self.host_status = self.accepted.host_status
            self.host_reason = _reason(frame.get("hostReason"))
        elif kind == "server_message":
            await self._server_message(frame)
        elif kind == "host_status":
            self.host_status = str(frame.get("status", ""))
            self.host_reason = _reason(frame.get("reason"))
            if self._on_host_status is not None and self.accepted is not None:
                self._on_host_status(self.host_status, self.host_reason)
        elif kind == "error":
            self._error_frame(frame)
        # Unknown frame types are ignored: a newer relay may send more than this phone knows.

    async def _answer_challenge(self, frame: dict[str, Any]) -> None:
        challenge = DeviceKeyChallenge.from_json(frame)
        # Signing a challenge for another origin or client would hand a relaying attacker a valid proof.
        if challenge.target_origin.lower() != self._target_origin:
            raise ProtocolError("device key challenge names another origin than the relay this phone opened")
        if challenge.client_id != self._client_id:
            raise ProtocolError("device key challenge names another client than this phone")
        await self._send(self._device_key.prove(challenge).to_json())

    async def _server_message(self, frame: dict[str, Any]) -> None:
        seq_id = frame.get("seq_id")
        try:
            message = parse_object(frame.get("message"))
        except JsonRpcError:
            message = None
        if isinstance(seq_id, int) and not isinstance(seq_id, bool):
            # Ack even what we cannot parse: redelivering it would not make it parse.
            await self._send({"type": "ack", "seq_id": seq_id})
        if message is None:
            raise ProtocolError("the host sent a message that is not JSON-RPC")
        if isinstance(message, Response | ErrorResponse):
            future = self._pending.get(message.id)
            if future is None or future.done():
                return
            if isinstance(message, Response):
                future.set_result(message.result)
            else:
                method = self._requests.get(message.id, "request")
                future.set_exception(RpcCallFailed(method, message.error.code, message.error.message))
        elif isinstance(message, Request):
            self.server_requests.append(message)
        else:
            self.notifications.append(message)

    def _error_frame(self, frame: dict[str, Any]) -> None:
        code = frame.get("code")
        message = str(frame.get("message") or code or "relay error")
        error = error_for_code(code if isinstance(code, str) else ErrorCode.UNKNOWN, message)
        self.errors.append(error)
        if self.accepted is None:
            # An error before `device_key_accepted` ends the handshake: nothing useful can follow on this socket.
            raise error
        if error.code is ErrorCode.HOST_OFFLINE:
            # The backend could not deliver to the daemon: nothing pending will be answered.
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HostOffline(message))


def _reason(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = [
    "DeviceKeyAccepted",
    "HostOffline",
    "PhoneSocket",
    "RelayUnreachable",
    "RpcCallFailed",
    "SocketRefused",
    "client_socket_url",
]
