"""JSON-RPC as the Codex app-server speaks it, and the server side of one client session.

The dialect differs from JSON-RPC 2.0 in ways a mock must copy: the `"jsonrpc"` field is never sent (and
ignored when a client sends it), server notifications carry a top-level `emittedAtMs`, and every request-level
failure the real server reports (unknown method, bad params, not initialized) uses -32600, with serde-style
messages.

`ServerSession` is the per-connection state machine (initialize handshake, the experimentalApi gate,
server→client requests awaiting the client's answer). It is fed parsed messages and returns events; it never
does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.protocol.errors import ProtocolError

RequestId = int | str

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_OVERLOADED = -32001
SERVER_OVERLOADED_MESSAGE = "Server overloaded; retry later."

NOT_INITIALIZED_MESSAGE = "Not initialized"
ALREADY_INITIALIZED_MESSAGE = "Already initialized"
INITIALIZE_METHOD = "initialize"
INITIALIZED_NOTIFICATION = "initialized"

# The Rust server parses ids as i64; anything outside is not an id.
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


# ------------------------------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True)
class RpcError:
    """The `error` object of an error response."""

    code: int
    message: str
    data: Any = None


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: Any = None  # None means absent (or null: the server treats both alike, as missing)


@dataclass(frozen=True)
class Notification:
    method: str
    params: Any = None
    emitted_at_ms: int | None = None  # set on server notifications, never on client ones


@dataclass(frozen=True)
class Response:
    id: RequestId
    result: Any


@dataclass(frozen=True)
class ErrorResponse:
    id: RequestId
    error: RpcError


Message = Request | Notification | Response | ErrorResponse


class JsonRpcError(ProtocolError):
    """Base of every JSON-RPC rule a peer broke."""


class MalformedJson(JsonRpcError):
    """The frame is not JSON at all. The message says where, never what (the frame may hold a secret)."""


class NotAMessage(JsonRpcError):
    """Valid JSON that is none of request, notification, response or error."""


class UnknownResponseId(JsonRpcError):
    """The client answered a server request that was never sent."""


class DuplicateResponse(JsonRpcError):
    """The client answered a server request that was already answered."""


class RpcMethodError(ProtocolError):
    """Raised by a method handler to answer with a JSON-RPC error instead of a result."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.rpc_error = RpcError(code, message, data)


def invalid_request(message: str) -> RpcMethodError:
    """-32600 in the server's own words, e.g. `thread not found: <id>`."""
    return RpcMethodError(INVALID_REQUEST, message)


def invalid_request_shape(detail: str) -> RpcMethodError:
    """-32600 for a request whose shape is wrong, worded as the real server words serde failures."""
    return RpcMethodError(INVALID_REQUEST, f"Invalid request: {detail}")


# ------------------------------------------------------------------------------------------------------------
# Parsing and encoding


def _is_request_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _I64_MIN <= value <= _I64_MAX
    return isinstance(value, str)


def parse_message(text: str | bytes) -> Message:
    """Parse one frame. Raises `MalformedJson` or `NotAMessage`, nothing else."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        position = f": line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise MalformedJson(f"frame is not valid JSON{position}") from None
    return parse_object(obj)


def parse_object(obj: object) -> Message:
    """Classify a decoded JSON value the way serde's untagged `JSONRPCMessage` does: the first shape that fits
    wins, unknown fields (including `"jsonrpc"`) are ignored. So `{"method": "x", "id": 1.5}` is a
    notification, as in the real server, because 1.5 is not an id."""
    if not isinstance(obj, dict):
        raise NotAMessage(f"a JSON-RPC message must be an object, got {describe_json_value(obj)}")
    method = obj.get("method")
    msg_id = obj.get("id")
    if isinstance(method, str):
        params = obj.get("params")
        if _is_request_id(msg_id):
            return Request(msg_id, method, params)  # type: ignore[arg-type]
        return Notification(method, params)
    if _is_request_id(msg_id):
        if "result" in obj:
            return Response(msg_id, obj["result"])  # type: ignore[arg-type]
        error = obj.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if isinstance(code, int) and not isinstance(code, bool) and isinstance(message, str):
                return ErrorResponse(msg_id, RpcError(code, message, error.get("data")))  # type: ignore[arg-type]
    raise NotAMessage("object is not a JSON-RPC request, notification, response or error")


def to_wire(msg: Message) -> dict[str, Any]:
    """The JSON object for `msg`, in the real server's key order and without `"jsonrpc"`."""
    if isinstance(msg, Request):
        wire: dict[str, Any] = {"id": msg.id, "method": msg.method}
        if msg.params is not None:
            wire["params"] = msg.params
        return wire
    if isinstance(msg, Notification):
        wire = {"method": msg.method}
        if msg.params is not None:
            wire["params"] = msg.params
        if msg.emitted_at_ms is not None:
            wire["emittedAtMs"] = msg.emitted_at_ms
        return wire
    if isinstance(msg, Response):
        return {"id": msg.id, "result": msg.result}
    error: dict[str, Any] = {"code": msg.error.code, "message": msg.error.message}
    if msg.error.data is not None:
        error["data"] = msg.error.data
    # serde writes the error object before the id; observed: {"error":{...},"id":7}
    return {"error": error, "id": msg.id}


