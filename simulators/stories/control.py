"""Stories of one Mac controlling another through the relay (Settings › Connections › Control other devices): a
host listed online that cannot be opened (openai/codex#23933, #23915), a controller whose relay connection never
opens while the phone reaches the host (#27231, #34010), a Mac added again after it was removed (#26193), every
message failing after a restart (#41398), and "Control other devices" failing after remote control was turned on
(#35351). The host is the world's first Mac, so each story plays with the real daemon as the host too."""

from __future__ import annotations

from simulators import messages
from simulators.controller.app import ControlScreen
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import World
from simulators.world.backend import Operation
from simulators.world.controllers import ControllingMacDriver

CONTROLLER = f"{PERSON}'s MacBook Air"
HOST = "Dana's MacBook Pro"  # the first Mac's name on the mock daemon, which the fixed texts name
DAY_AND_AN_HOUR = 25 * 3600.0
HANDSHAKE_SECONDS = 30.0
# How the report writes the host's id (openai/codex#41398 quotes a real one).
HOST_ID = "<id>"


def _host(world: World) -> str:
    return world.mac().server_name


def _show_code(play: Play) -> str:
    code = play.world.mac().request("remoteControl/pairing/start", {"manualCode": True})["manualPairingCode"]
    play.note("Her Mac shows a code to type.")
    return str(code)


def _controller(play: Play) -> ControllingMacDriver:
    """Her Mac accepts connections; her MacBook Air, signed in to the same account, lists it."""
    play.ready_mac()
    controller = play.world.controlling_mac(CONTROLLER)
    controller.sign_in(PERSON)
    rows = controller.hosts()
    play.note(f"Codex on her MacBook Air signs in to the same ChatGPT account; Settings › Connections › "
              f"{messages.DESKTOP_CONTROL_OTHER_DEVICES} lists her Mac.",
              *(f"Air      {row.name} · {row.presence}" for row in rows))
    return controller


def _paired(play: Play) -> ControllingMacDriver:
    controller = _controller(play)
    shown = controller.pair(_host(play.world), _show_code(play))
    play.note("She types the code on her MacBook Air.", _line(shown))
    return controller


def _line(shown: ControlScreen) -> str:
    return f"Air      {shown.status}" + ("" if shown.message is None else f" · {shown.message}")


def _record(play: Play, shown: ControlScreen) -> None:
    play.record(Surface.DESKTOP, shown.message or shown.status, shown.status)


def _pairing_expired(play: Play) -> None:
    world = play.world
    controller = _paired(play)
    controller.close_host(_host(world))
    world.let_time_pass(DAY_AND_AN_HOUR)
    rows = controller.hosts()
    shown = controller.open(_host(world))
    play.note("She closes her Mac's window; a day later she opens her Mac on her MacBook Air again. Her Mac is "
              "listed online; the relay no longer accepts the MacBook Air's pairing.",
              *(f"Air      {row.name} · {row.presence}" for row in rows), _line(shown))
    _record(play, shown)


def _handshake_held(play: Play) -> None:
    world = play.world
    controller = _controller(play)
    play.note("Her Mac shows a pairing code.", play.show_code())
    outcome = play.scan()
    play.note("She scans it with her phone: the phone reaches her Mac.", play.phone(outcome))
    controller.stall_websocket_upgrades()
    code = _show_code(play)
    shown = controller.pair(_host(world), code)
    play.note("Something on her MacBook Air's network holds WebSocket connections. She types the code on her "
              "MacBook Air: the pairing passes, the relay connection does not open.", _line(shown))
    world.let_time_pass(HANDSHAKE_SECONDS)
    shown = controller.screen(_host(world))
    play.note("Thirty seconds later.", _line(shown))
    _record(play, shown)


def _added_again(play: Play) -> None:
    world = play.world
    controller = _paired(play)
    world.mac().remove_phone(CONTROLLER)
    play.note("She removes her MacBook Air in Settings › Connections on her Mac.")
    shown = controller.pair(_host(world), _show_code(play))
    play.note("She adds it again: a new code to type on her Mac, typed on her MacBook Air.", _line(shown))
    _record(play, shown)


def _restarted(play: Play) -> None:
    world = play.world
    controller = _paired(play)
    controller.relaunch()
    shown = controller.open(_host(world))
    play.note("Codex on her MacBook Air quits and starts again; she opens her Mac. Both Macs still hold the "
              "pairing.", _line(shown))
    environment_id = world.mac().environment_id or ""
    _record(play, ControlScreen(shown.status, None if shown.message is None else
                                shown.message.replace(environment_id, HOST_ID)))


def _control_turned_on(play: Play) -> None:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.mac().sign_in(PERSON, remember_device=True)
    play.note(f"{PERSON} has a ChatGPT account with multi-factor authentication; Codex on her Mac is signed in.")
    world.backend.answer_next(Operation.DEVICE_LIST, 503)
    controller = world.controlling_mac(world.mac().name)
    controller.sign_in(PERSON)
    shown = controller.turn_on()
    play.note(f'She turns on "{messages.DESKTOP_CONTROL_OTHER_DEVICES}" on her Mac: remote control turns on; the '
              "ChatGPT service answers the list of her devices with HTTP 503.", play.mac(), _line(shown))
    _record(play, shown)


STORIES: tuple[Story, ...] = (
    Story("controller-pairing-expired", "Her Mac is listed online on her MacBook Air but cannot be opened: the "
          "relay no longer accepts the MacBook Air's pairing; today the row stays grey.",
          ("openai/codex#23933", "openai/codex#23915"), Surface.DESKTOP,
          messages.CONTROL_LEGACY["stale_enrollment"],
          messages.CONTROL_CAUSES["pairing_expired"].format(server_name=HOST), _pairing_expired),
    Story("controller-handshake-held", "Her phone reaches her Mac; her MacBook Air's relay connection never opens, "
          "because something on its network holds WebSocket connections.",
          ("openai/codex#27231", "openai/codex#34010"), Surface.DESKTOP,
          messages.CONTROL_LEGACY["handshake_timeout"],
          messages.CONTROL_CAUSES["handshake_timeout"].format(server_name=HOST), _handshake_held),
    Story("controller-added-again", "She removes her MacBook Air on her Mac and adds it again: today's desktop "
          "pairs under the removed id and fails; the fix pairs it as a new device.", ("openai/codex#26193",),
          Surface.DESKTOP, messages.CONTROL_LEGACY["update_failed"],
          messages.CONTROL_CONNECTED.format(server_name=HOST), _added_again),
    Story("controller-restarted", "After Codex restarts on her MacBook Air, today's desktop has no app-server "
          "manager for her Mac and every message fails; the fix registers one for each stored pairing.",
          ("openai/codex#41398",), Surface.DESKTOP, messages.CONTROL_LEGACY["no_manager"].format(environment_id=HOST_ID),
          messages.CONTROL_CONNECTED.format(server_name=HOST),
          _restarted),
    Story("control-other-devices-state", '"Control other devices" after remote control turned on: the list of '
          "devices did not load, and today's desktop words it as the whole switch failing.",
          ("openai/codex#35351",), Surface.DESKTOP, messages.CONTROL_LEGACY["state_failed"],
          messages.CONTROL_CAUSES["hosts_unavailable"].format(http_status="503"), _control_turned_on),
)
