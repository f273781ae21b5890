"""Steps for features/remote_projects: Codex on a Mac opening a project on `devbox` over SSH.

Given steps describe the host and the Mac (the account, its login shell and rc files, where codex is, the Mac's
~/.ssh files); the machines start at the first When, so each scenario's host is built as it says. The Mac and
devbox are real namespaces with real OpenSSH and the real codex 0.169.0 on devbox (simulators.remote_projects);
each scenario tears them down, also when it fails. Without root they fail with the reason, never skip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from simulators.netns.remote_host import CodexPlace
from simulators.real.codex import pinned_version
from simulators.real.versions import fill_versions
from simulators.remote_projects.desktop import RemoteProjectsDesktop
from simulators.remote_projects.lab import ALIAS, RemoteProjectsLab
from steps.copy import quotes_copy

_SKEL_BASHRC = Path("/etc/skel/.bashrc")
# What nvm's installer appends to ~/.bashrc: after Debian's "If not running interactively, don't do anything".
_NVM_LINES = '\nexport NVM_DIR="$HOME/.nvm"\n[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"  # This loads nvm\n'
_PLACES = {"~/.local/bin": CodexPlace.LOCAL_BIN, "~/bin": CodexPlace.HOME_BIN}
_RC_LINE = {
    ".zshrc": 'export PATH="{folder}:$PATH"\n',
    ".cshrc": "set path = ( {folder} $path )\n",
}


@pytest.fixture
def remote_projects(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RemoteProjectsLab]:
    from conftest import scenario_profile

    started = time.monotonic()
    lab = RemoteProjectsLab(tmp_path, profile=scenario_profile(request.node))
    try:
        yield lab
    finally:
        lab.close()
        # Scenario timings are figures to read, never assertions (DEVELOPERS.md).
        request.node.user_properties.append(("remote_projects_seconds", round(time.monotonic() - started, 2)))


def _ready(lab: RemoteProjectsLab) -> RemoteProjectsLab:
    """The Mac, devbox and the desktop, started once, as the Given steps described them."""
    if lab.network is None:
        lab.open_network()
        lab.start_host()
        lab.open_desktop(lab.install_dir)
    return lab


def _desktop(lab: RemoteProjectsLab) -> RemoteProjectsDesktop:
    """Codex on the Mac, once a When step has started it."""
    assert lab.desktop is not None, "Codex on the Mac has not started: no When step started the machines"
    return lab.desktop


# ------------------------------------------------------------------------------------------------ given


@given(parsers.parse('Dana\'s devbox has codex installed in "{folder}"'))
def codex_in(remote_projects: RemoteProjectsLab, folder: str) -> None:
    remote_projects.account.codex = _PLACES[folder]


@given("Dana's devbox has no codex installed")
def codex_nowhere(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.account.codex = CodexPlace.NOWHERE


@given(parsers.parse("Dana's login shell on devbox is {shell}"))
def login_shell(remote_projects: RemoteProjectsLab, shell: str) -> None:
    remote_projects.account.shell = shell


@given(parsers.parse('Dana\'s {rc_file} on devbox adds "{folder}" to PATH'))
def rc_adds_folder(remote_projects: RemoteProjectsLab, rc_file: str, folder: str) -> None:
    remote_projects.account.rc_files[rc_file] = _RC_LINE[rc_file].format(folder=folder.replace("~", "$HOME", 1))


@given("Dana's .bashrc on devbox puts ~/.local/bin on PATH for every shell")
def bashrc_path_for_every_shell(remote_projects: RemoteProjectsLab) -> None:
    # Above Debian's interactive-only check, so `ssh devbox 'codex --version'` finds it too.
    remote_projects.account.rc_files[".bashrc"] = 'export PATH="$HOME/.local/bin:$PATH"\n' + _SKEL_BASHRC.read_text()


@given("devbox has no Node installed for the whole system")
def no_system_node(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.account.system_node = False


@given("Dana installed codex with Node from nvm, which her .bashrc loads only for interactive shells")
def codex_with_nvm(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.account.codex = CodexPlace.NVM
    remote_projects.account.rc_files[".bashrc"] = _SKEL_BASHRC.read_text() + _NVM_LINES


@given(parsers.parse('Dana linked codex into "{folder}"'))
def codex_linked(remote_projects: RemoteProjectsLab, folder: str) -> None:
    assert folder.startswith("~/")
    remote_projects.account.codex_link = folder[2:]


@given(parsers.parse('devbox\'s entry in Dana\'s ~/.ssh/config says "{line}"'))
def config_line(remote_projects: RemoteProjectsLab, line: str) -> None:
    remote_projects.config_extra += line + "\n"


@given(parsers.parse('Dana\'s ~/.ssh/config starts with "{line}"'))
def config_head(remote_projects: RemoteProjectsLab, line: str) -> None:
    remote_projects.config_head += line + "\n"


@given(parsers.parse('Dana\'s Mac has "{path}" with a host "{alias}"'))
def included_file(remote_projects: RemoteProjectsLab, path: str, alias: str) -> None:
    remote_projects.mac_files[path.removeprefix("~/")] = f"Host {alias}\n  HostName {alias}.invalid\n"


@given(parsers.parse('Codex on Dana\'s Mac runs with CODEX_INSTALL_DIR set to "{folder}"'))
def install_dir(remote_projects: RemoteProjectsLab, folder: str) -> None:
    remote_projects.install_dir = folder


@given("devbox's host key is not in Dana's known_hosts")
def host_key_unknown(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.known_host = "unknown"


@given("devbox's host key has changed since Dana last connected")
def host_key_changed(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.known_host = "changed"


@given("devbox does not accept Dana's SSH key")
def key_refused(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.account.authorized = False


@given(parsers.parse("another program on devbox listens on port {port:d}"))
def remote_port_taken(remote_projects: RemoteProjectsLab, port: int) -> None:
    lab = _ready(remote_projects)
    assert lab.host is not None
    lab.host.occupy_port(port)


@given(parsers.re(r'Dana connected to "(?P<alias>[^"]+)" and started a thread (?P<where>there|in her project there)'))
def connected_with_thread(remote_projects: RemoteProjectsLab, alias: str, where: str) -> None:
    lab = _ready(remote_projects)
    assert lab.desktop is not None
    cwd = lab.account.home
    if where != "there":
        cwd = f"{lab.account.home}/{lab.seed_project().root.name}"
    lab.desktop.discover()
    row = lab.desktop.connect(alias)
    assert row.status == "Connected", row.message
    lab.thread_id = lab.desktop.request(alias, "thread/start", {"cwd": cwd})["thread"]["id"]


@given(parsers.parse("another program on Dana's Mac listens on port {port:d}"))
def mac_port_taken(remote_projects: RemoteProjectsLab, port: int) -> None:
    lab = _ready(remote_projects)
    assert lab.mac is not None
    lab.mac.occupy_port(port)


@given("codex on devbox is signed in to Dana's ChatGPT account")
def signed_in(remote_projects: RemoteProjectsLab) -> None:
    remote_projects.signed_in = True  # the backend and its model start on the cloud host with the machines


# ------------------------------------------------------------------------------------------------ when


@when("Codex on Dana's Mac lists her SSH connections")
def list_connections(remote_projects: RemoteProjectsLab) -> None:
    lab = _ready(remote_projects)
    assert lab.desktop is not None
    lab.desktop.discover()


@when(parsers.parse('Dana connects to "{alias}"'))
def connect(remote_projects: RemoteProjectsLab, alias: str) -> None:
    lab = _ready(remote_projects)
    assert lab.desktop is not None
    if alias not in lab.desktop.hosts:
        lab.desktop.discover()
    lab.desktop.connect(alias)


@when("the SSH connection from Dana's Mac to devbox drops")
def connection_drops(remote_projects: RemoteProjectsLab) -> None:
    desktop = _desktop(remote_projects)
    desktop.projects[ALIAS].tunnel.kill()  # as a lid closed or a network gone: ssh ends without a word


@when(parsers.parse('Codex on the Mac reconnects to "{alias}"'))
def reconnects(remote_projects: RemoteProjectsLab, alias: str) -> None:
    desktop = _desktop(remote_projects)
    desktop.reconnect(alias)


@when(parsers.parse('Dana asks Codex on devbox "{request}" and it starts working'))
def ask_and_go_on(remote_projects: RemoteProjectsLab, request: str) -> None:
    desktop = _desktop(remote_projects)
    assert remote_projects.thread_id is not None
    remote_projects.turn = desktop.start_turn(ALIAS, remote_projects.thread_id, request)


@when(parsers.parse("Dana {decision} it on her Mac"))
def decide_on_mac(remote_projects: RemoteProjectsLab, decision: str) -> None:
    desktop = _desktop(remote_projects)
    if remote_projects.approvals_seen == 0:  # decided without a step that read the request first
        remote_projects.approvals_seen = 1
    asked = desktop.next_approval(ALIAS, remote_projects.approvals_seen - 1)
    desktop.decide(ALIAS, asked, {"approves": "accept", "declines": "decline"}[decision])


@when("Codex on devbox finishes the turn")
def turn_finishes(remote_projects: RemoteProjectsLab) -> None:
    desktop = _desktop(remote_projects)
    assert remote_projects.turn is not None
    remote_projects.last_turn = desktop.wait_turn(ALIAS, *remote_projects.turn)


@when(parsers.parse('Dana asks Codex on devbox "{request}"'))
def ask(remote_projects: RemoteProjectsLab, request: str) -> None:
    desktop = _desktop(remote_projects)
    assert remote_projects.thread_id is not None
    remote_projects.last_turn = desktop.run_turn(ALIAS, remote_projects.thread_id, request)


# ------------------------------------------------------------------------------------------------ then


@then(parsers.parse('the connections list "{alias}"'))
def listed(remote_projects: RemoteProjectsLab, alias: str) -> None:
    desktop = _desktop(remote_projects)
    assert desktop.discovery_error is None, desktop.log
    assert alias in desktop.hosts, f"listed: {list(desktop.hosts)}"


@then(parsers.re(quotes_copy(r'Settings › Connections says "(?P<copy>[^"]+)" and lists no host')))
def discovery_failed(remote_projects: RemoteProjectsLab, copy: str) -> None:
    desktop = _desktop(remote_projects)
    assert desktop.discovery_error == copy, desktop.log
    assert desktop.hosts == {}


@then(parsers.re(quotes_copy(r'the "(?P<alias>[^"]+)" connection shows "(?P<copy_status>[^"]+)"')))
def row_status(remote_projects: RemoteProjectsLab, alias: str, copy_status: str) -> None:
    desktop = _desktop(remote_projects)
    row = desktop.connections[alias]
    assert row.status == copy_status, f"{row.status}: {row.message}\n" + "\n".join(desktop.log)
    if copy_status == "Connected":
        assert row.message == ""


@then(parsers.re(quotes_copy(
    r'the "(?P<alias>[^"]+)" connection shows "(?P<copy_status>[^"]+)" with "(?P<copy_message>[^"]+)"')))
def row_message(remote_projects: RemoteProjectsLab, alias: str, copy_status: str, copy_message: str) -> None:
    desktop = _desktop(remote_projects)
    row = desktop.connections[alias]
    assert (row.status, row.message) == (copy_status, copy_message), "\n".join(desktop.log)


@then(parsers.re(r'the "(?P<alias>[^"]+)" connection shows "Error" with what (?:ssh|the socket) said: "(?P<ssh_says>.+)"'))
def row_ssh_words(remote_projects: RemoteProjectsLab, alias: str, ssh_says: str) -> None:
    """Words that are not ours (OpenSSH's, Node's `ws`), shown as they came: what today's desktop does."""
    desktop = _desktop(remote_projects)
    row = desktop.connections[alias]
    assert (row.status, row.message) == ("Error", ssh_says), "\n".join(desktop.log)


