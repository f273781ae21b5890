"""The app-server's JSON-RPC dialect and the per-connection session state machine (pure, no I/O)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.protocol.errors import ErrorCode, ProtocolError
from simulators.protocol.jsonrpc import (
    CODEX_CLIENT_METHODS,
    INVALID_REQUEST,
    OPTIONAL_PARAMS_METHODS,
    SERVER_OVERLOADED,
    SERVER_OVERLOADED_MESSAGE,
    UNIT_PARAMS_METHODS,
    ClientCapabilities,
    ClientInfo,
    DuplicateResponse,
    ErrorResponse,
    InitializeRequested,
    JsonRpcError,
    MalformedJson,
    MethodCalled,
    MethodSpec,
    MethodTable,
    NotAMessage,
    Notification,
    NotificationReceived,
    Request,
    RequestRejected,
    Response,
    RpcError,
    ServerRequestAnswered,
    ServerSession,
    UnknownResponseId,
    encode,
    parse_message,
    parse_object,
    unknown_method_message,
)

INIT_PARAMS = {"clientInfo": {"name": "probe_codex_ws", "title": "probe", "version": "0.0.1"}}


def table(*specs: MethodSpec) -> MethodTable:
    methods = MethodTable()
    for spec in specs:
        methods.add(spec)
    return methods


def session(*specs: MethodSpec) -> ServerSession:
    return ServerSession(table(MethodSpec("account/read"), *specs))


def initialized(*specs: MethodSpec, experimental: bool = False) -> ServerSession:
    s = session(*specs)
    params = {**INIT_PARAMS, "capabilities": {"experimentalApi": experimental}}
    assert isinstance(s.receive(Request(0, "initialize", params)), InitializeRequested)
    return s


def rejection(event: object) -> tuple[int, str]:
    assert isinstance(event, RequestRejected), event
    return event.response.error.code, event.response.error.message


# ------------------------------------------------------------------------------------------------------------
# Parsing and encoding


def test_constants_match_the_real_server() -> None:
    assert (INVALID_REQUEST, SERVER_OVERLOADED) == (-32600, -32001)
    assert SERVER_OVERLOADED_MESSAGE == "Server overloaded; retry later."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id":1,"method":"initialize","params":{}}', Request(1, "initialize", {})),
        ('{"jsonrpc":"2.0","id":"abc","method":"x"}', Request("abc", "x")),
        ('{"method":"initialized"}', Notification("initialized")),
        ('{"jsonrpc":"2.0","method":"n","params":[1]}', Notification("n", [1])),
        ('{"id":3,"result":{"decision":"accept"}}', Response(3, {"decision": "accept"})),
        ('{"id":3,"result":null}', Response(3, None)),
        ('{"id":"r","error":{"code":-1,"message":"no"}}', ErrorResponse("r", RpcError(-1, "no"))),
        # serde's untagged enum: a method with a non-id `id` is a notification, as in the real server.
        ('{"id":1.5,"method":"x"}', Notification("x")),
        ('{"id":true,"method":"x"}', Notification("x")),
    ],
)
def test_parse_message_accepts_every_shape(text: str, expected: object) -> None:
    assert parse_message(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{1:2}", MalformedJson),
        ("", MalformedJson),
        ("not json", MalformedJson),
        ("[1,2]", NotAMessage),
        ('"initialize"', NotAMessage),
        ("{}", NotAMessage),
        ('{"id":1}', NotAMessage),
        ('{"id":null,"result":1}', NotAMessage),
        ('{"id":1,"error":{"code":"x","message":"m"}}', NotAMessage),
        ('{"id":1,"error":{"code":true,"message":"m"}}', NotAMessage),
        ('{"id":9223372036854775808,"result":1}', NotAMessage),
    ],
)
def test_parse_message_rejects_with_a_typed_error(text: str, error: type[JsonRpcError]) -> None:
    with pytest.raises(error) as caught:
        parse_message(text)
    assert caught.value.code is ErrorCode.PROTOCOL_VIOLATION


def test_malformed_json_error_says_where_but_never_echoes_the_frame() -> None:
    with pytest.raises(MalformedJson) as caught:
        parse_message('{"token": "s3cr3t-value", oops}')
    assert "s3cr3t" not in caught.value.message
    assert "line 1 column" in caught.value.message


@pytest.mark.parametrize(
    ("msg", "wire"),
    [
        (Response(1, {"a": 1}), '{"id":1,"result":{"a":1}}'),
        (
            ErrorResponse(7, RpcError(-32600, "Not initialized")),
            '{"error":{"code":-32600,"message":"Not initialized"},"id":7}',
        ),
        (
            Notification("m", {"x": None}, 1795270254859),
            '{"method":"m","params":{"x":null},"emittedAtMs":1795270254859}',
        ),
        (
            Request(0, "item/fileChange/requestApproval", {"k": "v"}),
            '{"id":0,"method":"item/fileChange/requestApproval","params":{"k":"v"}}',
        ),
        (Request("s", "x"), '{"id":"s","method":"x"}'),
        (
            ErrorResponse(1, RpcError(1, "m", {"d": 1})),
            '{"error":{"code":1,"message":"m","data":{"d":1}},"id":1}',
        ),
    ],
)
def test_encode_matches_the_real_key_order_and_never_sends_jsonrpc(msg: object, wire: str) -> None:
    assert encode(msg) == wire  # type: ignore[arg-type]
    assert "jsonrpc" not in wire


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
request_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=10)


@given(st.text() | st.binary())
def test_any_input_parses_or_raises_a_typed_error(data: str | bytes) -> None:
    with contextlib.suppress(JsonRpcError):
        assert isinstance(parse_message(data), Request | Notification | Response | ErrorResponse)


@given(
    st.dictionaries(
        st.sampled_from(["id", "method", "params", "result", "error", "jsonrpc", "x"]),
        json_values,
        max_size=6,
    )
)
def test_any_json_object_classifies_or_raises_a_typed_error(obj: dict[str, object]) -> None:
    with contextlib.suppress(JsonRpcError):
        assert isinstance(parse_object(obj), Request | Notification | Response | ErrorResponse)


messages = st.one_of(
    st.builds(
        Request,
        request_ids,
        st.text(min_size=1, max_size=20),
        st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    ),
    st.builds(Notification, st.text(min_size=1, max_size=20), st.lists(json_values, max_size=3)),
    st.builds(Response, request_ids, json_values),
    st.builds(
        ErrorResponse, request_ids, st.builds(RpcError, st.integers(-(2**31), 2**31), st.text(max_size=20))
    ),
)


@given(messages)
def test_encode_then_parse_round_trips(msg: object) -> None:
    assert parse_message(encode(msg)) == msg  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------------
# Session: the handshake


def test_requests_before_initialize_are_not_initialized() -> None:
    assert rejection(session().receive(Request(7, "account/read", {}))) == (-32600, "Not initialized")


def test_initialize_once_then_already_initialized() -> None:
    s = session()
    event = s.receive(Request(1, "initialize", INIT_PARAMS))
    assert isinstance(event, InitializeRequested)
    assert event.client_info == ClientInfo("probe_codex_ws", "0.0.1", "probe")
    assert event.capabilities == ClientCapabilities()
    assert s.initialized
    assert rejection(s.receive(Request(2, "initialize", INIT_PARAMS))) == (-32600, "Already initialized")
    assert isinstance(s.receive(Request(3, "account/read", {})), MethodCalled)


def test_requests_work_without_the_initialized_notification() -> None:
    s = initialized()
    assert isinstance(s.receive(Notification("initialized")), NotificationReceived)
    assert isinstance(s.receive(Request(1, "account/read", {})), MethodCalled)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Invalid request: missing field `clientInfo`"),
        (None, "Invalid request: missing field `params`"),
        ({"clientInfo": {"version": "1"}}, "Invalid request: missing field `name`"),
        ({"clientInfo": {"name": "n"}}, "Invalid request: missing field `version`"),
        (
            {"clientInfo": {"name": 5, "version": "1"}},
            "Invalid request: invalid type: integer `5`, expected a string",
        ),
        ({"clientInfo": "x"}, "Invalid request: invalid type: string, expected struct ClientInfo"),
        ([], "Invalid request: invalid type: sequence, expected struct InitializeParams"),
        (
            {**INIT_PARAMS, "capabilities": {"experimentalApi": "yes"}},
            "Invalid request: invalid type: string, expected a boolean",
        ),
    ],
)
def test_initialize_params_are_checked_like_serde(params: object, message: str) -> None:
    s = session()
    assert rejection(s.receive(Request(1, "initialize", params))) == (-32600, message)
    assert not s.initialized


def test_missing_client_info_wins_over_already_initialized() -> None:
    # The params are deserialized before the server looks at its state.
    s = initialized()
    assert (
        rejection(s.receive(Request(1, "initialize", {})))[1] == "Invalid request: missing field `clientInfo`"
    )


def test_unknown_method_is_invalid_request_listing_the_real_methods_then_the_mock_only_ones() -> None:
    s = session(MethodSpec("thread/list"), MethodSpec("pairsim/extra"))
    code, message = rejection(s.receive(Request(1, "no/such")))
    assert code == -32600  # not -32601: the real server fails to deserialize the method name
    assert message == unknown_method_message("no/such", [*CODEX_CLIENT_METHODS, "pairsim/extra"])
    assert message.startswith(
        "Invalid request: unknown variant `no/such`, expected one of `initialize`, `server/diagnostics`, "
    )
    assert len(CODEX_CLIENT_METHODS) == len(set(CODEX_CLIENT_METHODS)) == 187
    # A real method the mock does not serve is not "unknown".
    assert rejection(s.receive(Request(2, "config/read", {}))) == (
        -32601,
        "`config/read` is a codex app-server method that pairsim's mock does not simulate",
    )
    # Unknown methods are reported before the initialize check.
    assert rejection(initialized().receive(Request(2, "no/such")))[1].startswith(
        "Invalid request: unknown variant"
    )


def test_unknown_method_message_uses_serde_wording_for_short_lists() -> None:
    assert unknown_method_message("x", ["a"]) == "Invalid request: unknown variant `x`, expected `a`"
    assert (
        unknown_method_message("x", ["a", "b"]) == "Invalid request: unknown variant `x`, expected `a` or `b`"
    )


def test_required_params_are_checked_before_the_initialize_state() -> None:
    spec = MethodSpec("turn/start", required_params=("threadId", "input"))
    assert rejection(session(spec).receive(Request(1, "turn/start", {"input": []})))[1] == (
        "Invalid request: missing field `threadId`"
    )
    assert (
        rejection(session(spec).receive(Request(1, "turn/start")))[1]
        == "Invalid request: missing field `params`"
    )
    assert rejection(session(spec).receive(Request(1, "turn/start", {"threadId": "t", "input": []}))) == (
        -32600,
        "Not initialized",
    )


def test_params_of_the_wrong_type_are_rejected_even_without_required_fields() -> None:
    s = initialized(MethodSpec("x/y"))
    assert rejection(s.receive(Request(1, "account/read", [1]))) == (
        -32600,
        "Invalid request: invalid type: sequence, expected struct GetAccountParams",
    )
    assert rejection(s.receive(Request(2, "account/read", 5))) == (
        -32600,
        "Invalid request: invalid type: integer `5`, expected struct GetAccountParams",
    )
    # A method without an observed struct name.
    assert (
        rejection(s.receive(Request(3, "x/y", "s")))[1]
        == "Invalid request: invalid type: string, expected a map"
    )


@pytest.mark.parametrize("method", ["account/read", "thread/list", "x/y"])
@pytest.mark.parametrize("initialize_first", [False, True])
def test_params_are_required_on_every_request_before_the_initialize_state(
    method: str, initialize_first: bool
) -> None:
    specs = (MethodSpec("thread/list"), MethodSpec("x/y"))
    s = initialized(*specs) if initialize_first else session(*specs)
    assert rejection(s.receive(Request(1, method))) == (-32600, "Invalid request: missing field `params`")
    assert rejection(parse_then_receive(s, json.dumps({"id": 2, "method": method, "params": None})))[1] == (
        "Invalid request: missing field `params`"
    )


def parse_then_receive(s: ServerSession, frame: str) -> object:
    return s.receive(parse_message(frame))


def test_an_empty_params_list_is_read_as_the_real_struct_reads_it() -> None:
    specs = (MethodSpec("thread/list"), MethodSpec("remoteControl/pairing/start", experimental=True))
    s = initialized(*specs, experimental=True)
    assert isinstance(s.receive(Request(1, "account/read", [])), MethodCalled)
    assert isinstance(s.receive(Request(2, "remoteControl/pairing/start", [])), MethodCalled)
    assert rejection(s.receive(Request(3, "thread/list", []))) == (
        -32600,
        "Invalid request: invalid length 0, expected struct ThreadListParams with 19 elements",
    )
    # Before initialize, an accepted empty list gets as far as the state check.
    assert rejection(session().receive(Request(4, "account/read", []))) == (-32600, "Not initialized")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (None, None),
        ({}, None),
        ({"a": 1}, "Invalid request: invalid type: map, expected unit"),
        ([], "Invalid request: invalid type: sequence, expected unit"),
        (5, "Invalid request: invalid type: integer `5`, expected unit"),
    ],
)
def test_methods_without_params_take_none_null_or_an_empty_map(params: object, expected: str | None) -> None:
    assert "remoteControl/status/read" in UNIT_PARAMS_METHODS
    s = initialized(MethodSpec("remoteControl/status/read", experimental=True), experimental=True)
    event = s.receive(Request(1, "remoteControl/status/read", params))
    if expected is None:
        assert isinstance(event, MethodCalled)
    else:
        assert rejection(event) == (-32600, expected)


def test_experimental_methods_need_the_capability() -> None:
    spec = MethodSpec("remoteControl/status/read", experimental=True)
    assert rejection(initialized(spec).receive(Request(1, "remoteControl/status/read"))) == (
        -32600,
        "remoteControl/status/read requires experimentalApi capability",
    )
    assert isinstance(
        initialized(spec, experimental=True).receive(Request(1, "remoteControl/status/read")), MethodCalled
    )


def test_opted_out_notifications_and_uninitialized_clients_get_no_notifications() -> None:
    s = session()
    assert not s.wants_notification("remoteControl/status/changed")
    params = {**INIT_PARAMS, "capabilities": {"optOutNotificationMethods": ["configWarning", "no/such"]}}
    s.receive(Request(1, "initialize", params))
    assert not s.wants_notification("configWarning")
    assert s.wants_notification("remoteControl/status/changed")


def test_method_table_refuses_duplicates() -> None:
    methods = table(MethodSpec("a"))
    with pytest.raises(ValueError):
        methods.add(MethodSpec("a"))


# ------------------------------------------------------------------------------------------------------------
# Session: server → client requests


def test_server_requests_get_fresh_ids_and_match_answers() -> None:
    s = initialized()
    first = s.start_request("item/commandExecution/requestApproval", {"itemId": "i1"})
    second = s.start_request("item/fileChange/requestApproval", {"itemId": "i2"})
    assert first.id != second.id
    assert set(s.pending_requests) == {first.id, second.id}
    event = s.receive(parse_message(json.dumps({"id": second.id, "result": {"decision": "decline"}})))
    assert event == ServerRequestAnswered(second, Response(second.id, {"decision": "decline"}))
    error_answer = ErrorResponse(first.id, RpcError(-32601, "unsupported"))
    assert s.receive(error_answer) == ServerRequestAnswered(first, error_answer)
    assert s.pending_requests == {}


def test_stray_answers_raise_typed_errors_and_leave_the_session_usable() -> None:
    s = initialized()
    request = s.start_request("item/commandExecution/requestApproval", {})
    with pytest.raises(UnknownResponseId):
        s.receive(Response(999, {}))
    s.receive(Response(request.id, {"decision": "accept"}))
    with pytest.raises(DuplicateResponse) as caught:
        s.receive(Response(request.id, {"decision": "accept"}))
    assert isinstance(caught.value, ProtocolError)
    assert isinstance(s.receive(Request(5, "account/read", {})), MethodCalled)


def test_abandoned_requests_are_forgotten() -> None:
    s = initialized()
    request = s.start_request("item/fileChange/requestApproval", {})
    assert s.abandon_pending() == [request]
    assert s.pending_requests == {}
    with pytest.raises(DuplicateResponse):
        s.receive(Response(request.id, {"decision": "accept"}))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (None, None),
        ({}, None),
        ({"ephemeral": True}, None),
        ([], None),
        (5, "Invalid request: invalid type: integer `5`, expected struct RemoteControlEnableParams"),
    ],
)
def test_methods_with_optional_params_take_none_or_their_struct(params: object, expected: str | None) -> None:
    assert "remoteControl/enable" in OPTIONAL_PARAMS_METHODS
    assert not OPTIONAL_PARAMS_METHODS & UNIT_PARAMS_METHODS
    s = initialized(MethodSpec("remoteControl/enable", experimental=True), experimental=True)
    event = s.receive(Request(1, "remoteControl/enable", params))
    if expected is None:
        assert isinstance(event, MethodCalled)
    else:
        assert rejection(event) == (-32600, expected)
