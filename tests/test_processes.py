"""The parties' processes over real sockets: a daemon that restarts reads its enrollment from disk, a phone app that
is killed comes back with what it stored and nothing else, a Mac that switches account leaves its old environment
(and the backend can tell the phone why), a removed phone is told so (a 403 with the backend's request id), and the
desktop remembers the phones it saw, today even once they were removed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from test_backend_relay import daemon_socket, next_of, phone, recv_close, setup
from test_backend_remote_control import Backend, with_backend

from simulators import messages
from simulators.backend import remote_control as rc
from simulators.backend.relay import CLOSE_REVOKED
from simulators.daemon.profiles import Profile
from simulators.phone.screens import FailureCopy, computer_row, last_seen
from simulators.phone.storage import PhoneStorage, StorageUnreadable, StoredConnections, StoredHost
from simulators.protocol.errors import ErrorCode
from simulators.protocol.pairing_link import PairingLink
from simulators.protocol.remote_control import parse_rfc3339
from simulators.world import World

PHONE = "Dana's phone"


# ------------------------------------------------------------------------------------------- the backend's list


@pytest.mark.parametrize("typed", [False, True], ids=["legacy", "fixed"])
def test_the_computers_list_says_online_when_last_seen_and_with_the_fix_why(typed: bool) -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        auth = {"Authorization": f"Bearer {dana.token}", "chatgpt-account-id": dana.account_id}
        async with daemon_socket(b, daemon):
            (online,) = (await b.http.get(rc.ENVIRONMENTS_PATH, headers=auth)).json()["items"]
            assert (online["environment_id"], online["online"]) == (daemon.environment_id, True)
        await b.service.wait_daemon_disconnected(daemon.environment_id)
        left = b.control.now()
        b.control.advance_clock(11 * 3600)
        (offline,) = (await b.http.get(rc.ENVIRONMENTS_PATH, headers=auth)).json()["items"]
        assert offline["online"] is False
        # Last seen when its daemon left the relay, not when the list was read.
        assert abs(parse_rfc3339(offline["last_seen_at"]) - left) <= 1
        assert offline.get("offline_reason") is None
        # The same installation now tries to enroll in another account, which is refused for MFA (#23977).
        sam = b.person(mfa=True, mfa_completed=False)
        assert (await b.enroll_raw(sam.token, sam.account_id, daemon.installation_id)).status_code == 403
        (left_behind,) = (await b.http.get(rc.ENVIRONMENTS_PATH, headers=auth)).json()["items"]
        if typed:
            assert left_behind["offline_reason"] == rc.SIGNED_IN_ELSEWHERE
        else:
            assert "offline_reason" not in left_behind
        # Another person sees none of Dana's computers.
        other = {"Authorization": f"Bearer {sam.token}", "chatgpt-account-id": sam.account_id}
        assert (await b.http.get(rc.ENVIRONMENTS_PATH, headers=other)).json() == {"items": []}
        assert (await b.http.get(rc.ENVIRONMENTS_PATH)).status_code == 401

    with_backend(body, typed_errors=typed)


# ------------------------------------------------------------------------------------------- a removed phone


@pytest.mark.parametrize("typed", [False, True], ids=["legacy", "fixed"])
def test_a_removed_phone_is_told_so_by_the_backend_and_its_owner_can_read_that(typed: bool) -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon), phone(b, dana, daemon) as p:
            path = f"wham/remote/control/environments/{daemon.environment_id}/clients/{p.client_id}"
            owner = {"Authorization": f"Bearer {dana.token}"}
            read = await b.http.get(path, headers=owner)
            assert (read.status_code, read.json()["client_id"]) == (200, p.client_id)
            assert await b.control.remove_paired_device(dana.account_id, "Dana's iPhone") == 1
            if typed:
                # The fix names the cause before the socket closes, so the phone says it was removed.
                assert (await next_of(p.ws, "error"))["code"] == ErrorCode.CLIENT_REVOKED.value
            assert await recv_close(p.ws) == CLOSE_REVOKED
            refused = await b.http.get(path, headers=owner)
            assert refused.status_code == 403
            assert refused.json()["detail"] == "Remote-control client has been revoked"
            assert refused.headers["x-request-id"]
            stranger = b.person()
            assert (await b.http.get(path, headers={"Authorization": f"Bearer {stranger.token}"})).status_code == 404
            # Nothing is left to remove under that name.
            assert await b.control.remove_paired_device(dana.account_id, "Dana's iPhone") == 0

    with_backend(body, typed_errors=typed)


def test_the_config_bundle_of_a_workspace_is_empty_and_needs_a_sign_in() -> None:
    async def body(b: Backend) -> None:
        dana = b.person()
        answered = await b.http.get(rc.CONFIG_BUNDLE_PATH, headers={"Authorization": f"Bearer {dana.token}"})
        assert (answered.status_code, answered.json()) == (200, {})
        assert (await b.http.get(rc.CONFIG_BUNDLE_PATH)).status_code == 401

    with_backend(body)


# ------------------------------------------------------------------------------------------- what the phone keeps


def _link() -> PairingLink:
    return PairingLink(origin="http://127.0.0.1:9", pairing_code="c" * 32, environment_id="env_1",
                       server_name="Dana's MacBook Pro", expires_at=2_000_000_000)


def test_the_phone_keeps_its_key_and_connections_in_files_only_it_can_read(tmp_path: Path) -> None:
    storage = PhoneStorage(tmp_path / "phone")
    key = storage.device_key()
    assert PhoneStorage(tmp_path / "phone").device_key().public_key_base64 == key.public_key_base64
    assert storage.connections() == StoredConnections((), None)
    host = StoredHost("Dana's MacBook Pro", _link(), {"access_token": "a"}, {"client_id": "cli_1"},
                      ({"id": "thr_1", "preview": "Fix the tests"},))
    storage.keep_connections(StoredConnections((host,), "Dana's MacBook Pro"))
    assert PhoneStorage(tmp_path / "phone").connections() == StoredConnections((host,), "Dana's MacBook Pro")
    for name in ("keychain.pem", "connections.json"):
        assert stat.S_IMODE((tmp_path / "phone" / name).stat().st_mode) == 0o600
    storage.erase()
    assert not (tmp_path / "phone").exists()


@pytest.mark.parametrize("content", ["not json", json.dumps({"version": 9, "hosts": []}),
                                     json.dumps({"version": 1, "hosts": [{"name": "x", "link": "nope"}]})])
def test_stored_connections_this_app_did_not_write_are_a_typed_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "connections.json").write_text(content)
    with pytest.raises(StorageUnreadable):
        PhoneStorage(tmp_path).connections()


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "last seen just now"), (59, "last seen just now"), (60, "last seen ~1 minute ago"),
    (59 * 60, "last seen ~59 minutes ago"), (3600, "last seen ~1 hour ago"), (11 * 3600 + 59, "last seen ~11 hours ago"),
    (47 * 3600, "last seen ~1 day ago"), (3 * 86400, "last seen ~3 days ago"), (-5, "last seen just now"),
])
def test_last_seen_is_worded_in_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert last_seen(seconds) == text


def test_why_a_computer_is_offline_shows_only_with_the_fix() -> None:
    row = {"online": False, "last_seen_at": 0.0, "offline_reason": "signed_in_elsewhere", "now": 11 * 3600.0}
    assert computer_row("Mac", **row, copy=FailureCopy.STAGE_ONLY).detail == "last seen ~11 hours ago"
    assert computer_row("Mac", **row, copy=FailureCopy.NAMES_CAUSE).detail == messages.PHONE_SIGNED_IN_ELSEWHERE
    assert computer_row("Mac", **{**row, "online": True}).status == messages.PHONE_CONNECTION_ONLINE


# ------------------------------------------------------------------------------------------- whole processes


def _paired_world(tmp_path: Path, profile: Profile) -> World:
    world = World(profile=profile, root=tmp_path, seed=11).start()
    world.people.create("Dana", mfa=True)
    world.mac().sign_in("Dana")
    world.mac().allow_connections(True)
    qr = world.mac().show_pairing_qr()
    assert world.phone(PHONE).pair("Dana", getattr(qr, "png_path", None)).outcome == "paired"
    return world


def test_a_restarted_mock_daemon_is_a_new_process_that_reads_its_enrollment_from_disk(tmp_path: Path) -> None:
    world = _paired_world(tmp_path, Profile.FIXED)
    try:
        mac = world.mac()
        before = (mac.daemon.controller, mac.environment_id, mac.enrollment_rows())
        assert mac.restart_daemon() == "connected"
        assert mac.daemon.controller is not before[0]
        assert (mac.environment_id, mac.enrollment_rows()) == before[1:]
        renewals = [e for e in world.backend.traffic() if e["url"].endswith(("/server/enroll", "/server/refresh"))]
        assert [e["url"].rsplit("/", 1)[1] for e in renewals] == ["enroll", "refresh"]
    finally:
        world.stop()


def test_a_killed_phone_app_comes_back_with_what_it_stored_and_nothing_else(tmp_path: Path) -> None:
    world = _paired_world(tmp_path, Profile.FIXED)
    try:
        driver = world.phone(PHONE)
        old = driver.app
        client_id = old.session.claim.client_id  # type: ignore[union-attr]
        outcome = driver.relaunch()
        assert outcome.outcome == "paired", outcome
        new = driver.app
        assert new is not old and new.device_key.public_key_base64 == old.device_key.public_key_base64
        assert new.session.claim is not None and new.session.claim.client_id == client_id
        assert new.sign_in_pages == () and new.computers == ()
        # The old app's socket ended with the process (the backend saw it go), and the new one is served.
        service = world.backend.remote_control
        world._runner.run(service.wait_event("phone_disconnected", client_id=client_id))
        world._runner.run(service.relay.events.wait_for(lambda: len(service.relay.streams_of(client_id)) == 1))
    finally:
        world.stop()
    assert not (tmp_path / "phones").exists() or not any((tmp_path / "phones").iterdir())


@pytest.mark.parametrize("profile", [Profile.LEGACY, Profile.FIXED])
def test_the_desktop_remembers_a_removed_phone_only_today(tmp_path: Path, profile: Profile) -> None:
    world = _paired_world(tmp_path, profile)
    try:
        mac = world.mac()
        assert mac.phones() == [PHONE]
        mac.remove_phone(PHONE)
        assert mac.phones() == []
        remembered = mac.desktop.known_phones()
        qr = mac.show_pairing_qr()
        if profile is Profile.LEGACY:
            assert [(p.name, p.removed) for p in remembered] == [(PHONE, False)]
            assert getattr(qr, "prompt", None) == messages.DESKTOP_APPROVE_ON_MOBILE
            assert mac.desktop_log() == ["remote-control phone check failed: HTTP 403: "
                                         "Remote-control client has been revoked"]
        else:
            assert [(p.name, p.removed) for p in remembered] == [(PHONE, True)]
            assert getattr(qr, "prompt", None) == messages.DESKTOP_REMEMBERED_PHONE_REMOVED.format(device=PHONE)
            assert mac.desktop.known_phones() == []  # said once, then forgotten
    finally:
        world.stop()


def test_signing_out_keeps_the_enrollment_on_disk_and_today_is_errored(tmp_path: Path) -> None:
    world = _paired_world(tmp_path, Profile.LEGACY)
    try:
        rows = world.mac().enrollment_rows()
        assert world.mac().sign_out() == "errored"  # held to the real 0.169.0, which retries without a sign-in
        assert world.mac().enrollment_rows() == rows
    finally:
        world.stop()