@then(parsers.parse('the "{alias}" connection shows "Error" with what the login shell said:'))
def row_shell_words(remote_projects: RemoteProjectsLab, alias: str, docstring: str) -> None:
    desktop = _desktop(remote_projects)
    row = desktop.connections[alias]
    assert row.status == "Error"
    assert row.message.splitlines() == [line.strip() for line in docstring.splitlines()], row.message


@then(parsers.parse('ssh\'s whole answer contains "{words}"'))
def ssh_also_said(remote_projects: RemoteProjectsLab, words: str) -> None:
    desktop = _desktop(remote_projects)
    failure = desktop.connections[ALIAS].failure
    assert failure is not None and words in failure.detail, failure


@then(parsers.parse('the app-server\'s log on devbox says "{line}"'))
def remote_log_says(remote_projects: RemoteProjectsLab, line: str) -> None:
    host = remote_projects.host
    assert host is not None
    log = host.app_server_log()
    # Compared line by line without the banner's indentation, which a table cell cannot keep.
    assert line.strip() in [entry.strip() for entry in log.splitlines()], log[-600:]


@then("Codex on the Mac found codex on devbox and started the app-server there")
def probe_passed(remote_projects: RemoteProjectsLab) -> None:
    desktop = _desktop(remote_projects)
    assert any("codex_path_probe code=0" in line for line in desktop.log), desktop.log
    assert any("ensure_remote_app_server_and_tunnel" in line for line in desktop.log), desktop.log


