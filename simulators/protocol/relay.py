"""The daemon ↔ backend relay protocol (version 3): handshake headers, envelopes, send buffer, chunking, cursor.

The daemon keeps one WebSocket to the backend (`wham/remote/control/server`) and multiplexes every phone ("client")
over it. Each text frame is one flat JSON object tagged by `type`. The backend sends *client envelopes* (a phone's
JSON-RPC message, acks for what the daemon sent, pings, "this client went away"); the daemon sends *server
envelopes* (its JSON-RPC messages and pongs), numbered per (client_id, stream_id) from seq_id 1, and keeps each one
until the backend acks it, so a reconnect can replay exactly what was not yet delivered. Messages bigger than a frame
travel as base64 chunks that share one seq_id.

Everything here is pure: bytes/str/values in, values or typed errors out. The daemon, the backend and the fault
injector drive these objects; none of them touches a socket or a clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias

from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError

PROTOCOL_VERSION = 3

SERVER_ID_HEADER = "x-codex-server-id"
SERVER_NAME_HEADER = "x-codex-name"
PROTOCOL_VERSION_HEADER = "x-codex-protocol-version"
INSTALLATION_ID_HEADER = "x-codex-installation-id"
SUBSCRIBE_CURSOR_HEADER = "x-codex-subscribe-cursor"
ACCOUNT_ID_HEADER = "chatgpt-account-id"
AUTHORIZATION_HEADER = "authorization"

# Limits of the real daemon's segmenting code: a frame above SEGMENT_MAX_BYTES is split into chunks of about
# SEGMENT_TARGET_BYTES, at most SEGMENT_COUNT_MAX of them, for a message of at most REASSEMBLED_MAX_BYTES.
SEGMENT_TARGET_BYTES = 100 * 1024
SEGMENT_MAX_BYTES = 150 * 1024
REASSEMBLED_MAX_BYTES = 100 * 1024 * 1024
SEGMENT_COUNT_MAX = 1024
ASSEMBLY_MAX_COUNT = 128

_U64_MAX = 2**64 - 1


# --------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------


class RelayProtocolError(ProtocolError):
    """Something on the relay socket broke the protocol. Messages name fields, never their values."""


class MalformedEnvelopeError(RelayProtocolError):
    """The frame is not UTF-8 JSON, not an object, has duplicate keys, or is bigger than allowed."""


class UnknownEnvelopeTypeError(RelayProtocolError):
    def __init__(self, envelope_type: str, direction: str) -> None:
        shown = envelope_type if len(envelope_type) <= 40 else envelope_type[:40] + "…"
        super().__init__(f"unknown {direction} envelope type {shown!r}")
        self.envelope_type = envelope_type


class MissingEnvelopeFieldError(RelayProtocolError):
    def __init__(self, field_name: str, envelope_type: str) -> None:
        super().__init__(f"{envelope_type} envelope is missing field `{field_name}`")
        self.field = field_name


class InvalidEnvelopeFieldError(RelayProtocolError):
    def __init__(self, field_name: str, envelope_type: str, expected: str) -> None:
        super().__init__(f"{envelope_type} envelope field `{field_name}` must be {expected}")
        self.field = field_name


class MissingHeaderError(RelayProtocolError):
    def __init__(self, header: str) -> None:
        super().__init__(f"relay handshake is missing header `{header}`")
        self.header = header


class InvalidHeaderError(RelayProtocolError):
    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"invalid remote control header `{header}`: {reason}")
        self.header = header


class UnsupportedProtocolVersionError(InvalidHeaderError):
    code = ErrorCode.UNSUPPORTED_VERSION

    def __init__(self, version: int) -> None:
        super().__init__(PROTOCOL_VERSION_HEADER, f"protocol version {version} is not supported (expected 3)")
        self.version = version


class ChunkError(RelayProtocolError):
    """A chunked message could not be reassembled (or split). Only that message's assembly is affected."""


class MessageTooLargeError(ChunkError):
    pass


class InvalidChunkError(ChunkError):
    """The chunk itself is unusable (no stream or seq id, zero count, id out of range, empty payload)."""


class InconsistentChunkError(ChunkError):
    """The chunk disagrees with earlier chunks of the same message (seq_id, segment_count or size)."""


class DuplicateSegmentError(ChunkError):
    """A segment that was already taken arrived again; harmless after a replay, so the assembly is kept."""


class OutOfOrderSegmentError(ChunkError):
    pass


class ChunkSizeMismatchError(ChunkError):
    pass


class InvalidChunkEncodingError(ChunkError):
    pass


class InvalidReassembledMessageError(ChunkError):
    pass


class OutboxFullError(PairsimError):
    """The backend stopped acknowledging: sending more would grow the unacked buffer past its bound."""

    code = ErrorCode.RELAY_UNREACHABLE


# --------------------------------------------------------------------------------------------------------------
# Handshake headers
# --------------------------------------------------------------------------------------------------------------

