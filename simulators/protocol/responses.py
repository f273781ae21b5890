"""The model's side of Codex's Responses traffic, as plain values: no sockets, no clock.

What the real daemon (0.169.0, signed in with ChatGPT) sends, observed against pairsim's backend (docs/protocol.md
§9): after workspace routing discovery it opens a WebSocket to `<workspace origin>/backend-api/codex/responses` and
sends one `response.create` frame per model request. Frames after the first name `previous_response_id` and carry
only the new input (tool outputs, a follow-up the person sent); `client_metadata.root_turn_id` says which turn a
request belongs to. A follow-up that arrives while a response is being produced makes the daemon send
`response.interrupt`, which the model answers with `response.incomplete` (reason `interrupted`).

Tools come in one of two shapes, and the model stub answers in the shape the client offered:

* code mode (`gpt-6.1-sol`, the real daemon's default): a single freeform tool `exec` whose input is JavaScript
  that calls the nested tools, `await tools.exec_command({...})`, `await tools.apply_patch("...")`,
  `await tools.view_image({...})`; its output comes back as `custom_tool_call_output` starting "Script completed",
  "Script failed" or "Script running with cell ID N" (then the model calls the `wait` tool with that cell id);
* functions (what pairsim's mock daemon offers, and what the real binary offers models without code mode):
  `exec_command` and `view_image` as function tools and `apply_patch` as a freeform tool of its own.

`ModelConversation` holds one socket's conversation and turns each `response.create` into the next step of the
script (`model_scripts.py`) rendered for the client's tools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simulators.protocol.errors import ErrorCode, PairsimError

CODE_MODE_TOOL = "exec"
WAIT_TOOL = "wait"
EXEC_COMMAND = "exec_command"
APPLY_PATCH = "apply_patch"
VIEW_IMAGE = "view_image"
ESCALATED = "require_escalated"
RESPONSES_BETA = "responses_websockets=2026-02-06"  # the `openai-beta` header the daemon's socket carries

_CELL_RUNNING = re.compile(r"^Script running with cell ID (\S+)")
_EXIT_CODE = re.compile(r"^Exit code: (-?\d+)$", re.MULTILINE)
# A function tool that could not do what it was asked says so first: "apply_patch verification failed: ..." (the
# patch does not match the file), "apply_patch failed: ..." (it no longer applied once approved).
_TOOL_FAILED = re.compile(rf"^(?:{EXEC_COMMAND}|{APPLY_PATCH}|{VIEW_IMAGE})(?: verification)? failed\b")
_REJECTED = "rejected by user"


class ModelProtocolError(PairsimError):
    """A frame the model side cannot read (not JSON, not an object, an unknown type, a missing field)."""

    code = ErrorCode.PROTOCOL_VIOLATION


class ToolSurface(StrEnum):
    CODE_MODE = "code_mode"
    FUNCTIONS = "functions"


# -- what the model decides -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCommand:
    """Run a shell command in the turn's folder, outside the sandbox, asking the person first (the real model asks
    to escalate for anything that writes; `justification` is the reason the approval shows)."""

    cmd: str
    justification: str


@dataclass(frozen=True)
class EditFile:
    """Replace one whole line of a file, as an `apply_patch` patch."""

    path: str  # relative to the turn's folder
    old_line: str
    new_line: str

    @property
    def patch(self) -> str:
        return (f"*** Begin Patch\n*** Update File: {self.path}\n@@\n-{self.old_line}\n+{self.new_line}\n"
                "*** End Patch\n")


@dataclass(frozen=True)
class ViewImage:
    path: str  # relative to the turn's folder


@dataclass(frozen=True)
class Say:
    """A message to the person; ends the turn."""

    text: str


@dataclass(frozen=True)
class WaitForCell:
    """Code mode only: resume an `exec` cell that yielded before finishing."""

    cell_id: str


Step = RunCommand | EditFile | ViewImage | Say | WaitForCell


class Outcome(StrEnum):
    DONE = "done"  # the tool ran to the end (a command may still have exited non-zero)
    REJECTED = "rejected"  # the person declined it
    FAILED = "failed"  # it could not be done
    RUNNING = "running"  # code mode: the cell yielded (new input arrived) and is still running


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    outcome: Outcome
    text: str
    exit_code: int | None = None
    cell_id: str | None = None


@dataclass
class Turn:
    """What the model has seen of one turn: the person's words (the request, then any follow-ups that steered it)
    and the result of each tool call it made, in order."""

    turn_id: str
    said: list[str] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)

    @property
    def request(self) -> str:
        return self.said[0] if self.said else ""

    @property
    def steps_done(self) -> int:
        """Tool calls the script has finished (a cell still running is not finished)."""
        return sum(1 for result in self.results if result.outcome is not Outcome.RUNNING)

    def result_of(self, step_index: int) -> ToolResult | None:
        finished = [result for result in self.results if result.outcome is not Outcome.RUNNING]
        return finished[step_index] if step_index < len(finished) else None


Script = Callable[[Turn], Step]


# -- reading what the client sent -------------------------------------------------------------------------------


def parse_frame(text: str | bytes) -> dict[str, Any]:
    try:
        frame = json.loads(text)
    except ValueError:
        raise ModelProtocolError("the frame is not JSON") from None
    if not isinstance(frame, dict):
        raise ModelProtocolError("the frame is not a JSON object")
    kind = frame.get("type")
    if kind not in ("response.create", "response.interrupt"):
        raise ModelProtocolError(f"unsupported message type `{kind}`")
    if kind == "response.interrupt" and not isinstance(frame.get("response_id"), str):
        raise ModelProtocolError("response.interrupt requires a response_id")
    return frame


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [str(part.get("text")) for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)]


def _is_context(text: str) -> bool:
    # The daemon sends what it knows of the machine as user-role blocks (<environment_context>, <skills_...>).
    stripped = text.strip()
    return stripped.startswith("<") and stripped.endswith(">")


def person_said(item: dict[str, Any]) -> str | None:
    """The person's words in an input item, or None when it is not a user message (or only context)."""
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    words = [text for text in _texts(item.get("content")) if not _is_context(text)]
    return "\n".join(words) if words else None


