"""Signing in on a remote machine, end to end across real machines: the world the remote-login scenarios drive.

The laptop, the remote machine and the cloud are namespaces (`hosts`); the issuer runs on the cloud
(`cloud`); `pairsim login` runs on the remote machine as its own process, exactly as a user runs `codex login`
there over SSH; the browser runs on the laptop (`browser_walk`); tunnels are real `ssh -L` to a real sshd
(`ssh`). Every method here is one thing a person does or sees, so steps stay one line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from simulators.backend.accounts import CreatedAccount
from simulators.netns.cloud import CloudIssuer
from simulators.netns.hosts import Network
from simulators.netns.processes import ManagedProcess, ProcessFailed
from simulators.netns.ssh import CALLBACK_PORT, SshServer, SshTunnel
from simulators.protocol.redaction import is_secret_key, secret_values

CLI_READY_TIMEOUT = 20.0
BROWSER_TIMEOUT = 30.0
AUTH_FILENAME = "auth.json"
SUCCESS_LINE = "Successfully logged in"
ERROR_PREFIX = "Error logging in: "
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BrowserReport:
    """What the laptop's browser saw (see browser_walk). `last_url` may hold an authorization code: never print it."""

    pages: tuple[str, ...]
    hops: tuple[dict[str, Any], ...]
    landed: dict[str, Any] | None
    failed: dict[str, Any] | None
    last_url: str

    @classmethod
    def parse(cls, raw: str) -> BrowserReport:
        body = json.loads(raw)
        return cls(tuple(body["pages"]), tuple(body["hops"]), body["landed"], body["failed"], body["last_url"])

    def describe(self) -> str:
        """A line for assertion messages: addresses and statuses only, never a query string."""
        if self.failed:
            return f"could not load {self.failed['url']}: {self.failed['error']} ({self.failed['errno']})"
        if self.landed:
            return f"HTTP {self.landed['status']} {self.landed['title']!r} at {self.landed['url']}"
        return "nothing"


