"""Steps: the parties' processes: a daemon restart, a Mac that signs out or switches account, a phone app killed and
relaunched, a paired phone removed on the Mac or from the account. Each is one line of product or operator language
calling one driver method; the README's step list shows each with an example.

"Her Mac" is the first Mac; `"Dana's Mac Studio"` names another. "Her phone" is the phone that last did something
in the scenario (a new phone set up from a backup, once there is one), or the person's own phone before that.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from steps.context import phone_label
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import MacDriver, World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
# "her Mac" (the first) or a Mac by its name in quotes.
MAC = rf'(?:{PRONOUN} Mac|"(?P<mac>[^"]+)")'
# A paired device by what it is to its owner: "her phone" is "Dana's phone", as it named itself when it paired.
DEVICE = r"(?P<device>phone|tablet|new phone|old phone)"
# Where a feature writes the backend's request id that a phone quotes back: the step reads the real one.
REQUEST_ID = "{request id}"
# The phone's socket to the relay, whose refusals carry the request id the phone quotes.
PHONE_SOCKET_PATH = "/backend-api/wham/remote/control/client"


def _mac(world: World, mac: str | None) -> MacDriver:
    return world.mac(mac)


def _phone(ctx: ScenarioContext, name: str) -> str:
    """The phone "her phone" means: the last one that did something, else the person's own."""
    return ctx.last_phone() if ctx.attempts else phone_label(name)


# ------------------------------------------------------------------------------------------------------ the Mac


@given(parsers.re(rf"the Codex daemon on {MAC} restarts"))
@when(parsers.re(rf"the Codex daemon on {MAC} restarts"))
def daemon_restarts(world: World, mac: str | None) -> None:
    _mac(world, mac).restart_daemon()


@given(parsers.re(rf"(?P<name>\w+) signs out of Codex on {MAC}"))
@when(parsers.re(rf"(?P<name>\w+) signs out of Codex on {MAC}"))
def sign_out_of_codex(world: World, mac: str | None) -> None:
    _mac(world, mac).sign_out()


@given(parsers.re(
    rf"(?P<name>\w+) switches Codex on {MAC} to "
    r'(?:(?P<other>\w+)\'s ChatGPT account|the "(?P<workspace>[^"]+)" workspace)'
))
@when(parsers.re(
    rf"(?P<name>\w+) switches Codex on {MAC} to "
    r'(?:(?P<other>\w+)\'s ChatGPT account|the "(?P<workspace>[^"]+)" workspace)'
))
def switch_account(world: World, name: str, mac: str | None, other: str | None, workspace: str | None) -> None:
    _mac(world, mac).switch_account(other or name, workspace=workspace or "Personal")


@given(parsers.re(rf"(?P<name>\w+) sees {PRONOUN} {DEVICE} among the devices that control {MAC}"))
@then(parsers.re(rf"(?P<name>\w+) sees {PRONOUN} {DEVICE} among the devices that control {MAC}"))
def sees_device_on_mac(world: World, name: str, device: str, mac: str | None) -> None:
    listed = _mac(world, mac).phones()
    assert phone_label(name, device) in listed, f"Settings › Connections lists: {listed}"


@given(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {DEVICE} in Settings › Connections on {MAC}"))
@when(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {DEVICE} in Settings › Connections on {MAC}"))
def remove_device_on_mac(world: World, name: str, device: str, mac: str | None) -> None:
    _mac(world, mac).remove_phone(phone_label(name, device))


@given(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {DEVICE} from the devices in {PRONOUN} ChatGPT account"))
@when(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {DEVICE} from the devices in {PRONOUN} ChatGPT account"))
def remove_device_from_account(world: World, name: str, device: str) -> None:
    removed = world.people.remove_paired_phone(name, phone_label(name, device))
    assert removed, f"{name}'s account has no paired device called {phone_label(name, device)!r}"


@then(parsers.re(quotes_copy(rf'{MAC} shows "(?P<copy>[^"]+)" beside the pairing code')))
def pairing_page_says(ctx: ScenarioContext, copy: str) -> None:
    assert ctx.qr_image() is not None, f"the Mac showed no pairing code but: {ctx.qr!r}"
    assert getattr(ctx.qr, "prompt", None) == copy, ctx.qr


# ------------------------------------------------------------------------------------------------------ the phone


@given(parsers.re(r"(?P<name>\w+)'s phone app is killed and opened again"))
@when(parsers.re(r"(?P<name>\w+)'s phone app is killed and opened again"))
def phone_app_relaunched(world: World, ctx: ScenarioContext, name: str) -> None:
    label = _phone(ctx, name)
    ctx.outcome = world.phone(label).relaunch()
    ctx.attempts.append((label, ctx.outcome))


@when(parsers.re(rf"(?P<name>\w+) opens the list of {PRONOUN} Macs on {PRONOUN} phone"))
def open_list_of_macs(world: World, ctx: ScenarioContext, name: str) -> None:
    world.phone(_phone(ctx, name)).open_computers()


@when(parsers.re(rf"(?P<name>\w+) opens {PRONOUN} last chat with {PRONOUN} Mac on {PRONOUN} phone"))
def open_last_chat(world: World, ctx: ScenarioContext, name: str) -> None:
    world.phone(_phone(ctx, name)).open_chat()


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} phone lists {MAC} as "(?P<copy_status>[^"]+)"(?:, "(?P<copy_detail>[^"]+)")?'
)))
def phone_lists_mac_as(world: World, ctx: ScenarioContext, mac: str | None, copy_status: str,
                       copy_detail: str | None) -> None:
    name = _mac(world, mac).server_name
    rows = [row for row in world.phone(ctx.last_phone()).computers() if row.name == name]
    assert [(row.status, row.detail) for row in rows] == [(copy_status, copy_detail or "")], rows


