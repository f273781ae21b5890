"""Relay protocol v3: handshake headers, envelope wire shapes and errors, chunking, outbox, subscribe cursor."""

from __future__ import annotations

import base64
import json

import pytest
from websockets.datastructures import Headers

from simulators.protocol.errors import ErrorCode, PairsimError, ProtocolError
from simulators.protocol.relay import (
    PROTOCOL_VERSION,
    SUBSCRIBE_CURSOR_HEADER,
    AckResult,
    AckStatus,
    ChunkSizeMismatchError,
    ClientAck,
    ClientClosed,
    ClientMessage,
    ClientMessageChunk,
    DuplicateSegmentError,
    InconsistentChunkError,
    InvalidChunkEncodingError,
    InvalidChunkError,
    InvalidEnvelopeFieldError,
    InvalidHeaderError,
    InvalidReassembledMessageError,
    MalformedEnvelopeError,
    MessageTooLargeError,
    MissingEnvelopeFieldError,
    MissingHeaderError,
    Outbox,
    OutboxFullError,
    OutOfOrderSegmentError,
    Ping,
    Pong,
    PongStatus,
    Reassembler,
    RelayHandshake,
    ServerAck,
    ServerMessage,
    ServerMessageChunk,
    SubscribeCursor,
    UnknownEnvelopeTypeError,
    UnsupportedProtocolVersionError,
    client_message_chunks,
    decode_server_name,
    encode,
    encode_server_name,
    parse_client_envelope,
    parse_server_envelope,
    server_message_chunks,
    split_message,
)

INIT = {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "phone", "version": "1.0"}}}


def handshake(**overrides: object) -> RelayHandshake:
    values: dict[str, object] = {
        "server_id": "srv-probe",
        "server_name": "vm",
        "installation_id": "f0b2a875-0000-4000-8000-000000000001",
        "remote_control_token": "rc-token-secret",
    }
    values.update(overrides)
    return RelayHandshake(**values)  # type: ignore[arg-type]


# --- handshake headers -----------------------------------------------------------------------------------------


def test_handshake_headers_match_what_the_real_daemon_sent() -> None:
    assert PROTOCOL_VERSION == 3
    assert handshake().to_headers() == {
        "x-codex-server-id": "srv-probe",
        "x-codex-name": "dm0=",
        "x-codex-protocol-version": "3",
        "authorization": "Bearer rc-token-secret",
        "x-codex-installation-id": "f0b2a875-0000-4000-8000-000000000001",
    }


def test_handshake_optional_headers_and_round_trip() -> None:
    original = handshake(account_id="acct-1", subscribe_cursor="cur-9", server_name="Dana's Mac ✓")
    headers = original.to_headers()
    assert headers["chatgpt-account-id"] == "acct-1"
    assert headers[SUBSCRIBE_CURSOR_HEADER] == "cur-9"
    assert RelayHandshake.from_headers(headers) == original


def test_handshake_reads_header_names_case_insensitively_and_bearer_any_case() -> None:
    headers = {name.title(): value for name, value in handshake().to_headers().items()}
    headers["Authorization"] = "bearer rc-token-secret"
    assert RelayHandshake.from_headers(headers) == handshake()


def test_handshake_accepts_websockets_headers_with_repeats_and_takes_the_first() -> None:
    headers = Headers(handshake().to_headers())
    headers["x-codex-server-id"] = "second"
    assert RelayHandshake.from_headers(headers).server_id == "srv-probe"
    assert RelayHandshake.from_headers(list(handshake().to_headers().items())) == handshake()


def test_handshake_repr_never_shows_the_token() -> None:
    assert "rc-token-secret" not in repr(handshake())


@pytest.mark.parametrize(
    "header",
    [
        "x-codex-server-id",
        "x-codex-name",
        "x-codex-protocol-version",
        "authorization",
        "x-codex-installation-id",
    ],
)
def test_handshake_missing_required_header_names_it(header: str) -> None:
    headers = handshake().to_headers()
    del headers[header]
    with pytest.raises(MissingHeaderError) as caught:
        RelayHandshake.from_headers(headers)
    assert caught.value.header == header
    assert header in str(caught.value)