@then("Codex on the Mac talks to the app-server on devbox through a forwarded local port")
def through_tunnel(remote_projects: RemoteProjectsLab) -> None:
    desktop = _desktop(remote_projects)
    project = desktop.projects[ALIAS]
    assert project.tunnel.running
    wanted = f"[ssh-websocket-v0] selected app-server transport websocketUrl={project.link.url}"
    assert any(wanted in line for line in desktop.log), desktop.log
    assert project.link.url == f"ws://127.0.0.1:{project.link.local_port}/rpc"


@then(parsers.parse('the app-server on devbox says its Codex home is "{path}"'))
def codex_home(remote_projects: RemoteProjectsLab, path: str) -> None:
    desktop = _desktop(remote_projects)
    assert desktop.projects[ALIAS].initialize.get("codexHome") == path, desktop.projects[ALIAS].initialize


@then(parsers.parse("the project on devbox lists {count:d} threads"))
def thread_count(remote_projects: RemoteProjectsLab, count: int) -> None:
    desktop = _desktop(remote_projects)
    assert len(desktop.list_threads(ALIAS)) == count


@then(parsers.parse("Codex on the Mac logged \"{line}\""))
def desktop_logged(remote_projects: RemoteProjectsLab, line: str) -> None:
    desktop = _desktop(remote_projects)
    assert any(line in entry for entry in desktop.log), "\n".join(desktop.log)


