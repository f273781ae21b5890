"""Properties of the relay protocol: exact round trips, total parsers, lossless chunking, outbox bookkeeping."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.protocol.errors import PairsimError
from simulators.protocol.relay import (
    ClientAck,
    ClientClosed,
    ClientMessage,
    ClientMessageChunk,
    InvalidHeaderError,
    MessageTooLargeError,
    Outbox,
    Ping,
    Pong,
    PongStatus,
    Reassembler,
    RelayHandshake,
    ServerAck,
    ServerMessage,
    ServerMessageChunk,
    encode,
    parse_client_envelope,
    parse_server_envelope,
    split_message,
)

U64 = 2**64 - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=U64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
ids = st.text(max_size=12)
positive = st.integers(min_value=1, max_value=U64)
non_negative = st.integers(min_value=0, max_value=U64)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


chunk_fields = {
    "segment_id": non_negative,
    "segment_count": non_negative,
    "message_size_bytes": non_negative,
    "message_chunk_base64": st.text(max_size=16),
}

client_envelopes = st.one_of(
    st.builds(
        ClientMessage, message=json_objects, client_id=ids, stream_id=maybe(ids), seq_id=maybe(non_negative),
        cursor=maybe(ids),
    ),
    st.builds(
        ClientMessageChunk, **chunk_fields, client_id=ids, stream_id=maybe(ids), seq_id=maybe(non_negative),
        cursor=maybe(ids),
    ),
    st.builds(
        ClientAck, client_id=ids, stream_id=ids, seq_id=positive, segment_id=maybe(non_negative), cursor=maybe(ids)
    ),
    st.builds(Ping, client_id=ids, stream_id=maybe(ids), seq_id=maybe(non_negative), cursor=maybe(ids)),
    st.builds(ClientClosed, client_id=ids, stream_id=maybe(ids), seq_id=maybe(non_negative), cursor=maybe(ids)),
)  # fmt: skip

server_envelopes = st.one_of(
    st.builds(ServerMessage, message=json_objects, client_id=ids, stream_id=ids, seq_id=positive),
    st.builds(ServerMessageChunk, **chunk_fields, client_id=ids, stream_id=ids, seq_id=positive),
    st.builds(ServerAck, client_id=ids, stream_id=ids, seq_id=maybe(positive), cursor=maybe(ids)),
    st.builds(Pong, status=st.sampled_from(PongStatus), client_id=ids, stream_id=ids, seq_id=positive),
)


@settings(deadline=None)
@given(client_envelopes)
def test_every_client_envelope_round_trips_exactly(envelope: Any) -> None:
    text = encode(envelope)
    parsed = parse_client_envelope(text)
    assert parsed == envelope
    assert encode(parsed) == text
    assert parse_client_envelope(text.encode("utf-8")) == envelope


@settings(deadline=None)
@given(server_envelopes)
def test_every_server_envelope_round_trips_exactly(envelope: Any) -> None:
    text = encode(envelope)
    parsed = parse_server_envelope(text)
    assert parsed == envelope
    assert encode(parsed) == text


FIELD_NAMES = [
    "message", "client_id", "stream_id", "seq_id", "cursor", "segment_id", "segment_count",
    "message_size_bytes", "message_chunk_base64", "status",
]  # fmt: skip
TYPES = ["client_message", "client_message_chunk", "ack", "ping", "client_closed", "server_message",
         "server_message_chunk", "pong", "bogus"]  # fmt: skip
envelope_like = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_values},
    optional={
        name: json_values | ids | non_negative | st.sampled_from(["active", "unknown"])
        for name in FIELD_NAMES
    },
)


CLIENT_TYPES = (ClientMessage, ClientMessageChunk, ClientAck, Ping, ClientClosed)
SERVER_TYPES = (ServerMessage, ServerMessageChunk, ServerAck, Pong)


def _total(parser: Any, data: Any, expected: tuple[type, ...]) -> None:
    """The parser's whole contract: a value of the expected kind, or a PairsimError; nothing else escapes."""
    try:
        result = parser(data)
    except PairsimError:
        return
    assert isinstance(result, expected)


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_an_envelope_or_a_typed_error(data: bytes) -> None:
    _total(parse_client_envelope, data, CLIENT_TYPES)
    _total(parse_server_envelope, data, SERVER_TYPES)


