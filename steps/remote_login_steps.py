"""Steps for features/remote_login: a CLI signing in on a remote machine, the browser on a laptop, SSH tunnels.

The machines are real network namespaces (simulators.netns); each scenario gets its own and tears them down,
also when it fails. Without root the scenarios fail with the reason: CI runs as root, and a skipped scenario
would hide that nothing was verified.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from simulators.netns.remote_login import RemoteLogin
from simulators.netns.ssh import ForwardFailed, SshTunnel

# `ssh -L` as the feature spells it: an optional bind address, the local port, then localhost and 1455.
_FORWARD = r"ssh -L (?:(?P<bind>[\d.]+):)?(?P<local>\d+):localhost:(?P<remote>\d+)"


@dataclass
class TunnelAttempt:
    tunnel: SshTunnel | None = None
    failure: ForwardFailed | None = None
    messages: list[str] = field(default_factory=list)


@dataclass
class RemoteLoginScenario:
    login: RemoteLogin
    attempt: TunnelAttempt = field(default_factory=TunnelAttempt)


@pytest.fixture
def remote_login(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RemoteLoginScenario]:
    started = time.monotonic()
    login = RemoteLogin(tmp_path, seed=0)
    try:
        login.start()
        yield RemoteLoginScenario(login)
    finally:
        login.close()
        # Scenario timings are figures to read, never assertions (DEVELOPERS.md).
        request.node.user_properties.append(("remote_login_seconds", round(time.monotonic() - started, 2)))


# ------------------------------------------------------------------------------------------------ given


@given("Dana has a ChatGPT account and works on a remote machine over SSH from her laptop")
def dana_and_her_machines(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.create_person()


@given('Dana runs "codex login" on the remote machine')
def cli_login_on_remote(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.start_cli_login()


@given(parsers.re(r"another program on Dana's laptop listens on port (?P<port>\d+) on (?P<where>IPv4 and IPv6|127\.0\.0\.1 only)"))
def laptop_port_taken(remote_login: RemoteLoginScenario, port: str, where: str) -> None:
    remote_login.login.occupy_laptop_port(int(port), dual_stack=where == "IPv4 and IPv6")


@given(parsers.re(rf'Dana forwards port (?P<port>\d+) to the remote machine with "{_FORWARD}"(?: again)?'))
@when(parsers.re(rf'Dana forwards port (?P<port>\d+) to the remote machine with "{_FORWARD}"(?: again)?'))
def forward_port(remote_login: RemoteLoginScenario, port: str, bind: str | None, local: str, remote: str) -> None:
    assert port == local and remote == "1455", "the step's port and the -L spec disagree"
    attempt = TunnelAttempt()
    try:
        attempt.tunnel = remote_login.login.open_tunnel(int(local), bind=bind)
        attempt.messages = attempt.tunnel.messages()
    except ForwardFailed as exc:
        attempt.failure = exc
        attempt.messages = [line for line in exc.stderr.splitlines() if not line.startswith("Warning: ")]
    remote_login.attempt = attempt


@given("Dana has signed in with the browser on her laptop, which is about to return to the login")
def signed_in_paused(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.browser_sign_in(pause_before_leaving=True)


# ------------------------------------------------------------------------------------------------ when


@when("Dana signs in with the browser on her laptop")
def sign_in_on_laptop(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.browser_sign_in()


@when("the SSH tunnel closes")
def tunnel_closes(remote_login: RemoteLoginScenario) -> None:
    tunnel = remote_login.attempt.tunnel
    assert tunnel is not None, "no tunnel was open"
    tunnel.close()


@when("her browser follows the redirect")
def browser_follows(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.browser_continue()


@when(parsers.re(r"Dana changes the port in her browser's address bar to (?P<port>\d+)"))
def edit_port(remote_login: RemoteLoginScenario, port: str) -> None:
    remote_login.login.edit_address_port(int(port))


@when("Dana reloads the page in her browser")
def reload_page(remote_login: RemoteLoginScenario) -> None:
    remote_login.login.reload()


# ------------------------------------------------------------------------------------------------ then


@then(parsers.re(r'her browser cannot open "(?P<address>[^"]+)": "(?P<error>[^"]+)"'))
def browser_cannot_open(remote_login: RemoteLoginScenario, address: str, error: str) -> None:
    report = remote_login.login.last_report()
    assert report.failed is not None, f"the browser got through: {report.describe()}"
    assert (report.failed["url"], report.failed["error"]) == (address, error), report.describe()


@then(parsers.re(r'her browser shows "(?P<title>[^"]+)"'))
def browser_shows(remote_login: RemoteLoginScenario, title: str) -> None:
    report = remote_login.login.last_report()
    assert report.landed is not None and report.landed["title"] == title, report.describe()


@then(parsers.re(r"her browser shows the other program's \"(?P<title>[^\"]+)\" page instead of the sign-in result"))
def browser_shows_other_program(remote_login: RemoteLoginScenario, title: str) -> None:
    report = remote_login.login.last_report()
    assert report.landed is not None, report.describe()
    # http.server's own error page: the redirect reached the laptop's program, not the remote login.
    assert (report.landed["title"], report.landed["page"]) == (title, ""), report.describe()


@then("the login on the remote machine is still waiting for the browser")
def cli_still_waiting(remote_login: RemoteLoginScenario) -> None:
    login = remote_login.login
    assert login.cli_waiting(), f"the remote login is no longer waiting: {login.cli_output()[-3:]}"


@then(parsers.re(r'the remote terminal says "(?P<line>[^"]+)"'))
def remote_terminal_says(remote_login: RemoteLoginScenario, line: str) -> None:
    remote_login.login.wait_cli_said(line)


@then("the remote machine has saved Dana's sign-in")
def remote_saved_sign_in(remote_login: RemoteLoginScenario) -> None:
    login = remote_login.login
    assert login.person is not None
    saved = login.saved_auth()
    assert saved.get("tokens", {}).get("account_id") == login.person.account.account_id, sorted(saved)


@then(parsers.re(r'ssh says "(?P<line>[^"]+)"'))
def ssh_says(remote_login: RemoteLoginScenario, line: str) -> None:
    messages = remote_login.attempt.messages
    assert line in messages, f"ssh said: {messages}"


@then("the tunnel is not open")
def tunnel_not_open(remote_login: RemoteLoginScenario) -> None:
    attempt = remote_login.attempt
    assert attempt.failure is not None, "ssh kept the tunnel open"
    assert attempt.failure.returncode == 255, attempt.failure.returncode


@then("the tunnel is open")
def tunnel_open(remote_login: RemoteLoginScenario) -> None:
    attempt = remote_login.attempt
    assert attempt.tunnel is not None and attempt.tunnel.process is not None, f"ssh gave up: {attempt.messages}"
    assert attempt.tunnel.process.running, f"ssh exited: {attempt.messages}"
