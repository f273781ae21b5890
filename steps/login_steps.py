"""Steps for features/login: `codex login` by browser callback, device code and access token, the credential
stores, and the remote-token rule. Each step calls one method of `simulators.login.lab.LoginLab` and asserts one
thing. The CLI is always a child process: pairsim's (`python -m simulators.cli login ...`) or, `with real codex`,
the installed @openai/codex 0.169.0 (when it is not installed those scenarios fail saying how to install it). What
the person sees is read from that process's stdout and stderr, or from the page the browser got.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from simulators import messages
from simulators.backend.accounts import Plan
from simulators.login.credential_store import AUTH_FILENAME, KEYRING_SERVICE, file_keyring, keyring_username
from simulators.login.lab import WAIT_S, Cli, LoginLab, fixed_ports_lock
from simulators.login.remote_client import ERROR_PREFIX as CONNECT_ERROR_PREFIX
from simulators.login.remote_token_rule import TUI_ERROR_PREFIX, RemoteTokenRefused, check_tui_remote

REAL = Cli.REAL.value
FIXED_PORT, FIXED_FALLBACK_PORT = 1455, 1457


@dataclass
class LoginScenario:
    """The scenario's state between steps. Allure records it as a step parameter (its repr): no secret in it."""

    lab: LoginLab
    stack: contextlib.ExitStack = field(repr=False)
    tmp: Path
    keyring: bool = True
    response: httpx.Response | None = field(default=None, repr=False)
    preferred: int | None = None
    fallback: int | None = None
    access_token: str | None = field(default=None, repr=False)
    locked: bool = False

    def lock_fixed_ports(self) -> None:
        if not self.locked:
            self.stack.enter_context(fixed_ports_lock())
            # Unwound first: whatever holds 1455/1457 in this scenario is gone before the lock is released.
            self.stack.callback(self.lab.close)
            self.locked = True


@pytest.fixture
def login(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LoginScenario]:
    from conftest import scenario_seed

    with contextlib.ExitStack() as stack:
        lab = LoginLab(tmp_path, seed=scenario_seed(request.node.nodeid))
        stack.callback(lab.close)
        yield LoginScenario(lab=lab, stack=stack, tmp=tmp_path)


def _fallback_port(login: LoginScenario) -> int:
    """The fallback port the scenario named, or, when it left the choice to the system (port 0), the one the login
    sends the browser back to, which must not be the preferred port."""
    if login.fallback is not None:
        return login.fallback
    redirect = dict(parse_qsl(urlsplit(login.lab.authorize_url).query))["redirect_uri"]
    port = urlsplit(redirect).port
    assert port is not None and port != login.preferred, f"the login's callback is {redirect}"
    return port


def _placeholders(text: str, login: LoginScenario) -> str:
    if "<fallback port>" in text:
        text = text.replace("<fallback port>", str(_fallback_port(login)))
    if "<port>" in text:
        text = text.replace("<port>", str(login.lab.callback_port))
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
    login.lab.backend.control.enable_device_code(login.lab.people["Dana"].account.account_id, False)


@given("the sign-in service does not offer device code sign-in")
def device_code_service_off(login: LoginScenario) -> None:
    login.lab.devices.configure(enabled=False)


@given(parsers.parse("the sign-in service asks device logins to poll every {seconds:d} seconds"))
def poll_interval(login: LoginScenario, seconds: int) -> None:
    login.lab.devices.configure(interval_s=seconds)


# Exactly the two phrasings: a typo must be an unknown step, not a machine without a keyring.
@given(parsers.re(r"this machine (?P<keyring>has a keyring|has no keyring)$"))
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
    if cli == REAL:
        login.lab.start_real_device_login()
    else:
        login.lab.start_device_login()


@given("another program listens on the preferred login port")
def occupy_preferred(login: LoginScenario) -> None:
    login.preferred = login.lab.occupy().port


@given("another program listens on the fallback login port")
def occupy_fallback(login: LoginScenario) -> None:
    login.fallback = login.lab.occupy().port


@given(parsers.parse("another program listens on port {port:d}"))
def occupy_fixed(login: LoginScenario, port: int) -> None:
    login.lock_fixed_ports()
    login.lab.occupy(port)


