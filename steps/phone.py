"""The phone: scanning the Mac's pairing code, signing in, and what the phone shows at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators import messages
from steps.context import error_code, phone_label

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their|the)"


def _pair(world: World, ctx: ScenarioContext, name: str, device: str = "phone", workspace: str = "Personal") -> None:
    label = phone_label(name, device)
    outcome = world.pair_phone(name, phone=label, qr=ctx.qr_image(), workspace=workspace)
    ctx.outcome = outcome
    ctx.attempts.append((label, outcome))


@when(parsers.re(rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone"))
def scan_and_pair(world: World, ctx: ScenarioContext, name: str) -> None:
    _pair(world, ctx, name)


@when(parsers.re(
    rf'(?P<name>\w+) scans the pairing code with {PRONOUN} phone, choosing the "(?P<workspace>[^"]+)" workspace'
))
def scan_and_pair_in_workspace(world: World, ctx: ScenarioContext, name: str, workspace: str) -> None:
    _pair(world, ctx, name, workspace=workspace)


@when(parsers.re(rf"(?P<name>\w+) scans (?P<owner>\w+)'s pairing code with {PRONOUN} own phone"))
def scan_someone_elses_code(world: World, ctx: ScenarioContext, name: str) -> None:
    _pair(world, ctx, name)


@given(parsers.re(r"(?P<name>\w+)'s (?P<device>tablet|laptop|old phone) has already used the pairing code"))
def another_device_claimed(world: World, ctx: ScenarioContext, name: str, device: str) -> None:
    label = phone_label(name, device)
    ctx.attempts.append((label, world.pair_phone(name, phone=label, qr=ctx.qr_image())))


@then(parsers.re(rf"{PRONOUN} phone is connected to {PRONOUN} Mac"))
def phone_connected(ctx: ScenarioContext) -> None:
    outcome = ctx.last_outcome()
    assert outcome.outcome == "paired", f"the phone ended with {outcome.outcome}: {outcome.message!r}"


@then(parsers.re(rf"{PRONOUN} phone shows {PRONOUN} Mac's threads"))
def phone_shows_threads(ctx: ScenarioContext) -> None:
    outcome = ctx.last_outcome()
    last = outcome.screens[-1]
    copy = messages.PHONE_SCREENS["threads"]
    assert last["title"] == copy.title.format(server_name=outcome.host_name), last
    assert last["body"] == copy.body.format(thread_count=outcome.thread_count), last
    assert outcome.thread_count, "the Mac's threads did not reach the phone"


@then(parsers.re(rf'{PRONOUN} phone shows the "(?P<cause>[^"]+)" message'))
def phone_shows_cause(ctx: ScenarioContext, cause: str) -> None:
    code = error_code(cause)
    copy = messages.PHONE_ERRORS[code]
    outcome = ctx.last_outcome()
    last = outcome.screens[-1]
    assert (outcome.outcome, last["title"], last["body"]) == (code.value, copy.title, copy.body), outcome


@then(parsers.re(rf'{PRONOUN} phone says "(?P<text>[^"]+)"'))
def phone_says(ctx: ScenarioContext, text: str) -> None:
    # The feature quotes the copy itself (the seed story's generic message); it must still be catalogue copy.
    catalogue = {copy.body for copy in messages.PHONE_ERRORS.values()}
    assert text in catalogue, f"{text!r} is not in the message catalogue"
    assert ctx.last_outcome().message == text


@then(parsers.re(rf"{PRONOUN} phone does not fall back to the generic setup failure"))
def phone_not_generic(ctx: ScenarioContext) -> None:
    assert ctx.last_outcome().message != messages.GENERIC_SETUP_FAILURE


# ------------------------------------------------------------------------------------- more than one Mac


@when(parsers.re(rf'(?P<name>\w+) switches {PRONOUN} phone to "(?P<mac>[^"]+)"'))
def switch_host(world: World, name: str, mac: str) -> None:
    world.phone_switch_host(mac, phone=phone_label(name))


@then(parsers.re(rf'{PRONOUN} phone lists "(?P<first>[^"]+)" and "(?P<second>[^"]+)"'))
def phone_lists_hosts(world: World, ctx: ScenarioContext, first: str, second: str) -> None:
    assert world.phone_view(ctx.last_phone()).hosts == (first, second)


@then(parsers.re(rf'{PRONOUN} phone shows the (?P<count>\d+) threads of "(?P<mac>[^"]+)"'))
def phone_shows_threads_of(world: World, ctx: ScenarioContext, count: str, mac: str) -> None:
    view = world.phone_view(ctx.last_phone())
    copy = messages.PHONE_SCREENS["threads"]
    expected = (mac, copy.title.format(server_name=mac), copy.body.format(thread_count=int(count)))
    assert (view.active_host, view.screen["title"], view.screen["body"]) == expected, view
