"""Steps: the ChatGPT service's answers, and the Codex versions it accepts. Each is one line of product or operator
language calling one driver method; the README's step list shows each with an example.

The backend operations are named in product words ("the Mac's enrollment", "the phone's pairing claim"), mapped to
routes in one place (`simulators.world.backend.OPERATION_NAMES`); `the request to "/backend-api/..."` names any path,
served or not. A body is `an empty body`, `a proxy's challenge page` (an HTML page saying "Enable JavaScript and
cookies to continue"), `the JSON {...}` or `the text "..."`; a step with `and this body:` takes it from its docstring.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_bdd import given, parsers, then, when

from simulators.backend.faults import CHALLENGE_PAGE, HTML, path_key
from simulators.real.target import version_under_test
from simulators.real.versions import fill_versions
from simulators.world.backend import Operation
from simulators.world.time import seconds_in
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
SERVICE = r"(?:the ChatGPT service|ChatGPT)"
# An operation in product words, or any path: `the request to "/backend-api/wham/accounts/check"`.
OPERATION = r"(?P<operation>the request to \"[^\"]+\"|the [\w' -]+?)"
HOW_OFTEN = r"(?P<how_often> once| the next (?P<times>\d+) times| every time)?"
AFTER = r"(?: after (?P<after>\d+ (?:seconds?|minutes?)))?"
STATUS = r"HTTP (?P<status>[1-5]\d\d)"
BODY = r"(?: and (?P<body>an empty body|a proxy's challenge page|the JSON \{.*\}|the text \"[^\"]*\"))?"


@dataclass(frozen=True)
class Body:
    value: Any
    content_type: str | None


def operation_key(words: str) -> Operation | str:
    """The backend key a step's words name: an operation, or `the request to "<path>"`."""
    match = re.fullmatch(r'the request to "([^"]+)"', words)
    if match is not None:
        return path_key(match.group(1))
    return Operation.named(words)


def body_of(words: str | None) -> Body:
    if words is None or words == "an empty body":
        return Body(None, None)
    if words == "a proxy's challenge page":
        return Body(CHALLENGE_PAGE, HTML)
    if words.startswith("the JSON "):
        return Body(json.loads(words.removeprefix("the JSON ")), None)
    return Body(words.removeprefix("the text ")[1:-1], None)


def times_of(how_often: str | None, times: str | None) -> int | None:
    if how_often is not None and how_often.strip() == "every time":
        return None
    return int(times) if times is not None else 1


def seconds_of(duration: str | None) -> float:
    return 0.0 if duration is None else seconds_in(duration)


# ------------------------------------------------------------------------------------- what the service answers


@given(parsers.re(rf"{SERVICE} answers {OPERATION} with {STATUS}{BODY}{HOW_OFTEN}{AFTER}"))
@when(parsers.re(rf"{SERVICE} answers {OPERATION} with {STATUS}{BODY}{HOW_OFTEN}{AFTER}"))
def service_answers(world: World, operation: str, status: str, body: str | None, how_often: str | None,
                    times: str | None, after: str | None) -> None:
    answer = body_of(body)
    world.backend.answer_next(operation_key(operation), int(status), answer.value, times=times_of(how_often, times),
                              content_type=answer.content_type, after=seconds_of(after))


@given(parsers.re(rf"{SERVICE} answers {OPERATION} with {STATUS} and this body, as (?P<content_type>[\w.+-]+/[\w.+-]+)"
                  rf"{HOW_OFTEN}{AFTER}:"))
@when(parsers.re(rf"{SERVICE} answers {OPERATION} with {STATUS} and this body, as (?P<content_type>[\w.+-]+/[\w.+-]+)"
                 rf"{HOW_OFTEN}{AFTER}:"))
def service_answers_with_docstring(world: World, operation: str, status: str, content_type: str,
                                   how_often: str | None, times: str | None, after: str | None,
                                   docstring: str) -> None:
    world.backend.answer_next(operation_key(operation), int(status), docstring, times=times_of(how_often, times),
                              content_type=content_type, after=seconds_of(after))


@given(parsers.re(rf"{SERVICE} answers {OPERATION} only after (?P<after>\d+ (?:seconds?|minutes?)){HOW_OFTEN}"))
def service_answers_late(world: World, operation: str, after: str, how_often: str | None, times: str | None) -> None:
    world.backend.answer_next(operation_key(operation), None, times=times_of(how_often, times),
                              after=seconds_of(after))


# The enrollment has its own pair of steps (steps/faults.py), which the Mac's Settings window waits on.
@given(parsers.re(rf"{SERVICE} is slow to answer (?P<operation>(?!the Mac's enrollment$)the [\w' -]+|the request to "
                  rf"\"[^\"]+\"){HOW_OFTEN}"))
def service_holds(world: World, operation: str, how_often: str | None, times: str | None) -> None:
    world.backend.hold_next(operation_key(operation), times=times_of(how_often, times))


