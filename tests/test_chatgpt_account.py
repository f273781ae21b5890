"""The Mac's ChatGPT account as app-server clients read it, on both daemons: `account/read` carries the workspace
routing the daemon discovered at the backend, and fails when that discovery fails; `account/rateLimits/read` asks
the backend for usage, which pairsim's backend does not serve. Plus the replay's pure parts: carrying ids over, and
comparing maps keyed by ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.backend.faults import path_key
from simulators.protocol.traffic import differences, shape_of
from simulators.real.app_server_client import AppServerRpcError
from simulators.real.target import DaemonKind
from simulators.tui.replay import learn_ids, put_live_values
from simulators.world import World

ACCOUNTS_CHECK = "/backend-api/wham/accounts/check"


@pytest.fixture
def signed_in(tmp_path: Path, daemon_kind: DaemonKind) -> Iterator[World]:
    """A world on the daemon `--daemon` names (for `daemon`-marked tests; the mock otherwise), Dana signed in with
    ChatGPT on the Mac."""
    world = World(daemon=daemon_kind.value, threads=0, root=tmp_path).start()
    try:
        world.people.create("Dana", mfa=False)
        world.mac().sign_in("Dana")
        yield world
    finally:
        world.stop()


@pytest.mark.daemon
def test_account_read_carries_the_workspace_routing_the_backend_named(signed_in: World) -> None:
    world = signed_in
    read = world.mac().request("account/read")
    assert read["account"] == {"type": "chatgpt", "email": world.people.get("Dana").email, "planType": "plus",
                               "workspaceName": None}
    routing = read["workspaceRouting"]
    assert routing["backendOrigin"].startswith("https://127.0.0.1:"), routing
    assert routing["accountRoutingOverride"] == "NO_CONSTRAINT"
    assert routing["chatgptAccountId"].startswith("acct-"), routing


@pytest.mark.daemon
def test_rate_limits_are_asked_of_the_backend_which_serves_no_usage(signed_in: World) -> None:
    world = signed_in
    with pytest.raises(AppServerRpcError) as failed:
        world.mac().request("account/rateLimits/read", {"supportsLunaReserve": True})
    assert failed.value.rpc_code == -32603
    assert failed.value.message.startswith("failed to fetch codex rate limits: GET http://127.0.0.1:")
    assert failed.value.message.endswith("/backend-api/wham/usage failed: 404 Not Found; "
                                         "content-type=text/plain; charset=utf-8; body=404: Not Found")


@pytest.mark.daemon
def test_the_routing_found_once_serves_later_reads(signed_in: World) -> None:
    first = signed_in.mac().request("account/read")["workspaceRouting"]
    signed_in.backend.answer_next(path_key(ACCOUNTS_CHECK), 404, "404: Not Found", times=None,
                                  content_type="text/plain")
    assert signed_in.mac().request("account/read")["workspaceRouting"] == first


def test_a_failed_discovery_fails_account_read_on_the_mock(tmp_path: Path) -> None:
    # The words the real daemon answered with against a backend without the route (docs/protocol.md §1.6a); on
    # the real daemon the first discovery happens inside the sign-in, out of a test's reach.
    world = World(daemon="mock", threads=0, root=tmp_path).start()
    try:
        world.people.create("Dana", mfa=False)
        world.backend.answer_next(path_key(ACCOUNTS_CHECK), 404, "404: Not Found", times=None,
                                  content_type="text/plain")
        world.mac().sign_in("Dana")
        with pytest.raises(AppServerRpcError) as failed:
            world.mac().request("account/read")
        assert (failed.value.rpc_code, failed.value.message) == (-32603, "workspace routing discovery failed")
    finally:
        world.stop()


def test_the_replay_carries_the_live_daemons_ids_into_later_client_frames() -> None:
    recorded = {"data": [{"id": "01a23bf7-4e06-7b21-9bee-18ebdc94dd4c", "preview": "hi"}]}
    live = {"data": [{"id": "1de9ea66-70d3-4a1f-8735-df5ef7697fb9", "preview": "hi"}]}
    learned: dict[str, str] = {}
    learn_ids(recorded, live, learned)
    assert learned == {"01a23bf7-4e06-7b21-9bee-18ebdc94dd4c": "1de9ea66-70d3-4a1f-8735-df5ef7697fb9"}
    request = {"id": "ask-1", "method": "thread/read", "params": {"threadId": "01a23bf7-4e06-7b21-9bee-18ebdc94dd4c"}}
    sent = put_live_values(request, learned, {})
    assert sent["params"]["threadId"] == "1de9ea66-70d3-4a1f-8735-df5ef7697fb9"
    assert sent["id"] == "ask-1"  # only what the daemon made up changes


def test_maps_keyed_by_ids_compare_by_their_values_shape() -> None:
    state = {"firstUnread": {"type": "turn", "turnId": "t"}, "revision": "r"}
    recorded = shape_of({"readStates": {"01a23bf7-4e06-7b21-9bee-18ebdc94dd4c": state}})
    assert shape_of({"readStates": {"1de9ea66-70d3-4a1f-8735-df5ef7697fb9": state}}) == recorded
    changed = shape_of({"readStates": {"1de9ea66-70d3-4a1f-8735-df5ef7697fb9": {**state, "revision": 3}}})
    assert list(differences(recorded, changed)) == ['$.readStates.<id>.revision: expected "string", got "number"']
    assert list(differences(recorded, shape_of({"readStates": {}})))  # an empty map is not a map with entries