@settings(deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_gives_an_envelope_or_a_typed_error(text: str) -> None:
    _total(parse_client_envelope, text, CLIENT_TYPES)
    _total(parse_server_envelope, text, SERVER_TYPES)


@settings(deadline=None)
@given(envelope_like | json_values)
def test_arbitrary_json_gives_an_envelope_or_a_typed_error(value: Any) -> None:
    text = json.dumps(value)
    _total(parse_client_envelope, text, CLIENT_TYPES)
    _total(parse_server_envelope, text, SERVER_TYPES)


handshake_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)


@settings(deadline=None)
@given(
    server_id=handshake_text,
    server_name=st.text(min_size=1, max_size=30),
    installation_id=handshake_text,
    token=handshake_text,
    account_id=maybe(handshake_text),
    cursor=maybe(handshake_text),
)
def test_handshake_headers_round_trip(
    server_id: str, server_name: str, installation_id: str, token: str, account_id: Any, cursor: Any
) -> None:
    original = RelayHandshake(
        server_id=server_id,
        server_name=server_name,
        installation_id=installation_id,
        remote_control_token=token,
        account_id=account_id,
        subscribe_cursor=cursor,
    )
    assert RelayHandshake.from_headers(original.to_headers()) == original


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["x-codex-server-id", "x-codex-name", "x-codex-protocol-version",
                                        "authorization", "x-codex-installation-id", "X-Other"]) | st.text(),
                       st.text(max_size=30)))  # fmt: skip
def test_arbitrary_headers_give_a_handshake_or_a_typed_error(headers: dict[str, str]) -> None:
    _total(RelayHandshake.from_headers, headers, (RelayHandshake,))


@settings(deadline=None)
@given(st.text(max_size=20))
def test_handshake_to_headers_gives_headers_or_a_typed_error(token: str) -> None:
    handshake = RelayHandshake(
        server_id="s", server_name="n", installation_id="i", remote_control_token=token
    )
    try:
        headers = handshake.to_headers()
    except InvalidHeaderError:
        return
    assert "\n" not in headers["authorization"] and "\r" not in headers["authorization"]


# --- chunking ---------------------------------------------------------------------------------------------------


def _as_chunks(message: dict[str, Any], size: int, seq_id: int = 1) -> list[ClientMessageChunk]:
    return [
        ClientMessageChunk(
            segment_id=s.segment_id,
            segment_count=s.segment_count,
            message_size_bytes=s.message_size_bytes,
            message_chunk_base64=s.message_chunk_base64,
            client_id="c",
            stream_id="s",
            seq_id=seq_id,
        )
        for s in split_message(message, size, max_segment_count=10**6)
    ]


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(json_objects, st.integers(min_value=1, max_value=300))
def test_split_then_reassemble_gives_the_original(message: dict[str, Any], size: int) -> None:
    parts = _as_chunks(message, size)
    assert len(parts) == parts[0].segment_count
    reassembler = Reassembler(max_segment_count=10**6)
    results = [reassembler.feed(chunk) for chunk in parts]
    assert results[-1] == message
    assert all(result is None for result in results[:-1])


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(json_objects, st.integers(min_value=1, max_value=40), st.data())
def test_reassembler_under_shuffles_and_repeats_yields_only_the_original(
    message: dict[str, Any], size: int, data: st.DataObject
) -> None:
    parts = _as_chunks(message, size)
    order = data.draw(st.lists(st.sampled_from(range(len(parts))), max_size=3 * len(parts) + 2))
    reassembler = Reassembler(max_segment_count=10**6)
    for index in order:
        try:
            result = reassembler.feed(parts[index])
        except PairsimError:
            continue
        assert result is None or result == message


@settings(deadline=None)
@given(st.lists(st.builds(ClientMessageChunk, **chunk_fields, client_id=st.sampled_from("ab"),
                          stream_id=maybe(st.sampled_from("xy")), seq_id=maybe(st.integers(0, 3))), max_size=10))  # fmt: skip
