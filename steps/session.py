"""Using the phone once it is paired: deciding on the approvals Codex asks for, and what the Mac did with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import parsers, then, when

from simulators import messages
from simulators.backend.model_scripts import BRANCH, edited_login_file
from simulators.daemon.workspace import LOGIN_FILE, MAIN_BRANCH, SEED_FILES
from steps.context import phone_label
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
_APPROVAL_KINDS = {
    messages.PHONE_SCREENS["approval_command"].title: "command",
    messages.PHONE_SCREENS["approval_file_change"].title: "file_change",
}
_DECISIONS = {"approves": "accept", "declines": "decline", "cancels": "cancel"}
# The Mac's project folder is a temporary directory: a feature names it, the step fills it in.
PROJECT_FOLDER = "{project folder}"
# "Codex on her Mac" is the first Mac; `Codex on "Dana's Mac Studio"` names one.
MAC = rf'Codex on (?:{PRONOUN} Mac|"(?P<mac>[^"]+)")'


@when(parsers.re(rf'(?P<name>\w+) asks Codex from {PRONOUN} phone to "(?P<text>[^"]+)"'))
def start_turn(world: World, name: str, text: str) -> None:
    world.phone(phone_label(name)).start_turn(text)


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} phone asks (?P<name>\w+) "(?P<copy_title>[^"]+)" with "(?P<copy_body>[^"]+)"'
)))
def phone_shows_approval(world: World, ctx: ScenarioContext, name: str, copy_title: str, copy_body: str) -> None:
    label = phone_label(name)
    ctx.approval = world.phone(label).wait_for_approval(_APPROVAL_KINDS[copy_title])
    folder = str(world.mac(world.phone(label).view().active_host).project_folder)
    expected = (copy_title, copy_body.replace(PROJECT_FOLDER, folder))
    assert (ctx.approval.screen.title, ctx.approval.screen.body) == expected, ctx.approval.screen


@when(parsers.re(
    r"(?P<name>\w+) (?P<verb>approves|declines|cancels) it(?P<session> for the rest of the session)? on "
    r"(?:her|his|their) phone"
))
def decide(world: World, ctx: ScenarioContext, name: str, verb: str, session: str | None) -> None:
    assert ctx.approval is not None, "the phone has shown no approval to decide on"
    decision = "acceptForSession" if session and verb == "approves" else _DECISIONS[verb]
    assert not session or verb == "approves", "only an approval can last for the rest of the session"
    world.decide(ctx.approval, decision, phone=phone_label(name))


# What a command did is read from the project on the Mac's disk, on either daemon: the scripted command
# (`git switch -c fix-flaky-login`) leaves the project on a new branch, and only running it can.
@then(parsers.re(rf"{MAC} ran the command (?:she|he|they) approved"))
def mac_ran_the_command(world: World, ctx: ScenarioContext, mac: str | None) -> None:
    assert ctx.approval is not None and ctx.approval.kind == "command", "the phone has shown no command to approve"
    assert world.mac(mac).project_branch() == BRANCH, world.mac(mac).project_branch()


@then(parsers.re(rf"{MAC} has not run the command"))
def mac_ran_no_command(world: World, mac: str | None) -> None:
    assert world.mac(mac).project_branch() == MAIN_BRANCH, world.mac(mac).project_branch()


@then(parsers.re(rf'{MAC} changed "(?P<path>[^"]+)" as (?:she|he|they) approved'))
def mac_changed_the_file(world: World, mac: str | None, path: str) -> None:
    assert path == LOGIN_FILE, f"the scripted turn changes {LOGIN_FILE} only"
    assert world.mac(mac).workspace_file(path) == edited_login_file()


@then(parsers.re(rf'{MAC} left "(?P<path>[^"]+)" as it was'))
def mac_left_the_file(world: World, mac: str | None, path: str) -> None:
    assert world.mac(mac).workspace_file(path) == SEED_FILES[path]
