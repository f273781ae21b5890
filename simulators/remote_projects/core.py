"""The desktop's JSON-RPC session with a remote app-server, without I/O: what to send, what arrived, and what the
person decided, across connections.

The link to a remote project can drop at any time (the SSH connection, the tunnel). The remote app-server keeps the
thread running, and when a client resumes the thread (`thread/resume`) it asks again for every approval still
waiting, with the same item id (observed on codex 0.169.0, docs/protocol.md §13). So the session keeps, by item,
what the person decided, not by request id (ids belong to a connection):

* an approval asked for the first time is handed to the person (`ApprovalAsked`);
* asked again (after a reconnect) while the person has not decided yet, it is not handed out twice: the decision
  she is about to make answers it;
* asked again after she decided (her answer was lost with the connection), it is answered at once with her
  decision, so nothing she approved is lost;
* an item is answered at most once per connection, and never after the remote said it was resolved or completed,
  so nothing is done twice.

`RemoteSessionCore` is fed decoded messages and returns events plus the messages to send; the I/O
(`session.py`) sends them and wakes whoever waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INITIALIZE = "initialize"
COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
APPROVAL_METHODS = (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL)
DECISIONS = ("accept", "acceptForSession", "decline", "cancel")


@dataclass(frozen=True)
class ItemKey:
    """An item of a thread: what an approval is about, the same on every connection."""

    thread_id: str
    item_id: str


@dataclass(frozen=True)
class Approval:
    """An approval the remote app-server asked for, as the person sees it."""

    key: ItemKey
    method: str
    params: dict[str, Any]

    @property
    def kind(self) -> str:
        return "command" if self.method == COMMAND_APPROVAL else "file_change"


@dataclass(frozen=True)
class Answered:
    """The remote answered one of our requests."""

    request_id: int
    method: str
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notified:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ApprovalAsked:
    """A new approval for the person to decide on."""

    approval: Approval


@dataclass(frozen=True)
class AnsweredFromMemory:
    """The remote asked again about an item the person had decided on; her decision was sent again."""

    key: ItemKey
    decision: str


@dataclass(frozen=True)
class Ignored:
    """A message that is not for us (not JSON-RPC, an answer to nothing we asked, a request we do not serve)."""

    reason: str


Event = Answered | Notified | ApprovalAsked | AnsweredFromMemory | Ignored


@dataclass
class _Item:
    decision: str | None = None
    asked: bool = False  # handed to the person
    live_request: int | str | None = None  # the remote's request id on the current connection
    answered_here: bool = False  # answered on the current connection
    settled: bool = False  # the remote resolved it or completed the item: nothing more to send
    answers_sent: int = 0  # across connections, for the record


@dataclass
class RemoteSessionCore:
    """One desktop session with one remote app-server, across as many connections as the link needs."""

    _next_id: int = 1
    _pending: dict[int, str] = field(default_factory=dict)  # our request id -> method, on the current connection
    _items: dict[ItemKey, _Item] = field(default_factory=dict)
    threads: list[str] = field(default_factory=list)  # the threads this session started or resumed, to resume again
    connections: int = 0

    # -- our requests -------------------------------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """A request to send: (its id, the message)."""
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = method
        return request_id, {"id": request_id, "method": method, "params": params or {}}

    @staticmethod
    def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        return message

    def follow(self, thread_id: str) -> None:
        """A thread this session works in: resumed on every new connection."""
        if thread_id not in self.threads:
            self.threads.append(thread_id)

    # -- connections ----------------------------------------------------------------------------------------------

    def connected(self) -> None:
        """A new connection: request ids start over on both sides, decisions stay."""
        self.connections += 1
        for item in self._items.values():
            item.live_request = None
            item.answered_here = False

    def connection_lost(self) -> list[tuple[int, str]]:
        """The connection dropped: every request waiting on it fails. Returns them (id, method)."""
        failed = sorted(self._pending.items())
        self._pending.clear()
        for item in self._items.values():
            item.live_request = None
        return failed

    def resumed(self, thread: dict[str, Any]) -> None:
        """What `thread/resume` said of a thread: items already completed need no answer any more."""
        thread_id = thread.get("id")
        turns = thread.get("turns")
        if not isinstance(thread_id, str) or not isinstance(turns, list):
            return
        for turn in turns:
            items = turn.get("items") if isinstance(turn, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("id"), str) and item.get("status") not in (
                        None, "inProgress"):
                    self._item(ItemKey(thread_id, item["id"])).settled = True

    # -- what arrives ---------------------------------------------------------------------------------------------

    def receive(self, message: object) -> tuple[Event, list[dict[str, Any]]]:
        """One decoded message from the remote: what it was, and what to send because of it."""
        if not isinstance(message, dict):
            return Ignored("not a JSON object"), []
        method = message.get("method")
        if isinstance(method, str) and "id" in message:
            return self._server_request(message["id"], method, message.get("params"))
        if isinstance(method, str):
            params = message.get("params") if isinstance(message.get("params"), dict) else {}
            self._note_settled(method, params)
            return Notified(method, params), []
        request_id = message.get("id")
        if not isinstance(request_id, int) or request_id not in self._pending:
            return Ignored(f"an answer to nothing asked: {request_id!r}"), []
        asked = self._pending.pop(request_id)
        error = message.get("error")
        if error is not None:
            return Answered(request_id, asked, error=error if isinstance(error, dict) else {"message": str(error)}), []
        return Answered(request_id, asked, result=message.get("result")), []

    def _server_request(self, request_id: object, method: str, params: object) -> tuple[Event, list[dict[str, Any]]]:
        if not isinstance(request_id, int | str):
            return Ignored("a request with an unusable id"), []
        fields = params if isinstance(params, dict) else {}
        thread_id, item_id = fields.get("threadId"), fields.get("itemId")
        if method not in APPROVAL_METHODS or not isinstance(thread_id, str) or not isinstance(item_id, str):
            # The desktop serves approvals only; anything else is refused as the app-server refuses what it lacks.
            refusal = {"id": request_id, "error": {"code": -32601, "message": f"unsupported request: {method}"}}
            return Ignored(f"an unsupported request: {method}"), [refusal]
        key = ItemKey(thread_id, item_id)
        item = self._item(key)
        item.live_request = request_id
        item.settled = False
        if item.decision is not None:
            return AnsweredFromMemory(key, item.decision), self._answer(item)
        if item.asked:
            return Ignored(f"asked again while the person decides: {item_id}"), []
        item.asked = True
        return ApprovalAsked(Approval(key, method, dict(fields))), []

    def _note_settled(self, method: str, params: dict[str, Any]) -> None:
        if method == "item/completed":
            item = params.get("item")
            thread_id = params.get("threadId")
            if isinstance(item, dict) and isinstance(thread_id, str) and isinstance(item.get("id"), str):
                self._item(ItemKey(thread_id, item["id"])).settled = True

    # -- what the person decides ------------------------------------------------------------------------------------

    def decide(self, key: ItemKey, decision: str) -> list[dict[str, Any]]:
        """The person's decision on an item: the answer to send now, if the remote is waiting for it on this
        connection; otherwise it is kept for when the remote asks again. A second decision on the same item is
        ignored: the first one is what she was asked for."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
        item = self._item(key)
        if item.decision is None:
            item.decision = decision
        return self._answer(item)

    def _answer(self, item: _Item) -> list[dict[str, Any]]:
        if item.decision is None or item.live_request is None or item.answered_here or item.settled:
            return []
        item.answered_here = True
        item.answers_sent += 1
        return [{"id": item.live_request, "result": {"decision": item.decision}}]

    def decision(self, key: ItemKey) -> str | None:
        item = self._items.get(key)
        return None if item is None else item.decision

    def answers_sent(self, key: ItemKey) -> int:
        item = self._items.get(key)
        return 0 if item is None else item.answers_sent

    def asking(self, key: ItemKey) -> bool:
        """Whether the remote asks about the item on the current connection and has no answer there yet."""
        item = self._items.get(key)
        return item is not None and item.live_request is not None and not item.answered_here and not item.settled

    def waiting(self) -> list[ItemKey]:
        """Items the remote is waiting on and the person has not decided."""
        return [key for key, item in self._items.items() if item.asked and item.decision is None and not item.settled]

    def _item(self, key: ItemKey) -> _Item:
        return self._items.setdefault(key, _Item())
