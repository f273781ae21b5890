"""One person, two Macs, one phone: `World.add_mac` and the phone switching between the Macs it paired with.

Everything runs over real sockets: two mock daemons, each enrolled with the one backend and reached through its
relay, and one phone holding a session with each.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from simulators import messages
from simulators.backend.model_scripts import BRANCH, BRANCH_COMMAND, FIX_FLAKY_TEST, edited_login_file
from simulators.daemon.workspace import LOGIN_FILE, MAIN_BRANCH, PROJECT, SEED_FILES
from simulators.phone.app import NotReady
from simulators.phone.live import display_command
from simulators.world import QrShown, World

MACBOOK = "Dana's MacBook Pro"
STUDIO = "Dana's Mac Studio"
PHONE = "Dana's phone"


def _threads_screen(server_name: str, count: int) -> tuple[str, str]:
    copy = messages.PHONE_SCREENS["threads"]
    return copy.title.format(server_name=server_name), copy.body.format(thread_count=count)


def _pair(world: World, mac: str) -> None:
    shown = world.mac(mac).show_pairing_qr()
    assert isinstance(shown, QrShown), shown
    outcome = world.phone(PHONE).pair("Dana", shown.png_path)
    assert (outcome.outcome, outcome.host_name) == ("paired", mac), outcome


def _refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError:
        return True
    return False


def test_one_phone_pairs_with_two_macs_switches_and_approves_on_the_chosen_one(tmp_path: Path) -> None:
    with World(seed=7, root=tmp_path) as world:
        world.people.create("Dana", mfa=True)
        world.add_mac(STUDIO, threads=5)
        assert world.macs == [MACBOOK, STUDIO]
        for mac in world.macs:
            world.mac(mac).sign_in("Dana")
            world.mac(mac).allow_connections(True)
            assert world.mac(mac).status == "connected"
        assert world.mac().environment_id != world.mac(STUDIO).environment_id
        assert (tmp_path / "danas-mac-studio" / "codex-home").is_dir()

        _pair(world, MACBOOK)
        _pair(world, STUDIO)
        view = world.phone(PHONE).view()
        assert (view.hosts, view.active_host) == ((MACBOOK, STUDIO), STUDIO)
        assert (view.screen["title"], view.screen["body"]) == _threads_screen(STUDIO, 5)

        view = world.phone(PHONE).switch_host(MACBOOK)
        assert view.active_host == MACBOOK
        assert (view.screen["title"], view.screen["body"]) == _threads_screen(MACBOOK, 3)
        with pytest.raises(NotReady, match="no paired host"):
            world.phone(PHONE).switch_host("Kitchen iMac")

        # The turn and the decision go to the Mac the phone switched to, and only there.
        world.phone(PHONE).start_turn(FIX_FLAKY_TEST)
        approval = world.phone(PHONE).wait_for_approval("command")
        assert world.mac().approvals_waiting() == ["command"]
        assert approval.cwd == str(tmp_path / "mac" / "workspace" / PROJECT)
        world.decide(approval, "accept", phone=PHONE)
        # The Mac ran what the daemon asked about (the phone shows it without its `bash -c` wrapper).
        [ran] = world.mac(MACBOOK).commands_run()
        assert (ran.command, ran.cwd, ran.exit_code) == (approval.request.params["command"], approval.cwd, 0)
        assert display_command(ran.command) == approval.command == BRANCH_COMMAND
        assert world.mac(MACBOOK).project_branch() == BRANCH
        assert world.mac(STUDIO).project_branch() == MAIN_BRANCH
        change = world.phone(PHONE).wait_for_approval("file_change")
        assert world.mac(MACBOOK).approvals_waiting() == ["file_change"]
        assert world.mac(STUDIO).approvals_waiting() == []
        assert (world.mac(MACBOOK).turns_run(), world.mac(STUDIO).turns_run()) == (1, 0)
        world.decide(change, "accept", phone=PHONE)
        assert world.mac(MACBOOK).workspace_file(LOGIN_FILE) == edited_login_file()
        assert world.mac(STUDIO).workspace_file(LOGIN_FILE) == SEED_FILES[LOGIN_FILE]
        assert world.mac(STUDIO).commands_run() == []
        with pytest.raises(ValueError, match="outside the project folder"):
            world.mac().workspace_file("../codex-home/auth.json")

        # The secrets of both host sessions are accounted for, so a report check covers them.
        phone = world.phone(PHONE)
        session_tokens = {host.claim.client_session_token for host in phone.app.hosts.values() if host.claim}
        assert len(session_tokens) == 2 and session_tokens <= set(world.issued_secrets())


def test_macs_have_their_own_threads_and_stop_together(tmp_path: Path) -> None:
    world = World(seed=11, root=tmp_path).start()
    try:
        world.people.create("Dana", mfa=True)
        world.add_mac(STUDIO)
        first = world.mac().request("thread/list", {})["data"]
        second = world.mac(STUDIO).request("thread/list", {})["data"]
        # Without a count the added Mac lists one thread more, with its own thread ids.
        assert (len(first), len(second)) == (3, 4)
        assert not {t["id"] for t in first} & {t["id"] for t in second}
        assert {t["cwd"] for t in first + second} == {
            str(tmp_path / "mac" / "workspace" / PROJECT),
            str(tmp_path / "danas-mac-studio" / "workspace" / PROJECT),
        }
        assert all(Path(t["cwd"], LOGIN_FILE).is_file() for t in first + second)
        with pytest.raises(ValueError, match="already has a Mac"):
            world.add_mac(STUDIO)
        with pytest.raises(ValueError, match="no Mac named"):
            world.mac("Kitchen iMac")
        # Each Mac's browser remembers the device, so a sign-in after the browser was quit skips MFA and is refused
        # on its own: both logs reach the trace, each under its Mac.
        for mac in world.macs:
            world.mac(mac).sign_in("Dana", remember_device=True)
            world.mac(mac).quit_browser()
            world.mac(mac).sign_in("Dana")
            world.mac(mac).allow_connections(True)
            assert world.mac(mac).status == "blocked_mfa_required"
        logged = {entry["party"] for entry in world.trace if "line" in entry}
        assert logged == {"mac:daemon-log", "mac:danas-mac-studio:daemon-log"}
        urls = [world.mac(mac).url for mac in world.macs]
        assert not any(_refuses_connections(url) for url in urls)
    finally:
        world.stop()
    assert all(_refuses_connections(url) for url in urls)
    # Each Mac's project folder goes with the world, like its Codex home.
    assert not (tmp_path / "mac" / "workspace").exists()
    assert not (tmp_path / "danas-mac-studio" / "workspace").exists()


def test_the_real_daemon_target_has_one_mac() -> None:
    # Refused before anything starts: the codex target runs a single real `codex app-server`.
    with pytest.raises(ValueError, match="one real daemon"):
        World(daemon="codex").add_mac(STUDIO)
