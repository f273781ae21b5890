"""The desktop's session with a remote project, against the real `codex app-server` (the pinned binary) on loopback,
reached through a forwarded port as through the SSH tunnel, with the world's backend playing the model (issue 12).

These run in the mock run: the remote is the real Codex whatever `--daemon` says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.backend.model_scripts import BRANCH, EDITED, FIX_FLAKY_TEST, edited_login_file
from simulators.daemon.workspace import PROJECT
from simulators.real.app_server_client import AppServerRpcError
from simulators.remote_projects.link import RemoteHost, RemoteLink
from simulators.remote_projects.loopback import LoopbackRemoteHost, start_loopback_host
from simulators.remote_projects.session import RemoteProject, RemoteProjectSession, RemoteUnreachable
from simulators.world import World
from simulators.world.remote_projects import branch, branch_switches

DEV_SERVER = "devbox"
GONE_THREAD = "019a0000-0000-7000-8000-000000000000"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(root=tmp_path) as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        yield world


@pytest.fixture
def host(world: World) -> RemoteHost:
    return world.remote_projects.add_host(DEV_SERVER, start_loopback_host, sign_in_from=world.mac().home)


def test_the_loopback_host_is_a_remote_host_and_its_link_a_remote_link(host: RemoteHost) -> None:
    assert isinstance(host, LoopbackRemoteHost)
    assert isinstance(host.link(), RemoteLink)
    assert host.project_cwd.endswith("/" + PROJECT)


def test_the_desktop_runs_a_turn_in_the_remote_project_and_it_happens_on_the_remote(world: World,
                                                                                    host: RemoteHost) -> None:
    session = world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
    assert "userAgent" in session.initialize_result, session.initialize_result
    work = world.remote_projects.work(world.mac(), DEV_SERVER)
    assert work.thread_previews() == []  # a fresh Codex on the remote has no threads
    turn_id = work.ask(FIX_FLAKY_TEST)
    work.decide("command", "accept")
    assert branch(host.project_dir) == BRANCH
    work.decide("file_change", "accept")
    turn = work.wait_turn_completed(turn_id)
    assert turn["status"] == "completed"
    assert (host.project_dir / "src" / "login.py").read_text(encoding="utf-8") == edited_login_file()
    assert world.mac().project_branch() == "main"  # nothing ran on the Mac
    assert any(n.method == "item/completed" and n.params.get("item", {}).get("text") == EDITED
               for n in session.notifications)
    assert work.thread_previews() == [FIX_FLAKY_TEST]
    [thread] = world._runner.run(session.list_threads())
    assert thread["cwd"] == host.project_cwd


def test_a_killed_socket_mid_approval_reconnects_resumes_and_applies_each_decision_once(world: World,
                                                                                        host: RemoteHost) -> None:
    session = world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
    work = world.remote_projects.work(world.mac(), DEV_SERVER)
    turn_id = work.ask(FIX_FLAKY_TEST)
    work.decide("command", "accept")
    file_change = world._runner.run(session.wait_approval("file_change"))
    # A thread the remote does not know (its home was wiped since) must not keep the others from resuming.
    session.core.follow(GONE_THREAD)
    # The socket dies (the tunnel stays up): the desktop opens the link again at once and resumes the thread; the
    # remote asks again for the file change, which is not handed to the person a second time.
    world._runner.run(session.drop())
    world.remote_projects.wait_dropped(session, 1)
    world.remote_projects.wait_reconnected(session, 2)
    world._runner.run(session.wait_asked(file_change.key))
    world._runner.run(session.decide(file_change.key, "accept"))
    assert work.wait_turn_completed(turn_id)["status"] == "completed"
    assert [a.kind for a in session.approvals] == ["command", "file_change"]
    assert branch_switches(host.project_dir, BRANCH) == 1
    assert (host.project_dir / "src" / "login.py").read_text(encoding="utf-8") == edited_login_file()
    assert session.core.answers_sent(file_change.key) == 1
    assert session.record.dropped == 1 and session.record.opened == 2
    assert any(line.startswith("resumed thread") for line in session.record.log)
    assert any(line.startswith(f"could not resume thread {GONE_THREAD}: ") for line in session.record.log), \
        session.record.log


def test_a_remote_out_of_reach_is_a_typed_error_and_the_desktop_keeps_nothing_open(world: World,
                                                                                   host: RemoteHost) -> None:
    world.remote_projects.drop(DEV_SERVER)
    project = RemoteProject(PROJECT, DEV_SERVER, host.project_cwd)
    with pytest.raises(RemoteUnreachable, match="cannot reach devbox"):
        world._runner.run(RemoteProjectSession(project, host.link()).open())
    assert world.mac().desktop.remote_projects == {}


def test_the_macs_daemon_serves_its_remote_projects_and_refuses_while_the_link_is_down(world: World,
                                                                                       host: RemoteHost) -> None:
    # A client of the Mac's own daemon (the phone's requests arrive the same way, through the relay).
    session = world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
    listed = world.mac().request("remoteProjects/list", {})
    assert listed == {"data": [{"id": f"ssh:{DEV_SERVER}:{host.project_cwd}", "name": PROJECT, "host": DEV_SERVER,
                                "cwd": host.project_cwd, "transport": "ssh-websocket-v0", "connected": True}]}
    thread = world.mac().request("thread/start", {"remoteProjectId": listed["data"][0]["id"]})["thread"]
    assert thread["cwd"] == host.project_cwd
    # A thread of the remote, not of the Mac: the Mac's own list does not hold it.
    assert thread["id"] not in [t["id"] for t in world.mac().request("thread/list", {})["data"]]
    with pytest.raises(AppServerRpcError, match="unknown remote project: ssh:elsewhere"):
        world.mac().request("thread/start", {"remoteProjectId": "ssh:elsewhere"})
    world.remote_projects.drop(DEV_SERVER)
    world.remote_projects.wait_dropped(session, 1)
    with pytest.raises(AppServerRpcError, match=r"^devbox is not connected$") as refused:
        world.mac().request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "hi"}]})
    assert refused.value.rpc_code == -32600
    assert world.mac().request("remoteProjects/list", {})["data"][0]["connected"] is False


def test_todays_macs_daemon_does_not_know_the_desktops_remote_projects(tmp_path: Path) -> None:
    with World(root=tmp_path, profile="legacy") as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.remote_projects.add_host(DEV_SERVER, start_loopback_host, sign_in_from=world.mac().home)
        world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
        with pytest.raises(AppServerRpcError) as refused:
            world.mac().request("remoteProjects/list", {})
        assert refused.value.rpc_code == -32600 and "remoteProjects/list" in refused.value.message


def test_a_link_that_stays_down_counts_failed_attempts_and_the_dropped_socket_closed_without_a_frame(
        world: World, host: RemoteHost) -> None:
    session = world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
    world.remote_projects.drop(DEV_SERVER)
    world.remote_projects.wait_dropped(session, 1)
    # The way stays cut: every attempt to open it again fails, and the session says so.
    world.remote_projects.wait_unreachable(session, 2)
    assert not session.connected
    assert session.record.close_codes == [1006]
    world.remote_projects.restore(DEV_SERVER)
    world.remote_projects.wait_reconnected(session, 2)
    assert session.record.opened == 2
