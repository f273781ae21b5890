"""The phone: scanning the Mac's pairing code, signing in, and what the phone shows.

What the phone shows is quoted verbatim in the features (`steps/copy.py` ties each quote to the catalogue); the
Then steps read the screens the phone app really showed, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators import messages
from simulators.camera import Picture
from simulators.real.target import version_under_test
from simulators.real.versions import fill_versions
from steps.context import phone_label
from steps.copy import QuoteIn, quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their|the)"
MFA_PAGE = "mfa"  # the issuer's page that asks for the authenticator code
# What the camera is pointed at instead of a good view of the Mac's code (simulators/camera.py).
PICTURES = {
    "the QR code on a restaurant's menu": Picture.MENU_QR,
    "a photo of the Mac's screen with a glare across the code": Picture.GLARE,
    "a photo of the desk, with no QR code in it": Picture.NO_CODE,
    "a pairing code drawn by a newer version of Codex": Picture.NEWER_VERSION,
}
# The person's slips while signing in on the phone, as `PhoneDriver.pair` options.
SIGN_IN_SLIPS = {
    "mistypes the password": {"mistype_password": True},
    "cancels the sign-in": {"cancel_sign_in": True},
    # Five: the issuer locks the authenticator step after the fifth wrong code.
    "types a wrong authenticator code five times": {"wrong_mfa_codes": 5},
}


def _pair(world: World, ctx: ScenarioContext, name: str, device: str = "phone", workspace: str = "Personal") -> None:
    label = phone_label(name, device)
    outcome = world.phone(label).pair(name, ctx.qr_image(), workspace=workspace)
    ctx.outcome = outcome
    ctx.attempts.append((label, outcome))


@given(parsers.re(rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone"))
@when(parsers.re(rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone"))
def scan_and_pair(world: World, ctx: ScenarioContext, name: str) -> None:
    _pair(world, ctx, name)


@when(parsers.re(
    rf'(?P<name>\w+) scans the pairing code with {PRONOUN} phone, choosing the "(?P<workspace>[^"]+)" workspace'
))
def scan_and_pair_in_workspace(world: World, ctx: ScenarioContext, name: str, workspace: str) -> None:
    _pair(world, ctx, name, workspace=workspace)


@when(parsers.re(rf"(?P<name>\w+) scans (?P<what>{'|'.join(PICTURES)}) with {PRONOUN} phone"))
def scan_picture(world: World, ctx: ScenarioContext, name: str, what: str) -> None:
    label = phone_label(name)
    ctx.outcome = world.phone(label).scan_picture(name, PICTURES[what], ctx.qr)
    ctx.attempts.append((label, ctx.outcome))


@when(parsers.re(rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone and (?P<slip>{'|'.join(SIGN_IN_SLIPS)})"))
def scan_and_slip(world: World, ctx: ScenarioContext, name: str, slip: str) -> None:
    label = phone_label(name)
    ctx.outcome = world.phone(label).pair(name, ctx.qr_image(), **SIGN_IN_SLIPS[slip])
    ctx.attempts.append((label, ctx.outcome))


@given(parsers.re(rf"(?P<name>\w+) scans the pairing code with {PRONOUN} phone (?P<times>\d+) times in a row"))
def scan_repeatedly(world: World, ctx: ScenarioContext, name: str, times: str) -> None:
    label = phone_label(name)
    ctx.outcome = world.phone(label).pair_repeatedly(name, int(times), ctx.qr_image())
    ctx.attempts.append((label, ctx.outcome))


@when(parsers.re(
    rf"(?P<name>\w+) sets up a new phone from {PRONOUN} phone's backup and opens the ChatGPT app on it"
))
def restore_backup_on_new_phone(world: World, ctx: ScenarioContext, name: str) -> None:
    label = phone_label(name, "new phone")
    ctx.outcome = world.restore_phone_backup(from_phone=phone_label(name), to_phone=label)
    ctx.attempts.append((label, ctx.outcome))


@given(parsers.re(r"(?P<name>\w+)'s phone loses its internet connection"))
@when(parsers.re(r"(?P<name>\w+)'s phone loses its internet connection"))
def phone_offline(world: World) -> None:
    world.network.cut("phones")


@when(parsers.re(r"(?P<name>\w+)'s phone is back online"))
def phone_online(world: World) -> None:
    world.network.restore("phones")


@when(parsers.re(rf"(?P<name>\w+) scans (?P<owner>\w+)'s pairing code with {PRONOUN} own phone"))
def scan_someone_elses_code(world: World, ctx: ScenarioContext, name: str) -> None:
    _pair(world, ctx, name)


@given(parsers.re(r"(?P<name>\w+)'s (?P<device>tablet|laptop|old phone) has already used the pairing code"))
def another_device_claimed(world: World, ctx: ScenarioContext, name: str, device: str) -> None:
    label = phone_label(name, device)
    ctx.attempts.append((label, world.phone(label).pair(name, ctx.qr_image())))


@given(parsers.re(
    rf"(?P<name>\w+) signed in to ChatGPT on {PRONOUN} phone before, and its browser remembers {PRONOUN} device"
))
def phone_browser_remembers_device(world: World, name: str) -> None:
    world.phone(phone_label(name)).remembers_device(name)


@when(parsers.re(rf"(?P<name>\w+) signs out of ChatGPT in {PRONOUN} phone's browser"))
def phone_signs_out(world: World, name: str) -> None:
    world.phone(phone_label(name)).sign_out_of_chatgpt()


@then(parsers.re(rf"the sign-in on {PRONOUN} phone (?P<verdict>asked|did not ask) for {PRONOUN} authenticator code"))
def phone_sign_in_asked_for_mfa(world: World, ctx: ScenarioContext, verdict: str) -> None:
    pages = world.phone(ctx.last_phone()).sign_in_pages
    assert (MFA_PAGE in pages) == (verdict == "asked"), f"the phone's browser showed: {pages}"


@then(parsers.re(rf"{PRONOUN} phone is connected to {PRONOUN} Mac"))
def phone_connected(ctx: ScenarioContext) -> None:
    outcome = ctx.last_outcome()
    assert outcome.outcome == "paired", f"the phone ended with {outcome.outcome}: {outcome.message!r}"


@then(parsers.re(quotes_copy(rf"{PRONOUN} phone showed these screens, in order:", QuoteIn.TABLE)))
def phone_screens_in_order(ctx: ScenarioContext, datatable: list[list[str]]) -> None:
    shown = [[screen["title"], screen["body"]] for screen in ctx.last_outcome().screens]
    assert shown == datatable, shown


@then(parsers.re(quotes_copy(rf'{PRONOUN} phone shows "(?P<copy_title>[^"]+)" and says "(?P<copy_body>[^"]+)"')))
def phone_shows_title_and_body(world: World, ctx: ScenarioContext, copy_title: str, copy_body: str) -> None:
    screen = world.phone(ctx.last_phone()).view().screen
    assert (screen["title"], screen["body"]) == (copy_title, copy_body), screen


@then(parsers.re(quotes_copy(rf'{PRONOUN} phone says "(?P<copy>[^"]+)"')))
def phone_says(world: World, ctx: ScenarioContext, copy: str) -> None:
    screen = world.phone(ctx.last_phone()).view().screen
    assert screen["body"] == fill_versions(copy, version_under_test(world.daemon)), screen


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} phone now shows "(?P<copy_title>[^"]+)" and says "(?P<copy_body>[^"]+)"'
)))
def phone_now_shows(world: World, ctx: ScenarioContext, copy_title: str, copy_body: str) -> None:
    # What the phone shows at this moment, not what it showed when it paired.
    screen = world.phone(ctx.last_phone()).view().screen
    assert (screen["title"], screen["body"]) == (copy_title, copy_body), screen


@then(parsers.re(rf"{PRONOUN} phone does not fall back to a generic failure"))
def phone_not_generic(world: World, ctx: ScenarioContext) -> None:
    body = world.phone(ctx.last_phone()).view().screen["body"]
    assert body not in (messages.GENERIC_SETUP_FAILURE, messages.GENERIC_PAIRING_FAILURE), body


# ------------------------------------------------------------------------------------- more than one Mac


@when(parsers.re(rf'(?P<name>\w+) switches {PRONOUN} phone to "(?P<mac>[^"]+)"'))
def switch_host(world: World, name: str, mac: str) -> None:
    world.phone(phone_label(name)).switch_host(mac)


@then(parsers.re(rf'{PRONOUN} phone lists "(?P<first>[^"]+)" and "(?P<second>[^"]+)"'))
def phone_lists_hosts(world: World, ctx: ScenarioContext, first: str, second: str) -> None:
    assert world.phone(ctx.last_phone()).view().hosts == (first, second)


@then(parsers.re(quotes_copy(rf'{PRONOUN} phone shows "(?P<mac>[^"]+)" with "(?P<copy>[^"]+)"')))
def phone_shows_host_screen(world: World, ctx: ScenarioContext, mac: str, copy: str) -> None:
    view = world.phone(ctx.last_phone()).view()
    assert (view.active_host, view.screen["title"], view.screen["body"]) == (mac, mac, copy), view
