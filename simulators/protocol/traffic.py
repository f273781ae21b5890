"""Recorded JSON-RPC traffic between a real client and a daemon, and how two daemons' answers are compared.

A `Recording` is what the recording proxy saw on one or more client connections: every frame, in order, with the
side that sent it, redacted as it was written (`redact_message`), so a fixture never holds a credential. It is
stored as JSON lines: a header line (`RecordingHeader`: the session's name, what it did, the daemon's state at the
start) and one line per frame.

Comparing daemons means comparing *shapes*, not values: ids, times, paths and free text differ from run to run
and between daemons. `shape_of` keeps what a client depends on: every key, every JSON type, the values of the keys
that select behaviour (`DISCRIMINATOR_KEYS`: a `type`, a `status`, a `method`) and, for errors, the code and the
message with run-specific parts normalised (`normalise_text`). Lists are shaped by the union of their elements'
shapes, so a list of two models and a list of six of the same kind agree, and an empty list agrees only with an
empty one.

Pure values only: the proxy (`simulators.tui.recorder`) and the replay (`simulators.tui.replay`) do the I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simulators.protocol.redaction import MASK, TOKEN_SHAPES, is_secret_key, redact_url

FORMAT_VERSION = 1


class Side(StrEnum):
    """Who sent a frame."""

    CLIENT = "client"
    DAEMON = "daemon"


class MessageKind(StrEnum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"
    ERROR = "error"


def kind_of(message: Mapping[str, Any]) -> MessageKind:
    """Classify a JSON-RPC object as the app-server does (see `simulators.protocol.jsonrpc.parse_object`)."""
    if isinstance(message.get("method"), str):
        return MessageKind.REQUEST if "id" in message else MessageKind.NOTIFICATION
    return MessageKind.ERROR if "error" in message else MessageKind.RESPONSE


@dataclass(frozen=True)
class Frame:
    seq: int
    side: Side
    connection: int
    message: dict[str, Any]

    @property
    def kind(self) -> MessageKind:
        return kind_of(self.message)

    @property
    def method(self) -> str | None:
        method = self.message.get("method")
        return method if isinstance(method, str) else None

    @property
    def id(self) -> Any:
        return self.message.get("id")

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "from": self.side.value, "connection": self.connection, "message": self.message}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Frame:
        return cls(int(raw["seq"]), Side(raw["from"]), int(raw["connection"]), dict(raw["message"]))


@dataclass(frozen=True)
class RecordingHeader:
    """What a recording is: the session that made it, in words, and the daemon's state when it started."""

    session: str
    summary: str
    client: str  # e.g. "codex-tui 0.169.0"
    daemon: str  # e.g. "codex app-server 0.169.0"
    setup: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION, "session": self.session, "summary": self.summary, "client": self.client,
            "daemon": self.daemon, "setup": self.setup,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RecordingHeader:
        if raw.get("format") != FORMAT_VERSION:
            raise ValueError(f"recording format {raw.get('format')!r} is not {FORMAT_VERSION}")
        return cls(str(raw["session"]), str(raw["summary"]), str(raw["client"]), str(raw["daemon"]),
                   dict(raw.get("setup") or {}))


@dataclass
class Recording:
    header: RecordingHeader
    frames: list[Frame] = field(default_factory=list)

    def add(self, side: Side, connection: int, message: dict[str, Any]) -> Frame:
        frame = Frame(len(self.frames) + 1, side, connection, redact_message(message))
        self.frames.append(frame)
        return frame

    def to_jsonl(self) -> str:
        lines = [json.dumps(self.header.to_json(), ensure_ascii=False, sort_keys=False)]
        lines += [json.dumps(frame.to_json(), ensure_ascii=False) for frame in self.frames]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> Recording:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError("an empty recording has no header")
        header = RecordingHeader.from_json(json.loads(lines[0]))
        return cls(header, [Frame.from_json(json.loads(line)) for line in lines[1:]])

    def methods(self) -> list[str]:
        """Every method the client called, in first-call order."""
        seen: dict[str, None] = {}
        for frame in self.frames:
            if frame.side is Side.CLIENT and frame.kind is MessageKind.REQUEST and frame.method:
                seen.setdefault(frame.method, None)
        return list(seen)


# ------------------------------------------------------------------------------------------------- redaction

# Keys whose values are credentials in this traffic beyond the shared list: none today; `apiKey` is covered by
# `api_key`. A JSON-RPC error's integer `code` is not the OAuth `code` the shared list means.


