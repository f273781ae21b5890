"""Things that go wrong on purpose: time passing, and failures the backend has never been seen to send."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pytest_bdd import given, when

if TYPE_CHECKING:
    from simulators.world import World

# A cause no phone release knows: the phone must fall back to the generic copy, and only here.
UNMAPPED_STATUS = 422
UNMAPPED_BODY = json.dumps({"detail": "Environment snapshot is stale", "code": "environment_snapshot_stale"})


@given("the pairing code expires before anyone scans it")
@when("the pairing code expires before anyone scans it")
def expire_codes(world: World) -> None:
    world.expire_pairing_codes()


@given("the backend fails the next pairing claim with an error no phone knows")
@when("the backend fails the next pairing claim with an error no phone knows")
def unmapped_claim_failure(world: World) -> None:
    world.inject_claim_failure(UNMAPPED_STATUS, UNMAPPED_BODY)