@pytest.mark.parametrize("version", ["2", "4", "0"])
def test_handshake_wrong_protocol_version_is_unsupported_version(version: str) -> None:
    headers = handshake().to_headers()
    headers["x-codex-protocol-version"] = version
    with pytest.raises(UnsupportedProtocolVersionError) as caught:
        RelayHandshake.from_headers(headers)
    assert caught.value.code is ErrorCode.UNSUPPORTED_VERSION
    assert caught.value.version == int(version)


def test_old_daemon_without_installation_id_hears_unsupported_version_first() -> None:
    headers = handshake().to_headers()
    headers["x-codex-protocol-version"] = "2"
    del headers["x-codex-installation-id"]
    with pytest.raises(UnsupportedProtocolVersionError):
        RelayHandshake.from_headers(headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-codex-protocol-version", "three"),
        ("x-codex-protocol-version", "+3"),
        ("x-codex-name", "not base64!"),
        ("x-codex-name", "dm1="),  # non-zero trailing bits: not canonical
        ("x-codex-name", base64.b64encode(b"\xff\xfe").decode()),
        ("authorization", "Basic abc"),
        ("authorization", "Bearer    "),
        ("x-codex-server-id", "   "),
    ],
)
def test_handshake_invalid_header_values_are_typed(header: str, value: str) -> None:
    headers = handshake().to_headers()
    headers[header] = value
    with pytest.raises(InvalidHeaderError) as caught:
        RelayHandshake.from_headers(headers)
    assert caught.value.header == header
    assert not isinstance(caught.value, UnsupportedProtocolVersionError)


def test_handshake_refuses_to_put_a_newline_in_a_header_without_echoing_the_value() -> None:
    with pytest.raises(InvalidHeaderError) as caught:
        handshake(remote_control_token="tok\r\nx-evil: 1").to_headers()
    assert "tok" not in str(caught.value)


def test_handshake_with_empty_server_name_is_refused() -> None:
    with pytest.raises(InvalidHeaderError):
        handshake(server_name="").to_headers()


def test_server_name_base64_helpers() -> None:
    assert encode_server_name("vm") == "dm0="
    assert decode_server_name("dm0=") == "vm"
    assert decode_server_name(encode_server_name("Mac de Zoë")) == "Mac de Zoë"


# --- envelopes: wire shape -------------------------------------------------------------------------------------


def test_client_message_wire_shape_and_field_order() -> None:
    envelope = ClientMessage(message=INIT, client_id="c1", stream_id="s1", seq_id=0, cursor="k1")
    text = encode(envelope)
    assert text == (
        '{"type":"client_message","message":'
        + json.dumps(INIT, separators=(",", ":"))
        + ',"client_id":"c1","stream_id":"s1","seq_id":0,"cursor":"k1"}'
    )
    assert parse_client_envelope(text) == envelope


def test_encode_omits_optional_fields_that_are_none() -> None:
    assert encode(Ping(client_id="c1")) == '{"type":"ping","client_id":"c1"}'
    assert encode(ClientClosed(client_id="c1", stream_id="s1")) == (
        '{"type":"client_closed","client_id":"c1","stream_id":"s1"}'
    )


def test_server_envelopes_wire_shapes() -> None:
    assert encode(ServerMessage(message={"id": 1, "result": {}}, client_id="c", stream_id="s", seq_id=1)) == (
        '{"type":"server_message","message":{"id":1,"result":{}},"client_id":"c","stream_id":"s","seq_id":1}'
    )
    assert encode(Pong(status=PongStatus.UNKNOWN, client_id="c", stream_id="s", seq_id=2)) == (
        '{"type":"pong","status":"unknown","client_id":"c","stream_id":"s","seq_id":2}'
    )
    assert encode(ServerAck(client_id="c", stream_id="s")) == '{"type":"ack","client_id":"c","stream_id":"s"}'