@given("Dana's access token has expired")
def token_expired(login: LoginScenario) -> None:
    lab = login.lab
    login.access_token = lab.issue_access_token("Dana", _team(lab))
    lab.backend.control.advance_clock(lab.state.issuer.settings.access_token_ttl + 60)


@given("Dana changed her password after creating the access token")
def token_revoked(login: LoginScenario) -> None:
    lab = login.lab
    account_id = lab.people["Dana"].account.account_id
    login.access_token = lab.issue_access_token("Dana", _team(lab))
    lab.backend.control.change_password(account_id)


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
    # A fallback port nobody holds is left to the system (0); the login prints the one it got.
    login.lab.start_browser_login(port=login.preferred or 0, fallback_port=login.fallback or 0)


@when('Dana runs "codex login" again on the same port')
def login_again(login: LoginScenario) -> None:
    login.lab.start_second_browser_login()


@when(parsers.re(r'Dana runs "codex login" with (?P<cli>pairsim|real codex) on the product\'s ports$'))
def login_fixed_ports(login: LoginScenario, cli: str) -> None:
    login.lock_fixed_ports()
    if cli == REAL:
        real = login.lab.start_real("login")
        real.wait_for(re.compile(r"(/oauth/authorize\?\S+)|(Error logging in: .*)"), WAIT_S)
    else:
        login.lab.start_browser_login(port=FIXED_PORT)  # the product's rule picks 1457 as the fallback


