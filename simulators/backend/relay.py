"""The backend's relay: the daemon's socket (`wham/remote/control/server`), the phones' sockets
(`wham/remote/control/client`) and the router between them.

One daemon socket per environment (a newer one replaces the older). Each phone socket, once it has proven its
device key, is one (`client_id`, `stream_id`) stream to that daemon. Phone messages become relay `client_message`
envelopes, each stamped with the environment's next `cursor` and kept in a bounded log, so a daemon that reconnects
with `x-codex-subscribe-cursor` gets every envelope after it again. The daemon's `server_message`s (whole or
chunked) go only to the phone socket they name; a replayed seq_id is not delivered twice.

Every outgoing frame goes through one writer task per socket, so frames keep their order and a delivery-delay fault
delays without reordering. Envelope parsing and chunk reassembly are the sans-I/O `simulators.protocol.relay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from simulators.backend.environments import (
    Client,
    ClientRevoked,
    NotFound,
    RemoteControlError,
    RemoteControlStore,
    ServerEnrollment,
    Unauthorized,
)
from simulators.backend.relay_faults import CloseOrder, RelayFaults, RelayParty
from simulators.clock import Clock
from simulators.protocol import relay as rp
from simulators.protocol.device_key import (
    DeviceKeyChallenge,
    DeviceKeyProof,
    DeviceProofRejected,
    b64url,
    verify_proof,
)
from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError

log = logging.getLogger(__name__)

CLIENT_SESSION_TOKEN_HEADER = "x-codex-client-session-token"
CLIENT_ID_HEADER = "x-codex-client-id"

MAX_FRAME_BYTES = 1024 * 1024
MAX_REASSEMBLED_BYTES = 1024 * 1024
REPLAY_LOG_SIZE = 1024
DEVICE_PROOF_TIMEOUT = 10.0

# Close codes (pairsim-defined, in the 4000-4999 private range, mirroring HTTP statuses).
CLOSE_REPLACED = 4000  # a newer daemon socket took over this environment
CLOSE_REVOKED = 4401  # the credential behind the socket was revoked (password change, phone removed)
CLOSE_PROOF_REJECTED = 4403
CLOSE_PROOF_TIMEOUT = 4408
# A daemon that closes with this reason is leaving with remote control switched off (pairsim-defined).
DISABLED_CLOSE_REASON = "remote_control_disabled"


class HandshakeRefused(PairsimError):
    """The upgrade request was refused with a plain HTTP status before any WebSocket existed."""

    def __init__(self, status: int, message: str, *, code: ErrorCode) -> None:
        super().__init__(message, code=code)
        self.status = status


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class RelayEvent:
    kind: str
    environment_id: str | None = None
    client_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class EventLog:
    """Everything that happened on the relay, in order, with a way to wait for something to happen."""

    def __init__(self) -> None:
        self.events: list[RelayEvent] = []
        self._changed = asyncio.Condition()
        self._pending: set[asyncio.Task[None]] = set()

    def emit(self, event: RelayEvent) -> None:
        self.events.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called off the loop (a test thread): nobody can be waiting on this loop-bound condition
        self._pending.add(task := loop.create_task(self._notify()))
        task.add_done_callback(self._pending.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = 10.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)

    async def wait_event(
        self, kind: str, *, since: int = 0, timeout: float = 10.0, **match: Any
    ) -> RelayEvent:
        """The first event of `kind` at index >= `since` whose attributes/detail match."""

        def found() -> RelayEvent | None:
            for event in self.events[since:]:
                if event.kind != kind:
                    continue
                values = {"environment_id": event.environment_id, "client_id": event.client_id, **event.detail}
                if all(values.get(k) == v for k, v in match.items()):
                    return event
            return None

        await self.wait_for(lambda: found() is not None, timeout)
        event = found()
        assert event is not None
        return event


# ------------------------------------------------------------------------------------------------ connections


class _Socket:
    """One WebSocket plus the writer task that owns its outgoing side."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, delay: Callable[[], float],
                 sent: Callable[[], CloseOrder | None] = lambda: None) -> None:
        self.ws = ws
        self.request = request
        self._delay = delay
        # Told of every frame written; a close order it returns ends the socket there (a `close_after` fault).
        self._sent = sent
        self._queue: asyncio.Queue[str | tuple[int, str] | None] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, obj: dict[str, Any] | str) -> None:
        self._queue.put_nowait(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))

    def close_later(self, code: int, reason: str = "") -> None:
        """Close after every frame already queued has gone out (an error frame, then the close)."""
        self._queue.put_nowait((code, reason))

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            try:
                if isinstance(item, tuple):
                    await self.ws.close(code=item[0], message=item[1].encode())
                    return
                delay = self._delay()
                if delay > 0:
                    await asyncio.sleep(delay)  # a delivery-delay fault, not a wait for state
                await self.ws.send_str(item)
                order = self._sent()
                if order is not None:
                    await self.ws.close(code=order.code, message=order.reason.encode())
                    return
            except (ConnectionError, RuntimeError):
                return

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def closed(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)

    async def finish(self) -> None:
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._writer, 5)