def test_reassembler_fed_arbitrary_chunks_only_raises_typed_errors(chunks: list[ClientMessageChunk]) -> None:
    reassembler = Reassembler(max_message_bytes=1000)
    for chunk in chunks:
        try:
            result = reassembler.feed(chunk)
        except PairsimError:
            continue
        assert result is None or isinstance(result, dict)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(json_objects, st.integers(min_value=1, max_value=64), st.integers(min_value=1, max_value=64))
def test_split_respects_the_segment_limit_or_refuses(message: dict[str, Any], size: int, limit: int) -> None:
    try:
        parts = split_message(message, size, max_segment_count=limit)
    except MessageTooLargeError:
        return
    assert 1 <= len(parts) <= limit
    assert all(len(base64.b64decode(part.message_chunk_base64)) <= size for part in parts)


# --- outbox -----------------------------------------------------------------------------------------------------

KEYS = [("c1", "s1"), ("c1", "s2"), ("c2", "s1")]
send_op = st.tuples(st.just("send"), st.sampled_from(KEYS), st.text(max_size=120))
pong_op = st.tuples(st.just("pong"), st.sampled_from(KEYS), st.sampled_from(PongStatus))
ack_op = st.tuples(
    st.just("ack"), st.sampled_from(KEYS), st.integers(min_value=1, max_value=8), maybe(st.integers(0, 6))
)


@settings(deadline=None)
@given(st.lists(send_op | pong_op | ack_op, max_size=40), st.sampled_from([180, 400, 150 * 1024]))
def test_outbox_replay_is_exactly_the_unacked_envelopes_in_send_order(ops: list[tuple], frame: int) -> None:
    outbox = Outbox(max_frame_bytes=frame)
    model: list[Any] = []  # what must still be re-sent, in send order
    next_seq = {key: 1 for key in KEYS}
    for op in ops:
        if op[0] in ("send", "pong"):
            _, (client, stream), payload = op
            sent = (
                outbox.send_message(client, stream, {"id": len(model), "text": payload})
                if op[0] == "send"
                else [outbox.send_pong(client, stream, payload)]
            )
            assert {envelope.seq_id for envelope in sent} == {next_seq[(client, stream)]}
            next_seq[(client, stream)] += 1
            model.extend(sent)
        else:
            _, (client, stream), seq_id, segment_id = op
            limit = (seq_id, float("inf") if segment_id is None else segment_id)

            def acked(
                envelope: Any, client: str = client, stream: str = stream, limit: tuple = limit
            ) -> bool:
                segment = envelope.segment_id if isinstance(envelope, ServerMessageChunk) else 0
                same_stream = (envelope.client_id, envelope.stream_id) == (client, stream)
                return same_stream and (envelope.seq_id, segment) <= limit

            expected_dropped = sum(1 for envelope in model if acked(envelope))
            assert outbox.ack(client, stream, seq_id, segment_id).dropped == expected_dropped
            model = [envelope for envelope in model if not acked(envelope)]
        assert outbox.pending() == model
        assert outbox.unacked_frames == len(model)
    assert outbox.replay() == [encode(envelope) for envelope in model]
    assert outbox.unacked_bytes == sum(len(frame.encode("utf-8")) for frame in outbox.replay())
    assert all(len(text.encode("utf-8")) <= frame for text in outbox.replay())
    for text in outbox.replay():
        assert parse_server_envelope(text) in model


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.integers(1, 5)), max_size=30))
def test_acks_on_one_stream_never_touch_another(acks: list[tuple]) -> None:
    outbox = Outbox()
    for key in KEYS:
        for n in range(5):
            outbox.send_message(*key, {"n": n})
    for (client, stream), seq_id in acks:
        before = {key: [e for e in outbox.pending() if (e.client_id, e.stream_id) == key] for key in KEYS}
        outbox.ack(client, stream, seq_id)
        after = {key: [e for e in outbox.pending() if (e.client_id, e.stream_id) == key] for key in KEYS}
        for key in KEYS:
            if key != (client, stream):
                assert after[key] == before[key]
        assert all(e.seq_id > seq_id for e in after[(client, stream)])