@when("Dana enters the code on the device page and authorizes Codex CLI")
def enters_code(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", login.lab.user_code(), then_cli_asks=True)


@when("Dana enters the code on the device page but cancels on the consent page")
def enters_code_denies(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", login.lab.user_code(), deny=True, then_cli_asks=True)


@when(parsers.parse('Dana types the code "{code}" on the device page'))
def types_code(login: LoginScenario, code: str) -> None:
    login.lab.browser_enters_code("Dana", code)


@when("Dana opens the device page and signs in")
def opens_device_page(login: LoginScenario) -> None:
    login.lab.browser_enters_code("Dana", login.lab.user_code())


@when(parsers.parse("the CLI has asked {count:d} times without an answer"))
def cli_polled(login: LoginScenario, count: int) -> None:
    login.lab.let_cli_ask(count)


@when("15 minutes pass")
def fifteen_minutes(login: LoginScenario) -> None:
    login.lab.clock.advance(15 * 60)


@when(parsers.parse("the CI job pipes Dana's access token into \"codex login --with-access-token\""))
def pipe_token(login: LoginScenario) -> None:
    if login.access_token is None:
        lab = login.lab
        login.access_token = lab.issue_access_token("Dana", _team(lab))
    login.lab.run_pairsim("login", "--with-access-token", "--issuer", login.lab.issuer,
                          stdin=(login.access_token + "\n").encode())


@when(parsers.re(r'the CI job pipes "(?P<text>[^"]*)" into "codex login --with-access-token"'))
def pipe_text(login: LoginScenario, text: str) -> None:
    login.lab.run_pairsim("login", "--with-access-token", "--issuer", login.lab.issuer, stdin=text.encode())


@when(parsers.re(r'Dana runs "codex (?P<command>login status|logout)"'))
def runs_status_or_logout(login: LoginScenario, command: str) -> None:
    login.lab.run_pairsim(*command.split())


@when('Dana runs "pairsim login --credentials-store keyring"')
def pairsim_keyring(login: LoginScenario) -> None:
    login.lab.run_pairsim("login", "--credentials-store", "keyring", "--issuer", login.lab.issuer, "--no-browser",
                          "--port", "0", keyring=login.keyring)


@when(parsers.parse('the remote client is asked to send its token to "{url}"'))
def remote_client(login: LoginScenario, url: str) -> None:
    login.lab.run_remote_client(url)


@when(parsers.parse('the real Codex TUI is started with "{args}"'))
def real_tui(login: LoginScenario, args: str) -> None:
    login.lab.start_real(*shlex.split(args), env={"TOKV": "pairsim-test-token"}).finish(WAIT_S)


# -- Then -------------------------------------------------------------------------------------------------------


@then(parsers.parse('her browser shows "{title}"'))
def browser_shows(login: LoginScenario, title: str) -> None:
    page = login.lab.browser_page
    assert page is not None and page.title == title, page and page.title


@then(parsers.parse('the terminal says "{text}"'))
def terminal_says(login: LoginScenario, text: str) -> None:
    wanted = _placeholders(text, login)
    assert login.lab.wait_printed(wanted), f"{wanted!r} not in:\n{login.lab.terminal}"


@then(parsers.parse('the CI log says "{text}"'))
@then(parsers.parse('the command says "{text}"'))
def process_says(login: LoginScenario, text: str) -> None:
    outcome = login.lab.login_outcome()
    assert text in outcome.output.splitlines(), outcome.output


@then("the CI log never shows the access token")
def ci_log_clean(login: LoginScenario) -> None:
    outcome = login.lab.login_outcome()
    assert login.access_token and login.access_token not in outcome.stdout + outcome.stderr


def _in_keyring(login: LoginScenario) -> bool:
    home = login.lab.home
    return file_keyring(home).get_password(KEYRING_SERVICE, keyring_username(home)) is not None


@then("Dana's sign-in is saved in auth.json, readable only by her")
def saved_auth_json(login: LoginScenario) -> None:
    login.lab.login_outcome()
    path = login.lab.home / AUTH_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["auth_mode"] == "chatgpt"
    assert document["tokens"]["account_id"] in {w.id for w in login.lab.people["Dana"].account.workspaces}


@then("nothing is saved")
def nothing_saved(login: LoginScenario) -> None:
    login.lab.login_outcome()
    assert not (login.lab.home / AUTH_FILENAME).exists() and not _in_keyring(login)


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
    assert login.lab.login_still_waiting(), login.lab.terminal


@then(parsers.parse("the login has ended with exit code {code:d}"))
def ended_with(login: LoginScenario, code: int) -> None:
    outcome = login.lab.login_outcome()
    assert outcome.exit_code == code, outcome.output


@then(parsers.parse('the other program was sent "{path}"'))
def occupant_sent(login: LoginScenario, path: str) -> None:
    port = login.preferred if login.preferred is not None else FIXED_PORT
    occupant = login.lab.occupants[port]
    assert occupant.wait_sent(path, WAIT_S), occupant.paths()


@then(parsers.parse('only the program on the preferred port was sent "{path}"'))
@then(parsers.parse('only the program on port 1455 was sent "{path}"'))
def only_preferred(login: LoginScenario, path: str) -> None:
    preferred = login.preferred if login.preferred is not None else FIXED_PORT
    fallback = login.fallback if login.fallback is not None else FIXED_FALLBACK_PORT
    login.lab.login_outcome()
    sent = {port: login.lab.occupants[port].everything_sent(WAIT_S) for port in (preferred, fallback)}
    assert path in sent[preferred] and path not in sent[fallback], sent


@then(parsers.parse('the first login ends with "{line}"'))
def first_login_ends(login: LoginScenario, line: str) -> None:
    assert login.lab.first_cli is not None
    outcome = login.lab.first_cli.finish(WAIT_S)
    assert outcome.exit_code == 1 and line in outcome.stderr.splitlines(), outcome.output


@then("the new login serves on the same port")
def new_login_same_port(login: LoginScenario) -> None:
    lab = login.lab
    assert lab.first_cli is not None and lab.cli is not None and lab.cli.running
    assert lab.callback_port == lab.printed_port(lab.first_cli)
    assert (lab.visit_callback("/nothing").status_code, lab.first_cli.running) == (404, False)


@then(parsers.parse('the sign-in link sends the browser back to "{uri}"'))
def link_redirect(login: LoginScenario, uri: str) -> None:
    assert dict(parse_qsl(urlsplit(login.lab.authorize_url).query))["redirect_uri"] == uri


@then(parsers.parse('the terminal shows the device sign-in steps with a one-time code like "{example}"'))
def device_steps(login: LoginScenario, example: str) -> None:
    output = login.lab.terminal
    assert "Follow these steps to sign in with ChatGPT using device code authorization:" in output
    assert f"   {login.lab.issuer}/codex/device" in output
    shape = re.sub(r"[A-Z]", "[A-Z]", re.sub(r"[0-9]", "[0-9]", example))
    assert re.search(rf"^   {shape}$", output, re.MULTILINE), output


@then(parsers.parse('the device page says "{text}"'))
def device_page_says(login: LoginScenario, text: str) -> None:
    page = login.lab.browser_page
    assert page is not None and text in page.text, page and page.text


@then(parsers.parse("the CLI waited {seconds:d} seconds between its questions"))
def waited(login: LoginScenario, seconds: int) -> None:
    # What the backend observed: the instants of the polls it received, on the clock the CLI shares with it.
    [authorization] = login.lab.devices.all()
    times = authorization.poll_times
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert len(gaps) >= 3 and all(abs(gap - seconds) < 1e-6 for gap in gaps), gaps


@then(parsers.parse("Dana's sign-in is kept in {place}"))
def kept_in(login: LoginScenario, place: str) -> None:
    outcome = login.lab.login_outcome()
    assert outcome.exit_code == 0, outcome.output
    left_behind = sorted(str(p.relative_to(login.lab.home)) for p in login.lab.home.rglob("*"))
    where = ((login.lab.home / AUTH_FILENAME).exists(), _in_keyring(login))
    expected = {"auth.json": (True, False), "the keyring": (False, True), "memory only": (False, False)}[place]
    assert where == expected, f"auth.json, keyring: {where}"
    if place == "memory only":
        # Gone with the process that held it: it left no file at all, and a new CLI with the same home and the same
        # store finds no sign-in.
        assert left_behind == [], left_behind
        status = login.lab.ask_status(store_mode="ephemeral", keyring=login.keyring)
        assert (status.exit_code, status.stdout.splitlines()) == (1, [messages.CLI_STATUS_NOT_LOGGED_IN]), status.output


@then("no token Dana received appears in the terminal, the logs or the scenario report")
def no_token_anywhere(login: LoginScenario, caplog: pytest.LogCaptureFixture) -> None:
    outcome = login.lab.login_outcome()
    auth = json.loads((login.lab.home / AUTH_FILENAME).read_text())
    secrets = [v for k, v in auth["tokens"].items() if v and k != "account_id"] + [auth["OPENAI_API_KEY"]]
    assert len([s for s in secrets if s]) == 4
    logging.getLogger("pairsim.login.test").info("sign-in finished")  # the log is being captured
    # What the process printed, every file it left under the scenario's directory but the credential itself, the
    # lab's log, and what a report records of this scenario (its fixture, as a step parameter).
    written = {path: path.read_text("utf-8", "replace") for path in login.tmp.rglob("*")
               if path.is_file() and path != login.lab.home / AUTH_FILENAME}
    places = {"stdout": outcome.stdout, "stderr": outcome.stderr, "log": caplog.text, "report": repr(login),
              **{str(path): text for path, text in written.items()}}
    leaks = [where for where, text in places.items() for secret in secrets if secret and secret in text]
    assert not leaks, f"a token is in {leaks}"


SENDS_THE_TOKEN = 'sends the token and says "'


@then(parsers.parse("the remote client {verdict}"))
def remote_verdict(login: LoginScenario, verdict: str) -> None:
    attempt = login.lab.remote_attempt
    assert attempt is not None
    said = attempt.outcome.output
    if verdict.startswith(SENDS_THE_TOKEN):
        parts = urlsplit(attempt.url)
        # The feature quotes what the client prints, with the listener's `<port>` as the lab chose it.
        line = verdict.removeprefix(SENDS_THE_TOKEN).removesuffix('"').replace("<port>", str(parts.port))
        assert attempt.outcome.exit_code == 0, said
        assert line in attempt.outcome.stdout.splitlines(), said
        assert attempt.connections == [(parts.hostname, parts.port)], attempt.connections
        assert attempt.received == [f"Bearer {attempt.token}"], "the listener got no (or another) bearer token"
        return
    refusal = verdict.removeprefix("refuses: ")
    assert verdict.startswith("refuses: ") and attempt.outcome.exit_code == 1, said
    assert CONNECT_ERROR_PREFIX + refusal in attempt.outcome.stderr.splitlines(), said
    assert (attempt.connections, attempt.received) == ([], []), "the client connected before refusing"


@then(parsers.parse("pairsim's rule refuses \"{url}\" for the TUI with the same words"))
def tui_same_words(login: LoginScenario, url: str) -> None:
    with pytest.raises(RemoteTokenRefused) as refused:
        check_tui_remote(url)
    assert TUI_ERROR_PREFIX + refused.value.message in login.lab.terminal
