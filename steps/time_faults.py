"""Steps: time passing and each party's clock: expiry the way it happens, a clock that is off, tokens that race. Each
is one line of product or operator language calling one driver method; the README's step list shows each with an
example.

Durations are words ("90 seconds", "a minute", "10 minutes", "2 hours", "8 days", "a day and 2 hours"), read by
`simulators.world.time.seconds_in`. Time passes for everyone at once (the backend, every phone, every Mac with the
mock daemon); a clock that is off is one party's own. The real daemon keeps the machine's clock: what the backend
decides by the world's time expires for it too, what it decides by its own clock does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators.world import Linger
from simulators.world.time import DURATION, seconds_in
from steps.context import phone_label
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their|the)"
# The issuer's sign-in pages, in the words a person uses for them, by the name the page gives itself.
SIGN_IN_PAGES = {"sign-in": "sign_in", "authenticator": "mfa", "workspace": "workspace", "consent": "consent"}
# Whether a clock that is off runs ahead of the world's time or behind it.
DIRECTIONS = {"fast": 1.0, "ahead": 1.0, "slow": -1.0, "behind": -1.0}


@given(parsers.re(rf"(?P<duration>{DURATION}) pass(?:es)?"))
@when(parsers.re(rf"(?P<duration>{DURATION}) pass(?:es)?"))
def time_passes(world: World, duration: str) -> None:
    world.let_time_pass(seconds_in(duration))


@given(parsers.re(rf"(?P<who>.+?)'s clock is (?P<duration>{DURATION}) (?P<direction>{'|'.join(DIRECTIONS)})"))
@when(parsers.re(rf"(?P<who>.+?)'s clock is (?P<duration>{DURATION}) (?P<direction>{'|'.join(DIRECTIONS)})"))
def clock_is_off(world: World, who: str, duration: str, direction: str) -> None:
    world.set_clock_off(who, DIRECTIONS[direction] * seconds_in(duration))


@given(parsers.re(r"(?P<who>.+?)'s clock is right again"))
@when(parsers.re(r"(?P<who>.+?)'s clock is right again"))
def clock_right_again(world: World, who: str) -> None:
    world.set_clock_off(who, 0.0)


@when(parsers.re(
    rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone and leaves the "
    rf"(?P<page>{'|'.join(SIGN_IN_PAGES)}) page open for (?P<duration>{DURATION})"
))
def scan_and_linger(world: World, ctx: ScenarioContext, name: str, page: str, duration: str) -> None:
    label = phone_label(name)
    ctx.outcome = world.phone(label).pair(name, ctx.qr_image(),
                                          linger=Linger(SIGN_IN_PAGES[page], seconds_in(duration)))
    ctx.attempts.append((label, ctx.outcome))


@when(parsers.re(rf"(?P<name>\w+) sets {PRONOUN} (?P<device>[\w ]+)'s clock right"))
def clock_set_right(world: World, name: str, device: str) -> None:
    world.set_clock_off(f"{name}'s {device}", 0.0)


# ------------------------------------------------------------------------------------- Codex in a terminal
# A computer is "her Mac" (sharing the desktop app's sign-in) or any other of hers ("her dev server").


@given(parsers.re(
    rf"(?P<name>\w+) cop(?:ies|ied) {PRONOUN} Codex sign-in from {PRONOUN} (?P<source>[\w ]+) to {PRONOUN} "
    r"(?P<target>[\w ]+)"
))
def copy_sign_in(world: World, name: str, source: str, target: str) -> None:
    world.copy_sign_in(f"{name}'s {source}", f"{name}'s {target}")


@given(parsers.re(rf"(?P<name>\w+) (?:has|opens) Codex (?:open )?in a terminal on {PRONOUN} (?P<computer>[\w ]+)"))
@when(parsers.re(rf"(?P<name>\w+) (?:has|opens) Codex (?:open )?in a terminal on {PRONOUN} (?P<computer>[\w ]+)"))
def open_terminal(world: World, name: str, computer: str) -> None:
    world.open_terminal(f"{name}'s {computer}")


@given(parsers.re(rf"(?P<name>\w+) asks Codex something in the terminal on {PRONOUN} (?P<computer>[\w ]+)"))
@when(parsers.re(rf"(?P<name>\w+) asks Codex something in the terminal on {PRONOUN} (?P<computer>[\w ]+)"))
def ask_in_terminal(world: World, name: str, computer: str) -> None:
    world.terminal(f"{name}'s {computer}").ask()


@then(parsers.re(quotes_copy(
    r'the terminal on (?P<name>\w+)\'s (?P<computer>[\w ]+) says "(?P<copy>[^"]+)"'
)))
def terminal_says(world: World, name: str, computer: str, copy: str) -> None:
    shown = world.terminal(f"{name}'s {computer}").last_line
    assert shown == copy, f"the terminal showed {shown!r}"
