"""Things that go wrong on purpose: time passing, a slow or failing backend, a relay that mangles a message, and
failures the backend has never been seen to send."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, when

from simulators.world.backend import Operation

if TYPE_CHECKING:
    from simulators.world import World

# A cause no phone release knows: the phone must fall back to the generic copy, and only here.
UNMAPPED_STATUS = 422
UNMAPPED_BODY = json.dumps({"detail": "Environment snapshot is stale", "code": "environment_snapshot_stale"})


@given("the pairing code expires before anyone scans it")
@when("the pairing code expires before anyone scans it")
def expire_codes(world: World) -> None:
    world.backend.expire_pairing_codes()


@given("the backend fails the next pairing claim with an error no phone knows")
@when("the backend fails the next pairing claim with an error no phone knows")
def unmapped_claim_failure(world: World) -> None:
    world.backend.answer_next(Operation.CLAIM, UNMAPPED_STATUS, UNMAPPED_BODY)


@given("the ChatGPT service is slow to answer the Mac's enrollment")
def enrollment_held(world: World) -> None:
    world.backend.hold_enrollments()


@when("the ChatGPT service answers the Mac's enrollment")
def enrollment_answered(world: World) -> None:
    world.answer_held_enrollments()


@given("the ChatGPT service fails the Mac's next enrollment with a server error")
def enrollment_server_error(world: World) -> None:
    world.backend.fail_next_enrollments("server_error")


@given("the Codex connection service cuts its next message to a phone short")
def garbled_relay_message(world: World) -> None:
    world.backend.garble_next_relay_message()


@when(parsers.re(r"(?P<amount>a minute|\d+ minutes|an hour|\d+ hours) pass(?:es)?"))
def time_passes(world: World, amount: str) -> None:
    count = 1 if amount.split()[0] in ("a", "an") else int(amount.split()[0])
    world.time.passes(count * (3600.0 if "hour" in amount else 60.0))