@then(parsers.parse("in Terminal on Dana's Mac, \"{command}\" prints \"{output}\""))
def terminal_command(remote_projects: RemoteProjectsLab, command: str, output: str) -> None:
    lab = _ready(remote_projects)
    assert lab.mac is not None
    finished = lab.mac.run(["sh", "-c", command])
    assert finished.returncode == 0, finished.stderr
    # devbox runs the pinned package whatever version a run chose for the Mac's daemon (remote_host.CODEX_PACKAGE).
    assert finished.stdout.strip() == fill_versions(output, pinned_version())



@then(parsers.parse("Codex on the Mac saw the connection to devbox close with code {code:d}"))
def closed_with(remote_projects: RemoteProjectsLab, code: int) -> None:
    desktop = _desktop(remote_projects)
    assert desktop.wait_closed(ALIAS) == code


@then("the thread Dana started on devbox is still there")
def thread_still_there(remote_projects: RemoteProjectsLab) -> None:
    desktop = _desktop(remote_projects)
    assert remote_projects.thread_id is not None
    answer = desktop.request(ALIAS, "thread/read", {"threadId": remote_projects.thread_id})
    assert answer["thread"]["id"] == remote_projects.thread_id


@then(parsers.parse("devbox runs {count:d} Codex app-server"))
def app_servers_running(remote_projects: RemoteProjectsLab, count: int) -> None:
    host = remote_projects.host
    assert host is not None
    assert len(host.processes_listening(_desktop(remote_projects).remote_port)) == count


@then(parsers.parse('Codex on devbox answers "{text}"'))
def answers(remote_projects: RemoteProjectsLab, text: str) -> None:
    turn = remote_projects.last_turn
    assert turn is not None
    said = [item.get("text") for item in turn.get("items", []) if item.get("type") == "agentMessage"]
    assert (turn.get("status"), said) == ("completed", [text]), turn


@then(parsers.re(r"Codex on devbox asks Dana's Mac to approve (?:the command \"(?P<command>[^\"]+)\"|a change to a file)"))
def asks_mac(remote_projects: RemoteProjectsLab, command: str | None) -> None:
    desktop = _desktop(remote_projects)
    asked = desktop.next_approval(ALIAS, remote_projects.approvals_seen)
    remote_projects.approvals_seen += 1
    if command is None:
        assert asked.method == "item/fileChange/requestApproval", asked
    else:
        assert asked.method == "item/commandExecution/requestApproval" and command in str(asked.params.get("command")), \
            asked


@then(parsers.parse('Dana\'s project on devbox is on the branch "{branch}"'))
def project_branch(remote_projects: RemoteProjectsLab, branch: str) -> None:
    assert remote_projects.project is not None
    assert remote_projects.project.branch() == branch


@then(parsers.parse('"{path}" in Dana\'s project on devbox says "{line}"'))
def project_file_says(remote_projects: RemoteProjectsLab, path: str, line: str) -> None:
    assert remote_projects.project is not None
    assert line in (remote_projects.project.root / path).read_text().splitlines()