def test_ack_means_different_envelopes_in_each_direction() -> None:
    text = '{"type":"ack","segment_id":2,"client_id":"c","stream_id":"s","seq_id":7}'
    assert parse_client_envelope(text) == ClientAck(client_id="c", stream_id="s", seq_id=7, segment_id=2)
    assert parse_server_envelope(text) == ServerAck(client_id="c", stream_id="s", seq_id=7)


def test_pong_status_string_is_coerced_and_checked() -> None:
    assert Pong(status="active", client_id="c", stream_id="s", seq_id=1).status is PongStatus.ACTIVE  # type: ignore[arg-type]
    with pytest.raises(InvalidEnvelopeFieldError):
        Pong(status="asleep", client_id="c", stream_id="s", seq_id=1)  # type: ignore[arg-type]


def test_unknown_fields_are_ignored_like_the_daemon_does() -> None:
    text = '{"type":"ping","client_id":"c","future_field":[1,2]}'
    assert parse_client_envelope(text) == Ping(client_id="c")


def test_null_optional_field_reads_as_absent() -> None:
    assert parse_client_envelope('{"type":"ping","client_id":"c","stream_id":null}') == Ping(client_id="c")


def test_bytes_input_is_accepted() -> None:
    assert parse_client_envelope(b'{"type":"ping","client_id":"c"}') == Ping(client_id="c")


