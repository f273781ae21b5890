"""Steps: the relay and the network between the parties: refused upgrades, closed and dropped sockets, delays, pings,
cut paths, an HTTP proxy. Each is one line of product or operator language calling one driver method; the README's
step list shows each with an example.

A party is named as a person says it: "Dana's Mac" (its daemon's relay socket, its path to the backend) or "Dana's
phone" (its client socket, the phones' path). Durations read as people say them: "30 seconds", "2 minutes", "an
hour".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, then, when

from simulators.backend.relay_faults import RelayParty
from simulators.world.backend import Operation
from simulators.world.network import PHONES
from simulators.world.time import seconds_in
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
# "Dana's MacBook Air" is a Mac that controls her Mac (features/remote_control/control_other_devices.feature): a
# client of the relay, as a phone is, on its own network path.
PARTY = r"(?P<party>\w+'s (?:Mac|phone|MacBook Air))"
DURATION = r"(?P<duration>an? (?:second|minute|hour)|\d+ (?:seconds?|minutes?|hours?))"


def relay_party(party: str) -> RelayParty:
    return RelayParty.DAEMON if party.endswith("Mac") else RelayParty.PHONE


# ------------------------------------------------------------------------------------------------------ the relay


@given(parsers.re(rf"the relay refuses {PARTY}'s next (?:(?P<times>\d+) )?connections? with HTTP (?P<status>\d{{3}})"
       r'(?: and the body "(?P<body>[^"]*)")?'))
@when(parsers.re(rf"the relay refuses {PARTY}'s next (?:(?P<times>\d+) )?connections? with HTTP (?P<status>\d{{3}})"
       r'(?: and the body "(?P<body>[^"]*)")?'))
def relay_refuses(world: World, party: str, status: str, times: str | None, body: str | None) -> None:
    world.backend.relay.refuse_upgrades(relay_party(party), int(status), body or "", times=int(times or 1))


@given(parsers.re(rf"the relay closes {PARTY}'s connection with code (?P<code>\d{{4}})"
       r"(?: after (?P<messages>\d+) messages?)?"))
@when(parsers.re(rf"the relay closes {PARTY}'s connection with code (?P<code>\d{{4}})"
       r"(?: after (?P<messages>\d+) messages?)?"))
def relay_closes(world: World, party: str, code: str, messages: str | None) -> None:
    world.backend.relay.close_after(relay_party(party), int(messages or 0), int(code))


@given(parsers.re(rf"the relay drops {PARTY}'s connection"))
@when(parsers.re(rf"the relay drops {PARTY}'s connection"))
def relay_drops(world: World, party: str) -> None:
    world.backend.relay.drop(relay_party(party))


@given(parsers.re(rf"the relay delays every message to {PARTY} by {DURATION}"))
@when(parsers.re(rf"the relay delays every message to {PARTY} by {DURATION}"))
def relay_delays(world: World, party: str, duration: str) -> None:
    world.backend.relay.delay(relay_party(party), seconds_in(duration))


@given(parsers.re(rf"the relay stops answering {PARTY}'s pings"))
@when(parsers.re(rf"the relay stops answering {PARTY}'s pings"))
def relay_ignores_pings(world: World, party: str) -> None:
    world.backend.relay.stop_answering_pings(relay_party(party))


# ------------------------------------------------------------------------------------------------------ the network


@given(parsers.re(rf"{PARTY} loses its internet connection for {DURATION}"))
@when(parsers.re(rf"{PARTY} loses its internet connection for {DURATION}"))
def party_offline_for(world: World, party: str, duration: str) -> None:
    if party.endswith("Mac"):
        world.mac().offline(for_seconds=seconds_in(duration))
    elif party.endswith("MacBook Air"):
        world.controlling_mac(party).offline(seconds_in(duration))
    else:
        world.network.cut(PHONES, for_seconds=seconds_in(duration))


@given(parsers.re(
    r"Codex on (?P<name>\w+)'s Mac inherited (?P<variable>HTTP_PROXY|HTTPS_PROXY|ALL_PROXY|http_proxy|https_proxy|"
    rf"all_proxy) from {PRONOUN} shell, pointing at a proxy that (?P<does>breaks WebSocket upgrades|carries everything)"
))
def mac_goes_through_proxy(world: World, variable: str, does: str) -> None:
    world.mac().go_through_proxy(variable, breaks_websocket_upgrades=does == "breaks WebSocket upgrades")


@then(parsers.re(rf"the proxy carried {PRONOUN} Mac's enrollment and refused its relay connection"))
def proxy_carried_and_refused(world: World) -> None:
    proxy = world.network.proxy()
    assert proxy.wait_for_request(r"^POST \S+/wham/remote/control/server/(?:enroll|refresh) forwarded$"), proxy.requests
    assert proxy.wait_for_request(r"^CONNECT \S+ refused 403$"), proxy.requests


@then(parsers.re(rf"the proxy carried {PRONOUN} Mac's relay connection"))
def proxy_carried_relay(world: World) -> None:
    proxy = world.network.proxy()
    assert proxy.wait_for_request(r"^CONNECT \S+ forwarded$"), proxy.requests


# ------------------------------------------------------------------------------------------------------ what they did


@then(parsers.re(rf"{PRONOUN} Mac (?:connects to the relay again|is connected to the relay)"))
def mac_connected(world: World) -> None:
    assert world.mac().wait_connected() == "connected"


@then(parsers.re(rf'{PRONOUN} Mac\'s daemon logs "(?P<line>[^"]+)"'))
def daemon_logs(world: World, line: str) -> None:
    found = world.mac().wait_for_daemon_log(re.escape(line))
    assert found is not None, f"the daemon logged: {world.mac().daemon_log()}"


@then(parsers.re(quotes_copy(
    rf'{PRONOUN} phone (?:still shows|ends up showing) "(?P<copy_title>[^"]+)" and says "(?P<copy_body>[^"]+)"'
)))
def phone_ends_up_showing(world: World, ctx: ScenarioContext, copy_title: str, copy_body: str) -> None:
    screen = world.phone(ctx.last_phone()).wait_for_screen(copy_title, copy_body)
    assert (screen["title"], screen["body"]) == (copy_title, copy_body), screen


# ------------------------------------------------------------------------------------------------------ the backend's side

REFRESH_PATH = "wham/remote/control/server/refresh"
ENROLL_PATH = "wham/remote/control/server/enroll"


def _answers(world: World, path: str) -> list[int]:
    """The statuses the backend answered to POSTs of `path`, oldest first, as its traffic log recorded them."""
    return [entry["status"] for entry in world.backend.traffic()
            if entry.get("method") == "POST" and str(entry.get("url", "")).split("?")[0].endswith(path)]


@given(parsers.re(rf"the backend answers {PRONOUN} Mac's next server-token renewal with HTTP (?P<status>\d{{3}})"))
def refresh_answered_with(world: World, status: str) -> None:
    world.backend.answer_next(Operation.REFRESH, int(status), {"detail": "Not Found" if status == "404" else "Error"})


@then(parsers.re(rf"the backend renewed {PRONOUN} Mac's server token"))
def backend_renewed_token(world: World) -> None:
    world.mac().wait_connected()
    assert 200 in _answers(world, REFRESH_PATH), _answers(world, REFRESH_PATH)


@then(parsers.re(rf"the backend enrolled {PRONOUN} Mac again"))
def backend_enrolled_again(world: World) -> None:
    world.mac().wait_connected()
    answered = _answers(world, ENROLL_PATH)
    assert answered.count(200) >= 2, f"enrollments answered: {answered}; renewals: {_answers(world, REFRESH_PATH)}"


@then(parsers.re(rf"{PRONOUN} phone carries on with {PRONOUN} Mac"))
def phone_live_again(world: World, ctx: ScenarioContext) -> None:
    phone = world.phone(ctx.last_phone())
    assert phone.wait_live(), f"the phone is still on {phone.view().screen}"
