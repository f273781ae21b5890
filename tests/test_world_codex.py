"""World(daemon="codex"): the desktop app in front of the real `codex app-server`, enrolling with our backend.

The real-daemon tests carry the `real_daemon` marker (deselected under `--daemon mock`; run with `--daemon codex`).
"""

from __future__ import annotations

import json

import pytest

from simulators.real.remote_control import _failure
from simulators.world import World

WARN_LINE = (
    "2026-11-21T15:26:48.939973Z  WARN codex_app_server_transport::transport::remote_control::websocket: failed to "
    "connect to app-server remote control websocket websocket_url=ws://127.0.0.1:1/backend-api/wham/remote/control/"
    "server installation_id=x server_name=vm error=remote control server refresh failed at `http://127.0.0.1:1/"
    "backend-api/wham/remote/control/server/refresh`: HTTP 403 Forbidden, request-id: req_1, cf-ray: <none>, body: "
    '{"detail":"Multi-factor authentication required"} error_kind=Other reconnect_attempt=2'
)


def test_an_unknown_daemon_target_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of mock, codex"):
        World(daemon="bogus")


def test_the_failure_line_is_cut_out_of_the_daemons_warn_line() -> None:
    assert _failure(WARN_LINE) == (
        "remote control server refresh failed at `http://127.0.0.1:1/backend-api/wham/remote/control/server/"
        'refresh`: HTTP 403 Forbidden, request-id: req_1, cf-ray: <none>, body: {"detail":"Multi-factor '
        'authentication required"}'
    )


@pytest.mark.real_daemon
def test_the_real_daemon_enrolls_pairs_and_then_errors_without_mfa() -> None:
    with World(daemon="codex", profile="legacy") as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana", remember_device=True)
        assert world.mac().status == "disabled"
        world.mac().allow_connections(True)
        assert world.mac().status == "connected"
        (row,) = world.mac().enrollment_rows()
        assert row["account_id"] == world.person("Dana").account_id
        assert row["environment_id"] == world.mac().environment_id
        assert row["remote_control_enabled"] == 1

        started = world.mac().request("remoteControl/pairing/start", {})
        assert started["manualPairingCode"] is None and started["environmentId"] == row["environment_id"]

        world.mac().quit_browser()
        world.mac().sign_in("Dana")  # the remembered browser skips the authenticator: no MFA assurance
        assert "mfa" not in world.mac().sign_in_pages
        assert world.mac().status == "errored"
        status, body = world.mac().last_enrollment_response() or (0, "")
        assert (status, json.loads(body)) == (403, {"detail": "Multi-factor authentication required"})
        assert world.mac().wait_for_daemon_log(r"HTTP 403 Forbidden") is not None
        # Today's product keeps the persisted enrollment after a refused renewal (the mock deletes it).
        assert len(world.mac().enrollment_rows()) == 1