# --- envelopes: errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"\xff\xfe", MalformedEnvelopeError),
        ("{not json", MalformedEnvelopeError),
        ("[1,2]", MalformedEnvelopeError),
        ('"ping"', MalformedEnvelopeError),
        ('{"type":"ping","client_id":"a","client_id":"b"}', MalformedEnvelopeError),
        ('{"type":"ping","client_id":"c","x":NaN}', MalformedEnvelopeError),
        ('{"type":"ping","client_id":"\\ud800"}', MalformedEnvelopeError),
        ('{"client_id":"c"}', MissingEnvelopeFieldError),
        ('{"type":7,"client_id":"c"}', InvalidEnvelopeFieldError),
        ('{"type":"server_message","client_id":"c"}', UnknownEnvelopeTypeError),
        ('{"type":"ping"}', MissingEnvelopeFieldError),
        ('{"type":"client_message","client_id":"c"}', MissingEnvelopeFieldError),
        ('{"type":"client_message","client_id":"c","message":[1]}', InvalidEnvelopeFieldError),
        ('{"type":"client_message","client_id":"c","message":{},"seq_id":-1}', InvalidEnvelopeFieldError),
        ('{"type":"client_message","client_id":"c","message":{},"seq_id":1.0}', InvalidEnvelopeFieldError),
        ('{"type":"ack","client_id":"c","stream_id":"s","seq_id":0}', InvalidEnvelopeFieldError),
        ('{"type":"ack","client_id":"c","stream_id":"s","seq_id":true}', InvalidEnvelopeFieldError),
        (
            '{"type":"ack","client_id":"c","stream_id":"s","seq_id":18446744073709551616}',
            InvalidEnvelopeFieldError,
        ),
        ('{"type":"ack","client_id":"c","seq_id":1}', MissingEnvelopeFieldError),
        ('{"type":"ack","client_id":"c","stream_id":"s","seq_id":null}', InvalidEnvelopeFieldError),
        ('{"type":"ping","client_id":5}', InvalidEnvelopeFieldError),
        (
            '{"type":"client_message_chunk","client_id":"c","segment_id":0,"segment_count":"1",'
            '"message_size_bytes":2,"message_chunk_base64":"e30="}',
            InvalidEnvelopeFieldError,
        ),
    ],
)
def test_client_parse_errors_are_typed(frame: str | bytes, error: type[ProtocolError]) -> None:
    with pytest.raises(error) as caught:
        parse_client_envelope(frame)
    assert caught.value.code is ErrorCode.PROTOCOL_VIOLATION


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ('{"type":"client_message","message":{},"client_id":"c"}', UnknownEnvelopeTypeError),
        (
            '{"type":"server_message","message":{},"client_id":"c","stream_id":"s","seq_id":0}',
            InvalidEnvelopeFieldError,
        ),
        ('{"type":"server_message","message":{},"client_id":"c","stream_id":"s"}', MissingEnvelopeFieldError),
        ('{"type":"server_message","message":{},"client_id":"c","seq_id":1}', MissingEnvelopeFieldError),
        (
            '{"type":"pong","status":"gone","client_id":"c","stream_id":"s","seq_id":1}',
            InvalidEnvelopeFieldError,
        ),
        (
            '{"type":"pong","status":"active","client_id":"c","stream_id":"s","seq_id":false}',
            InvalidEnvelopeFieldError,
        ),
    ],
)
def test_server_parse_errors_are_typed(frame: str, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        parse_server_envelope(frame)


def test_missing_field_error_names_the_field() -> None:
    with pytest.raises(MissingEnvelopeFieldError) as caught:
        parse_server_envelope('{"type":"server_message","message":{},"client_id":"c","stream_id":"s"}')
    assert caught.value.field == "seq_id"
    assert "`seq_id`" in str(caught.value)


def test_error_messages_do_not_echo_field_values() -> None:
    with pytest.raises(InvalidEnvelopeFieldError) as caught:
        parse_client_envelope('{"type":"client_message","client_id":"c","message":"token-abc123"}')
    assert "token-abc123" not in str(caught.value)


def test_frame_limit_is_enforced_before_parsing() -> None:
    frame = encode(ClientMessage(message={"x": "y" * 100}, client_id="c"))
    assert parse_client_envelope(frame, max_frame_bytes=len(frame)).client_id == "c"
    with pytest.raises(MalformedEnvelopeError, match="frame limit"):
        parse_client_envelope(frame, max_frame_bytes=len(frame) - 1)


def test_constructing_an_invalid_envelope_is_refused() -> None:
    with pytest.raises(InvalidEnvelopeFieldError):
        ServerMessage(message={}, client_id="c", stream_id="s", seq_id=0)
    with pytest.raises(InvalidEnvelopeFieldError):
        ClientMessage(message={1: "x"}, client_id="c")  # type: ignore[dict-item]


def test_encoding_a_message_that_is_not_json_is_a_typed_error() -> None:
    envelope = ServerMessage(message={"x": object()}, client_id="c", stream_id="s", seq_id=1)
    with pytest.raises(InvalidEnvelopeFieldError):
        encode(envelope)


# --- chunking ---------------------------------------------------------------------------------------------------


def test_split_message_segments_are_base64_of_the_compact_utf8_json() -> None:
    message = {"id": 3, "result": {"text": "héllo wörld " * 20}}
    raw = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    segments = split_message(message, 50)
    assert [s.segment_id for s in segments] == list(range(len(segments)))
    assert all(s.segment_count == len(segments) and s.message_size_bytes == len(raw) for s in segments)
    assert b"".join(base64.b64decode(s.message_chunk_base64) for s in segments) == raw
    assert all(len(base64.b64decode(s.message_chunk_base64)) <= 50 for s in segments)


def test_split_message_refuses_too_many_segments_and_too_big_messages() -> None:
    with pytest.raises(MessageTooLargeError):
        split_message({"x": "y" * 100}, 1, max_segment_count=10)
    with pytest.raises(MessageTooLargeError):
        split_message({"x": "y" * 100}, 1000, max_message_bytes=50)
    with pytest.raises(ValueError):
        split_message({}, 0)


def chunks(
    message: dict, *, seq_id: int = 1, stream_id: str = "s", size: int = 10
) -> list[ClientMessageChunk]:
    return client_message_chunks(
        message, client_id="c", stream_id=stream_id, seq_id=seq_id, max_chunk_bytes=size
    )


def test_reassembler_returns_the_message_on_the_last_chunk_only() -> None:
    reassembler = Reassembler()
    parts = chunks(INIT)
    results = [reassembler.feed(chunk) for chunk in parts]
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] == INIT
    assert reassembler.in_progress == 0


def test_cursor_rides_on_the_last_client_chunk_only() -> None:
    parts = client_message_chunks(
        INIT, client_id="c", stream_id="s", seq_id=4, max_chunk_bytes=20, cursor="k"
    )
    assert [chunk.cursor for chunk in parts] == [None] * (len(parts) - 1) + ["k"]


