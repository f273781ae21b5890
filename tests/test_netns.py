"""Separate machines from network namespaces, real sshd/ssh between them, the laptop's browser as a process.

Needs root, like the remote-login scenarios; without it these tests fail with the reason (they never skip).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.netns import hosts
from simulators.netns.hosts import NETNS_DIR, NamespacesUnavailable, Network, run_in_namespace, sweep_stale
from simulators.netns.processes import listening_ports
from simulators.netns.remote_login import BrowserReport, RemoteLogin, with_port
from simulators.netns.ssh import ForwardFailed, SshServer, SshTunnel, bind_failure, forward_spec
from simulators.protocol.oauth import (
    build_authorize_url,
    generate_pkce,
    generate_state,
    loopback_redirect_uri,
)


def _connect(address: str, port: int) -> str:
    try:
        with socket.create_connection((address, port), timeout=3) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(12).decode("ascii", "replace")
    except OSError as exc:
        return os.strerror(exc.errno) if exc.errno else str(exc)


def _namespaces() -> set[str]:
    return set(os.listdir(NETNS_DIR)) if NETNS_DIR.exists() else set()


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with Network.create() as net:
        yield net


@pytest.fixture(scope="module")
def sshd(network: Network, tmp_path_factory: pytest.TempPathFactory) -> SshServer:
    return SshServer(network, tmp_path_factory.mktemp("sshd")).start()


@pytest.fixture(scope="module")
def remote_service(network: Network, tmp_path_factory: pytest.TempPathFactory) -> int:
    """An HTTP server on the remote machine's loopback, port 1455, where the CLI's callback server would be."""
    root = tmp_path_factory.mktemp("remote-www")
    process = network.spawn(network.remote, "remote http", [sys.executable, "-m", "http.server", "1455",
                                                            "--bind", "127.0.0.1", "--directory", str(root)])
    process.wait_listening(1455)
    return 1455


# ------------------------------------------------------------------------------------------------ pure parts


def test_forward_spec_is_what_the_user_types() -> None:
    assert forward_spec(1455) == "1455:localhost:1455"
    assert forward_spec(2455, 1455, "127.0.0.1") == "127.0.0.1:2455:localhost:1455"


def test_with_port_edits_only_the_port() -> None:
    url = "http://127.0.0.1:1455/auth/callback?code=c&state=s"
    assert with_port(url, 2455) == "http://127.0.0.1:2455/auth/callback?code=c&state=s"
    assert with_port("http://[::1]:1455/success", 2455) == "http://[::1]:2455/success"


def test_bind_failure_finds_sshs_line() -> None:
    said = ["bind [127.0.0.1]:1455: Address already in use", "Could not request local forwarding."]
    assert bind_failure(said) == "bind [127.0.0.1]:1455: Address already in use"
    assert bind_failure(["Could not request local forwarding."]) is None


def test_browser_report_description_never_shows_the_query() -> None:
    report = BrowserReport.parse(json.dumps({
        "pages": [], "hops": [], "landed": None, "last_url": "http://127.0.0.1:1455/auth/callback?code=SECRET",
        "failed": {"url": "http://127.0.0.1:1455/auth/callback", "errno": "ECONNREFUSED",
                   "error": "Connection refused"},
    }))
    assert "SECRET" not in report.describe()
    assert "Connection refused (ECONNREFUSED)" in report.describe()


def test_listening_ports_sees_only_the_processs_own_listeners() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port in listening_ports(os.getpid())
    assert port not in listening_ports(os.getpid())


def test_without_root_namespaces_fail_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts.os, "geteuid", lambda: 1000)
    with pytest.raises(NamespacesUnavailable, match="only root can create"):
        Network.create()


# ------------------------------------------------------------------------------------------------ machines


def test_each_machine_has_its_own_address_and_loopback(network: Network, remote_service: int) -> None:
    assert {h.netns for h in network.hosts.values()} <= _namespaces()
    assert network.laptop.address != network.remote.address
    # The remote machine reaches its own loopback service; the laptop's loopback is another place entirely.
    assert run_in_namespace(network.remote.netns, lambda: _connect("127.0.0.1", remote_service)) == "HTTP/1.0 200"
    assert run_in_namespace(network.laptop.netns, lambda: _connect("127.0.0.1", remote_service)) == (
        "Connection refused"
    )


def test_the_machines_reach_each_other_over_the_veths(network: Network, sshd: SshServer) -> None:
    reply = run_in_namespace(network.laptop.netns, lambda: _connect(network.remote.address, sshd.port))
    assert reply.startswith("SSH-2.0-")


def test_the_test_process_network_is_untouched(network: Network) -> None:
    # No address of ours is added to the root namespace: the /24 exists only inside the three namespaces.
    addresses = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    assert f"{hosts.SUBNET}." not in addresses


def test_close_stops_processes_and_deletes_the_namespaces_even_after_a_failure() -> None:
    with pytest.raises(RuntimeError, match="scenario failed"), Network.create() as net:
        sleeper = net.spawn(net.remote, "sleeper", ["sleep", "300"])
        names = {h.netns for h in net.hosts.values()}
        raise RuntimeError("scenario failed")
    assert not sleeper.running
    assert not names & _namespaces()
    assert not (hosts.LOCK_DIR / f"{net.network_id}.lock").exists()


def test_sweep_removes_namespaces_nobody_owns_and_keeps_live_ones(network: Network) -> None:
    stale = f"{hosts.NAME_PREFIX}dead00-laptop"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    swept = sweep_stale()
    assert stale in swept
    assert stale not in _namespaces()
    assert {h.netns for h in network.hosts.values()} <= _namespaces()


# ------------------------------------------------------------------------------------------------ ssh


def test_a_tunnel_carries_the_remote_loopback_port_to_the_laptop(
    network: Network, sshd: SshServer, remote_service: int
) -> None:
    tunnel = SshTunnel(sshd, 2455, remote_service).open()
    try:
        assert run_in_namespace(network.laptop.netns, lambda: _connect("127.0.0.1", 2455)) == "HTTP/1.0 200"
    finally:
        tunnel.close()
    assert run_in_namespace(network.laptop.netns, lambda: _connect("127.0.0.1", 2455)) == "Connection refused"


def test_a_taken_local_port_makes_ssh_give_up_with_its_own_words(
    network: Network, sshd: SshServer, tmp_path: Path
) -> None:
    holder = network.spawn(network.laptop, "holder", [sys.executable, "-m", "http.server", "3455", "--bind",
                                                       "127.0.0.1", "--directory", str(tmp_path)])
    holder.wait_listening(3455)
    try:
        with pytest.raises(ForwardFailed) as failed:
            SshTunnel(sshd, 3455, 1455, bind="127.0.0.1").open()
        assert failed.value.returncode == 255
        said = failed.value.stderr.splitlines()
        assert "bind [127.0.0.1]:3455: Address already in use" in said
        assert "Could not request local forwarding." in said
    finally:
        holder.stop()


# ------------------------------------------------------------------------------------------------ browser


def test_the_laptop_browser_signs_in_and_is_refused_at_the_loopback_callback(tmp_path: Path) -> None:
    login = RemoteLogin(tmp_path).start()
    try:
        person = login.create_person()
        login.authorize_url = build_authorize_url(login.issuer.url, redirect_uri=loopback_redirect_uri(),  # type: ignore[union-attr]
                                                  pkce=generate_pkce(), state=generate_state())
        report = login.browser_sign_in()
        assert report is not None
        assert report.pages[0] == "sign_in"
        assert report.failed == {"url": "http://127.0.0.1:1455/auth/callback", "errno": "ECONNREFUSED",
                                 "error": "Connection refused"}
        assert "code=" in report.last_url
        assert person.password not in login.browser.output("stdout")  # type: ignore[union-attr]
    finally:
        login.close()