def with_port(url: str, port: int) -> str:
    """The address with its port changed, as a person edits it in the address bar."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RemoteLogin:
    """One person, a laptop, a remote machine and the cloud; built by `start()`, torn down by `close()`."""

    def __init__(self, directory: Path | None = None, *, seed: int = 0) -> None:
        self._tmp = None if directory is not None else tempfile.TemporaryDirectory(prefix="pairsim-remote-login-")
        self.directory = directory if directory is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.seed = seed
        self.network: Network | None = None
        self.issuer: CloudIssuer | None = None
        self.sshd: SshServer | None = None
        self.person: CreatedAccount | None = None
        self.cli: ManagedProcess | None = None
        self.authorize_url = ""
        self.tunnels: list[SshTunnel] = []
        self.browser: ManagedProcess | None = None
        self.reports: list[BrowserReport] = []

    # ------------------------------------------------------------------------------------------- the machines

    def start(self) -> RemoteLogin:
        try:
            self.network = Network.create()
            self.issuer = CloudIssuer(self.network, seed=self.seed).start()
            self.sshd = SshServer(self.network, self.directory / "sshd").start()
        except BaseException:
            self.close()
            raise
        return self

    def _net(self) -> Network:
        if self.network is None:
            raise RuntimeError("RemoteLogin.start() was not called")
        return self.network

    def create_person(self, **fields: Any) -> CreatedAccount:
        assert self.issuer is not None
        self.person = self.issuer.control.create_account(**fields)
        return self.person

    @property
    def remote_home(self) -> Path:
        return self.directory / "remote-home"

    def _python(self) -> list[str]:
        return [sys.executable]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        # No proxy may carry the browser or the CLI off their machine.
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.pop(name, None)
        return env

    # ------------------------------------------------------------------------------------------- remote machine

    def start_cli_login(self) -> str:
        """`pairsim login` on the remote machine; returns the authorize URL it printed."""
        net = self._net()
        assert self.issuer is not None
        self.remote_home.mkdir(parents=True, exist_ok=True)
        argv = [*self._python(), "-m", "simulators.cli", "login", "--issuer", self.issuer.url,
                "--home", str(self.remote_home), "--no-browser"]
        self.cli = net.spawn(net.remote, "pairsim login", argv, env=self._env())
        match = self.cli.wait_for_line(re.escape(self.issuer.url) + r"/oauth/authorize\?\S+",
                                       timeout=CLI_READY_TIMEOUT)
        self.authorize_url = match.group(0)
        return self.authorize_url

    def cli_output(self) -> list[str]:
        assert self.cli is not None
        return self.cli.lines("stdout") + self.cli.lines("stderr")

    def cli_waiting(self) -> bool:
        """The login is still waiting for the browser: running, and it has printed no verdict."""
        assert self.cli is not None
        said = self.cli_output()
        return self.cli.running and SUCCESS_LINE not in said and not any(
            line.startswith(ERROR_PREFIX) for line in said
        )

    def wait_cli_said(self, line: str, timeout: float = CLI_READY_TIMEOUT) -> None:
        assert self.cli is not None
        for stream in ("stderr", "stdout"):
            if line in self.cli.lines(stream):
                return
        try:
            self.cli.wait_for_line(f"^{re.escape(line)}$", stream="stderr", timeout=timeout)
        except ProcessFailed:
            if line not in self.cli.lines("stdout"):
                raise

    def saved_auth_path(self) -> Path:
        return self.remote_home / AUTH_FILENAME

    def saved_auth(self) -> dict[str, Any]:
        return json.loads(self.saved_auth_path().read_text())

    # ------------------------------------------------------------------------------------------- laptop

    def open_tunnel(self, local_port: int = CALLBACK_PORT, *, bind: str | None = None) -> SshTunnel:
        """`ssh -N -L [bind:]LPORT:localhost:1455 root@remote`; raises ForwardFailed when ssh gives up."""
        assert self.sshd is not None
        tunnel = SshTunnel(self.sshd, local_port, CALLBACK_PORT, bind=bind)
        self.tunnels.append(tunnel)
        return tunnel.open()

    def occupy_laptop_port(self, port: int, *, dual_stack: bool) -> ManagedProcess:
        """Another program listening on the laptop: on 127.0.0.1 only, or on IPv4 and IPv6 (`[::]`, dual stack)."""
        net = self._net()
        empty = self.directory / "occupant-root"
        empty.mkdir(exist_ok=True)
        bind = "::" if dual_stack else "127.0.0.1"
        occupant = net.spawn(net.laptop, f"program on {port}",
                             [*self._python(), "-m", "http.server", str(port), "--bind", bind,
                              "--directory", str(empty)], env=self._env())
        occupant.wait_listening(port)
        return occupant

    def browser_sign_in(self, *, pause_before_leaving: bool = False) -> BrowserReport | None:
        """The person signs in in the laptop's browser with the URL the CLI printed. With `pause_before_leaving`
        the browser stops at the issuer's redirect (returns None); `browser_continue()` follows it."""
        net = self._net()
        assert self.person is not None
        argv = [*self._python(), "-m", "simulators.netns.browser_walk", "sign-in"]
        if pause_before_leaving:
            argv.append("--pause-before-leaving")
        self.browser = net.spawn(net.laptop, "browser", argv, env=self._env(), interactive=True)
        self.browser.send_line(json.dumps({
            "url": self.authorize_url, "email": self.person.account.email, "password": self.person.password,
            "totp_secret": self.person.totp_secret,
        }))
        if pause_before_leaving:
            self.browser.wait_for_line(r'^\{"paused_at"', stream="stdout", timeout=BROWSER_TIMEOUT)
            return None
        return self._browser_report()

    def browser_continue(self) -> BrowserReport:
        assert self.browser is not None
        self.browser.send_line("continue")
        return self._browser_report()

    def browser_open(self, url: str) -> BrowserReport:
        net = self._net()
        self.browser = net.spawn(net.laptop, "browser", [*self._python(), "-m", "simulators.netns.browser_walk",
                                                         "open", url], env=self._env())
        return self._browser_report()

    def _browser_report(self) -> BrowserReport:
        assert self.browser is not None
        code = self.browser.wait_exit(BROWSER_TIMEOUT)
        lines = [line for line in self.browser.lines("stdout") if not line.startswith('{"paused_at"')]
        if code != 0 or not lines:
            raise ProcessFailed(f"the browser exited with {code}: {self.browser.output()[-800:]}")
        report = BrowserReport.parse(lines[-1])
        self.reports.append(report)
        return report

    def last_report(self) -> BrowserReport:
        if not self.reports:
            raise AssertionError("the browser has not been used yet in this scenario")
        return self.reports[-1]

    def edit_address_port(self, port: int) -> BrowserReport:
        """The person changes the port of the address the browser is stuck on and presses Enter."""
        return self.browser_open(with_port(self.last_report().last_url, port))

    def reload(self) -> BrowserReport:
        return self.browser_open(self.last_report().last_url)

    # ------------------------------------------------------------------------------------------- reports

    def issued_secrets(self) -> Iterator[str]:
        """Every secret of this sign-in, so a test can prove none reached a report: the person's password and TOTP
        secret, what the CLI saved, and the authorization codes the browser carried to the callback."""
        if self.person is not None:
            yield self.person.password
            if self.person.totp_secret:
                yield self.person.totp_secret
        if self.saved_auth_path().is_file():  # written atomically by the CLI: whole or absent
            yield from secret_values(self.saved_auth())
        for report in self.reports:
            yield from (value for key, value in parse_qsl(urlsplit(report.last_url).query) if is_secret_key(key))

    # ------------------------------------------------------------------------------------------- teardown

    def close(self) -> None:
        try:
            if self.issuer is not None:
                self.issuer.stop()
        finally:
            try:
                if self.network is not None:
                    self.network.close()
            finally:
                if self._tmp is not None:
                    self._tmp.cleanup()