def test_reassembler_rejects_oversized_message_before_buffering() -> None:
    reassembler = Reassembler(max_message_bytes=100)
    chunk = ClientMessageChunk(
        segment_id=0,
        segment_count=2,
        message_size_bytes=101,
        message_chunk_base64="e30=",
        client_id="c",
        stream_id="s",
        seq_id=1,
    )
    with pytest.raises(MessageTooLargeError):
        reassembler.feed(chunk)
    assert reassembler.in_progress == 0


def _chunk(**overrides: object) -> ClientMessageChunk:
    values: dict[str, object] = {
        "segment_id": 0,
        "segment_count": 2,
        "message_size_bytes": 2,
        "message_chunk_base64": "ew==",
        "client_id": "c",
        "stream_id": "s",
        "seq_id": 1,
    }
    values.update(overrides)
    return ClientMessageChunk(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"stream_id": None},
        {"seq_id": None},
        {"segment_count": 0},
        {"segment_count": 5000},
        {"segment_id": 2},
        {"message_size_bytes": 0},
        {"message_chunk_base64": ""},
    ],
)
def test_reassembler_rejects_unusable_chunks_and_keeps_existing_assembly(overrides: dict) -> None:
    reassembler = Reassembler()
    assert reassembler.feed(_chunk()) is None
    with pytest.raises(InvalidChunkError):
        reassembler.feed(_chunk(**overrides))
    assert reassembler.feed(_chunk(segment_id=1, message_chunk_base64="fQ==")) == {}


def test_reassembler_duplicate_segment_is_typed_and_harmless() -> None:
    reassembler = Reassembler()
    reassembler.feed(_chunk())
    with pytest.raises(DuplicateSegmentError):
        reassembler.feed(_chunk())
    assert reassembler.feed(_chunk(segment_id=1, message_chunk_base64="fQ==")) == {}


def test_reassembler_ignores_a_replay_of_an_already_delivered_message() -> None:
    reassembler = Reassembler()
    parts = chunks(INIT, seq_id=3)
    for chunk in parts:
        reassembler.feed(chunk)
    with pytest.raises(DuplicateSegmentError):
        reassembler.feed(parts[0])
    assert reassembler.in_progress == 0
    later = chunks({"id": 2, "method": "x"}, seq_id=4)
    assert [reassembler.feed(chunk) for chunk in later][-1] == {"id": 2, "method": "x"}


@pytest.mark.parametrize(
    ("second", "error"),
    [
        ({"segment_id": 1, "segment_count": 3}, InconsistentChunkError),
        ({"segment_id": 1, "message_size_bytes": 3}, InconsistentChunkError),
        ({"segment_id": 1, "seq_id": 2}, InconsistentChunkError),
        ({"segment_id": 1, "message_chunk_base64": "fQ"}, InvalidChunkEncodingError),
        ({"segment_id": 1, "message_chunk_base64": "fR=="}, InvalidChunkEncodingError),
        ({"segment_id": 1, "message_chunk_base64": "fX0="}, ChunkSizeMismatchError),
    ],
)
def test_reassembler_failures_drop_that_assembly(second: dict, error: type[Exception]) -> None:
    reassembler = Reassembler()
    reassembler.feed(_chunk())
    with pytest.raises(error):
        reassembler.feed(_chunk(**second))
    assert reassembler.in_progress == 0


def test_reassembler_out_of_order_segment() -> None:
    reassembler = Reassembler()
    with pytest.raises(OutOfOrderSegmentError):
        reassembler.feed(_chunk(segment_id=1))
    reassembler.feed(_chunk(segment_count=3, message_size_bytes=3))
    with pytest.raises(OutOfOrderSegmentError):
        reassembler.feed(_chunk(segment_id=2, segment_count=3, message_size_bytes=3))
    assert reassembler.in_progress == 0