_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def encode_server_name(name: str) -> str:
    """`x-codex-name` carries the machine name as standard base64 of its UTF-8 bytes, so any name fits a header."""
    return base64.b64encode(name.encode("utf-8")).decode("ascii")


def decode_server_name(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidHeaderError(SERVER_NAME_HEADER, "not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise InvalidHeaderError(SERVER_NAME_HEADER, "not canonical base64")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidHeaderError(SERVER_NAME_HEADER, "not UTF-8 once decoded") from exc


def header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """All (name, value) pairs of a dict, a multidict (aiohttp), a `websockets` Headers or a list of pairs.
    `websockets` Headers raise on `.items()` when a name repeats, hence `raw_items()`."""
    raw_items = getattr(headers, "raw_items", None)
    if callable(raw_items):
        return raw_items()  # type: ignore[no-any-return]
    return headers.items() if isinstance(headers, Mapping) else headers


def _header_items(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """First value per lower-cased name: header names are case-insensitive, and a repeat must not override."""
    found: dict[str, str] = {}
    for name, value in header_pairs(headers):
        found.setdefault(name.lower(), value)
    return found


def _checked_header_value(header: str, value: str) -> str:
    if _HEADER_VALUE_FORBIDDEN.search(value):
        raise InvalidHeaderError(header, "contains control characters")
    return value


@dataclass(frozen=True, kw_only=True)
class RelayHandshake:
    """The headers the daemon sends when it opens the relay socket.

    `remote_control_token` (the server token from enrollment) travels as `Authorization: Bearer ...`; it is left
    out of `repr` so a logged handshake never shows it.
    """

    server_id: str
    server_name: str
    installation_id: str
    remote_control_token: str = field(repr=False)
    protocol_version: int = PROTOCOL_VERSION
    account_id: str | None = None
    subscribe_cursor: str | None = None

    def to_headers(self) -> dict[str, str]:
        if not self.server_name:
            raise InvalidHeaderError(SERVER_NAME_HEADER, "the server name is empty")
        headers = {
            SERVER_ID_HEADER: _checked_header_value(SERVER_ID_HEADER, self.server_id),
            SERVER_NAME_HEADER: encode_server_name(self.server_name),
            PROTOCOL_VERSION_HEADER: str(self.protocol_version),
            AUTHORIZATION_HEADER: "Bearer "
            + _checked_header_value(AUTHORIZATION_HEADER, self.remote_control_token),
            INSTALLATION_ID_HEADER: _checked_header_value(INSTALLATION_ID_HEADER, self.installation_id),
        }
        if self.account_id is not None:
            headers[ACCOUNT_ID_HEADER] = _checked_header_value(ACCOUNT_ID_HEADER, self.account_id)
        if self.subscribe_cursor is not None:
            headers[SUBSCRIBE_CURSOR_HEADER] = _checked_header_value(
                SUBSCRIBE_CURSOR_HEADER, self.subscribe_cursor
            )
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> RelayHandshake:
        """What the backend does with an upgrade request. The version is checked first, so an old daemon hears
        "unsupported version" rather than "missing installation id"."""
        found = _header_items(headers)

        def required(name: str) -> str:
            value = found.get(name)
            if value is None:
                raise MissingHeaderError(name)
            value = value.strip()
            if not value:
                raise InvalidHeaderError(name, "empty")
            return _checked_header_value(name, value)

        raw_version = required(PROTOCOL_VERSION_HEADER)
        if not raw_version.isascii() or not raw_version.isdigit() or len(raw_version) > 9:
            raise InvalidHeaderError(PROTOCOL_VERSION_HEADER, "not a decimal integer")
        version = int(raw_version)
        if version != PROTOCOL_VERSION:
            raise UnsupportedProtocolVersionError(version)

        authorization = required(AUTHORIZATION_HEADER)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidHeaderError(AUTHORIZATION_HEADER, "expected `Bearer <token>`")

        def optional(name: str) -> str | None:
            value = found.get(name)
            return None if value is None else _checked_header_value(name, value.strip())

        return cls(
            server_id=required(SERVER_ID_HEADER),
            server_name=decode_server_name(required(SERVER_NAME_HEADER)),
            installation_id=required(INSTALLATION_ID_HEADER),
            remote_control_token=token.strip(),
            protocol_version=version,
            account_id=optional(ACCOUNT_ID_HEADER),
            subscribe_cursor=optional(SUBSCRIBE_CURSOR_HEADER) or None,
        )


# --------------------------------------------------------------------------------------------------------------
# Envelopes
# --------------------------------------------------------------------------------------------------------------


class PongStatus(StrEnum):
    ACTIVE = "active"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # "string" | "integer" | "object" | "pong_status"
    required: bool
    minimum: int = 0


def _describe(spec: _Field) -> str:
    if spec.kind == "integer":
        bound = "a positive" if spec.minimum >= 1 else "a non-negative"
        text = f"{bound} integer below 2**64"
    elif spec.kind == "object":
        text = "a JSON object"
    elif spec.kind == "pong_status":
        text = '"active" or "unknown"'
    else:
        text = "a string"
    return text if spec.required else text + " or absent"


def _value_ok(spec: _Field, value: object) -> bool:
    if spec.kind == "string":
        return isinstance(value, str)
    if spec.kind == "integer":
        # bool is an int subclass in Python but never an integer on the wire.
        return type(value) is int and spec.minimum <= value <= _U64_MAX
    if spec.kind == "object":
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    return isinstance(value, PongStatus)


class _Envelope:
    TYPE: ClassVar[str]
    DIRECTION: ClassVar[str]
    FIELDS: ClassVar[tuple[_Field, ...]]

    def __post_init__(self) -> None:
        for spec in self.FIELDS:
            value = getattr(self, spec.name)
            if spec.kind == "pong_status" and isinstance(value, str) and not isinstance(value, PongStatus):
                try:
                    value = PongStatus(value)
                except ValueError:
                    raise InvalidEnvelopeFieldError(spec.name, self.TYPE, _describe(spec)) from None
                object.__setattr__(self, spec.name, value)
            if value is None:
                if spec.required:
                    raise InvalidEnvelopeFieldError(spec.name, self.TYPE, _describe(spec))
                continue
            if not _value_ok(spec, value):
                raise InvalidEnvelopeFieldError(spec.name, self.TYPE, _describe(spec))


_STREAM_OPT = _Field("stream_id", "string", False)
_STREAM_REQ = _Field("stream_id", "string", True)
_CLIENT_ID = _Field("client_id", "string", True)
_CURSOR = _Field("cursor", "string", False)
_INBOUND_SEQ = _Field("seq_id", "integer", False, 0)
_SERVER_SEQ = _Field("seq_id", "integer", True, 1)
_MESSAGE = _Field("message", "object", True)
_CHUNK_FIELDS = (
    _Field("segment_id", "integer", True),
    _Field("segment_count", "integer", True),
    _Field("message_size_bytes", "integer", True),
    _Field("message_chunk_base64", "string", True),
)
_CLIENT_ROUTE_FIELDS = (_CLIENT_ID, _STREAM_OPT, _INBOUND_SEQ, _CURSOR)
_SERVER_ROUTE_FIELDS = (_CLIENT_ID, _STREAM_REQ, _SERVER_SEQ)


# The parts several envelopes share, as dataclass bases. A dataclass lays out inherited fields base-last-first
# (reverse MRO), so `class X(_Envelope, _ClientRoute, _WholeMessage)` has `message` first, then the route: the
# same order as the envelope's FIELDS.


@dataclass(frozen=True, kw_only=True)
class _WholeMessage:
    message: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Segment:
    """The four chunk fields shared by `client_message_chunk` and `server_message_chunk`."""

    segment_id: int
    segment_count: int
    message_size_bytes: int
    message_chunk_base64: str


@dataclass(frozen=True, kw_only=True)
class _ClientRoute:
    """Where a client envelope belongs (see `_CLIENT_ROUTE_FIELDS` for the wire rules)."""

    client_id: str
    stream_id: str | None = None
    seq_id: int | None = None
    cursor: str | None = None


@dataclass(frozen=True, kw_only=True)
class _ServerRoute:
    """Where a server envelope belongs (see `_SERVER_ROUTE_FIELDS` for the wire rules)."""

    client_id: str
    stream_id: str
    seq_id: int


# Client envelopes: backend → daemon. Field order is the wire order of the real daemon's serializer.


@dataclass(frozen=True, kw_only=True)
class ClientMessage(_Envelope, _ClientRoute, _WholeMessage):
    """One JSON-RPC message from a phone. `seq_id` is the backend's inbound numbering (the real tests use 0)."""

    TYPE: ClassVar[str] = "client_message"
    DIRECTION: ClassVar[str] = "client"
    FIELDS: ClassVar[tuple[_Field, ...]] = (_MESSAGE, *_CLIENT_ROUTE_FIELDS)


@dataclass(frozen=True, kw_only=True)
class ClientMessageChunk(_Envelope, _ClientRoute, Segment):
    TYPE: ClassVar[str] = "client_message_chunk"
    DIRECTION: ClassVar[str] = "client"
    FIELDS: ClassVar[tuple[_Field, ...]] = (*_CHUNK_FIELDS, *_CLIENT_ROUTE_FIELDS)


@dataclass(frozen=True, kw_only=True)
class ClientAck(_Envelope):
    """The backend has delivered every server envelope on this stream up to `seq_id` (and, for a chunked
    message, up to `segment_id` of that seq_id)."""

    TYPE: ClassVar[str] = "ack"
    DIRECTION: ClassVar[str] = "client"
    FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field("segment_id", "integer", False),
        _CLIENT_ID,
        _STREAM_REQ,
        _SERVER_SEQ,
        _CURSOR,
    )
    client_id: str
    stream_id: str
    seq_id: int
    segment_id: int | None = None
    cursor: str | None = None


@dataclass(frozen=True, kw_only=True)
class Ping(_Envelope, _ClientRoute):
    TYPE: ClassVar[str] = "ping"
    DIRECTION: ClassVar[str] = "client"
    FIELDS: ClassVar[tuple[_Field, ...]] = _CLIENT_ROUTE_FIELDS


@dataclass(frozen=True, kw_only=True)
class ClientClosed(_Envelope, _ClientRoute):
    TYPE: ClassVar[str] = "client_closed"
    DIRECTION: ClassVar[str] = "client"
    FIELDS: ClassVar[tuple[_Field, ...]] = _CLIENT_ROUTE_FIELDS


# Server envelopes: daemon → backend.


@dataclass(frozen=True, kw_only=True)
class ServerMessage(_Envelope, _ServerRoute, _WholeMessage):
    TYPE: ClassVar[str] = "server_message"
    DIRECTION: ClassVar[str] = "server"
    FIELDS: ClassVar[tuple[_Field, ...]] = (_MESSAGE, *_SERVER_ROUTE_FIELDS)


@dataclass(frozen=True, kw_only=True)
class ServerMessageChunk(_Envelope, _ServerRoute, Segment):
    TYPE: ClassVar[str] = "server_message_chunk"
    DIRECTION: ClassVar[str] = "server"
    FIELDS: ClassVar[tuple[_Field, ...]] = (*_CHUNK_FIELDS, *_SERVER_ROUTE_FIELDS)


@dataclass(frozen=True, kw_only=True)
class ServerAck(_Envelope):
    """Defined by the real daemon but never sent by it; pairsim keeps the shape for completeness."""

    TYPE: ClassVar[str] = "ack"
    DIRECTION: ClassVar[str] = "server"
    FIELDS: ClassVar[tuple[_Field, ...]] = (
        _CLIENT_ID,
        _STREAM_REQ,
        _Field("seq_id", "integer", False, 1),
        _CURSOR,
    )
    client_id: str
    stream_id: str
    seq_id: int | None = None
    cursor: str | None = None


@dataclass(frozen=True, kw_only=True)
class Pong(_Envelope):
    """Answer to a client `ping`: `active` when the daemon knows the stream, `unknown` otherwise. Pongs are
    numbered and buffered like every server envelope."""

    TYPE: ClassVar[str] = "pong"
    DIRECTION: ClassVar[str] = "server"
    FIELDS: ClassVar[tuple[_Field, ...]] = (
        _Field("status", "pong_status", True),
        _CLIENT_ID,
        _STREAM_REQ,
        _SERVER_SEQ,
    )
    status: PongStatus
    client_id: str
    stream_id: str
    seq_id: int


ClientEnvelope: TypeAlias = ClientMessage | ClientMessageChunk | ClientAck | Ping | ClientClosed
ServerEnvelope: TypeAlias = ServerMessage | ServerMessageChunk | ServerAck | Pong
Envelope: TypeAlias = ClientEnvelope | ServerEnvelope

_CLIENT_TYPES: dict[str, type[_Envelope]] = {
    cls.TYPE: cls for cls in (ClientMessage, ClientMessageChunk, ClientAck, Ping, ClientClosed)
}
_SERVER_TYPES: dict[str, type[_Envelope]] = {
    cls.TYPE: cls for cls in (ServerMessage, ServerMessageChunk, ServerAck, Pong)
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def loads_strict(text: str) -> Any:
    """JSON as serde_json reads it: no NaN/Infinity, no lone surrogates; duplicate keys are refused as
    ambiguous. Raises ValueError (or RecursionError for absurd nesting)."""
    value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    if "\\u" in text:
        # Escaped lone surrogates parse in Python but are not Unicode scalar values, so they are not valid JSON
        # strings for serde_json and could never be re-encoded as UTF-8.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def dumps_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _load_frame(data: str | bytes | bytearray | memoryview, max_frame_bytes: int | None) -> dict[str, Any]:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedEnvelopeError("envelope is not valid UTF-8") from None
    else:
        raw = bytes(data)
    if max_frame_bytes is not None and len(raw) > max_frame_bytes:
        raise MalformedEnvelopeError(
            f"envelope of {len(raw)} bytes exceeds the {max_frame_bytes}-byte frame limit"
        )
    if isinstance(data, str):
        text = data
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEnvelopeError("envelope is not valid UTF-8") from None
    try:
        value = loads_strict(text)
    except (ValueError, RecursionError, UnicodeEncodeError) as exc:
        position = f" (line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise MalformedEnvelopeError(f"envelope is not valid JSON{position}") from None
    if not isinstance(value, dict):
        raise MalformedEnvelopeError(f"envelope must be a JSON object, got {type(value).__name__}")
    return value


def _parse(
    data: str | bytes | bytearray | memoryview,
    registry: Mapping[str, type[_Envelope]],
    direction: str,
    max_frame_bytes: int | None,
) -> Any:
    obj = _load_frame(data, max_frame_bytes)
    if "type" not in obj:
        raise MissingEnvelopeFieldError("type", f"{direction}")
    envelope_type = obj["type"]
    if not isinstance(envelope_type, str):
        raise InvalidEnvelopeFieldError("type", direction, "a string")
    cls = registry.get(envelope_type)
    if cls is None:
        raise UnknownEnvelopeTypeError(envelope_type, direction)
    kwargs: dict[str, Any] = {}
    for spec in cls.FIELDS:
        if spec.name not in obj:
            if spec.required:
                raise MissingEnvelopeFieldError(spec.name, cls.TYPE)
            continue
        kwargs[spec.name] = obj[spec.name]  # unknown keys are ignored, as serde does by default
    return cls(**kwargs)


def parse_client_envelope(
    data: str | bytes | bytearray | memoryview, *, max_frame_bytes: int | None = None
) -> ClientEnvelope:
    """Parse one backend → daemon frame. Any failure is a `RelayProtocolError` subclass."""
    return _parse(data, _CLIENT_TYPES, "client", max_frame_bytes)  # type: ignore[no-any-return]


def parse_server_envelope(
    data: str | bytes | bytearray | memoryview, *, max_frame_bytes: int | None = None
) -> ServerEnvelope:
    """Parse one daemon → backend frame. Any failure is a `RelayProtocolError` subclass."""
    return _parse(data, _SERVER_TYPES, "server", max_frame_bytes)  # type: ignore[no-any-return]


def to_json(envelope: Envelope) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": envelope.TYPE}
    for spec in envelope.FIELDS:
        value = getattr(envelope, spec.name)
        if value is None:
            continue
        obj[spec.name] = value.value if isinstance(value, PongStatus) else value
    return obj


def encode_bytes(envelope: Envelope) -> bytes:
    try:
        return dumps_compact(to_json(envelope)).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        raise InvalidEnvelopeFieldError("message", envelope.TYPE, "JSON-serialisable UTF-8 data") from None


def encode(envelope: Envelope) -> str:
    """Compact JSON text for one frame; optional fields that are None are left out."""
    return encode_bytes(envelope).decode("utf-8")


# --------------------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------------------


def split_message(
    message: Mapping[str, Any],
    max_chunk_bytes: int,
    *,
    max_segment_count: int = SEGMENT_COUNT_MAX,
    max_message_bytes: int = REASSEMBLED_MAX_BYTES,
) -> list[Segment]:
    """Cut the compact UTF-8 JSON of `message` into raw slices of at most `max_chunk_bytes`, each base64-encoded.

    Slices are byte-exact, not character-aligned: a multi-byte character may straddle two segments, which is
    fine because only the concatenation is decoded.
    """
    if max_chunk_bytes < 1:
        raise ValueError("max_chunk_bytes must be at least 1")
    try:
        raw = dumps_compact(dict(message)).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        raise MessageTooLargeError("message is not JSON-serialisable UTF-8 data") from None
    size = len(raw)
    if size > max_message_bytes:
        raise MessageTooLargeError(f"message of {size} bytes exceeds the {max_message_bytes}-byte limit")
    count = math.ceil(size / max_chunk_bytes)
    if count > max_segment_count:
        raise MessageTooLargeError(f"message needs {count} segments; at most {max_segment_count} are allowed")
    return [
        Segment(
            segment_id=index,
            segment_count=count,
            message_size_bytes=size,
            message_chunk_base64=base64.b64encode(raw[start : start + max_chunk_bytes]).decode("ascii"),
        )
        for index, start in enumerate(range(0, size, max_chunk_bytes))
    ]


def server_message_chunks(
    message: Mapping[str, Any], *, client_id: str, stream_id: str, seq_id: int, max_chunk_bytes: int
) -> list[ServerMessageChunk]:
    return [
        ServerMessageChunk(
            **asdict(segment),
            client_id=client_id,
            stream_id=stream_id,
            seq_id=seq_id,
        )
        for segment in split_message(message, max_chunk_bytes)
    ]


def client_message_chunks(
    message: Mapping[str, Any],
    *,
    client_id: str,
    stream_id: str,
    seq_id: int,
    max_chunk_bytes: int,
    cursor: str | None = None,
) -> list[ClientMessageChunk]:
    """The backend side of chunking. The cursor rides on the last chunk only, so it is recorded once the whole
    message has been delivered."""
    segments = split_message(message, max_chunk_bytes)
    return [
        ClientMessageChunk(
            **asdict(segment),
            client_id=client_id,
            stream_id=stream_id,
            seq_id=seq_id,
            cursor=cursor if segment.segment_id == segment.segment_count - 1 else None,
        )
        for segment in segments
    ]


@dataclass
class _Assembly:
    seq_id: int
    segment_count: int
    message_size_bytes: int
    raw: bytearray
    next_segment_id: int
    touched: int


ChunkEnvelope: TypeAlias = ClientMessageChunk | ServerMessageChunk


class Reassembler:
    """Joins chunk envelopes back into JSON-RPC messages, one assembly per (client_id, stream_id).

    Segments must arrive in order, as the real daemon requires. Failure rules:
    - a chunk that is unusable on its own (no stream or seq id, zero or too many segments, id out of range, size 0
      or over the limit, empty payload) raises and leaves any assembly of that stream as it was;
    - a repeated segment, or any chunk of a seq_id already reassembled on that stream, raises
      `DuplicateSegmentError` and keeps the assembly (replays after a reconnect are normal);
    - anything else (disagreeing metadata, a gap, bad base64, too many bytes, wrong total size, bad JSON) raises and
      drops that stream's assembly.
    Other streams are never touched. With `max_assemblies` in progress, the least recently fed one is evicted.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = REASSEMBLED_MAX_BYTES,
        max_segment_count: int = SEGMENT_COUNT_MAX,
        max_assemblies: int = ASSEMBLY_MAX_COUNT,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_segment_count = max_segment_count
        self.max_assemblies = max_assemblies
        self._assemblies: dict[tuple[str, str], _Assembly] = {}
        self._completed: dict[tuple[str, str], int] = {}
        self._tick = 0
        self.evicted = 0

    @property
    def in_progress(self) -> int:
        return len(self._assemblies)

    def discard_stream(self, client_id: str, stream_id: str) -> None:
        """Forget a closed stream: its partial message and its last completed seq_id."""
        self._assemblies.pop((client_id, stream_id), None)
        self._completed.pop((client_id, stream_id), None)

    def discard_client(self, client_id: str) -> None:
        for key in [key for key in self._assemblies if key[0] == client_id]:
            del self._assemblies[key]
        for key in [key for key in self._completed if key[0] == client_id]:
            del self._completed[key]

    def feed(self, chunk: ChunkEnvelope) -> dict[str, Any] | None:
        """Take one chunk; return the whole message when this chunk completes it, else None."""
        self._check_chunk(chunk)
        assert chunk.stream_id is not None and chunk.seq_id is not None  # guaranteed by _check_chunk
        key = (chunk.client_id, chunk.stream_id)
        completed = self._completed.get(key)
        if completed is not None and chunk.seq_id <= completed:
            # A replay of a message already delivered: delivering it again would run a request twice.
            raise DuplicateSegmentError(f"seq_id {chunk.seq_id} was already reassembled on this stream")
        self._tick += 1
        assembly = self._assemblies.get(key)
        if assembly is None:
            if chunk.segment_id != 0:
                raise OutOfOrderSegmentError(
                    f"segment {chunk.segment_id} arrived before segment 0 of seq_id {chunk.seq_id}"
                )
            self._make_room()
            assembly = _Assembly(
                seq_id=chunk.seq_id,
                segment_count=chunk.segment_count,
                message_size_bytes=chunk.message_size_bytes,
                raw=bytearray(),
                next_segment_id=0,
                touched=self._tick,
            )
            self._assemblies[key] = assembly
        try:
            return self._take(key, assembly, chunk)
        except DuplicateSegmentError:
            raise
        except ChunkError:
            self._assemblies.pop(key, None)
            raise

    def _check_chunk(self, chunk: ChunkEnvelope) -> None:
        if chunk.stream_id is None:
            raise InvalidChunkError("chunk has no stream_id")
        if chunk.seq_id is None:
            raise InvalidChunkError("chunk has no seq_id")
        if not 1 <= chunk.segment_count <= self.max_segment_count:
            raise InvalidChunkError(f"segment_count must be between 1 and {self.max_segment_count}")
        if chunk.segment_id >= chunk.segment_count:
            raise InvalidChunkError(
                f"segment_id {chunk.segment_id} is out of range for {chunk.segment_count}"
            )
        if chunk.message_size_bytes < 1:
            raise InvalidChunkError("message_size_bytes must be at least 1")
        if chunk.message_size_bytes > self.max_message_bytes:
            raise MessageTooLargeError(
                f"message of {chunk.message_size_bytes} bytes exceeds the {self.max_message_bytes}-byte limit"
            )
        if not chunk.message_chunk_base64:
            raise InvalidChunkError("chunk payload is empty")

    def _make_room(self) -> None:
        while len(self._assemblies) >= self.max_assemblies:
            oldest = min(self._assemblies, key=lambda key: self._assemblies[key].touched)
            del self._assemblies[oldest]
            self.evicted += 1

    def _take(self, key: tuple[str, str], assembly: _Assembly, chunk: ChunkEnvelope) -> dict[str, Any] | None:
        if (assembly.seq_id, assembly.segment_count, assembly.message_size_bytes) != (
            chunk.seq_id,
            chunk.segment_count,
            chunk.message_size_bytes,
        ):
            raise InconsistentChunkError(
                "chunk disagrees with earlier chunks (seq_id, segment_count or size)"
            )
        if chunk.segment_id < assembly.next_segment_id:
            raise DuplicateSegmentError(f"segment {chunk.segment_id} of seq_id {chunk.seq_id} arrived twice")
        if chunk.segment_id > assembly.next_segment_id:
            raise OutOfOrderSegmentError(
                f"expected segment {assembly.next_segment_id}, got {chunk.segment_id} of seq_id {chunk.seq_id}"
            )
        piece = _strict_b64decode(chunk.message_chunk_base64)
        if len(assembly.raw) + len(piece) > assembly.message_size_bytes:
            raise ChunkSizeMismatchError("chunks carry more bytes than message_size_bytes")
        assembly.raw += piece
        assembly.next_segment_id += 1
        assembly.touched = self._tick
        if assembly.next_segment_id < assembly.segment_count:
            return None
        del self._assemblies[key]
        self._completed[key] = assembly.seq_id
        if len(assembly.raw) != assembly.message_size_bytes:
            raise ChunkSizeMismatchError(
                f"reassembled {len(assembly.raw)} bytes, message_size_bytes says {assembly.message_size_bytes}"
            )
        try:
            message = loads_strict(bytes(assembly.raw).decode("utf-8"))
        except (ValueError, RecursionError, UnicodeError):
            raise InvalidReassembledMessageError("reassembled message is not valid UTF-8 JSON") from None
        if not isinstance(message, dict):
            raise InvalidReassembledMessageError("reassembled message is not a JSON object")
        return message


def _strict_b64decode(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidChunkEncodingError("chunk payload is not standard base64") from None
    # Python tolerates non-zero trailing bits; the real daemon's decoder does not.
    if base64.b64encode(raw).decode("ascii") != value:
        raise InvalidChunkEncodingError("chunk payload is not canonical base64")
    return raw


# --------------------------------------------------------------------------------------------------------------
# Outbox: numbering, buffering until acked, replay
# --------------------------------------------------------------------------------------------------------------


class AckStatus(StrEnum):
    """What an ack did. ACKED: dropped at least one envelope. STALE: a known stream, but nothing buffered was at or
    below it (a repeat). UNKNOWN_STREAM: nothing was ever sent on that stream; ignored. BEYOND_SENT: it acks a
    seq_id never sent; like the real daemon, everything buffered on the stream is dropped."""

    ACKED = "acked"
    STALE = "stale"
    UNKNOWN_STREAM = "unknown_stream"
    BEYOND_SENT = "beyond_sent"


@dataclass(frozen=True)
class AckResult:
    status: AckStatus
    dropped: int


@dataclass(frozen=True)
class _Buffered:
    order: int
    envelope: ServerEnvelope
    frame: bytes


class Outbox:
    """The daemon's send side of the relay: numbers server envelopes per (client_id, stream_id) from 1, keeps
    each until the backend acks it, and hands back what to re-send after a reconnect, in original send order.

    A message whose frame would exceed `max_frame_bytes` goes out as `server_message_chunk`s sharing one seq_id;
    an ack with `segment_id` releases only the chunks up to that segment. Unlike the real daemon, which blocks
    its writer when the buffer is full, the outbox refuses the send with `OutboxFullError` before numbering it,
    so a refused send never leaves a gap in the seq_ids.
    """

    def __init__(
        self,
        *,
        max_frame_bytes: int = SEGMENT_MAX_BYTES,
        chunk_bytes: int = SEGMENT_TARGET_BYTES,
        max_unacked_frames: int = 1024,
        max_unacked_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.chunk_bytes = chunk_bytes
        self.max_unacked_frames = max_unacked_frames
        self.max_unacked_bytes = max_unacked_bytes
        self._next_seq: dict[tuple[str, str], int] = {}
        self._buffer: dict[tuple[str, str], list[_Buffered]] = {}
        self._order = 0
        self._unacked_bytes = 0
        self._unacked_frames = 0

    @property
    def unacked_frames(self) -> int:
        return self._unacked_frames

    @property
    def unacked_bytes(self) -> int:
        return self._unacked_bytes

    def next_seq_id(self, client_id: str, stream_id: str) -> int:
        return self._next_seq.get((client_id, stream_id), 1)

    def send_message(
        self, client_id: str, stream_id: str, message: Mapping[str, Any]
    ) -> list[ServerEnvelope]:
        """Number and buffer one JSON-RPC message; returns the envelope(s) to write, in order."""
        seq_id = self.next_seq_id(client_id, stream_id)
        if not isinstance(message, Mapping):
            raise InvalidEnvelopeFieldError("message", ServerMessage.TYPE, "a JSON object")
        whole = ServerMessage(message=dict(message), client_id=client_id, stream_id=stream_id, seq_id=seq_id)
        frame = encode_bytes(whole)
        if len(frame) <= self.max_frame_bytes:
            return self._commit(client_id, stream_id, [(whole, frame)])
        chunks = server_message_chunks(
            message,
            client_id=client_id,
            stream_id=stream_id,
            seq_id=seq_id,
            max_chunk_bytes=self._raw_chunk_size(client_id, stream_id, seq_id),
        )
        return self._commit(client_id, stream_id, [(chunk, encode_bytes(chunk)) for chunk in chunks])

    def send_pong(self, client_id: str, stream_id: str, status: PongStatus | str) -> Pong:
        seq_id = self.next_seq_id(client_id, stream_id)
        pong = Pong(status=status, client_id=client_id, stream_id=stream_id, seq_id=seq_id)  # type: ignore[arg-type]
        self._commit(client_id, stream_id, [(pong, encode_bytes(pong))])
        return pong

    def _raw_chunk_size(self, client_id: str, stream_id: str, seq_id: int) -> int:
        # Size the widest possible chunk envelope with an empty payload; what remains of the frame, in base64
        # quanta, is the payload room.
        widest = ServerMessageChunk(
            segment_id=SEGMENT_COUNT_MAX,
            segment_count=SEGMENT_COUNT_MAX,
            message_size_bytes=REASSEMBLED_MAX_BYTES,
            message_chunk_base64="",
            client_id=client_id,
            stream_id=stream_id,
            seq_id=seq_id,
        )
        room = self.max_frame_bytes - len(encode_bytes(widest))
        raw = min(self.chunk_bytes, (room // 4) * 3)
        if raw < 1:
            raise MessageTooLargeError("client_id and stream_id leave no room for a chunk in one frame")
        return raw

    def _commit(
        self, client_id: str, stream_id: str, items: list[tuple[ServerEnvelope, bytes]]
    ) -> list[ServerEnvelope]:
        added_bytes = sum(len(frame) for _, frame in items)
        if (
            self._unacked_frames + len(items) > self.max_unacked_frames
            or self._unacked_bytes + added_bytes > self.max_unacked_bytes
        ):
            raise OutboxFullError(
                f"relay outbox is full ({self._unacked_frames} frames, {self._unacked_bytes} bytes unacknowledged)"
            )
        key = (client_id, stream_id)
        buffered = self._buffer.setdefault(key, [])
        for envelope, frame in items:
            self._order += 1
            buffered.append(_Buffered(self._order, envelope, frame))
        self._unacked_frames += len(items)
        self._unacked_bytes += added_bytes
        self._next_seq[key] = self.next_seq_id(client_id, stream_id) + 1
        return [envelope for envelope, _ in items]

    def ack(self, client_id: str, stream_id: str, seq_id: int, segment_id: int | None = None) -> AckResult:
        """Drop every buffered envelope on this stream at or below (seq_id, segment_id); other streams keep
        theirs. A missing segment_id covers all chunks of seq_id."""
        key = (client_id, stream_id)
        if key not in self._next_seq:
            return AckResult(AckStatus.UNKNOWN_STREAM, 0)
        limit = (seq_id, math.inf if segment_id is None else segment_id)
        kept: list[_Buffered] = []
        dropped = 0
        for item in self._buffer.get(key, []):
            envelope_segment = (
                item.envelope.segment_id if isinstance(item.envelope, ServerMessageChunk) else 0
            )
            if (item.envelope.seq_id or 0, envelope_segment) <= limit:
                dropped += 1
                self._unacked_frames -= 1
                self._unacked_bytes -= len(item.frame)
            else:
                kept.append(item)
        if kept:
            self._buffer[key] = kept
        else:
            self._buffer.pop(key, None)
        if seq_id >= self._next_seq[key]:
            return AckResult(AckStatus.BEYOND_SENT, dropped)
        return AckResult(AckStatus.ACKED if dropped else AckStatus.STALE, dropped)

    def on_client_ack(self, ack: ClientAck) -> AckResult:
        return self.ack(ack.client_id, ack.stream_id, ack.seq_id, ack.segment_id)

    def pending(self) -> list[ServerEnvelope]:
        """Every unacknowledged envelope, across all streams, in the order it was first sent."""
        items = [item for buffered in self._buffer.values() for item in buffered]
        return [item.envelope for item in sorted(items, key=lambda item: item.order)]

    def replay(self) -> list[str]:
        """The text frames to write after a reconnect, before anything new: `pending()` encoded."""
        items = [item for buffered in self._buffer.values() for item in buffered]
        return [item.frame.decode("utf-8") for item in sorted(items, key=lambda item: item.order)]


# --------------------------------------------------------------------------------------------------------------
# Subscribe cursor
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscribeCursor:
    """The last `cursor` the backend put on any client envelope; sent back as `x-codex-subscribe-cursor` on the
    next connect so the backend resumes where this daemon stopped reading."""

    value: str | None = None

    def observe(self, envelope: ClientEnvelope) -> SubscribeCursor:
        return self if envelope.cursor is None else SubscribeCursor(envelope.cursor)

    def header_value(self) -> str | None:
        return self.value

    def headers(self) -> dict[str, str]:
        return {} if self.value is None else {SUBSCRIBE_CURSOR_HEADER: self.value}