@when(parsers.re(rf"{SERVICE} answers {OPERATION} at last"))
def service_releases(world: World, operation: str) -> None:
    world.backend.release_held(operation_key(operation))


@given(parsers.re(rf"{SERVICE} answers {OPERATION} as usual again"))
@when(parsers.re(rf"{SERVICE} answers {OPERATION} as usual again"))
def service_as_usual(world: World, operation: str) -> None:
    world.backend.answer_as_usual(operation_key(operation))


# ------------------------------------------------------------------------------------------------------- versions


# A version may be `{codex version}` (the daemon under test's) or `{next version}` (the release after it).
@given(parsers.re(rf"{SERVICE} accepts Codex on a Mac from version (?P<version>\S+|{{[a-z ]+}}) on"))
def service_accepts_from(world: World, version: str) -> None:
    world.backend.accept_codex_from(fill_versions(version, version_under_test(world.daemon)))


@given(parsers.re(r"(?P<name>\w+)'s Mac runs Codex (?P<version>\d\S*|{[a-z ]+})"))
def mac_runs_version(world: World, version: str) -> None:
    world.mac().runs_codex_version(fill_versions(version, version_under_test(world.daemon)))


# ---------------------------------------------------------------------------------------- what the Mac shows now


@then(parsers.re(quotes_copy(rf'{PRONOUN} Mac now shows "(?P<copy>[^"]+)" instead of a pairing code')))
def mac_now_shows_instead_of_code(world: World, ctx: ScenarioContext, copy: str) -> None:
    # "Pair phone" as it is at this moment, not as it was when it was pressed.
    ctx.qr = world.mac().pairing_screen()
    assert getattr(ctx.qr, "png_path", None) is None, "the Mac shows a pairing code"
    assert getattr(ctx.qr, "text", None) == copy, ctx.qr


@then(parsers.re(rf"the pairing code appears on {PRONOUN} Mac"))
def pairing_code_appears(world: World, ctx: ScenarioContext) -> None:
    ctx.qr = world.mac().pairing_screen()
    image = ctx.qr_image()
    assert image is not None and image.is_file(), f"the Mac shows no QR code but: {ctx.qr!r}"


@then(parsers.re(quotes_copy(rf'Codex on {PRONOUN} Mac shows "(?P<copy_title>[^"]+)" and says "(?P<copy_body>[^"]+)"')))
def mac_notice(world: World, copy_title: str, copy_body: str) -> None:
    assert world.mac().notice == (copy_title, copy_body), world.mac().notice


@then(parsers.re(rf'Codex on {PRONOUN} Mac logged "(?P<text>[^"]+)"'))
def desktop_logged(world: World, text: str) -> None:
    lines = world.mac().desktop_log()
    assert any(text in line for line in lines), lines


@then(parsers.re(rf"the daemon on {PRONOUN} Mac reloaded {PRONOUN} sign-in and found it unchanged"))
def daemon_reloaded_unchanged(world: World) -> None:
    # The real daemon's auth manager says this when auth recovery reads auth.json again and nothing new is there.
    assert world.mac().wait_for_daemon_log(r"Reloaded auth, changed: false") is not None, world.mac().daemon_log()


# ------------------------------------------------------------------------------------------ what the service did


@then(parsers.re(rf"{SERVICE} is still keeping {OPERATION} waiting"))
def service_still_waiting(world: World, operation: str) -> None:
    assert world.backend.held(operation_key(operation)) > 0, f"nothing of {operation} is waiting for its answer"


@then(parsers.re(rf'the daemon on {PRONOUN} Mac logged "(?P<text>[^"]+)"'))
def daemon_logged(world: World, text: str) -> None:
    assert world.mac().wait_for_daemon_log(re.escape(text)) is not None, world.mac().daemon_log()


@then(parsers.re(rf"{SERVICE} answered {OPERATION} with {STATUS}"))
def service_answered(world: World, operation: str, status: str) -> None:
    answered = world.backend.answered(operation_key(operation))
    assert answered is not None, f"nobody asked {operation}"
    assert answered == int(status), answered


# --------------------------------------------------------------------------------------------------- accounts


@given(parsers.re(r"(?P<name>\w+) has a ChatGPT account without multi-factor authentication"))
def account_without_mfa(world: World, ctx: ScenarioContext, name: str) -> None:
    world.people.create(name, mfa=False)
    ctx.remember_person(name)


@given(parsers.re(rf"(?P<name>\w+) is signed in to Codex on {PRONOUN} Mac without multi-factor authentication"))
def desktop_signed_in_without_mfa(world: World, name: str) -> None:
    world.mac().sign_in(name)


@when(parsers.re(rf"(?P<name>\w+) turns on multi-factor authentication on {PRONOUN} account"))
def turn_on_mfa(world: World, name: str) -> None:
    world.people.set_up_mfa(name)