def test_reassembler_short_total_and_bad_json() -> None:
    reassembler = Reassembler()
    short = [
        _chunk(message_size_bytes=3),
        _chunk(segment_id=1, message_size_bytes=3, message_chunk_base64="fQ=="),
    ]
    reassembler.feed(short[0])
    with pytest.raises(ChunkSizeMismatchError):
        reassembler.feed(short[1])
    not_object = base64.b64encode(b"[1]").decode()
    with pytest.raises(InvalidReassembledMessageError):
        reassembler.feed(
            _chunk(segment_count=1, message_size_bytes=3, message_chunk_base64=not_object, seq_id=5)
        )
    not_utf8 = base64.b64encode(b"\xff\xff").decode()
    with pytest.raises(InvalidReassembledMessageError):
        reassembler.feed(_chunk(segment_count=1, message_chunk_base64=not_utf8, seq_id=6))


def test_a_failed_reassembly_does_not_poison_other_streams() -> None:
    reassembler = Reassembler()
    good = chunks(INIT, stream_id="good")
    bad = chunks({"id": 9, "method": "x", "params": {"p": "q" * 30}}, stream_id="bad")
    reassembler.feed(good[0])
    reassembler.feed(bad[0])
    with pytest.raises(OutOfOrderSegmentError):
        reassembler.feed(bad[2])
    results = [reassembler.feed(chunk) for chunk in good[1:]]
    assert results[-1] == INIT


def test_reassembler_evicts_the_least_recently_fed_assembly() -> None:
    reassembler = Reassembler(max_assemblies=2)
    a, b, c = (chunks(INIT, stream_id=name) for name in "abc")
    reassembler.feed(a[0])
    reassembler.feed(b[0])
    reassembler.feed(a[1])
    reassembler.feed(c[0])
    assert reassembler.evicted == 1
    with pytest.raises(OutOfOrderSegmentError):
        reassembler.feed(b[1])
    assert [reassembler.feed(chunk) for chunk in a[2:]][-1] == INIT


def test_discard_stream_forgets_partial_message() -> None:
    reassembler = Reassembler()
    parts = chunks(INIT)
    reassembler.feed(parts[0])
    reassembler.discard_client("c")
    assert reassembler.in_progress == 0
    with pytest.raises(OutOfOrderSegmentError):
        reassembler.feed(parts[1])


def test_server_chunks_reassemble_too() -> None:
    parts = server_message_chunks(INIT, client_id="c", stream_id="s", seq_id=1, max_chunk_bytes=7)
    reassembler = Reassembler()
    assert [reassembler.feed(chunk) for chunk in parts][-1] == INIT


# --- outbox -----------------------------------------------------------------------------------------------------


def test_outbox_numbers_each_stream_from_one() -> None:
    outbox = Outbox()
    seqs = [
        outbox.send_message(client, stream, {"n": i})[0].seq_id
        for i, (client, stream) in enumerate(
            [("c1", "s1"), ("c1", "s1"), ("c1", "s2"), ("c2", "s1"), ("c1", "s1")]
        )
    ]
    assert seqs == [1, 2, 1, 1, 3]
    pong = outbox.send_pong("c1", "s2", PongStatus.ACTIVE)
    assert pong.seq_id == 2


def test_outbox_ack_drops_up_to_seq_on_that_stream_only() -> None:
    outbox = Outbox()
    for i in range(3):
        outbox.send_message("c", "s1", {"n": i})
        outbox.send_message("c", "s2", {"n": i})
    result = outbox.ack("c", "s1", 2)
    assert result.status is AckStatus.ACKED and result.dropped == 2
    assert [(e.stream_id, e.seq_id) for e in outbox.pending()] == [("s2", 1), ("s2", 2), ("s1", 3), ("s2", 3)]
    assert outbox.replay() == [encode(e) for e in outbox.pending()]


def test_outbox_ack_outcomes_are_defined() -> None:
    outbox = Outbox()
    outbox.send_message("c", "s", {"n": 1})
    outbox.send_message("c", "s", {"n": 2})
    assert outbox.ack("c", "other", 1).status is AckStatus.UNKNOWN_STREAM
    assert outbox.unacked_frames == 2
    assert outbox.ack("c", "s", 1) == AckResult(AckStatus.ACKED, 1)
    # The same ack again drops nothing and leaves the second message waiting.
    assert outbox.ack("c", "s", 1) == AckResult(AckStatus.STALE, 0)
    assert outbox.unacked_frames == 1
    beyond = outbox.ack("c", "s", 99)
    assert beyond.status is AckStatus.BEYOND_SENT and beyond.dropped == 1
    assert outbox.pending() == [] and outbox.unacked_bytes == 0
    assert outbox.send_message("c", "s", {"n": 3})[0].seq_id == 3


