"""How the model reads what a tool did (`simulators.protocol.responses.read_tool_result`), and what the scripted
"Fix the flaky login test" then says: only an edit that was done is reported as made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulators.backend.model_scripts import EDITED, FIX_FLAKY_TEST, NOT_EDITED, script_for
from simulators.protocol.responses import (
    APPLY_PATCH,
    EXEC_COMMAND,
    ModelConversation,
    Outcome,
    read_tool_result,
)


def output(text: str, kind: str = "custom_tool_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": "call_1", "output": text}


@pytest.mark.parametrize(
    ("text", "outcome", "exit_code"),
    [
        ("Success. Updated the following files:\nM /p/src/login.py", Outcome.DONE, None),
        ("apply_patch verification failed: failed to find expected lines in src/login.py", Outcome.FAILED, None),
        ("apply_patch failed: line 3 of the file does not match the diff", Outcome.FAILED, None),
        ("patch rejected by user", Outcome.REJECTED, None),
        ("Exit code: 128\nOutput:\nfatal: not a git repository\n", Outcome.DONE, 128),
        ("exec_command failed: rejected by user", Outcome.REJECTED, None),
        ("Script failed\nError: boom", Outcome.FAILED, None),
    ],
    ids=["patched", "patch-not-verified", "patch-not-applied", "patch-declined", "command-exit-128",
         "command-declined", "code-mode-failure"],
)
def test_a_tool_output_reads_as_its_outcome(text: str, outcome: Outcome, exit_code: int | None) -> None:
    result = read_tool_result(output(text))
    assert result is not None and (result.outcome, result.exit_code) == (outcome, exit_code)


@pytest.mark.parametrize(
    ("edit_output", "said"),
    [
        ("Success. Updated the following files:\nM /p/src/login.py", EDITED),
        ("apply_patch failed: line 3 of the file does not match the diff", NOT_EDITED),
        ("apply_patch verification failed: failed to find expected lines in src/login.py", NOT_EDITED),
        ("patch rejected by user", NOT_EDITED),
    ],
    ids=["edited", "not-applied", "not-verified", "declined"],
)
def test_the_fix_says_it_raised_the_timeout_only_when_the_edit_was_done(edit_output: str, said: str) -> None:
    conversation = ModelConversation(script_for)
    tools = [{"type": "function", "name": EXEC_COMMAND}, {"type": "custom", "name": APPLY_PATCH}]
    metadata = {"root_turn_id": "turn-1"}
    frames = [
        {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": FIX_FLAKY_TEST}]}]},
        {"input": [output("Exit code: 0\nOutput:\nSwitched to a new branch\n", "function_call_output")]},
        {"input": [output(edit_output)]},
    ]
    answers = [
        conversation.answer(conversation.receive({"type": "response.create", "tools": tools,
                                                  "client_metadata": metadata, **frame}))
        for frame in frames
    ]
    assert [answer[0]["type"] for answer in answers] == ["function_call", "custom_tool_call", "message"]
    assert json.loads(answers[0][0]["arguments"])["sandbox_permissions"] == "require_escalated"
    assert answers[-1][0]["content"][0]["text"] == said
