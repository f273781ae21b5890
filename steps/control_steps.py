"""Steps: one Mac controlling another through the relay (Settings › Connections › Control other devices).

"Her MacBook Air" is the controlling Mac (`world.controlling_mac`), a Mac with Codex signed in to the same account
that hosts nothing; "her Mac" is the host, the world's first Mac, whose daemon (mock or real) the controller reaches
through the relay. What the host did is read from the host's project (steps/session.py), never from the
controller's view. A quote may name `{server name}` (the host's name as its daemon reports it) and `{host id}` (its
environment id), which the step fills in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators import messages
from steps.copy import quotes_copy
from steps.session import PROJECT_FOLDER

if TYPE_CHECKING:
    from simulators.world import World
    from simulators.world.controllers import ControllingMacDriver
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
CONTROLLER = "MacBook Air"
_PRESENCE = {messages.CONTROL_ONLINE: "online", messages.CONTROL_OFFLINE: "offline"}
_APPROVAL_KINDS = {
    messages.PHONE_SCREENS["approval_command"].title: "command",
    messages.PHONE_SCREENS["approval_file_change"].title: "file_change",
}


def _controller(world: World, name: str | None = None) -> ControllingMacDriver:
    return world.controlling_mac(None if name is None else f"{name}'s {CONTROLLER}")


def _host(world: World) -> str:
    return world.mac().server_name


def _filled(world: World, copy: str) -> str:
    return copy.replace("{server name}", _host(world)).replace("{host id}", world.mac().environment_id or "")


# ------------------------------------------------------------------------------------------------------ setting up


@given(parsers.re(rf"(?P<name>\w+) also has a {CONTROLLER} with Codex, signed in to the same ChatGPT account"))
def controller_signed_in(world: World, name: str) -> None:
    _controller(world, name).sign_in(name)


@given(parsers.re(rf"(?P<name>\w+) shows the code to type on {PRONOUN} Mac"))
@when(parsers.re(rf"(?P<name>\w+) shows the code to type on {PRONOUN} Mac"))
def show_code_to_type(world: World, ctx: ScenarioContext) -> None:
    ctx.manual_code = world.mac().request("remoteControl/pairing/start", {"manualCode": True})["manualPairingCode"]


@given(parsers.re(rf"(?P<name>\w+) pairs {PRONOUN} {CONTROLLER} with {PRONOUN} Mac using that code"))
@when(parsers.re(rf"(?P<name>\w+) pairs {PRONOUN} {CONTROLLER} with {PRONOUN} Mac using that code"))
def pair_controller(world: World, ctx: ScenarioContext, name: str) -> None:
    assert ctx.manual_code is not None, "no Mac has shown a code to type yet"
    _controller(world, name).pair(_host(world), ctx.manual_code)


@given(parsers.re(rf"(?P<name>\w+) opens {PRONOUN} Mac on {PRONOUN} {CONTROLLER}"))
@when(parsers.re(rf"(?P<name>\w+) opens {PRONOUN} Mac on {PRONOUN} {CONTROLLER}"))
def open_host(world: World, name: str) -> None:
    _controller(world, name).open(_host(world))


@given(parsers.re(rf"(?P<name>\w+) closes {PRONOUN} Mac on {PRONOUN} {CONTROLLER}"))
@when(parsers.re(rf"(?P<name>\w+) closes {PRONOUN} Mac on {PRONOUN} {CONTROLLER}"))
def close_host(world: World, name: str) -> None:
    _controller(world, name).close_host(_host(world))


@given(parsers.re(rf"Codex on {PRONOUN} {CONTROLLER} quits and starts again"))
@when(parsers.re(rf"Codex on {PRONOUN} {CONTROLLER} quits and starts again"))
def relaunch_controller(world: World) -> None:
    _controller(world).relaunch()


@given(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {CONTROLLER} from {PRONOUN} Mac's connections"))
@when(parsers.re(rf"(?P<name>\w+) removes {PRONOUN} {CONTROLLER} from {PRONOUN} Mac's connections"))
def remove_controller(world: World, name: str) -> None:
    world.mac().remove_phone(f"{name}'s {CONTROLLER}")


@given(parsers.re(rf"something on {PRONOUN} {CONTROLLER}'s network holds WebSocket connections"))
def controller_network_holds_websockets(world: World) -> None:
    _controller(world).stall_websocket_upgrades()


@when(parsers.re(quotes_copy(rf'(?P<name>\w+) turns on "(?P<copy>[^"]+)" on {PRONOUN} Mac, signed in there too')))
def turn_on_control(world: World, ctx: ScenarioContext, name: str, copy: str) -> None:
    assert copy == messages.DESKTOP_CONTROL_OTHER_DEVICES, copy
    controller = world.controlling_mac(world.mac().name)
    controller.sign_in(name)
    ctx.control_screen = controller.turn_on()


# ------------------------------------------------------------------------------------------------------ using the host


@when(parsers.re(rf'(?P<name>\w+) asks Codex on {PRONOUN} Mac from {PRONOUN} {CONTROLLER} to "(?P<text>[^"]+)"'))
def ask_from_controller(world: World, name: str, text: str) -> None:
    _controller(world, name).start_turn(_host(world), text)


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} {CONTROLLER} asks (?P<name>\w+) "(?P<copy_title>[^"]+)" with "(?P<copy_body>[^"]+)"'
)))
def controller_shows_approval(world: World, ctx: ScenarioContext, name: str, copy_title: str, copy_body: str) -> None:
    ctx.approval = _controller(world, name).wait_for_approval(_APPROVAL_KINDS[copy_title])
    expected = (copy_title, copy_body.replace(PROJECT_FOLDER, str(world.mac().project_folder)))
    assert (ctx.approval.screen.title, ctx.approval.screen.body) == expected, ctx.approval.screen


@when(parsers.re(rf"(?P<name>\w+) approves it on {PRONOUN} {CONTROLLER}"))
def approve_on_controller(world: World, ctx: ScenarioContext, name: str) -> None:
    assert ctx.approval is not None, "the MacBook Air has shown no approval to decide on"
    _controller(world, name).decide(ctx.approval, "accept")


# ------------------------------------------------------------------------------------------------------ what it shows


@then(parsers.re(quotes_copy(rf'{PRONOUN} {CONTROLLER} lists {PRONOUN} Mac as "(?P<copy>[^"]+)"')))
def controller_lists_host(world: World, copy: str) -> None:
    rows = {row.name: row.presence for row in _controller(world).hosts()}
    assert rows.get(_host(world)) == copy, rows


@then(parsers.re(quotes_copy(rf'{PRONOUN} {CONTROLLER} shows {PRONOUN} Mac "(?P<copy>[^"]+)" at once')))
def controller_shows_presence(world: World, copy: str) -> None:
    # "At once": no time passes in the world; the relay's word on the host reaches the open connection.
    assert _controller(world).presence(_host(world), _PRESENCE[copy]) == copy


@then(parsers.re(rf"{PRONOUN} {CONTROLLER} is connected to {PRONOUN} Mac and lists its threads"))
def controller_connected(world: World) -> None:
    controller, host = _controller(world), _host(world)
    screen = controller.screen(host)
    assert screen == type(screen)(messages.CONTROL_CONNECTED.format(server_name=host)), screen
    listed = world.mac().request("thread/list", {})["data"]
    assert [t["id"] for t in controller.threads(host)] == [t["id"] for t in listed]


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} {CONTROLLER} says "(?P<copy_title>[^"]+)" and "(?P<copy_body>[^"]+)" for {PRONOUN} Mac'
)))
def controller_says(world: World, copy_title: str, copy_body: str) -> None:
    screen = _controller(world).screen(_host(world))
    assert (screen.status, screen.message) == (_filled(world, copy_title), _filled(world, copy_body)), screen


@then(parsers.re(quotes_copy(rf'{PRONOUN} {CONTROLLER} shows "(?P<copy>[^"]+)" for {PRONOUN} Mac, and nothing more')))
def controller_stays_grey(world: World, copy: str) -> None:
    screen = _controller(world).screen(_host(world))
    assert (screen.status, screen.message) == (copy, None), screen


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} {CONTROLLER} ends (?:connected to {PRONOUN} Mac|on "(?P<copy>[^"]+)")'
)))
def controller_ends(world: World, copy: str | None) -> None:
    controller, host = _controller(world), _host(world)
    screen = controller.screen(host)
    if copy is None:
        assert screen.status == messages.CONTROL_CONNECTED.format(server_name=host), screen
    else:
        assert screen.message == _filled(world, copy), screen


@then(parsers.re(rf"{PRONOUN} {CONTROLLER} is still connecting to {PRONOUN} Mac"))
def controller_still_connecting(world: World) -> None:
    controller, host = _controller(world), _host(world)
    assert controller.opening_under_way(host), controller.app.screens.get(host)


@then(parsers.re(quotes_copy(
    rf'"(?P<copy_setting>{messages.DESKTOP_CONTROL_OTHER_DEVICES})" on {PRONOUN} Mac says "(?P<copy>[^"]+)"'
)))
def control_setting_says(ctx: ScenarioContext, copy_setting: str, copy: str) -> None:
    screen = ctx.control_screen
    assert screen is not None and screen.message == copy, screen


@then(parsers.re(rf"remote control on {PRONOUN} Mac is on and connected"))
def own_remote_control_on(world: World) -> None:
    assert world.mac().status == "connected", world.mac().status
