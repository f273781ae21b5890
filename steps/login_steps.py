"""Steps for features/login: `codex login` by browser callback, device code and access token, the credential
stores, and the remote-token rule. Each step calls one method of `simulators.login.lab.LoginLab` (or pairsim's
CLI as a process) and asserts one thing. `with real codex` runs the installed @openai/codex 0.169.0 instead of
pairsim's CLI; when it is not installed those scenarios fail saying how to install it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from simulators.backend.accounts import Plan
from simulators.browser import Page
from simulators.login.callback_server import LoginFailed
from simulators.login.credential_store import (
    AUTH_FILENAME,
    KEYRING_SERVICE,
    EphemeralCredentialStore,
    file_keyring,
    keyring_username,
)
from simulators.login.lab import CliOutcome, LoginLab, fixed_ports_lock
from simulators.login.remote_token_rule import (
    TUI_ERROR_PREFIX,
    RemoteTokenRefused,
    check_client_url,
    check_tui_remote,
    token_allowed,
)

REPO = Path(__file__).resolve().parents[1]
REAL = "real codex"
PAIRSIM = "pairsim"
WAIT_S = 20.0


@dataclass
class LoginScenario:
    lab: LoginLab
    stack: contextlib.ExitStack
    tmp: Path
    keyring: bool = True
    response: httpx.Response | None = None
    preferred: int | None = None
    fallback: int | None = None
    start_outcome: CliOutcome | None = None
    ended: CliOutcome | None = None
    process: subprocess.CompletedProcess[str] | None = None
    access_token: str | None = None
    occupants: dict[int, Any] = field(default_factory=dict)
    locked: bool = False

    def lock_fixed_ports(self) -> None:
        if not self.locked:
            self.stack.enter_context(fixed_ports_lock())
            # Unwound first: whatever holds 1455/1457 in this scenario is gone before the lock is released.
            self.stack.callback(self.lab.close)
            self.locked = True

    def outcome(self) -> CliOutcome:
        """How the login ended (waits for it, bounded); a start that failed at once counts as the end."""
        if self.start_outcome is not None and self.start_outcome.exit_code >= 0:
            return self.start_outcome
        if self.ended is None:
            self.ended = self.lab.login_outcome(WAIT_S)
        return self.ended

    def terminal(self) -> str:
        if self.process is not None:
            return self.process.stdout + self.process.stderr
        if self.lab.real is not None:
            return self.lab.real.output
        return "\n".join(self.lab.output)


@pytest.fixture
def login(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoginScenario]:
    from conftest import scenario_seed

    with contextlib.ExitStack() as stack:
        lab = LoginLab(tmp_path, seed=scenario_seed(request.node.nodeid))
        stack.callback(lab.close)
        yield LoginScenario(lab=lab, stack=stack, tmp=tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _placeholders(text: str, scenario: LoginScenario) -> str:
    if "<fallback port>" in text:
        text = text.replace("<fallback port>", str(scenario.fallback))
    if "<port>" in text:
        text = text.replace("<port>", str(scenario.lab.callback_port))
    return text


# -- Given ------------------------------------------------------------------------------------------------------


@given("Dana has a ChatGPT account")
def dana(login: LoginScenario) -> None:
    login.lab.add_person("Dana")


@given("Dana has a ChatGPT account with device code sign-in enabled")
def dana_device(login: LoginScenario) -> None:
    login.lab.add_person("Dana", device_code_enabled=True)


@given(parsers.parse("Dana has a ChatGPT account on the {plan} plan"))
def dana_plan(login: LoginScenario, plan: str) -> None:
    login.lab.add_person("Dana", plan=Plan(plan))


@given("Dana has not enabled device code sign-in")
def device_code_off(login: LoginScenario) -> None:
    login.lab.state.control.enable_device_code(login.lab.people["Dana"].account.account_id, False)


@given("the sign-in service does not offer device code sign-in")
def device_code_service_off(login: LoginScenario) -> None:
    login.lab.devices.configure(enabled=False)


@given(parsers.parse("the sign-in service asks device logins to poll every {seconds:d} seconds"))
def poll_interval(login: LoginScenario, seconds: int) -> None:
    login.lab.devices.configure(interval_s=seconds)


@given(parsers.parse("this machine {keyring}"))
def machine_keyring(login: LoginScenario, keyring: str) -> None:
    login.keyring = keyring == "has a keyring"


@given(parsers.parse('Dana runs "codex login" with the {mode} credential store'))
def login_with_store(login: LoginScenario, mode: str) -> None:
    login.lab.start_browser_login(store_mode=mode, keyring=login.keyring)


@given('Dana runs "codex login"')
def runs_login(login: LoginScenario) -> None:
    login.lab.start_browser_login()


@given(parsers.re(r'Dana runs "codex login" with (?P<cli>pairsim|real codex)$'))
def runs_login_with(login: LoginScenario, cli: str) -> None:
    if cli == REAL:
        login.lock_fixed_ports()  # the real CLI always binds 1455
        login.lab.start_real_browser_login()
    else:
        login.lab.start_browser_login()


@given('Dana runs "codex login --device-auth"')
def runs_device_login(login: LoginScenario) -> None:
    login.lab.start_device_login()


@given(parsers.re(r'Dana runs "codex login --device-auth" with (?P<cli>pairsim|real codex)$'))
@when(parsers.re(r'Dana runs "codex login --device-auth" with (?P<cli>pairsim|real codex)$'))
def runs_device_login_with(login: LoginScenario, cli: str) -> None:
    try:
        if cli == REAL:
            login.lab.start_real_device_login()
        else:
            login.lab.start_device_login()
    except LoginFailed:
        pass  # ended at once; the output says why
    except AssertionError:
        if login.lab.real is None or login.lab.real.proc is None or login.lab.real.proc.poll() is None:
            raise


@given("another program listens on the preferred login port")
def occupy_preferred(login: LoginScenario) -> None:
    login.preferred = _free_port()
    login.occupants[login.preferred] = login.lab.occupy(login.preferred)


@given("another program listens on the fallback login port")
def occupy_fallback(login: LoginScenario) -> None:
    login.fallback = _free_port()
    login.occupants[login.fallback] = login.lab.occupy(login.fallback)


@given(parsers.parse("another program listens on port {port:d}"))
def occupy_fixed(login: LoginScenario, port: int) -> None:
    login.lock_fixed_ports()
    login.occupants[port] = login.lab.occupy(port)


@given("Dana's access token has expired")
def token_expired(login: LoginScenario) -> None:
    lab = login.lab
    login.access_token = lab.state.control.issue_tokens(lab.people["Dana"].account.account_id, workspace_id=_team(lab)).access_token
    lab.state.control.advance_clock(lab.state.issuer.settings.access_token_ttl + 60)


@given("Dana changed her password after creating the access token")
def token_revoked(login: LoginScenario) -> None:
    lab = login.lab
    account_id = lab.people["Dana"].account.account_id
    login.access_token = lab.state.control.issue_tokens(account_id, workspace_id=_team(lab)).access_token
    lab.state.control.change_password(account_id)


def _team(lab: LoginLab) -> str:
    account = lab.people["Dana"].account
    return (account.team_workspaces or account.workspaces)[0].id


# -- When -------------------------------------------------------------------------------------------------------


@when("Dana signs in with her browser")
def signs_in(login: LoginScenario) -> None:
    login.lab.browser_signs_in("Dana")


@when("Dana signs in with her browser but cancels on the consent page")
def signs_in_denies(login: LoginScenario) -> None:
    login.lab.browser_signs_in("Dana", deny=True)


@when("a browser tab opens the callback with a state that is not the login's")
def wrong_state(login: LoginScenario) -> None:
    login.response = login.lab.visit_callback("/auth/callback?state=WRONG&code=abc")


@when(parsers.parse('the sign-in service sends the browser back with the error "{error}" and "{description}"'))
def callback_error(login: LoginScenario, error: str, description: str) -> None:
    state = login.lab.state_param()
    login.response = login.lab.visit_callback(
        f"/auth/callback?state={state}&error={error}&error_description={description}"
    )


@when("the browser comes back with the right state and no code")
def callback_no_code(login: LoginScenario) -> None:
    login.response = login.lab.visit_callback(f"/auth/callback?state={login.lab.state_param()}")


@when(parsers.parse('something opens "{path}" on the login server'))
def open_path(login: LoginScenario, path: str) -> None:
    login.response = login.lab.visit_callback(path)


@when('Dana runs "codex login" with a preferred and a fallback port')
def login_with_ports(login: LoginScenario) -> None:
    login.preferred = login.preferred or _free_port()
    login.fallback = login.fallback or _free_port()
    login.start_outcome = login.lab.try_browser_login(port=login.preferred, fallback_port=login.fallback)


@when('Dana runs "codex login" again on the same port')
def login_again(login: LoginScenario) -> None:
    port = login.lab.callback_port
    login.start_outcome = login.lab.try_browser_login(port=port)


@when(parsers.re(r'Dana runs "codex login" with (?P<cli>pairsim|real codex) on the product\'s ports$'))
def login_fixed_ports(login: LoginScenario, cli: str) -> None:
    login.lock_fixed_ports()
    if cli == REAL:
        real = login.lab.start_real("login")
        real.wait_for(re.compile(r"(/oauth/authorize\?\S+)|(Error logging in: .*)"), WAIT_S)
    else:
        # The product's own timing: ten tries 200 ms apart per port.
        login.start_outcome = login.lab.try_browser_login(port=1455, real_timing=True)


@when("Dana enters the code on the device page and authorizes Codex CLI")
def enters_code(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", _user_code(login))


@when("Dana enters the code on the device page but cancels on the consent page")
def enters_code_denies(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", _user_code(login), deny=True)


@when(parsers.parse('Dana types the code "{code}" on the device page'))
def types_code(login: LoginScenario, code: str) -> None:
    login.lab.browser_enters_code("Dana", code)


@when("Dana opens the device page and signs in")
def opens_device_page(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", _user_code(login))


@when(parsers.parse("the CLI has asked {count:d} times without an answer"))
def cli_polled(login: LoginScenario, count: int) -> None:
    assert login.lab.devices.wait_for_polls(count, WAIT_S), f"the CLI did not poll {count} times"


@when("15 minutes pass")
def fifteen_minutes(login: LoginScenario) -> None:
    login.lab.state.clock.advance(15 * 60)


def _run_pairsim(login: LoginScenario, args: list[str], stdin: str, env: dict[str, str] | None = None) -> None:
    environment = {**os.environ, "CODEX_HOME": str(login.lab.home), **(env or {})}
    login.process = subprocess.run(
        [sys.executable, "-m", "simulators.cli", *args],
        input=stdin, capture_output=True, text=True, cwd=REPO, env=environment, timeout=60, check=False,
    )


@when(parsers.parse("the CI job pipes Dana's access token into \"codex login --with-access-token\""))
def pipe_token(login: LoginScenario) -> None:
    if login.access_token is None:
        lab = login.lab
        login.access_token = lab.state.control.issue_tokens(
            lab.people["Dana"].account.account_id, workspace_id=_team(lab)
        ).access_token
    _run_pairsim(login, ["login", "--with-access-token", "--issuer", login.lab.issuer], login.access_token + "\n")


@when(parsers.re(r'the CI job pipes "(?P<text>[^"]*)" into "codex login --with-access-token"'))
def pipe_text(login: LoginScenario, text: str) -> None:
    _run_pairsim(login, ["login", "--with-access-token", "--issuer", login.lab.issuer], text)


@when('Dana runs "pairsim login --credentials-store keyring"')
def pairsim_keyring(login: LoginScenario) -> None:
    env = {"PAIRSIM_KEYRING": "file" if login.keyring else "none"}
    _run_pairsim(login, ["login", "--credentials-store", "keyring", "--issuer", login.lab.issuer,
                         "--no-browser", "--port", "0"], "", env)


@when(parsers.parse('the remote client is asked to send its token to "{url}"'))
def remote_client(login: LoginScenario, url: str) -> None:
    login.response = None
    login.tmp.joinpath("remote-url").write_text(url)


@when(parsers.parse('the real Codex TUI is started with "{args}"'))
def real_tui(login: LoginScenario, args: str) -> None:
    real = login.lab.start_real(*shlex.split(args), env={"TOKV": "pairsim-test-token"})
    real.finish(WAIT_S)


# -- Then -------------------------------------------------------------------------------------------------------


@then(parsers.parse('her browser shows "{title}"'))
def browser_shows(login: LoginScenario, title: str) -> None:
    page = login.lab.browser_page
    assert isinstance(page, Page) and page.title == title, page and page.title


@then(parsers.parse('the terminal says "{text}"'))
def terminal_says(login: LoginScenario, text: str) -> None:
    wanted = _placeholders(text, login)
    if wanted not in login.terminal() and (login.lab.real is not None or login.lab.login_still_waiting()):
        login.outcome()
    assert wanted in login.terminal(), f"{wanted!r} not in:\n{login.terminal()}"


@then(parsers.parse('the CI log says "{text}"'))
@then(parsers.parse('the command says "{text}"'))
def process_says(login: LoginScenario, text: str) -> None:
    assert login.process is not None
    output = login.process.stdout + login.process.stderr
    assert text in output.splitlines(), output


@then("the CI log never shows the access token")
def ci_log_clean(login: LoginScenario) -> None:
    assert login.process is not None and login.access_token
    assert login.access_token not in login.process.stdout + login.process.stderr


@then("Dana's sign-in is saved in auth.json, readable only by her")
def saved_auth_json(login: LoginScenario) -> None:
    login.outcome()
    path = login.lab.home / AUTH_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["auth_mode"] == "chatgpt"
    assert document["tokens"]["account_id"] in {w.id for w in login.lab.people["Dana"].account.workspaces}


@then("nothing is saved")
def nothing_saved(login: LoginScenario) -> None:
    login.outcome()
    assert not (login.lab.home / AUTH_FILENAME).exists()


@then("the sign-in link asks for a code with PKCE, state and the Codex CLI scopes")
def link_shape(login: LoginScenario) -> None:
    url = login.lab.authorize_url
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == login.lab.issuer and parts.path == "/oauth/authorize"
    pairs = parse_qsl(parts.query)
    assert [k for k, _ in pairs] == [
        "response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope",
        "id_token_add_organizations", "codex_cli_simplified_flow", "originator",
    ]
    values = dict(pairs)
    assert values["redirect_uri"] == f"http://127.0.0.1:{login.lab.callback_port}/auth/callback"
    assert values["scope"] == "openid profile email offline_access api.connectors.read api.connectors.invoke"
    assert len(values["code_challenge"]) == 43 and len(values["state"]) == 43
    assert "scope=openid+profile" in url  # spaces as `+`, as the real CLI writes them


@then(parsers.parse('the login server answers {status:d} "{body}"'))
def server_answers(login: LoginScenario, status: int, body: str) -> None:
    assert login.response is not None
    assert (login.response.status_code, login.response.text) == (status, body)


@then("the login server shows its sign-in error page")
def error_page(login: LoginScenario) -> None:
    assert login.response is not None and login.response.status_code == 200
    assert "Sign-in Error" in login.response.text


@then("the login is still waiting for the browser")
def still_waiting(login: LoginScenario) -> None:
    assert login.lab.login_still_waiting()


@then(parsers.parse("the login has ended with exit code {code:d}"))
def ended_with(login: LoginScenario, code: int) -> None:
    assert login.outcome().exit_code == code


@then(parsers.parse('the other program was sent "{path}"'))
def occupant_sent(login: LoginScenario, path: str) -> None:
    port = login.preferred if login.preferred is not None else 1455
    assert path in login.occupants[port].paths


@then(parsers.parse('only the program on the preferred port was sent "{path}"'))
@then(parsers.parse('only the program on port 1455 was sent "{path}"'))
def only_preferred(login: LoginScenario, path: str) -> None:
    preferred = login.preferred if login.preferred is not None else 1455
    fallback = login.fallback if login.fallback is not None else 1457
    login.outcome()
    assert path in login.occupants[preferred].paths
    assert path not in login.occupants[fallback].paths


@then(parsers.parse('the first login ends with "{line}"'))
def first_login_ends(login: LoginScenario, line: str) -> None:
    assert login.lab.first_task is not None and login.lab.first_task.result(WAIT_S) == 1
    assert line in login.lab.output


@then("the new login serves on the same port")
def new_login_same_port(login: LoginScenario) -> None:
    assert login.lab.first_login is not None and login.lab.login is not None
    assert login.lab.login.port == login.lab.first_login.port
    assert login.lab.visit_callback("/nothing").status_code == 404


@then(parsers.parse('the sign-in link sends the browser back to "{uri}"'))
def link_redirect(login: LoginScenario, uri: str) -> None:
    assert dict(parse_qsl(urlsplit(login.lab.authorize_url).query))["redirect_uri"] == uri


@then(parsers.parse('the terminal shows the device sign-in steps with a one-time code like "{example}"'))
def device_steps(login: LoginScenario, example: str) -> None:
    output = login.terminal()
    assert "Follow these steps to sign in with ChatGPT using device code authorization:" in output
    assert f"   {login.lab.issuer}/codex/device" in output
    shape = re.sub(r"[A-Z]", "[A-Z]", re.sub(r"[0-9]", "[0-9]", example))
    assert re.search(rf"^   {shape}$", output, re.MULTILINE), output


def _user_code(login: LoginScenario) -> str:
    match = re.search(r"^   ([A-Z]{4}-[0-9]{4})$", login.terminal(), re.MULTILINE)
    assert match, login.terminal()
    return match.group(1)


@then(parsers.parse('the device page says "{text}"'))
def device_page_says(login: LoginScenario, text: str) -> None:
    page = login.lab.browser_page
    assert page is not None and text in page.text, page and page.text


@then(parsers.parse("the CLI waited {seconds:d} seconds between its questions"))
def waited(login: LoginScenario, seconds: int) -> None:
    device = login.lab.device
    assert device is not None and len(device.waits) >= 3
    assert set(device.waits) == {float(seconds)}


@then(parsers.parse("Dana's sign-in is kept in {place}"))
def kept_in(login: LoginScenario, place: str) -> None:
    home = login.lab.home
    in_file = (home / AUTH_FILENAME).exists()
    in_keyring = file_keyring(home).get_password(KEYRING_SERVICE, keyring_username(home)) is not None
    in_memory = EphemeralCredentialStore(home).load() is not None
    expected = {
        "auth.json": (True, False, False),
        "the keyring": (False, True, False),
        "memory only": (False, False, True),
    }[place]
    assert (in_file, in_keyring, in_memory) == expected, f"file, keyring, memory: {(in_file, in_keyring, in_memory)}"


@then("no token Dana received appears in the terminal, the logs or the scenario report")
def no_token_anywhere(login: LoginScenario, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> None:
    login.outcome()
    auth = json.loads((login.lab.home / AUTH_FILENAME).read_text())
    secrets = [v for v in auth["tokens"].values() if v and v != auth["tokens"]["account_id"]]
    secrets.append(auth["OPENAI_API_KEY"])
    secrets = [s for s in secrets if s]
    assert len(secrets) >= 3
    logging.getLogger("pairsim.login.test").info("sign-in finished")  # the log is being captured
    report = repr(request.node.user_properties) + repr(login.lab.login) + repr(login.lab.state.control.sessions(
        login.lab.people["Dana"].account.account_id))
    for haystack in (login.terminal(), caplog.text, report, " ".join(login.lab.login.server.requests)):
        for secret in secrets:
            assert secret not in haystack


@then(parsers.parse("the remote client {verdict}"))
def remote_verdict(login: LoginScenario, verdict: str) -> None:
    url = login.tmp.joinpath("remote-url").read_text()
    if verdict == "allows the token":
        assert token_allowed(url)
        check_client_url(url)
        return
    assert verdict.startswith("refuses: ")
    with pytest.raises(RemoteTokenRefused) as refused:
        check_client_url(url)
    assert refused.value.message == verdict.removeprefix("refuses: ")


@then(parsers.parse("pairsim's rule refuses \"{url}\" for the TUI with the same words"))
def tui_same_words(login: LoginScenario, url: str) -> None:
    with pytest.raises(RemoteTokenRefused) as refused:
        check_tui_remote(url)
    assert TUI_ERROR_PREFIX + refused.value.message in login.terminal()
