"""Codex on the Mac: signing in, Settings › Connections, the pairing code, doctor and the enrollment.

What the Mac shows is quoted verbatim in the features (`steps/copy.py` ties each quote to the catalogue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators import messages
from steps.copy import QuoteIn, quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
# The issuer's page that asks for the authenticator code (simulators/backend/pages.py).
MFA_PAGE = "mfa"


@given(parsers.re(
    rf"(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac with multi-factor authentication"
))
def desktop_signed_in_with_mfa(world: World, name: str) -> None:
    world.mac().sign_in(name)


@given(parsers.re(
    rf"(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac with multi-factor authentication, and {PRONOUN} "
    rf"Mac's browser remembers {PRONOUN} device"
))
def desktop_signed_in_remembering_device(world: World, name: str) -> None:
    world.mac().sign_in(name, remember_device=True)


@given(parsers.re(
    rf'(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac with multi-factor authentication, '
    r'in the "(?P<workspace>[^"]+)" workspace'
))
def desktop_signed_in_to_workspace(world: World, name: str, workspace: str) -> None:
    world.mac().sign_in(name, workspace=workspace)


@when(parsers.re(rf"(?P<name>\w+) signs in to Codex on {PRONOUN} Mac again"))
def desktop_signs_in_again(world: World, name: str) -> None:
    world.mac().sign_in(name)


@given(parsers.re(rf"(?P<name>\w+) quits the browser on {PRONOUN} Mac"))
@when(parsers.re(rf"(?P<name>\w+) quits the browser on {PRONOUN} Mac"))
def quit_mac_browser(world: World) -> None:
    world.mac().quit_browser()


@then(parsers.re(rf"the sign-in on {PRONOUN} Mac (?P<verdict>asked|did not ask) for {PRONOUN} authenticator code"))
def desktop_sign_in_asked_for_mfa(world: World, verdict: str) -> None:
    pages = world.mac().sign_in_pages
    assert (MFA_PAGE in pages) == (verdict == "asked"), f"the Mac's browser showed: {pages}"


@given(parsers.re(quotes_copy(rf'(?P<name>\w+) turns on "(?P<copy>[^"]+)" on {PRONOUN} Mac')))
@when(parsers.re(rf'(?P<name>\w+) turns on "(?P<copy>[^"]+)" on {PRONOUN} Mac'))
def allow_connections(world: World, copy: str) -> None:
    assert copy == messages.DESKTOP_ALLOW_CONNECTIONS, f"Settings has no switch called {copy!r}"
    world.mac().allow_connections(True)


@given(parsers.re(quotes_copy(rf'(?P<name>\w+) turns off "(?P<copy>[^"]+)" on {PRONOUN} Mac')))
@when(parsers.re(rf'(?P<name>\w+) turns off "(?P<copy>[^"]+)" on {PRONOUN} Mac'))
def disallow_connections(world: World, copy: str) -> None:
    assert copy == messages.DESKTOP_ALLOW_CONNECTIONS, f"Settings has no switch called {copy!r}"
    world.mac().allow_connections(False)


@given(parsers.re(rf"(?P<name>\w+) shows (?:the|a new) pairing code on {PRONOUN} Mac"))
@when(parsers.re(rf"(?P<name>\w+) shows (?:the|a new) pairing code on {PRONOUN} Mac"))
def show_pairing_code(world: World, ctx: ScenarioContext) -> None:
    ctx.qr = world.mac().show_pairing_qr()


@then(parsers.re(rf"{PRONOUN} Mac shows a pairing code to scan"))
def mac_shows_qr(ctx: ScenarioContext) -> None:
    image = ctx.qr_image()
    assert image is not None and image.is_file(), f"the Mac showed no QR code but: {ctx.qr!r}"


@then(parsers.re(quotes_copy(rf'{PRONOUN} Mac shows "(?P<copy>[^"]+)" instead of a pairing code')))
def mac_shows_instead_of_code(ctx: ScenarioContext, copy: str) -> None:
    assert ctx.qr_image() is None, "the Mac showed a pairing code that cannot work"
    assert getattr(ctx.qr, "text", None) == copy, ctx.qr


@then(parsers.re(quotes_copy(rf'Settings › Connections on {PRONOUN} Mac says "(?P<copy>[^"]+)"')))
def connections_says(world: World, copy: str) -> None:
    world.mac().wait_settled()
    assert world.mac().connections_text == copy, world.mac().connections_text


@then(parsers.re(quotes_copy(r"pairsim doctor says:", QuoteIn.DOCSTRING)))
def doctor_says(world: World, docstring: str) -> None:
    expected = [line.strip() for line in docstring.splitlines() if line.strip()]
    assert world.mac().doctor_lines() == expected, world.mac().doctor_lines()


@then(parsers.re(quotes_copy(r"pairsim doctor, run on a folder where Codex has never run, says:", QuoteIn.DOCSTRING)))
def doctor_elsewhere_says(world: World, docstring: str) -> None:
    expected = [line.strip() for line in docstring.splitlines() if line.strip()]
    assert world.doctor_lines_of_a_folder_without_codex() == expected


@given(parsers.re(rf"(?P<name>\w+) quits Codex on {PRONOUN} Mac"))
@when(parsers.re(rf"(?P<name>\w+) quits Codex on {PRONOUN} Mac"))
def quit_codex(world: World) -> None:
    world.mac().quit_codex()


@given(parsers.re(r"(?P<name>\w+)'s Mac loses its internet connection"))
@when(parsers.re(r"(?P<name>\w+)'s Mac loses its internet connection"))
def mac_offline(world: World) -> None:
    world.mac().offline()


@when(parsers.re(r"(?P<name>\w+)'s Mac is back online"))
def mac_online(world: World) -> None:
    world.mac().online()


@then(parsers.re(rf"{PRONOUN} Mac has no remote-control enrollment"))
def no_enrollment(world: World) -> None:
    assert world.mac().enrollment_rows() == []


@then(parsers.re(rf"{PRONOUN} Mac has a remote-control enrollment"))
def one_enrollment(world: World) -> None:
    assert len(world.mac().enrollment_rows()) == 1


@then(parsers.re(rf"{PRONOUN} Mac's pairing code (?P<verdict>is still unclaimed|has been claimed)"))
def pairing_code_claimed(world: World, ctx: ScenarioContext, verdict: str) -> None:
    assert ctx.qr is not None and ctx.qr_image() is not None, "the Mac showed no pairing code"
    assert world.mac().pairing_code_claimed(ctx.qr) == (verdict == "has been claimed")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- more than one Mac
# The same person's Macs, named as Codex names them ("Dana's Mac Studio"); the unnamed steps above mean the first.


@given(parsers.re(r'(?P<name>\w+) also has Codex on "(?P<mac>[^"]+)", with (?P<threads>\d+) threads'))
def another_mac(world: World, mac: str, threads: str) -> None:
    world.add_mac(mac, threads=int(threads))


@given(parsers.re(r'(?P<name>\w+) is signed in to Codex on "(?P<mac>[^"]+)" with multi-factor authentication'))
def named_mac_signed_in_with_mfa(world: World, name: str, mac: str) -> None:
    world.mac(mac).sign_in(name)


@given(parsers.re(quotes_copy(r'(?P<name>\w+) turns on "(?P<copy>[^"]+)" on "(?P<mac>[^"]+)"')))
def allow_connections_on(world: World, copy: str, mac: str) -> None:
    assert copy == messages.DESKTOP_ALLOW_CONNECTIONS, f"Settings has no switch called {copy!r}"
    world.mac(mac).allow_connections(True)


@given(parsers.re(r'(?P<name>\w+) shows (?:the|a new) pairing code on "(?P<mac>[^"]+)"'))
@when(parsers.re(r'(?P<name>\w+) shows (?:the|a new) pairing code on "(?P<mac>[^"]+)"'))
def show_pairing_code_on(world: World, ctx: ScenarioContext, mac: str) -> None:
    ctx.qr = world.mac(mac).show_pairing_qr()


@then(parsers.re(quotes_copy(r'Settings › Connections on "(?P<mac>[^"]+)" says "(?P<copy>[^"]+)"')))
def named_mac_connections_says(world: World, mac: str, copy: str) -> None:
    world.mac(mac).wait_settled()
    assert world.mac(mac).connections_text == copy, world.mac(mac).connections_text


@then(parsers.re(r'Codex on "(?P<mac>[^"]+)" has (?:her|his|their) decision and asks about the file change next'))
def mac_moved_on_to_file_change(world: World, mac: str) -> None:
    # Codex asks about the file change only once it has the answer about the command.
    assert world.mac(mac).approvals_waiting() == ["file_change"]


@then(parsers.re(r'Codex on "(?P<mac>[^"]+)" has run nothing from (?:her|his|their) phone'))
def mac_ran_nothing(world: World, mac: str) -> None:
    assert world.mac(mac).turns_run() == 0