def encode(msg: Message) -> str:
    return json.dumps(to_wire(msg), separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------------------------------------
# serde-style wording


def describe_json_value(value: object) -> str:
    """How serde names an unexpected JSON value in `invalid type: ...` messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return "string"  # serde quotes the value; we do not, a frame may carry a secret
    if isinstance(value, list):
        return "sequence"
    return "map"


def invalid_type(value: object, expected: str) -> RpcMethodError:
    return invalid_request_shape(f"invalid type: {describe_json_value(value)}, expected {expected}")


def _one_of(names: Iterable[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def unknown_method_message(method: str, known: Iterable[str]) -> str:
    return f"Invalid request: unknown variant `{method}`, expected {_one_of(known)}"


def not_simulated_message(method: str) -> str:
    return f"`{method}` is a codex app-server method that pairsim's mock does not simulate"


# Every method of codex app-server 0.169.0's `ClientRequest`, in the order its unknown-method error lists them
# (observed; the list does not depend on the client's capabilities).
_CODEX_CLIENT_METHOD_NAMES = """
    initialize server/diagnostics userVerification/status userVerification/enroll userVerification/delete
    userVerification/verify userVerification/cancel thread/start thread/resume thread/fork thread/sample
    thread/sample/cancel thread/archive thread/delete thread/unsubscribe thread/increment_elicitation
    thread/decrement_elicitation thread/name/set thread/prediction/request thread/goal/set thread/goal/get
    thread/goal/clear thread/queue/add thread/queue/list thread/queue/update thread/queue/delete
    thread/queue/reorder thread/queue/start thread/metadata/update thread/attachment/add
    thread/attachment/list thread/attachmentOwner/list thread/attachment/remove thread/section/move
    thread/settings/update thread/memoryMode/set thread/memory/read memory/status memory/reset
    rollout/compress thread/unarchive thread/compact/start thread/shellCommand
    thread/approveGuardianDeniedAction thread/backgroundTerminals/clean thread/backgroundTerminals/list
    thread/backgroundTerminals/terminate thread/revert thread/list project/list project/read project/create
    project/import project/update project/move project/delete threadSection/list threadSection/create
    threadSection/update threadSection/delete thread/search thread/searchOccurrences thread/loaded/list
    thread/read thread/readState/update thread/turns/list thread/items/list thread/items/read
    thread/guardianReview thread/inject_items thread/prepareApprovedPlan skills/list skills/extraRoots/set
    hooks/list marketplace/add marketplace/remove marketplace/upgrade plugin/list plugin/search
    plugin/installed plugin/reconcile plugin/read plugin/skill/read plugin/share/save
    plugin/share/updateTargets plugin/share/list plugin/share/checkout plugin/share/delete app/read app/list
    app/installed fs/readFile fs/writeFile fs/createDirectory fs/getMetadata fs/readDirectory fs/remove
    fs/copy fs/watch fs/unwatch skills/config/write plugin/install plugin/uninstall turn/start
    turn/settings/update turn/steer turn/interrupt thread/realtime/start thread/realtime/appendAudio
    thread/realtime/appendText thread/realtime/appendSpeech thread/realtime/stop thread/timeline/list
    thread/realtime/listVoices review/start model/list account/gatewayOAuth/read account/gatewayOAuth/login
    account/gatewayOAuth/cancel modelProvider/list modelProvider/config/write
    modelProvider/capabilities/read experimentalFeature/list permissionProfile/list
    experimentalFeature/enablement/set remoteControl/enable remoteControl/disable remoteControl/status/read
    remoteControl/pairing/start remoteControl/pairing/status remoteControl/client/list
    remoteControl/client/revoke collaborationMode/list mock/experimentalMethod environment/add
    environment/info environment/status mcpServer/oauth/login config/mcpServer/reload mcpServerStatus/list
    mcpServer/resource/read mcpServer/event/stream/start mcpServer/event/stream/stop mcpServer/tool/call
    windowsSandbox/setupStart windowsSandbox/readiness account/login/start account/bedrock/discover
    account/bedrock/setup account/gcp/setup account/bedrock/checkGovCloudRequirements account/login/cancel
    accountSession/list accountSession/switch account/logout account/securitySetup/read
    account/rateLimits/read account/rateLimitResetCredit/consume account/usage/read
    account/workspaceMessages/read account/sendAddCreditsNudgeEmail feedback/upload feedback/save
    command/exec command/exec/write command/exec/terminate command/exec/resize process/spawn
    process/writeStdin process/kill process/resizePty config/read externalAgentConfig/detect
    externalAgentConfig/import externalAgentConfig/import/recordHistory
    externalAgentConfig/import/readHistories config/value/write config/batchWrite configRequirements/read
    account/read getConversationSummary gitDiffToRemote getAuthStatus fuzzyFileSearch
    fuzzyFileSearch/sessionStart fuzzyFileSearch/sessionUpdate fuzzyFileSearch/sessionStop
"""
CODEX_CLIENT_METHODS: tuple[str, ...] = tuple(_CODEX_CLIENT_METHOD_NAMES.split())


# ------------------------------------------------------------------------------------------------------------
# Method table and session


@dataclass(frozen=True)
class MethodSpec:
    """What the session must know about a method before any handler runs."""

    name: str
    experimental: bool = False
    required_params: tuple[str, ...] = ()


_CODEX_CLIENT_METHOD_SET = frozenset(CODEX_CLIENT_METHODS)


class MethodTable:
    """The methods a server serves, in registration order.

    Shared by every session of a server, so methods registered later are served on existing connections too.
    """

    def __init__(self) -> None:
        self._specs: dict[str, MethodSpec] = {INITIALIZE_METHOD: MethodSpec(INITIALIZE_METHOD)}

    def add(self, spec: MethodSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"method {spec.name!r} is already registered")
        self._specs[spec.name] = spec

    def get(self, name: str) -> MethodSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return list(self._specs)

    def listed_names(self) -> list[str]:
        """The names an unknown-method error lists: the real server's, then any served only by the mock."""
        return [
            *CODEX_CLIENT_METHODS,
            *(name for name in self._specs if name not in _CODEX_CLIENT_METHOD_SET),
        ]


@dataclass(frozen=True)
class ClientInfo:
    name: str
    version: str
    title: str | None = None


@dataclass(frozen=True)
class ClientCapabilities:
    experimental_api: bool = False
    opt_out_notification_methods: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InitializeRequested:
    """A valid first `initialize`: the caller answers it (the session already counts as initialized)."""

    request: Request
    client_info: ClientInfo
    capabilities: ClientCapabilities


@dataclass(frozen=True)
class MethodCalled:
    """A request the caller should dispatch to its handler."""

    request: Request
    spec: MethodSpec


@dataclass(frozen=True)
class RequestRejected:
    """A request the session answered itself; send `response`."""

    response: ErrorResponse


@dataclass(frozen=True)
class NotificationReceived:
    notification: Notification


@dataclass(frozen=True)
class ServerRequestAnswered:
    """The client answered one of our requests (with a result or an error)."""

    request: Request
    answer: Response | ErrorResponse


SessionEvent = (
    InitializeRequested | MethodCalled | RequestRejected | NotificationReceived | ServerRequestAnswered
)


@dataclass
class ServerSession:
    """One client connection as the server sees it.

    Check order (as in the real server, where the method and its params are deserialized before dispatch):
    unknown method → params (present, shape, required fields) → initialize state → experimentalApi gate.
    """

    methods: MethodTable
    client_info: ClientInfo | None = None
    capabilities: ClientCapabilities = field(default_factory=ClientCapabilities)
    _next_request_id: int = 0
    _pending: dict[RequestId, Request] = field(default_factory=dict)
    _answered: set[RequestId] = field(default_factory=set)

    @property
    def initialized(self) -> bool:
        return self.client_info is not None

    def receive(self, msg: Message) -> SessionEvent:
        """Feed one client message. Raises `UnknownResponseId` / `DuplicateResponse` for stray answers."""
        if isinstance(msg, Request):
            try:
                return self._receive_request(msg)
            except RpcMethodError as exc:
                return RequestRejected(ErrorResponse(msg.id, exc.rpc_error))
        if isinstance(msg, Notification):
            return NotificationReceived(msg)
        return self._receive_answer(msg)

    def _receive_request(self, request: Request) -> SessionEvent:
        spec = self.methods.get(request.method)
        if spec is None:
            if request.method in _CODEX_CLIENT_METHOD_SET:
                raise RpcMethodError(METHOD_NOT_FOUND, not_simulated_message(request.method))
            raise RpcMethodError(
                INVALID_REQUEST, unknown_method_message(request.method, self.methods.listed_names())
            )
        if spec.name == INITIALIZE_METHOD:
            client_info, capabilities = parse_initialize_params(request.params)
            if self.initialized:
                raise RpcMethodError(INVALID_REQUEST, ALREADY_INITIALIZED_MESSAGE)
            self.client_info, self.capabilities = client_info, capabilities
            return InitializeRequested(request, client_info, capabilities)
        check_params(spec.name, request.params, spec.required_params)
        if not self.initialized:
            raise RpcMethodError(INVALID_REQUEST, NOT_INITIALIZED_MESSAGE)
        if spec.experimental and not self.capabilities.experimental_api:
            raise RpcMethodError(INVALID_REQUEST, f"{spec.name} requires experimentalApi capability")
        return MethodCalled(request, spec)

    def _receive_answer(self, answer: Response | ErrorResponse) -> ServerRequestAnswered:
        request = self._pending.pop(answer.id, None)
        if request is None:
            if answer.id in self._answered:
                raise DuplicateResponse(f"server request {answer.id!r} was already answered")
            raise UnknownResponseId(f"no server request with id {answer.id!r} is pending")
        self._answered.add(answer.id)
        return ServerRequestAnswered(request, answer)

    def start_request(self, method: str, params: Any) -> Request:
        """Allocate an id for a server→client request and remember it until the client answers."""
        request = Request(self._next_request_id, method, params)
        self._next_request_id += 1
        self._pending[request.id] = request
        return request

    def abandon_pending(self) -> list[Request]:
        """Forget every unanswered server request (the connection is going away) and return them."""
        abandoned = list(self._pending.values())
        self._answered.update(self._pending)
        self._pending.clear()
        return abandoned

    @property
    def pending_requests(self) -> Mapping[RequestId, Request]:
        return dict(self._pending)

    def wants_notification(self, method: str) -> bool:
        """Notifications go only to initialized clients that did not opt out of the method."""
        return self.initialized and method not in self.capabilities.opt_out_notification_methods


# ------------------------------------------------------------------------------------------------------------
# Params checks


def _require_object(params: object, expected: str) -> dict[str, Any]:
    if params is None:
        raise invalid_request_shape("missing field `params`")
    if not isinstance(params, dict):
        raise invalid_type(params, expected)
    return params


# Facts about the real server's params types, observed on 0.169.0 for the methods the mock serves.

# Methods whose params type is serde's unit `()`: params may be absent, null or `{}`; anything else is
# `invalid type: ..., expected unit`.
UNIT_PARAMS_METHODS = frozenset(
    {
        "memory/reset",
        "rollout/compress",
        "account/gatewayOAuth/cancel",
        "remoteControl/status/read",
        "config/mcpServer/reload",
        "windowsSandbox/readiness",
        "account/logout",
        "account/securitySetup/read",
        "account/workspaceMessages/read",
        "externalAgentConfig/import/readHistories",
        "configRequirements/read",
    }
)

# Methods whose params are an optional struct: absent or null is accepted, anything else is read as the struct.
# Every other method requires `params` (absent or null: `missing field`).
OPTIONAL_PARAMS_METHODS = frozenset(
    {
        "account/gatewayOAuth/read",
        "account/gatewayOAuth/login",
        "remoteControl/enable",
        "remoteControl/disable",
        "account/rateLimits/read",
        "account/usage/read",
    }
)


@dataclass(frozen=True)
class ParamsStruct:
    """A method's params struct: its name (in `expected struct NAME`), and what serde does with an empty JSON
    array for it: accept it (every field has a default) or refuse it with `invalid length 0`."""

    name: str
    array_fields: int | None = None  # the element count serde names when it refuses `[]`; None: accepted


PARAMS_STRUCTS: Mapping[str, ParamsStruct] = {
    "account/read": ParamsStruct("GetAccountParams"),
    "thread/start": ParamsStruct("ThreadStartParams", 27),
    "thread/list": ParamsStruct("ThreadListParams", 19),
    "thread/read": ParamsStruct("ThreadReadParams", 2),
    "turn/start": ParamsStruct("TurnStartParams", 28),
    "remoteControl/pairing/start": ParamsStruct("RemoteControlPairingStartParams"),
    "remoteControl/pairing/status": ParamsStruct("RemoteControlPairingStatusParams", 2),
    "remoteControl/client/list": ParamsStruct("RemoteControlClientsListParams", 4),
    "remoteControl/client/revoke": ParamsStruct("RemoteControlClientsRevokeParams", 2),
    "remoteControl/enable": ParamsStruct("RemoteControlEnableParams"),
    "remoteControl/disable": ParamsStruct("RemoteControlDisableParams"),
}


def check_params(method: str, params: object, required: tuple[str, ...] = ()) -> None:
    """serde's verdict on a request's params (`None`: absent or null), before the server looks at its state.

    Arrays: the real server reads a JSON array positionally; only the empty array is modelled (accepted or
    refused per `PARAMS_STRUCTS`), a non-empty one is refused as a wrong type."""
    if method in UNIT_PARAMS_METHODS:
        if params is None or params == {}:
            return
        raise invalid_type(params, "unit")
    if params is None and method in OPTIONAL_PARAMS_METHODS:
        return
    struct = PARAMS_STRUCTS.get(method)
    expected = "a map" if struct is None else f"struct {struct.name}"
    if isinstance(params, list) and not params and struct is not None:
        if struct.array_fields is None:
            return
        raise invalid_request_shape(
            f"invalid length 0, expected struct {struct.name} with {struct.array_fields} elements"
        )
    obj = _require_object(params, expected)
    for name in required:
        if name not in obj:
            raise invalid_request_shape(f"missing field `{name}`")


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise invalid_type(value, "a string")


def _required_str(obj: Mapping[str, Any], key: str) -> str:
    if key not in obj:
        raise invalid_request_shape(f"missing field `{key}`")
    value = obj[key]
    if not isinstance(value, str):
        raise invalid_type(value, "a string")
    return value


def parse_initialize_params(params: object) -> tuple[ClientInfo, ClientCapabilities]:
    obj = _require_object(params, "struct InitializeParams")
    if "clientInfo" not in obj:
        raise invalid_request_shape("missing field `clientInfo`")
    raw_info = obj["clientInfo"]
    if not isinstance(raw_info, dict):
        raise invalid_type(raw_info, "struct ClientInfo")
    client_info = ClientInfo(
        name=_required_str(raw_info, "name"),
        version=_required_str(raw_info, "version"),
        title=_optional_str(raw_info, "title"),
    )
    raw_caps = obj.get("capabilities")
    if raw_caps is None:
        return client_info, ClientCapabilities()
    if not isinstance(raw_caps, dict):
        raise invalid_type(raw_caps, "struct InitializeCapabilities")
    experimental = raw_caps.get("experimentalApi", False)
    if experimental is None:
        experimental = False
    if not isinstance(experimental, bool):
        raise invalid_type(experimental, "a boolean")
    opt_out = raw_caps.get("optOutNotificationMethods")
    if opt_out is None:
        opt_out = []
    if not isinstance(opt_out, list):
        raise invalid_type(opt_out, "a sequence")
    for name in opt_out:
        if not isinstance(name, str):
            raise invalid_type(name, "a string")
    return client_info, ClientCapabilities(experimental, frozenset(opt_out))