def redact_message(value: Any, key: str | None = None) -> Any:
    """A copy with credentials masked: values under secret-named keys (strings only: a JSON-RPC error `code` is a
    number and stays), anything token-shaped in any string, and secret query parameters of URLs."""
    if isinstance(value, Mapping):
        return {k: redact_message(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_message(item) for item in value]
    if isinstance(value, str):
        if key is not None and is_secret_key(key):
            return MASK
        masked = TOKEN_SHAPES.sub(MASK, value)
        if masked.startswith(("http://", "https://")):
            masked = redact_url(masked)
        return masked
    return value


# ------------------------------------------------------------------------------------------------- shapes

# Keys whose string values select behaviour: a client branches on them, so two daemons must agree on them.
DISCRIMINATOR_KEYS = frozenset({"type", "status", "method", "authMode", "mode", "scope", "kind", "decision"})

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)*[\w.@+-]+")
_NUMBER = re.compile(r"\b\d{4,}\b")


def normalise_text(text: str) -> str:
    """Run-specific parts of a message replaced by placeholders: uuids, absolute paths, long numbers."""
    text = _UUID.sub("<id>", text)
    text = _PATH.sub("<path>", text)
    return _NUMBER.sub("<n>", text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def shape_of(value: Any, key: str | None = None) -> Any:
    """The shape of a JSON value (see the module docstring). Deterministic and comparable with `==`."""
    if isinstance(value, Mapping):
        # An object keyed by ids (`readStates`: thread id → state) is a map: its keys differ per run, so they
        # collapse into one `<id>` whose shape covers every value, as a list's items do.
        named = {k: shape_of(v, k) for k, v in sorted(value.items()) if not _UUID.fullmatch(k)}
        by_id = [shape_of(v) for k, v in value.items() if _UUID.fullmatch(k)]
        return {**named, "<id>": _merge_all(by_id)} if by_id else named
    if isinstance(value, list):
        return ["list", _merge_all(shape_of(item) for item in value)]
    if isinstance(value, str) and key in DISCRIMINATOR_KEYS:
        return f"string={value}"
    return _scalar(value)


_EMPTY = "<empty>"


def _merge_all(shapes: Iterable[Any]) -> Any:
    merged: Any = _EMPTY
    for item in shapes:
        merged = item if merged == _EMPTY else _merge(merged, item)
    return merged


def _merge(a: Any, b: Any) -> Any:
    """One shape covering both: objects merge key by key; differing scalars become a sorted alternative."""
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a[k], b[k]) if k in a and k in b else (a.get(k) if k in a else b[k]) for k in sorted({*a, *b})}
    if isinstance(a, list) and isinstance(b, list) and a and b and a[0] == b[0] == "list":
        if a[1] == _EMPTY:
            return b
        if b[1] == _EMPTY:
            return a
        return ["list", _merge(a[1], b[1])]
    options = set()
    for side in (a, b):
        options.update(side["one of"] if isinstance(side, dict) and "one of" in side else [json.dumps(side, sort_keys=True)])
    return {"one of": sorted(options)}


def error_of(message: Mapping[str, Any]) -> tuple[int, str] | None:
    """(code, normalised message) of an error response."""
    error = message.get("error")
    if not isinstance(error, Mapping):
        return None
    return int(error.get("code", 0)), normalise_text(str(error.get("message", "")))


def message_shape(message: Mapping[str, Any]) -> Any:
    """What must match between daemons for one message: the shape of its payload (`result`, `params`), and for an
    error its code and message."""
    error = error_of(message)
    if error is not None:
        return {"error": {"code": error[0], "message": error[1]}}
    if "result" in message:
        return {"result": shape_of(message["result"])}
    shaped: dict[str, Any] = {"method": message.get("method")}
    if "params" in message:
        shaped["params"] = shape_of(message["params"])
    return shaped


def differences(expected: Any, actual: Any, path: str = "$") -> Iterator[str]:
    """Where two shapes differ, one line per place, as JSON paths (`$.result.data[].id`)."""
    if expected == actual:
        return
    if isinstance(expected, dict) and isinstance(actual, dict) and "one of" not in expected and "one of" not in actual:
        for key in sorted({*expected, *actual}):
            if key not in actual:
                yield f"{path}.{key}: missing (expected {_describe(expected[key])})"
            elif key not in expected:
                yield f"{path}.{key}: unexpected (got {_describe(actual[key])})"
            else:
                yield from differences(expected[key], actual[key], f"{path}.{key}")
        return
    if (
        isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual) == 2
        and expected[0] == actual[0] == "list"
    ):
        if _EMPTY in (expected[1], actual[1]):
            yield f"{path}: expected {'an empty list' if expected[1] == _EMPTY else 'items'}, got " \
                  f"{'an empty list' if actual[1] == _EMPTY else 'items'}"
            return
        yield from differences(expected[1], actual[1], f"{path}[]")
        return
    yield f"{path}: expected {_describe(expected)}, got {_describe(actual)}"


def _describe(shape: Any) -> str:
    text = json.dumps(shape, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
