"""SSH remote projects (issue 12): a project on Dana's dev server, opened in Codex on her Mac, and followed from her
phone through the Mac.

The remote computer is made by the `remote_host_factory` fixture: devbox of the SSH lab, reached over real SSH
(`simulators/remote_projects/ssh_host.py`). Then steps read the remote project's repository and files on disk, never the phone's view of
them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_bdd import given, parsers, then, when

from simulators.backend.model_scripts import edited_login_file
from simulators.remote_projects.ssh_host import start_ssh_host
from simulators.world.remote_projects import branch, branch_switches
from steps.context import phone_label
from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.remote_projects.link import RemoteHostFactory
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
HOST = r'"(?P<host>[^"]+)"'
_DECISIONS = {"approves": "accept", "declines": "decline"}


@pytest.fixture
def remote_host_factory() -> RemoteHostFactory:
    """What makes Dana's dev server: devbox of the SSH lab (real sshd, her login shell, the real codex installed
    there), which the Mac's desktop reaches over real SSH and a tunnel."""
    return start_ssh_host


@given(parsers.re(
    rf'(?P<name>\w+) has the project "(?P<project>[^"]+)" on {PRONOUN} dev server {HOST}, with Codex signed in to '
    rf"{PRONOUN} ChatGPT account"
))
def dev_server(world: World, remote_host_factory: RemoteHostFactory, name: str, project: str, host: str) -> None:
    made = world.remote_projects.add_host(host, remote_host_factory, sign_in_from=world.mac().home)
    assert made.project_cwd.rstrip("/").endswith("/" + project), f"{host} holds {made.project_cwd}, not {project}"


@given(parsers.re(rf'(?P<name>\w+) opens the remote project "(?P<project>[^"]+)" on {HOST} in Codex on {PRONOUN} Mac'))
@when(parsers.re(rf'(?P<name>\w+) opens the remote project "(?P<project>[^"]+)" on {HOST} in Codex on {PRONOUN} Mac'))
def open_remote_project(world: World, project: str, host: str) -> None:
    world.remote_projects.open_on(world.mac(), host, project)


@when(parsers.re(rf'(?P<name>\w+) asks Codex on {PRONOUN} Mac to "(?P<text>[^"]+)" in the remote project on {HOST}'))
def ask_on_mac(world: World, text: str, host: str) -> None:
    world.remote_projects.work(world.mac(), host).ask(text)


@when(parsers.re(
    rf"(?P<name>\w+) (?P<verb>approves|declines) the (?P<kind>command|file change) in Codex on {PRONOUN} Mac"
))
def decide_on_mac(world: World, verb: str, kind: str) -> None:
    host = _only_host(world)
    world.remote_projects.work(world.mac(), host).decide(kind.replace(" ", "_"), _DECISIONS[verb])


@then(parsers.re(rf'Codex on {PRONOUN} Mac lists the thread "(?P<preview>[^"]+)" in the remote project on {HOST}'))
def mac_lists_remote_thread(world: World, preview: str, host: str) -> None:
    previews = world.remote_projects.work(world.mac(), host).thread_previews()
    assert preview in previews, previews


@when(parsers.re(
    rf'(?P<name>\w+) asks Codex from {PRONOUN} phone to "(?P<text>[^"]+)" in the remote project "(?P<project>[^"]+)"'
))
def ask_from_phone(world: World, name: str, text: str, project: str) -> None:
    world.phone(phone_label(name)).start_remote_turn(text, project)


@when(parsers.re(rf"(?P<name>\w+) looks at the remote projects of {PRONOUN} Mac on {PRONOUN} phone"))
def look_at_remote_projects(world: World, ctx: ScenarioContext, name: str) -> None:
    world.phone(phone_label(name)).open_remote_projects()


@then(parsers.re(rf"{PRONOUN} phone lists no remote projects"))
def phone_lists_none(world: World) -> None:
    rows = world.phone(phone_label("Dana")).open_remote_projects()
    assert rows == [], rows


@then(parsers.re(quotes_copy(rf'{PRONOUN} phone lists "(?P<copy_row>[^"]+)" under "(?P<copy_title>[^"]+)"')))
def phone_lists_remote_project(world: World, copy_row: str, copy_title: str) -> None:
    phone = world.phone(phone_label("Dana"))
    assert phone.open_remote_projects() == [copy_row]
    assert phone.remote_projects_title() == copy_title


@when(parsers.re(rf"the connection between {PRONOUN} Mac and {HOST} drops while Codex waits for (?P<name>\w+)"))
def connection_drops(world: World, host: str, name: str) -> None:
    # The remote is waiting on her: the approval has reached her phone through the Mac.
    world.phone(phone_label(name)).wait_for_approval("file_change")
    session = world.remote_projects.session(world.mac(), host)
    drops, failed = session.record.dropped, session.record.failed_attempts
    world.remote_projects.drop(host)
    world.remote_projects.wait_dropped(session, drops + 1)
    # The Mac tried to reach devbox again and could not: the connection is really down, not just one socket.
    world.remote_projects.wait_unreachable(session, failed + 1)


@when(parsers.re(
    rf"(?P<name>\w+) approves the file change on {PRONOUN} phone while {PRONOUN} Mac cannot reach {HOST}"
))
def approve_while_unreachable(world: World, ctx: ScenarioContext, name: str, host: str) -> None:
    session = world.remote_projects.session(world.mac(), host)
    assert not session.connected, f"the Mac is still connected to {host}"
    phone = world.phone(phone_label(name))
    ctx.approval = phone.wait_for_approval("file_change")
    phone.decide(ctx.approval, "accept")
    # Her answer has reached the Mac, which keeps it until it reaches the remote.
    world.remote_projects.wait_decided(session, ctx.approval.item_id)


@when(parsers.re(rf"the connection between {PRONOUN} Mac and {HOST} comes back"))
def connection_back(world: World, ctx: ScenarioContext, host: str) -> None:
    session = world.remote_projects.session(world.mac(), host)
    opened = session.record.opened
    world.remote_projects.restore(host)
    world.remote_projects.wait_reconnected(session, opened + 1)
    if ctx.approval is not None and ctx.approval.item_id is not None:
        # What she answered while the remote was out of reach has been done there (or refused) once it is back.
        world.remote_projects.wait_item_completed(session, ctx.approval.item_id)


@then(parsers.re(rf'the project on {HOST} is on the branch "(?P<name>[^"]+)"'))
def remote_branch(world: World, host: str, name: str) -> None:
    assert branch(world.remote_projects.host(host).project_dir) == name


@then(parsers.re(rf'Codex on {HOST} made the branch "(?P<name>[^"]+)" (?P<times>once)'))
def remote_branch_made_once(world: World, host: str, name: str, times: str) -> None:
    project = world.remote_projects.host(host).project_dir
    assert branch(project) == name
    assert branch_switches(project, name) == 1


@then(parsers.re(rf"Codex on {HOST} set the login timeout to (?P<seconds>\d+) seconds"))
def remote_timeout(world: World, host: str, seconds: str) -> None:
    login = world.remote_projects.host(host).project_dir / "src" / "login.py"
    assert login.read_text(encoding="utf-8") == edited_login_file(int(seconds))


@then(parsers.re(rf'the project on {PRONOUN} Mac is still on the branch "(?P<name>[^"]+)"'))
def mac_branch(world: World, name: str) -> None:
    assert world.mac().project_branch() == name


def _only_host(world: World) -> str:
    sessions = list(world.mac().desktop.remote_projects.values())
    assert len(sessions) == 1, "say which remote project"
    return sessions[0].project.host