def test_outbox_chunks_a_message_bigger_than_a_frame_under_one_seq_id() -> None:
    outbox = Outbox(max_frame_bytes=400)
    big = {"id": 1, "result": {"diff": "x" * 2000}}
    sent = outbox.send_message("c", "s", big)
    assert len(sent) > 1 and all(isinstance(e, ServerMessageChunk) and e.seq_id == 1 for e in sent)
    assert all(len(encode(e).encode()) <= 400 for e in sent)
    reassembler = Reassembler()
    assert [reassembler.feed(e) for e in sent][-1] == big  # type: ignore[arg-type]
    assert outbox.send_message("c", "s", {"id": 2})[0].seq_id == 2


def test_outbox_ack_with_segment_keeps_later_chunks() -> None:
    outbox = Outbox(max_frame_bytes=300)
    sent = outbox.send_message("c", "s", {"blob": "y" * 1000})
    assert outbox.ack("c", "s", 1, segment_id=1).dropped == 2
    assert outbox.pending() == sent[2:]
    assert outbox.on_client_ack(ClientAck(client_id="c", stream_id="s", seq_id=1)).dropped == len(sent) - 2


def test_outbox_bound_refuses_without_consuming_a_seq_id() -> None:
    outbox = Outbox(max_unacked_frames=2)
    outbox.send_message("c", "s", {"n": 1})
    outbox.send_pong("c", "s", "unknown")
    with pytest.raises(OutboxFullError) as caught:
        outbox.send_message("c", "s", {"n": 3})
    assert isinstance(caught.value, PairsimError)
    assert caught.value.code is ErrorCode.RELAY_UNREACHABLE
    outbox.ack("c", "s", 1)
    assert outbox.send_message("c", "s", {"n": 3})[0].seq_id == 3

    by_bytes = Outbox(max_unacked_bytes=150)
    by_bytes.send_message("c", "s", {"n": "x" * 50})
    with pytest.raises(OutboxFullError):
        by_bytes.send_message("c", "s", {"n": "x" * 50})
    assert by_bytes.next_seq_id("c", "s") == 2


def test_outbox_refuses_bad_input_with_typed_errors() -> None:
    outbox = Outbox()
    with pytest.raises(InvalidEnvelopeFieldError):
        outbox.send_pong("c", "s", "sleepy")
    with pytest.raises(InvalidEnvelopeFieldError):
        outbox.send_message("c", "s", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(InvalidEnvelopeFieldError):
        outbox.send_message("c", "s", {"x": float("nan")})
    assert outbox.next_seq_id("c", "s") == 1 and outbox.pending() == []


def test_outbox_refuses_a_message_that_cannot_be_chunked() -> None:
    outbox = Outbox(max_frame_bytes=200)
    with pytest.raises(MessageTooLargeError):
        outbox.send_message("c" * 150, "s", {"x": "y" * 500})
    assert outbox.next_seq_id("c" * 150, "s") == 1


# --- subscribe cursor -------------------------------------------------------------------------------------------


def test_subscribe_cursor_remembers_the_last_cursor_seen_on_any_envelope() -> None:
    cursor = SubscribeCursor()
    assert cursor.headers() == {}
    cursor = cursor.observe(ClientMessage(message=INIT, client_id="c", cursor="k1"))
    cursor = cursor.observe(Ping(client_id="c"))
    assert cursor.header_value() == "k1"
    cursor = cursor.observe(ClientAck(client_id="c", stream_id="s", seq_id=1, cursor="k2"))
    assert cursor.headers() == {"x-codex-subscribe-cursor": "k2"}
    assert handshake(subscribe_cursor=cursor.header_value()).to_headers()[SUBSCRIBE_CURSOR_HEADER] == "k2"
