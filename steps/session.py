"""Using the phone once it is paired: deciding on the approvals Codex asks for, and what the Mac did with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import parsers, then, when

from simulators import messages
from simulators.daemon.threads import SCRIPT_RESULT
from simulators.daemon.workspace import SEED_FILES
from steps.context import phone_label

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
_APPROVAL_KINDS = {"run a command": "command", "change a file": "file_change"}
_DECISIONS = {"approves": "accept", "declines": "decline"}
# "Codex on her Mac" is the first Mac; `Codex on "Dana's Mac Studio"` names one.
MAC = rf'Codex on (?:{PRONOUN} Mac|"(?P<mac>[^"]+)")'


@when(parsers.re(rf'(?P<name>\w+) asks Codex from {PRONOUN} phone to "(?P<text>[^"]+)"'))
def start_turn(world: World, name: str, text: str) -> None:
    world.phone_start_turn(text, phone=phone_label(name))


@then(parsers.re(rf"{PRONOUN} phone asks (?P<name>\w+) to approve Codex's request to (?P<what>run a command|change a file)"))
def phone_shows_approval(world: World, ctx: ScenarioContext, name: str, what: str) -> None:
    kind = _APPROVAL_KINDS[what]
    ctx.approval = world.phone_wait_for_approval(kind, phone=phone_label(name))
    key = "approval_command" if kind == "command" else "approval_file_change"
    assert ctx.approval.screen.title == messages.PHONE_SCREENS[key].title, ctx.approval.screen


@when(parsers.re(r"(?P<name>\w+) (?P<verb>approves|declines) it on (?:her|his|their) phone"))
def decide(world: World, ctx: ScenarioContext, name: str, verb: str) -> None:
    assert ctx.approval is not None, "the phone has shown no approval to decide on"
    ctx.decision_screen = world.phone_decide(ctx.approval, _DECISIONS[verb], phone=phone_label(name))


@then(parsers.re(rf"{PRONOUN} phone confirms that (?:she|he|they) (?P<verb>approved|declined) it"))
def decision_confirmed(ctx: ScenarioContext, verb: str) -> None:
    decision = "accept" if verb == "approved" else "decline"
    assert ctx.decision_screen is not None
    assert ctx.decision_screen.body == messages.DECISION_TEXT[decision], ctx.decision_screen


@then(parsers.re(rf"{MAC} ran the command (?:she|he|they) approved"))
def mac_ran_the_command(world: World, ctx: ScenarioContext, mac: str | None) -> None:
    assert ctx.approval is not None and ctx.approval.kind == "command", "the phone has shown no command to approve"
    ran = [(run.command, run.cwd) for run in world.commands_run(mac=mac)]
    assert ran == [(ctx.approval.command, ctx.approval.cwd)], ran


@then(parsers.re(rf"{MAC} has not run the command"))
def mac_ran_no_command(world: World, mac: str | None) -> None:
    assert world.commands_run(mac=mac) == []


@then(parsers.re(rf'{MAC} changed "(?P<path>[^"]+)" as (?:she|he|they) approved'))
def mac_changed_the_file(world: World, mac: str | None, path: str) -> None:
    assert world.workspace_file(path, mac=mac) == SCRIPT_RESULT[path]


@then(parsers.re(rf'{MAC} left "(?P<path>[^"]+)" as it was'))
def mac_left_the_file(world: World, mac: str | None, path: str) -> None:
    assert world.workspace_file(path, mac=mac) == SEED_FILES[path]
