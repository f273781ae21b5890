"""Stories of the relay and the network between the parties: refused upgrades, closed and dropped sockets, delays, pings,
cut paths, an HTTP proxy."""

from __future__ import annotations

from simulators import messages
from simulators.daemon.profiles import Profile
from simulators.protocol.errors import ErrorCode
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import PairingOutcome
from simulators.world.relay import RelayParty

WAITING = messages.PHONE_SCREENS["waiting_for_host"]
MFA = messages.PHONE_ERRORS[ErrorCode.MFA_REQUIRED]
TOKEN_REFUSED_LINE = ("remote control websocket auth failed with HTTP 401 Unauthorized; refreshing server token "
                      "before reconnect")


def _paired(play: Play) -> PairingOutcome:
    play.ready_mac()
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone and signs in; the phone is open on her Mac.", play.phone(outcome))
    return outcome


def _phone_waits_for_errored_mac(play: Play) -> PairingOutcome:
    world = play.world
    outcome = _paired(play)
    world.mac().quit_browser()
    world.mac().sign_in(PERSON)
    play.note("She quits the browser; Codex on her Mac signs in again from the remembered browser, without MFA. The "
              "Mac leaves the relay and the backend refuses to let it back.", *play.enrollment(), play.mac())
    world.let_time_pass(120)
    # The relay's word on why the Mac left may still be on its way to the phone: look once it could have arrived.
    shown = WAITING if world.profile is Profile.LEGACY else MFA
    screen = world.phone().wait_for_screen(shown.title, shown.body)
    play.note("Two minutes later she looks at her phone.", f"Phone    {screen['title']} · {screen['body']}")
    play.record(Surface.PHONE, screen["body"], screen["title"])
    return outcome


def _server_token_refused(play: Play) -> PairingOutcome:
    world = play.world
    outcome = _paired(play)
    world.backend.relay.refuse_upgrades(RelayParty.DAEMON, 401)
    world.backend.relay.drop(RelayParty.DAEMON)
    play.note("The relay drops the Mac's connection; when the Mac comes back with its server token, the relay "
              "refuses the token (HTTP 401).")
    line = world.mac().wait_for_daemon_log("websocket auth failed with HTTP 401")
    world.mac().wait_connected()
    play.note("The Mac's daemon renews its server token and reconnects.", f"Log      {line}", play.mac())
    if line is not None:
        play.record(Surface.DAEMON_LOG, line)
    return outcome


def _proxy_breaks_websocket(play: Play) -> None:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.mac().sign_in(PERSON, remember_device=True)
    proxy = world.mac().go_through_proxy("HTTP_PROXY", breaks_websocket_upgrades=True)
    play.note(f"{PERSON}'s shell sets HTTP_PROXY to a local proxy ({proxy}) that does not let WebSocket connections "
              "through; Codex on her Mac inherits it.")
    world.mac().allow_connections(True)
    refused = world.network.proxy().wait_for_request(r"^CONNECT \S+ refused 403$")
    play.note(f'She turns on "{messages.DESKTOP_ALLOW_CONNECTIONS}". The enrollment passes through the proxy; the '
              "relay connection does not.", f"Proxy    {refused}", *play.enrollment(), play.mac())
    play.record(Surface.DESKTOP, world.mac().connections_text)
    return None


STORIES: tuple[Story, ...] = (
    Story("phone-waits-for-errored-mac", "The phone is open on the Mac when the Mac can no longer enroll: today it "
          "waits for the Mac however long; with the fix it names the Mac's cause.",
          ("openai/codex#27167", "openai/codex#24046", "openai/codex#23289", "openai/codex#22715"), Surface.PHONE,
          WAITING.body, MFA.body, _phone_waits_for_errored_mac),
    Story("server-token-refused", "The relay refuses the Mac's server token: the daemon renews it before it "
          "reconnects, as the real daemon does, in both profiles.", (), Surface.DAEMON_LOG,
          TOKEN_REFUSED_LINE, TOKEN_REFUSED_LINE, _server_token_refused),
    Story("proxy-breaks-websocket", "Codex on the Mac inherited HTTP_PROXY from the shell; the proxy carries the "
          "enrollment but refuses the relay's WebSocket, so remote control stays errored.", ("openai/codex#41549",),
          Surface.DESKTOP, messages.DESKTOP_STATUS["errored"], messages.DESKTOP_PROXY_REFUSED,
          _proxy_breaks_websocket),
)