def read_tool_result(item: dict[str, Any]) -> ToolResult | None:
    """The outcome of one tool call, from a `custom_tool_call_output` or `function_call_output` input item."""
    if item.get("type") not in ("custom_tool_call_output", "function_call_output"):
        return None
    call_id = str(item.get("call_id", ""))
    parts = _texts(item.get("output"))
    head = parts[0] if parts else ""
    running = _CELL_RUNNING.match(head)
    if running:
        return ToolResult(call_id, Outcome.RUNNING, head, cell_id=running.group(1))
    if head.startswith("Script completed"):
        return _payload(call_id, Outcome.DONE, "".join(parts[1:]))
    text = "\n".join(parts)
    if _REJECTED in text:
        return ToolResult(call_id, Outcome.REJECTED, text)
    if head.startswith("Script failed") or _TOOL_FAILED.match(head):
        return ToolResult(call_id, Outcome.FAILED, text)
    exit_code = _EXIT_CODE.search(text)
    return ToolResult(call_id, Outcome.DONE, text, exit_code=int(exit_code.group(1)) if exit_code else None)


def _payload(call_id: str, outcome: Outcome, text: str) -> ToolResult:
    # What the code-mode scripts print: {"exit_code": N, "output": "..."} for a command, a word for the rest.
    try:
        value = json.loads(text)
    except ValueError:
        return ToolResult(call_id, outcome, text)
    if isinstance(value, dict):
        exit_code = value.get("exit_code")
        return ToolResult(call_id, outcome, str(value.get("output", "")),
                          exit_code=exit_code if isinstance(exit_code, int) else None)
    return ToolResult(call_id, outcome, text)


def tool_surface(tools: Iterable[Any]) -> ToolSurface | None:
    """Which shape the client's tools take (None: no tools named here)."""
    names: set[str] = set()
    pending = list(tools)
    while pending:
        tool = pending.pop()
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            pending.extend(tool.get("tools") or [])
        elif isinstance(tool.get("name"), str):
            names.add(tool["name"])
    if CODE_MODE_TOOL in names:
        return ToolSurface.CODE_MODE
    if EXEC_COMMAND in names:
        return ToolSurface.FUNCTIONS
    return None


# -- writing what the model answers ---------------------------------------------------------------------------


def render(step: Step, surface: ToolSurface, number: int) -> dict[str, Any]:
    """One output item for `step`, in the client's tool shape. `number` makes the item and call ids unique."""
    call_id = f"call_{number}"
    if isinstance(step, Say):
        return {"type": "message", "role": "assistant", "id": f"msg_{number}", "status": "completed",
                "content": [{"type": "output_text", "text": step.text, "annotations": []}]}
    if isinstance(step, WaitForCell):
        return _function_call(number, WAIT_TOOL, {"cell_id": step.cell_id})
    if surface is ToolSurface.CODE_MODE:
        return {"type": "custom_tool_call", "id": f"ctc_{number}", "call_id": call_id, "name": CODE_MODE_TOOL,
                "status": "completed", "input": _javascript(step)}
    if isinstance(step, RunCommand):
        return _function_call(number, EXEC_COMMAND, _command_arguments(step))
    if isinstance(step, EditFile):
        return {"type": "custom_tool_call", "id": f"ctc_{number}", "call_id": call_id, "name": APPLY_PATCH,
                "status": "completed", "input": step.patch}
    return _function_call(number, VIEW_IMAGE, {"path": step.path})


