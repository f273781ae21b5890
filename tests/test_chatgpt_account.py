"""The Mac's ChatGPT account as app-server clients read it, on both daemons: `account/read` carries the workspace
routing the daemon discovered at the backend, and fails when that discovery fails; `account/rateLimits/read` asks
the backend for usage, which pairsim's backend does not serve. Plus the replay's pure parts: carrying ids over, and
comparing maps keyed by ids."""

from __future__ import annotations

import pytest

from simulators.backend.faults import path_key
from simulators.protocol.traffic import differences, shape_of
from simulators.real.app_server_client import AppServerRpcError
from simulators.tui.replay import learn_ids, put_live_values
from simulators.world import World

ACCOUNTS_CHECK = "/backend-api/wham/accounts/check"


@pytest.mark.daemon
def test_account_read_carries_the_workspace_routing_the_backend_named(world: World) -> None:
    world.people.create("Dana", mfa=False)
    world.mac().sign_in("Dana")
    read = world.mac().request("account/read")
    assert read["account"] == {"type": "chatgpt", "email": world.people.get("Dana").email, "planType": "plus",
                               "workspaceName": None}
    routing = read["workspaceRouting"]
    assert routing["backendOrigin"].startswith("https://127.0.0.1:"), routing
    assert routing["accountRoutingOverride"] == "NO_CONSTRAINT"
    assert routing["chatgptAccountId"].startswith("acct-"), routing


@pytest.mark.daemon
def test_rate_limits_are_asked_of_the_backend_which_serves_no_usage(world: World) -> None:
    world.people.create("Dana", mfa=False)
    world.mac().sign_in("Dana")
    with pytest.raises(AppServerRpcError) as failed:
        world.mac().request("account/rateLimits/read", {"supportsLunaReserve": True})
    assert failed.value.rpc_code == -32603
    assert failed.value.message.startswith("failed to fetch codex rate limits: GET http://127.0.0.1:")
    assert failed.value.message.endswith("/backend-api/wham/usage failed: 404 Not Found; "
                                         "content-type=text/plain; charset=utf-8; body=404: Not Found")


def test_a_failed_discovery_fails_account_read_on_the_mock(world: World) -> None:
    world.people.create("Dana", mfa=False)
    world.mac().sign_in("Dana")
    world.backend.answer_next(path_key(ACCOUNTS_CHECK), 404, "404: Not Found", times=None,
                              content_type="text/plain")
    with pytest.raises(AppServerRpcError) as failed:
        world.mac().request("account/read")
    assert (failed.value.rpc_code, failed.value.message) == (-32603, "workspace routing discovery failed")


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
