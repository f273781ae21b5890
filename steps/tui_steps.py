"""The real Codex TUI (`codex --remote`, the pinned 0.169.0) on the Mac's daemon, read off its screen.

The TUI runs in a pseudo-terminal (`simulators.tui.codex_tui.CodexTui`) against whichever daemon `--daemon` names;
each step does what a person does in it or reads what it shows, waiting on the screen, never sleeping.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pytest_bdd import given, parsers, then, when

from simulators.tui.codex_tui import CodexTui

if TYPE_CHECKING:
    from simulators.world import World

PRONOUN = r"(?:her|his|their)"


class TuiHolder:
    """The scenario's TUI, started by a step and ended after the scenario."""

    def __init__(self) -> None:
        self.tui: CodexTui | None = None

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
        if holder.tui is not None:
            holder.tui.close()


@given(parsers.re(r"(?P<name>\w+) has a ChatGPT account"))
def account(world: World, name: str) -> None:
    world.people.create(name, mfa=False)


@given(parsers.re(rf"(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac with ChatGPT"))
def desktop_signed_in(world: World, name: str) -> None:
    world.mac().sign_in(name)


@given(parsers.re(rf'(?P<name>\w+) has asked Codex on {PRONOUN} Mac to "(?P<words>[^"]+)"'))
def asked_codex(world: World, name: str, words: str) -> None:
    world.mac().ask_codex(words)


@when(parsers.re(rf"(?P<name>\w+) opens the Codex TUI on {PRONOUN} Mac"))
def open_tui(world: World, codex_tui: TuiHolder, name: str) -> None:
    codex_tui.tui = CodexTui.launch(world.mac().url, cwd=world.root)


@when(parsers.re(r"(?:she|he|they) signs? in to the TUI with an API key"))
def sign_in_with_api_key(codex_tui: TuiHolder) -> None:
    codex_tui.running.sign_in_with_api_key("sk-proj-" + secrets.token_urlsafe(24))


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


@then(parsers.re(r"the TUI shows (?P<name>\w+)'s threads"))
def shows_threads(world: World, codex_tui: TuiHolder, name: str) -> None:
    previews = world.mac().thread_previews()
    assert previews, "the Mac has no threads to show"
    for preview in previews:
        codex_tui.running.wait_for(preview)
