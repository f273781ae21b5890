"""The real Codex TUI (`codex --remote`, the pinned 0.169.0) on the Mac's daemon, read off its screen.

The TUI runs in a pseudo-terminal (`simulators.tui.codex_tui.CodexTui`) against whichever daemon `--daemon` names;
each step does what a person does in it or reads what it shows, waiting on the screen, never sleeping.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pytest_bdd import given, parsers, then, when

from simulators.login.lab import fixed_ports_lock
from simulators.tui.codex_tui import TURN_COMPLETED, TURN_INTERRUPTED, CodexTui
from simulators.tui.sessions import sign_in_in_browser

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"


class TuiHolder:
    """The scenario's TUI, started by a step and ended after the scenario (with the fixed login ports, if a
    ChatGPT sign-in took them)."""

    def __init__(self) -> None:
        self.tui: CodexTui | None = None
        self.stack = contextlib.ExitStack()

    def lock_fixed_ports(self) -> None:
        self.stack.enter_context(fixed_ports_lock())

    @property
    def running(self) -> CodexTui:
        assert self.tui is not None, "nobody has opened the Codex TUI in this scenario"
        return self.tui


@pytest.fixture
def codex_tui() -> Iterator[TuiHolder]:
    holder = TuiHolder()
    try:
        yield holder
    finally:
        with holder.stack:
            if holder.tui is not None:
                holder.tui.close()


@given(parsers.re(r"(?P<name>\w+) has a ChatGPT account(?P<mfa> with two-step verification)?"))
def account(world: World, name: str, mfa: str | None) -> None:
    world.people.create(name, mfa=bool(mfa))


@given(parsers.re(rf"(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac with ChatGPT"))
def desktop_signed_in(world: World, name: str) -> None:
    world.mac().sign_in(name)


@given(parsers.re(rf'(?P<name>\w+) asked Codex on {PRONOUN} Mac "(?P<text>[^"]+)"'))
def asked_on_the_mac(world: World, name: str, text: str) -> None:
    world.mac().ask(text)


@when(parsers.re(rf"(?P<name>\w+) opens the Codex TUI on {PRONOUN} Mac"))
def open_tui(world: World, codex_tui: TuiHolder, name: str) -> None:
    codex_tui.tui = CodexTui.launch(world.mac().url, cwd=world.root)


@when(parsers.re(r"(?:she|he|they) signs? in to the TUI with an API key"))
def sign_in_with_api_key(codex_tui: TuiHolder) -> None:
    codex_tui.running.sign_in_with_api_key("sk-proj-" + secrets.token_urlsafe(24))


@when(parsers.re(rf"(?P<name>\w+) signs in to the TUI with ChatGPT in {PRONOUN} browser"))
def sign_in_with_chatgpt(world: World, codex_tui: TuiHolder, name: str) -> None:
    codex_tui.lock_fixed_ports()  # the daemon's login callback server binds 127.0.0.1:1455
    codex_tui.running.start_chatgpt_sign_in()
    sign_in_in_browser(world, name, codex_tui.running.wait_for_browser())
    codex_tui.running.wait_for_chatgpt_signed_in()


@when(parsers.re(r"(?:she|he|they) opens? the TUI's session list"))
def open_resume(codex_tui: TuiHolder) -> None:
    codex_tui.running.wait_for_main_screen()
    codex_tui.running.resume_picker()


@then("the TUI offers to sign in with ChatGPT or another way")
def offers_sign_in(codex_tui: TuiHolder) -> None:
    codex_tui.running.wait_for_sign_in_menu()
    assert codex_tui.running.shows("Sign in another way"), codex_tui.running.screen


@then("the TUI shows its main screen")
def main_screen(codex_tui: TuiHolder) -> None:
    codex_tui.running.wait_for_main_screen()


@then(parsers.parse('the TUI\'s status says the account is "{account}"'))
def status_account(codex_tui: TuiHolder, account: str) -> None:
    card = codex_tui.running.status_card()
    assert card.fields.get("Account", "").startswith(account), card.fields


@then(parsers.re(r"the TUI's status says (?P<name>\w+) is signed in with ChatGPT"))
def status_signed_in_with_chatgpt(world: World, codex_tui: TuiHolder, name: str) -> None:
    card = codex_tui.running.status_card()
    # `Account: dana@… (Plus)`: her email and her ChatGPT plan (an API key reads "API key configured").
    email = world.people.get(name).email
    assert re.fullmatch(rf"{re.escape(email)} \(\w+\)", card.fields.get("Account", "")), card.fields


@then(parsers.re(r"the TUI shows (?P<name>\w+)'s threads"))
def shows_threads(world: World, codex_tui: TuiHolder, name: str) -> None:
    previews = world.mac().thread_previews()
    assert previews, "the Mac has no threads to show"
    for preview in previews:
        codex_tui.running.wait_for(preview)


# -- a turn in the TUI: approvals and interrupting (issue 11) -------------------------------------------------------
# What Codex did with a decision is read from the project on the Mac by the steps of `steps/session.py`
# ("Codex on her Mac ran the command she approved", ... "left "src/login.py" as it was"), never off the screen.

_TURN_ENDS = {"completed": TURN_COMPLETED, "interrupted": TURN_INTERRUPTED}


@given(parsers.re(rf"(?P<name>\w+) opens the Codex TUI in {PRONOUN} project on {PRONOUN} Mac"))
@when(parsers.re(rf"(?P<name>\w+) opens the Codex TUI in {PRONOUN} project on {PRONOUN} Mac"))
def open_tui_in_project(world: World, codex_tui: TuiHolder, name: str) -> None:
    codex_tui.tui = CodexTui.launch(world.mac().url, cwd=world.mac().project_folder)
    codex_tui.tui.wait_for_main_screen()


@when(parsers.re(r'(?:she|he|they) asks? Codex in the TUI to "(?P<text>[^"]+)"'))
def ask_in_tui(codex_tui: TuiHolder, text: str) -> None:
    codex_tui.running.ask(text)


@then(parsers.re(r'the TUI asks to approve the command "(?P<command>[^"]+)"'))
def tui_asks_command(codex_tui: TuiHolder, ctx: ScenarioContext, command: str) -> None:
    ctx.approval = codex_tui.running.wait_for_command_approval()
    assert ctx.approval.subject == command, ctx.approval


@then(parsers.re(r'the TUI asks to approve the change to "(?P<path>[^"]+)"'))
def tui_asks_file_change(world: World, codex_tui: TuiHolder, ctx: ScenarioContext, path: str) -> None:
    ctx.approval = codex_tui.running.wait_for_file_change_approval()
    assert ctx.approval.subject == str(world.mac().project_folder / path), ctx.approval


@when(parsers.re(r"(?:she|he|they) (?P<verb>approves|declines) it in the TUI"))
def decide_in_tui(codex_tui: TuiHolder, verb: str) -> None:
    if verb == "approves":
        codex_tui.running.approve()
    else:
        codex_tui.running.decline()
    # What the Mac did is read from its project next: wait until Codex has acted on the decision and gone on.
    codex_tui.running.wait_until_moved_on()


@when(parsers.re(r"(?:she|he|they) interrupts? Codex in the TUI while it is thinking"))
def interrupt_in_tui(world: World, codex_tui: TuiHolder) -> None:
    world.backend.wait_model_held()
    codex_tui.running.interrupt()


@when("Codex answers at once again")
def model_answers_again(world: World) -> None:
    world.backend.release_model()


@then(parsers.re(r"the TUI shows the turn (?P<ended>completed|interrupted)"))
def tui_turn_ended(codex_tui: TuiHolder, ended: str) -> None:
    assert codex_tui.running.wait_for_turn_end() == _TURN_ENDS[ended], codex_tui.running.screen


@then("Codex's model saw the turn interrupted")
def model_saw_interruption(world: World) -> None:
    world.backend.wait_model_interrupted(1)
    assert world.backend.model_interruptions() == 1, world.backend.model_interruptions()
