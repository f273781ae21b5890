"""The desktop's session core with a remote app-server, without I/O: approvals are kept by item across connections,
so a decision is never lost with a dropped link and never sent twice (issue 12, docs/protocol.md §13)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simulators.remote_projects.core import (
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    Answered,
    AnsweredFromMemory,
    ApprovalAsked,
    Ignored,
    ItemKey,
    Notified,
    RemoteSessionCore,
)

THREAD = "thread-1"


def ask(request_id: int, item: str, method: str = FILE_CHANGE_APPROVAL) -> dict[str, Any]:
    return {"id": request_id, "method": method, "params": {"threadId": THREAD, "turnId": "turn-1", "itemId": item}}


def test_an_approval_is_handed_out_once_and_answered_with_the_remotes_request_id() -> None:
    core = RemoteSessionCore()
    core.connected()
    event, replies = core.receive(ask(0, "exec-1", COMMAND_APPROVAL))
    assert isinstance(event, ApprovalAsked) and replies == []
    assert event.approval.kind == "command" and event.approval.key == ItemKey(THREAD, "exec-1")
    assert core.decide(event.approval.key, "accept") == [{"id": 0, "result": {"decision": "accept"}}]
    # Deciding again (a second tap, another device) sends nothing more: the first decision stands.
    assert core.decide(event.approval.key, "decline") == []
    assert core.decision(event.approval.key) == "accept"
    assert core.answers_sent(event.approval.key) == 1


def test_a_decision_made_while_the_link_is_down_is_sent_when_the_remote_asks_again() -> None:
    core = RemoteSessionCore()
    core.connected()
    event, _ = core.receive(ask(1, "exec-2"))
    assert isinstance(event, ApprovalAsked)
    core.connection_lost()
    # Nobody to send it to: kept.
    assert core.decide(event.approval.key, "accept") == []
    core.connected()
    again, replies = core.receive(ask(1, "exec-2"))
    assert again == AnsweredFromMemory(event.approval.key, "accept")
    assert replies == [{"id": 1, "result": {"decision": "accept"}}]
    assert core.answers_sent(event.approval.key) == 1


def test_asked_again_before_she_decides_is_not_handed_out_twice() -> None:
    core = RemoteSessionCore()
    core.connected()
    first, _ = core.receive(ask(1, "exec-3"))
    assert isinstance(first, ApprovalAsked)
    core.connection_lost()
    core.connected()
    again, replies = core.receive(ask(7, "exec-3"))
    assert isinstance(again, Ignored) and replies == []
    assert core.waiting() == [first.approval.key]
    # Her decision answers the request of the connection that is live now.
    assert core.decide(first.approval.key, "decline") == [{"id": 7, "result": {"decision": "decline"}}]
    assert core.waiting() == []


def test_an_answer_lost_with_the_connection_is_sent_again_once_on_the_next() -> None:
    core = RemoteSessionCore()
    core.connected()
    event, _ = core.receive(ask(1, "exec-4"))
    assert isinstance(event, ApprovalAsked)
    assert core.decide(event.approval.key, "accept")  # sent, but the link dropped before the remote read it
    core.connection_lost()
    core.connected()
    _, replies = core.receive(ask(1, "exec-4"))
    assert replies == [{"id": 1, "result": {"decision": "accept"}}]
    # The same connection asking again gets nothing more.
    _, more = core.receive(ask(1, "exec-4"))
    assert more == []
    assert core.answers_sent(event.approval.key) == 2  # once per connection


def test_an_item_the_remote_completed_is_never_answered_again() -> None:
    core = RemoteSessionCore()
    core.connected()
    event, _ = core.receive(ask(1, "exec-5"))
    assert isinstance(event, ApprovalAsked)
    core.connection_lost()
    core.connected()
    core.resumed({"id": THREAD, "turns": [{"items": [{"id": "exec-5", "status": "completed"}]}]})
    assert core.decide(event.approval.key, "accept") == []
    completed, _ = core.receive({"method": "item/completed",
                                 "params": {"threadId": THREAD, "item": {"id": "exec-6", "status": "declined"}}})
    assert isinstance(completed, Notified)
    assert core.decide(ItemKey(THREAD, "exec-6"), "accept") == []


def test_requests_waiting_on_a_dropped_connection_fail_and_answers_to_them_are_ignored() -> None:
    core = RemoteSessionCore()
    core.connected()
    request_id, message = core.request("thread/list", {"cwd": "/srv/login-service"})
    assert message == {"id": request_id, "method": "thread/list", "params": {"cwd": "/srv/login-service"}}
    assert core.connection_lost() == [(request_id, "thread/list")]
    late, _ = core.receive({"id": request_id, "result": {"data": []}})
    assert isinstance(late, Ignored)
    answered_id, _ = core.request("thread/start")
    answer, _ = core.receive({"id": answered_id, "error": {"code": -32600, "message": "nope"}})
    assert answer == Answered(answered_id, "thread/start", error={"code": -32600, "message": "nope"})


def test_a_request_the_desktop_does_not_serve_is_refused() -> None:
    core = RemoteSessionCore()
    core.connected()
    event, replies = core.receive({"id": 3, "method": "item/tool/call", "params": {}})
    assert isinstance(event, Ignored)
    assert replies == [{"id": 3, "error": {"code": -32601, "message": "unsupported request: item/tool/call"}}]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=8)
_frames = st.one_of(
    _json,
    st.builds(ask, st.integers(0, 3), st.sampled_from(["exec-a", "exec-b"]),
              st.sampled_from([COMMAND_APPROVAL, FILE_CHANGE_APPROVAL])),
    st.just("drop"), st.just("decide-a"), st.just("decide-b"),
)


@given(st.lists(_frames, max_size=30))
def test_whatever_arrives_an_item_is_answered_at_most_once_per_connection(frames: list[Any]) -> None:
    core = RemoteSessionCore()
    core.connected()
    connection = 0
    answered: set[tuple[int, str]] = set()
    for frame in frames:
        if frame == "drop":
            core.connection_lost()
            core.connected()
            connection += 1
            continue
        if frame in ("decide-a", "decide-b"):
            replies = core.decide(ItemKey(THREAD, "exec-" + frame[-1]), "accept")
            item = "exec-" + frame[-1]
        else:
            _, replies = core.receive(frame)
            item = frame["params"]["itemId"] if isinstance(frame, dict) and isinstance(frame.get("params"), dict) \
                and frame.get("method") in (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL) else ""
        for reply in replies:
            if "result" in reply:
                assert (connection, item) not in answered, f"{item} answered twice on connection {connection}"
                answered.add((connection, item))