def _function_call(number: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function_call", "id": f"fc_{number}", "call_id": f"call_{number}", "name": name,
            "status": "completed", "arguments": json.dumps(arguments)}


def _command_arguments(step: RunCommand) -> dict[str, Any]:
    # `login: false`: a login shell would add the machine's profile noise (pyenv, motd) to the output.
    return {"cmd": step.cmd, "login": False, "sandbox_permissions": ESCALATED, "justification": step.justification}


def _javascript(step: RunCommand | EditFile | ViewImage) -> str:
    if isinstance(step, RunCommand):
        return (f"const r = await tools.exec_command({json.dumps(_command_arguments(step))});\n"
                "text(JSON.stringify({exit_code: r.exit_code ?? null, output: r.output}));\n")
    if isinstance(step, EditFile):
        return f"await tools.apply_patch({json.dumps(step.patch)});\ntext(\"patched\");\n"
    return f"await tools.view_image({json.dumps({'path': step.path})});\ntext(\"viewed\");\n"


def events_for(response_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stream of events for one finished response."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": created(response_id)}]
    for index, item in enumerate(items):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": {
        "id": response_id, "object": "response", "status": "completed", "output": items,
        "usage": {"input_tokens": 1, "output_tokens": len(items), "total_tokens": 1 + len(items)}}})
    return events


def created(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "status": "in_progress", "output": []}


def interrupted(response_id: str) -> dict[str, Any]:
    """The answer to `response.interrupt`: the response ends incomplete, and the turn goes on."""
    return {"type": "response.incomplete", "response": {
        "id": response_id, "object": "response", "status": "incomplete", "output": [],
        "incomplete_details": {"reason": "interrupted"}, "end_turn": False}}


# -- one socket's conversation --------------------------------------------------------------------------------


@dataclass
class ModelRequest:
    """One `response.create`, read: the response to produce, and for which turn (None: a warm-up that generates
    nothing)."""

    response_id: str
    turn: Turn | None


class ModelConversation:
    """The conversation on one model socket. Feed it each `response.create`; ask it for the answer."""

    def __init__(self, scripts: Callable[[str], Script], *, prefix: str = "resp") -> None:
        self._scripts = scripts
        self._prefix = prefix
        self._responses = 0
        self._items = 0
        self.surface = ToolSurface.FUNCTIONS
        self.turns: dict[str, Turn] = {}

    def receive(self, frame: dict[str, Any]) -> ModelRequest:
        self._responses += 1
        response_id = f"{self._prefix}_{self._responses}"
        offered = [*(frame.get("tools") or [])]
        inputs = frame.get("input") if isinstance(frame.get("input"), list) else []
        for item in inputs:
            if isinstance(item, dict) and item.get("type") == "additional_tools":
                offered.extend(item.get("tools") or [])
        surface = tool_surface(offered)
        if surface is not None:
            self.surface = surface
        if frame.get("generate") is False:
            return ModelRequest(response_id, None)
        turn = self._turn(frame)
        said: list[str] = []
        for item in inputs:
            if not isinstance(item, dict):
                continue
            words = person_said(item)
            if words is not None:
                said.append(words)
            result = read_tool_result(item)
            if result is not None:
                turn.results.append(result)
        # A turn's first request may carry the thread's history before its own words (the real daemon sends it
        # all again on a new socket, e.g. after `turn/interrupt` closed the last one): the turn is what the person
        # asked last, not an earlier, interrupted request.
        turn.said.extend(said if turn.said else said[-1:])
        return ModelRequest(response_id, turn)

    def _turn(self, frame: dict[str, Any]) -> Turn:
        metadata = frame.get("client_metadata") if isinstance(frame.get("client_metadata"), dict) else {}
        turn_id = str(metadata.get("root_turn_id") or metadata.get("turn_id") or "turn")
        return self.turns.setdefault(turn_id, Turn(turn_id))

    def answer(self, request: ModelRequest) -> list[dict[str, Any]]:
        """The output items of the response to `request`: the script's next step, or nothing for a warm-up."""
        if request.turn is None:
            return []
        turn = request.turn
        pending = turn.results[-1] if turn.results else None
        step: Step
        if pending is not None and pending.outcome is Outcome.RUNNING and pending.cell_id is not None:
            step = WaitForCell(pending.cell_id)
        else:
            step = self._scripts(turn.request)(turn)
        self._items += 1
        return [render(step, self.surface, self._items)]