@dataclass
class _Daemon:
    socket: _Socket
    enrollment: ServerEnrollment
    server_name: str


@dataclass
class _Phone:
    socket: _Socket
    client: Client
    stream_id: str


@dataclass
class _EnvironmentRelay:
    environment_id: str
    daemon: _Daemon | None = None
    phones: dict[tuple[str, str], _Phone] = field(default_factory=dict)
    next_cursor: int = 0
    log: deque[tuple[int, list[str]]] = field(default_factory=lambda: deque(maxlen=REPLAY_LOG_SIZE))
    inbound_seq: dict[tuple[str, str], int] = field(default_factory=dict)
    delivered: dict[tuple[str, str], int] = field(default_factory=dict)
    phone_acked: dict[tuple[str, str], int] = field(default_factory=dict)
    reassembler: rp.Reassembler = field(
        default_factory=lambda: rp.Reassembler(max_message_bytes=MAX_REASSEMBLED_BYTES)
    )
    pongs: deque[rp.Pong] = field(default_factory=deque)


def _uuid7(now_ms: int) -> str:
    """A UUIDv7 (the real daemon's stream ids are v7): 48-bit ms time, version 7, variant 10, random rest."""
    rand = secrets.randbits(74)
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def _bearer(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


# ------------------------------------------------------------------------------------------------ the hub


class RelayHub:
    """Both relay sockets of one backend and the routing between them. Runs on the backend's event loop."""

    def __init__(
        self,
        store: RemoteControlStore,
        clock: Clock,
        *,
        events: EventLog | None = None,
        device_proof_timeout: float = DEVICE_PROOF_TIMEOUT,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        refuse: Callable[[HandshakeRefused, web.Request], web.Response] | None = None,
        check_enrollment: Callable[[ServerEnrollment], None] | None = None,
        check_client: Callable[[Client], None] | None = None,
        host_reason: Callable[[str], str | None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events or EventLog()
        self.device_proof_timeout = device_proof_timeout
        self.max_frame_bytes = max_frame_bytes
        self.delivery_delay = 0.0
        self._refuse = refuse or _plain_refusal
        # Lets the owner revoke an enrollment whose user changed password before we accept its socket.
        self._check_enrollment = check_enrollment or (lambda _e: None)
        # The same for a phone whose user changed password since it claimed.
        self._check_client = check_client or (lambda _c: None)
        # Why an environment's daemon is not here, when the owner knows (a typed code), for the phones waiting on it.
        self._host_reason = host_reason or (lambda _environment_id: None)
        # A fault: this many of the next messages to phones arrive cut short (`garble_next_phone_messages`).
        self.garbled_phone_messages = 0
        # Faults against one party's sockets: refused upgrades, closes, delays, unanswered pings.
        self.faults = RelayFaults()
        self._envs: dict[str, _EnvironmentRelay] = {}

    # ---- state queries (in-process test control)

    def _env(self, environment_id: str) -> _EnvironmentRelay:
        env = self._envs.get(environment_id)
        if env is None:
            env = self._envs[environment_id] = _EnvironmentRelay(environment_id)
        return env

    def daemon_connected(self, environment_id: str) -> bool:
        env = self._envs.get(environment_id)
        return env is not None and env.daemon is not None

    def daemon_for(self, environment_id: str) -> _Daemon | None:
        env = self._envs.get(environment_id)
        return None if env is None else env.daemon

    def streams_of(self, client_id: str) -> list[str]:
        return [p.stream_id for p in self._phones_of(client_id)]

    def phone_streams(self, environment_id: str) -> list[tuple[str, str]]:
        env = self._envs.get(environment_id)
        return [] if env is None else list(env.phones)

    def cursor(self, environment_id: str) -> int:
        return self._env(environment_id).next_cursor

    def replay_log(self, environment_id: str) -> list[tuple[int, list[str]]]:
        return list(self._env(environment_id).log)

    async def wait_daemon_connected(self, environment_id: str, timeout: float = 10.0) -> None:
        await self.events.wait_for(lambda: self.daemon_connected(environment_id), timeout)

    async def wait_daemon_disconnected(self, environment_id: str, timeout: float = 10.0) -> None:
        await self.events.wait_for(lambda: not self.daemon_connected(environment_id), timeout)

    async def wait_phone_connected(self, client_id: str, timeout: float = 10.0) -> None:
        await self.events.wait_for(lambda: self._phones_of(client_id) != [], timeout)

    async def wait_phone_disconnected(self, client_id: str, timeout: float = 10.0) -> None:
        await self.events.wait_for(lambda: self._phones_of(client_id) == [], timeout)

    def _phones_of(self, client_id: str) -> list[_Phone]:
        return [p for env in self._envs.values() for (cid, _), p in env.phones.items() if cid == client_id]

    # ---- control (faults and security events)

    async def drop_daemon(self, environment_id: str) -> bool:
        """Cut the daemon's TCP connection without a close frame, as a network failure would."""
        env = self._envs.get(environment_id)
        if env is None or env.daemon is None:
            return False
        env.daemon.socket.abort()
        await self.wait_daemon_disconnected(environment_id)
        return True

    async def close_daemon(self, environment_id: str, code: int, reason: str = "") -> bool:
        env = self._envs.get(environment_id)
        if env is None or env.daemon is None:
            return False
        env.daemon.socket.close_later(code, reason)
        await self.wait_daemon_disconnected(environment_id)
        return True

    async def close_client(self, client_id: str, code: int = CLOSE_REVOKED, reason: str = "revoked", *,
                           cause: ErrorCode | None = None) -> int:
        """Close every socket of one phone; with `cause`, an `error` frame naming it goes first (the typed-error
        fix tells a phone it was removed, not merely signed out)."""
        phones = self._phones_of(client_id)
        for phone in phones:
            if cause is not None:
                phone.socket.send({"type": "error", "code": str(cause), "message": reason})
            phone.socket.close_later(code, reason)
        if phones:
            await self.wait_phone_disconnected(client_id)
        return len(phones)

    async def close_all(self, code: int = 1001, reason: str = "backend shutting down") -> None:
        """Close every socket (the server is stopping; aiohttp would otherwise wait for the handlers)."""
        sockets = [env.daemon.socket for env in self._envs.values() if env.daemon is not None]
        sockets += [phone.socket for env in self._envs.values() for phone in env.phones.values()]
        for socket in sockets:
            socket.close_later(code, reason)
        await asyncio.gather(*(s.closed() for s in sockets), return_exceptions=True)

    def _sockets_of(self, party: RelayParty) -> list[_Socket]:
        if party is RelayParty.DAEMON:
            return [env.daemon.socket for env in self._envs.values() if env.daemon is not None]
        return [phone.socket for env in self._envs.values() for phone in env.phones.values()]

    async def drop(self, party: RelayParty) -> int:
        """Cut the TCP connection of every open socket of `party`, with no close frame, as a network failure
        would; returns how many there were, once the relay has seen each one end."""
        sockets = self._sockets_of(party)
        for socket in sockets:
            socket.abort()
        await asyncio.gather(*(socket.closed() for socket in sockets), return_exceptions=True)
        return len(sockets)

    async def close_party_now(self, party: RelayParty, order: CloseOrder) -> int:
        """Close every open socket of `party` with `order`'s code and reason; returns how many there were."""
        sockets = self._sockets_of(party)
        for socket in sockets:
            socket.close_later(order.code, order.reason)
        await asyncio.gather(*(socket.closed() for socket in sockets), return_exceptions=True)
        return len(sockets)

    def _new_socket(self, ws: web.WebSocketResponse, request: web.Request, party: RelayParty) -> _Socket:
        return _Socket(ws, request, lambda: self.delivery_delay + self.faults.delay_for(party),
                       lambda: self.faults.frame_sent(party))

    async def _control_frame(self, ws: web.WebSocketResponse, party: RelayParty, msg: Any) -> bool:
        """A ping (answered unless the party's pings go unanswered) or a pong; False for anything else. The
        relay answers pings itself (autoping off) so that a fault can keep it from answering."""
        if msg.type == WSMsgType.PING:
            if self.faults.answers_pings(party):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.pong(msg.data)
            else:
                self.events.emit(RelayEvent("ping_unanswered", detail={"party": str(party)}))
            return True
        return msg.type == WSMsgType.PONG

    def _refused_by_fault(self, party: RelayParty) -> web.Response | None:
        refusal = self.faults.take_refusal(party)
        if refusal is None:
            return None
        self.events.emit(RelayEvent(f"{party}_refused", detail={"status": refusal.status, "fault": True}))
        return web.Response(status=refusal.status, text=refusal.body)

    async def ping_daemon(self, environment_id: str, client_id: str, stream_id: str,
                          timeout: float = 10.0) -> RelayEvent:
        """Send a relay `ping` for one stream and return the daemon's `pong` (as its event)."""
        env = self._env(environment_id)
        seen = len(self.events.events)
        self._to_daemon(env, rp.Ping(client_id=client_id, stream_id=stream_id), logged=False)
        event = await self.events.wait_event(
            "pong", since=seen, timeout=timeout, environment_id=environment_id, stream_id=stream_id
        )
        return event

    # ---- daemon socket

    async def handle_daemon(self, request: web.Request) -> web.StreamResponse:
        faulted = self._refused_by_fault(RelayParty.DAEMON)
        if faulted is not None:
            return faulted
        try:
            enrollment, handshake = self._daemon_handshake(request)
        except HandshakeRefused as refused:
            self.events.emit(RelayEvent("daemon_refused", detail={"status": refused.status, "code": str(refused.code)}))
            return self._refuse(refused, request)
        ws = web.WebSocketResponse(max_msg_size=self.max_frame_bytes, autoping=False)
        await ws.prepare(request)
        env = self._env(enrollment.environment_id)
        socket = self._new_socket(ws, request, RelayParty.DAEMON)
        daemon = _Daemon(socket, enrollment, handshake.server_name)
        previous = env.daemon
        # Replay first, then register: both without awaiting, so nothing new can overtake the replay.
        replayed = self._replay(env, socket, handshake.subscribe_cursor)
        env.daemon = daemon
        if previous is not None:
            previous.socket.close_later(CLOSE_REPLACED, "replaced by a newer connection")
        if self.store.environment(env.environment_id).remote_control_disabled:
            self.store.set_remote_control_disabled(env.environment_id, False)
        self.store.daemon_seen(env.environment_id)
        self.events.emit(RelayEvent("daemon_connected", env.environment_id,
                                    detail={"server_id": enrollment.server_id, "replayed": replayed}))
        if previous is None:
            self._host_status(env, "online")
        close_reason = ""
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    self._from_daemon(env, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._violation(env, "daemon", "binary frame dropped")
                elif await self._control_frame(ws, RelayParty.DAEMON, msg):
                    continue
                else:
                    if msg.type == WSMsgType.CLOSE and isinstance(msg.extra, str):
                        close_reason = msg.extra
                    break
        finally:
            close_code = ws.close_code
            await socket.finish()
            if env.daemon is daemon:
                env.daemon = None
                # What a phone's list of computers shows as "last seen".
                self.store.daemon_seen(env.environment_id)
                if close_reason == DISABLED_CLOSE_REASON:
                    with contextlib.suppress(NotFound):
                        self.store.set_remote_control_disabled(env.environment_id, True)
                self._host_status(env, "offline")
            self.events.emit(RelayEvent("daemon_disconnected", env.environment_id,
                                        detail={"server_id": enrollment.server_id, "close_code": close_code}))
        return ws

    def _daemon_handshake(self, request: web.Request) -> tuple[ServerEnrollment, rp.RelayHandshake]:
        try:
            handshake = rp.RelayHandshake.from_headers(request.headers.items())
        except rp.UnsupportedProtocolVersionError as exc:
            raise HandshakeRefused(400, exc.message, code=ErrorCode.UNSUPPORTED_VERSION) from None
        except rp.RelayProtocolError as exc:
            header = getattr(exc, "header", "")
            if header == rp.AUTHORIZATION_HEADER:
                raise HandshakeRefused(401, "missing or malformed bearer token", code=ErrorCode.SESSION_EXPIRED) \
                    from None
            raise HandshakeRefused(400, exc.message, code=ErrorCode.PROTOCOL_VIOLATION) from None
        try:
            enrollment = self.store.server_for_relay(handshake.server_id, handshake.remote_control_token)
            self._check_enrollment(enrollment)
            enrollment = self.store.server_for_relay(handshake.server_id, handshake.remote_control_token)
        except NotFound:
            raise HandshakeRefused(404, "no such server enrollment", code=ErrorCode.NOT_A_PAIRING_CODE) from None
        except Unauthorized:
            raise HandshakeRefused(401, "remote control token is not valid", code=ErrorCode.SESSION_EXPIRED) \
                from None
        if handshake.installation_id != enrollment.installation_id:
            raise HandshakeRefused(404, "no such server enrollment for this installation",
                                   code=ErrorCode.NOT_A_PAIRING_CODE)
        return enrollment, handshake

    def _replay(self, env: _EnvironmentRelay, socket: _Socket, cursor: str | None) -> int:
        if cursor is None:
            return 0
        try:
            after = int(cursor)
        except ValueError:
            # A cursor this backend never issued (another backend's, or garbage): resend all it still holds.
            after = -1
        count = 0
        for position, frames in env.log:
            if position > after:
                for frame in frames:
                    socket.send(frame)
                count += 1
        return count

    def _from_daemon(self, env: _EnvironmentRelay, data: str) -> None:
        try:
            envelope = rp.parse_server_envelope(data, max_frame_bytes=self.max_frame_bytes)
        except rp.RelayProtocolError as exc:
            self._violation(env, "daemon", exc.message)
            return
        if isinstance(envelope, rp.ServerMessage):
            self._route(env, envelope.client_id, envelope.stream_id, envelope.seq_id, envelope.message)
        elif isinstance(envelope, rp.ServerMessageChunk):
            try:
                message = env.reassembler.feed(envelope)
            except rp.DuplicateSegmentError:
                self._maybe_reack(env, envelope.client_id, envelope.stream_id, envelope.seq_id)
                return
            except rp.ChunkError as exc:
                self._violation(env, "daemon", exc.message)
                return
            if message is not None:
                self._route(env, envelope.client_id, envelope.stream_id, envelope.seq_id, message)
        elif isinstance(envelope, rp.Pong):
            self.events.emit(RelayEvent("pong", env.environment_id, envelope.client_id,
                                        {"stream_id": envelope.stream_id, "status": str(envelope.status),
                                         "seq_id": envelope.seq_id}))
        else:  # ServerAck: the daemon has everything up to `cursor`; the log no longer needs it.
            if envelope.cursor is not None and envelope.cursor.isdigit():
                upto = int(envelope.cursor)
                while env.log and env.log[0][0] <= upto:
                    env.log.popleft()

    def _route(self, env: _EnvironmentRelay, client_id: str, stream_id: str, seq_id: int,
               message: dict[str, Any]) -> None:
        key = (client_id, stream_id)
        if seq_id <= env.delivered.get(key, 0):
            self._maybe_reack(env, client_id, stream_id, seq_id)
            return
        phone = env.phones.get(key)
        if phone is None:
            # The daemon keeps it until acked; nothing to deliver it to now.
            self.events.emit(RelayEvent("undeliverable", env.environment_id, client_id,
                                        {"stream_id": stream_id, "seq_id": seq_id}))
            return
        env.delivered[key] = seq_id
        frame = {"type": "server_message", "message": message, "seq_id": seq_id}
        if self.garbled_phone_messages > 0:
            self.garbled_phone_messages -= 1
            text = json.dumps(frame, separators=(",", ":"))
            phone.socket.send(text[: len(text) // 2])
        else:
            phone.socket.send(frame)
        self.events.emit(RelayEvent("delivered_to_phone", env.environment_id, client_id,
                                    {"stream_id": stream_id, "seq_id": seq_id}))

    def _maybe_reack(self, env: _EnvironmentRelay, client_id: str, stream_id: str, seq_id: int) -> None:
        """A replayed message the phone already acked: the ack was lost with the old socket, so ack again."""
        if env.phone_acked.get((client_id, stream_id), 0) >= seq_id:
            self._to_daemon(env, rp.ClientAck(client_id=client_id, stream_id=stream_id, seq_id=seq_id))

    def _to_daemon(self, env: _EnvironmentRelay, envelope: rp.ClientEnvelope, *, logged: bool = True) -> bool:
        """Stamp the next cursor on a client envelope, keep it for replay, send it if the daemon is there."""
        env.next_cursor += 1
        stamped = type(envelope)(**{**_fields(envelope), "cursor": str(env.next_cursor)})
        frames = [rp.encode(stamped)]
        if logged:
            env.log.append((env.next_cursor, frames))
        if env.daemon is None:
            return False
        for frame in frames:
            env.daemon.socket.send(frame)
        return True

    def _to_daemon_message(self, env: _EnvironmentRelay, phone: _Phone, message: dict[str, Any]) -> bool:
        key = (phone.client.client_id, phone.stream_id)
        seq_id = env.inbound_seq.get(key, -1) + 1
        env.inbound_seq[key] = seq_id
        whole = rp.ClientMessage(message=message, client_id=key[0], stream_id=key[1], seq_id=seq_id)
        env.next_cursor += 1
        cursor = str(env.next_cursor)
        frame = rp.encode(rp.ClientMessage(**{**_fields(whole), "cursor": cursor}))
        if len(frame.encode()) <= rp.SEGMENT_MAX_BYTES:
            frames = [frame]
        else:
            chunks = rp.client_message_chunks(message, client_id=key[0], stream_id=key[1], seq_id=seq_id,
                                              max_chunk_bytes=rp.SEGMENT_TARGET_BYTES, cursor=cursor)
            frames = [rp.encode(chunk) for chunk in chunks]
        env.log.append((env.next_cursor, frames))
        assert env.daemon is not None
        for frame in frames:
            env.daemon.socket.send(frame)
        return True

    def _host_status(self, env: _EnvironmentRelay, status: str) -> None:
        frame: dict[str, Any] = {"type": "host_status", "status": status}
        reason = self._host_reason(env.environment_id) if status == "offline" else None
        if reason is not None:
            frame["reason"] = reason
        for phone in env.phones.values():
            phone.socket.send(frame)

    def host_reason_changed(self, environment_id: str) -> None:
        """The owner learnt why this environment's daemon is away: phones connected to it hear it at once."""
        env = self._envs.get(environment_id)
        if env is not None and env.daemon is None and env.phones:
            self._host_status(env, "offline")

    def _violation(self, env: _EnvironmentRelay | None, side: str, message: str, client_id: str | None = None) -> None:
        log.info("relay protocol violation from %s: %s", side, message)
        self.events.emit(RelayEvent("protocol_violation", env.environment_id if env else None, client_id,
                                    {"side": side, "message": message}))

    # ---- phone socket

    async def handle_phone(self, request: web.Request) -> web.StreamResponse:
        faulted = self._refused_by_fault(RelayParty.PHONE)
        if faulted is not None:
            return faulted
        try:
            client = self._phone_handshake(request)
        except HandshakeRefused as refused:
            self.events.emit(RelayEvent("phone_refused", detail={"status": refused.status, "code": str(refused.code)}))
            return self._refuse(refused, request)
        ws = web.WebSocketResponse(max_msg_size=self.max_frame_bytes, autoping=False)
        await ws.prepare(request)
        socket = self._new_socket(ws, request, RelayParty.PHONE)
        phone: _Phone | None = None
        env: _EnvironmentRelay | None = None
        try:
            if not await self._prove_device(client, socket, request):
                return ws
            client = self.store.client(client.client_id)
            if client.revoked:
                socket.close_later(CLOSE_REVOKED, "revoked")
                return ws
            self.store.activate_client(client.client_id)
            env = self._env(client.environment_id)
            phone = _Phone(socket, client, _uuid7(self.clock.now_ms()))
            env.phones[(client.client_id, phone.stream_id)] = phone
            self.store.touch_client(client.client_id)
            environment = self.store.environment(client.environment_id)
            socket.send({
                "type": "device_key_accepted",
                "clientId": client.client_id,
                "environmentId": client.environment_id,
                "serverName": environment.server_name,
                "hostStatus": "online" if env.daemon is not None else "offline",
                **({} if env.daemon is not None or (reason := self._host_reason(env.environment_id)) is None
                   else {"hostReason": reason}),
            })
            self.events.emit(RelayEvent("phone_connected", env.environment_id, client.client_id,
                                        {"stream_id": phone.stream_id}))
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    self._from_phone(env, phone, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._phone_error(phone, ErrorCode.PROTOCOL_VIOLATION, "binary frames are not accepted")
                elif await self._control_frame(ws, RelayParty.PHONE, msg):
                    continue
                else:
                    break
        finally:
            await socket.finish()
            if env is not None and phone is not None:
                key = (phone.client.client_id, phone.stream_id)
                env.phones.pop(key, None)
                env.reassembler.discard_stream(*key)
                self._to_daemon(env, rp.ClientClosed(client_id=key[0], stream_id=key[1]))
                self.events.emit(RelayEvent("phone_disconnected", env.environment_id, key[0],
                                            {"stream_id": key[1], "close_code": ws.close_code}))
        return ws

    def _phone_handshake(self, request: web.Request) -> Client:
        version = request.headers.get(rp.PROTOCOL_VERSION_HEADER, "").strip()
        if version != str(rp.PROTOCOL_VERSION):
            raise HandshakeRefused(400, "unsupported or missing protocol version", code=ErrorCode.UNSUPPORTED_VERSION)
        token = _bearer(request.headers.get(CLIENT_SESSION_TOKEN_HEADER))
        client_id = request.headers.get(CLIENT_ID_HEADER, "").strip()
        if token is None or not client_id:
            raise HandshakeRefused(401, "missing client session token or client id", code=ErrorCode.SESSION_EXPIRED)
        try:
            self._check_client(self.store.authenticate_client(client_id, token))
            return self.store.authenticate_client(client_id, token)
        except NotFound:
            raise HandshakeRefused(404, "no such client", code=ErrorCode.SESSION_EXPIRED) from None
        except ClientRevoked as revoked:
            raise HandshakeRefused(revoked.status, revoked.message, code=revoked.code) from None
        except Unauthorized:
            raise HandshakeRefused(401, "client session token is not valid", code=ErrorCode.SESSION_EXPIRED) \
                from None

    async def _prove_device(self, client: Client, socket: _Socket, request: web.Request) -> bool:
        challenge = DeviceKeyChallenge(
            nonce=b64url(secrets.token_bytes(32)),
            session_id=str(uuid.uuid4()),
            target_origin=f"{request.scheme}://{request.host}",
            client_id=client.client_id,
            issued_at=self.clock.now_int(),
        )
        socket.send(challenge.to_json())
        try:
            async with asyncio.timeout(self.device_proof_timeout):
                while await self._control_frame(socket.ws, RelayParty.PHONE, msg := await socket.ws.receive()):
                    pass
        except TimeoutError:
            self.events.emit(RelayEvent("device_proof_timeout", client.environment_id, client.client_id))
            socket.close_later(CLOSE_PROOF_TIMEOUT, "device proof timeout")
            return False
        if msg.type != WSMsgType.TEXT:
            return False if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED) else \
                self._reject_proof(client, socket, "expected a text frame")
        try:
            proof = DeviceKeyProof.from_json(json.loads(msg.data))
            verify_proof(challenge, proof, client.device.device_public_key)
        except (DeviceProofRejected, ProtocolError, ValueError) as exc:
            return self._reject_proof(client, socket, getattr(exc, "message", "device proof is not JSON"))
        self.events.emit(RelayEvent("device_key_accepted", client.environment_id, client.client_id))
        return True

    def _reject_proof(self, client: Client, socket: _Socket, message: str) -> bool:
        self.events.emit(RelayEvent("device_proof_rejected", client.environment_id, client.client_id,
                                    {"message": message}))
        socket.send({"type": "error", "code": str(ErrorCode.DEVICE_PROOF_REJECTED),
                     "message": "device key proof rejected"})
        socket.close_later(CLOSE_PROOF_REJECTED, "device proof rejected")
        return False

    def _from_phone(self, env: _EnvironmentRelay, phone: _Phone, data: str) -> None:
        try:
            frame = rp.loads_strict(data)
        except (ValueError, RecursionError):
            self._phone_error(phone, ErrorCode.PROTOCOL_VIOLATION, "frame is not valid JSON")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "client_message" and isinstance(frame.get("message"), dict):
            if env.daemon is None:
                self._phone_error(phone, ErrorCode.HOST_OFFLINE, "the desktop is not connected")
                return
            self.store.touch_client(phone.client.client_id)
            self._to_daemon_message(env, phone, frame["message"])
            self.events.emit(RelayEvent("client_message_relayed", env.environment_id, phone.client.client_id,
                                        {"stream_id": phone.stream_id}))
        elif kind == "ack" and type(frame.get("seq_id")) is int and 1 <= frame["seq_id"] < 2**64:
            key = (phone.client.client_id, phone.stream_id)
            env.phone_acked[key] = max(env.phone_acked.get(key, 0), frame["seq_id"])
            self._to_daemon(env, rp.ClientAck(client_id=key[0], stream_id=key[1], seq_id=frame["seq_id"]))
        elif kind in ("client_message", "ack"):
            self._phone_error(phone, ErrorCode.PROTOCOL_VIOLATION, f"{kind} frame has missing or invalid fields")
        else:
            self._phone_error(phone, ErrorCode.PROTOCOL_VIOLATION, "unknown frame type")

    def _phone_error(self, phone: _Phone, code: ErrorCode, message: str) -> None:
        if code is ErrorCode.PROTOCOL_VIOLATION:
            self._violation(self._envs.get(phone.client.environment_id), "phone", message, phone.client.client_id)
        phone.socket.send({"type": "error", "code": str(code), "message": message})


def _fields(envelope: rp.ClientEnvelope) -> dict[str, Any]:
    return {spec.name: getattr(envelope, spec.name) for spec in envelope.FIELDS}


def _plain_refusal(refused: HandshakeRefused, _request: web.Request) -> web.Response:
    return web.json_response({"detail": refused.message}, status=refused.status)


__all__ = [
    "CLOSE_PROOF_REJECTED",
    "CLOSE_PROOF_TIMEOUT",
    "CLOSE_REPLACED",
    "CLOSE_REVOKED",
    "EventLog",
    "HandshakeRefused",
    "RelayEvent",
    "RelayHub",
    "RemoteControlError",
]