@then(parsers.re(quotes_copy(rf'the pairing on {PRONOUN} phone ends with "(?P<copy>[^"]+)"')))
def pairing_ends_with(ctx: ScenarioContext, copy: str) -> None:
    # What the pairing itself ended on (connected, or the failure), not a screen shown on top of it since.
    assert ctx.last_outcome().message == copy, ctx.last_outcome()


@then(parsers.re(quotes_copy(rf'the chat on {PRONOUN} phone says "(?P<copy>[^"]+)"')))
def chat_says(world: World, ctx: ScenarioContext, copy: str) -> None:
    screen = world.phone(ctx.last_phone()).view().screen
    expected = copy
    if REQUEST_ID in copy:
        # The phone quotes the id the backend gave its refused request: read it from the backend's own record.
        refused = [e for e in world.backend.traffic() if e["url"] == PHONE_SOCKET_PATH and e["status"] >= 400]
        assert refused, "the backend refused no phone connection"
        expected = copy.replace(REQUEST_ID, str(refused[-1]["request_id"]))
    assert screen["body"] == expected, screen


# ------------------------------------------------------------------------------------------------ on the wire


@then(parsers.re(rf"the desktop's log on {MAC} says \"(?P<line>[^\"]+)\""))
def desktop_log_says(world: World, mac: str | None, line: str) -> None:
    logged = _mac(world, mac).desktop_log()
    assert any(line in entry for entry in logged), f"the desktop logged: {logged}"


@then(parsers.re(
    rf'{MAC} (?P<verdict>keeps|has) (?P<kept>a|no) remote-control enrollment for (?P<owner>\w+)\'s '
    r'"(?P<workspace>[^"]+)" workspace'
))
def enrollment_for_workspace(world: World, mac: str | None, verdict: str, kept: str, owner: str,
                             workspace: str) -> None:
    account_id = world.person(owner).workspace_ids[workspace]
    rows = _mac(world, mac).enrollment_rows()
    mine = [row for row in rows if row["account_id"] == account_id]
    assert len(mine) == (1 if kept == "a" else 0), rows


@then(parsers.re(r"the backend renewed the Mac's enrollment instead of enrolling it again"))
def enrollment_renewed(world: World) -> None:
    calls = [e for e in world.backend.traffic()
             if e["method"] == "POST" and re.search(r"/server/(enroll|refresh)$", e["url"])]
    assert calls and calls[-1]["url"].endswith("/server/refresh") and calls[-1]["status"] == 200, calls[-3:]
    assert sum(call["url"].endswith("/server/enroll") for call in calls) == 1, calls


@then(parsers.re(r'the Mac\'s daemon logs "(?P<line>[^"]+)"'))
def daemon_logs(world: World, line: str) -> None:
    logged = world.mac().wait_for_daemon_log(re.escape(line))
    assert logged is not None, f"the daemon logged: {world.mac().daemon_log()}"


@then(parsers.re(
    r"the backend refused the phone's connection with HTTP (?P<status>\d+) and the body '(?P<body>[^']+)'"
))
def phone_connection_refused(world: World, status: str, body: str) -> None:
    refused = [e for e in world.backend.traffic() if e["url"] == PHONE_SOCKET_PATH and e["status"] >= 400]
    assert refused, "the backend refused no phone connection"
    assert (refused[-1]["status"], refused[-1]["response_body"]) == (int(status), json.loads(body)), refused[-1]
