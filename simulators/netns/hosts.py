"""Three machines on one small private network, made of Linux network namespaces.

    laptop  (pairsim-<id>-laptop)  10.14.55.2  ─┐
                                                 ├─ br0 in the cloud namespace, 10.14.55.1
    remote  (pairsim-<id>-remote)  10.14.55.3  ─┘
    cloud   (pairsim-<id>-cloud)   hosts the OAuth issuer; the "internet" both machines reach

Each namespace has its own loopback, so `127.0.0.1:1455` on the remote machine (the CLI's callback server) is
out of the laptop's reach, exactly as on two real computers: the laptop's browser gets "connection refused"
unless an SSH tunnel carries the port across. The issuer lives in a third namespace rather than the root one so
that no address is ever added outside loopback and our own namespaces; the /24 exists only in them, so every
Network may use the same one (two Networks share nothing).

Lifetime: `Network.create()` first sweeps namespaces left by a run that died (their owner's lock is free), then
builds its own while holding an flock on /run/pairsim-netns/<id>.lock; `close()` (also from `with`, so also when
a scenario fails) stops the processes it started, kills anything else still inside its namespaces and deletes
them. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from simulators.netns.processes import ManagedProcess
from simulators.protocol.errors import PairsimError

T = TypeVar("T")

NAME_PREFIX = "pairsim-"
NETNS_DIR = Path("/run/netns")
LOCK_DIR = Path("/run/pairsim-netns")
SUBNET = "10.14.55"
PREFIX_LEN = 24
BRIDGE = "br0"
CLONE_NEWNET = 0x40000000
ROLES = ("cloud", "laptop", "remote")
_HOST_NUMBER = {"cloud": 1, "laptop": 2, "remote": 3}
CLOUD_ADDRESS = f"{SUBNET}.{_HOST_NUMBER['cloud']}"  # the same in every network: each has namespaces of its own


class NamespacesUnavailable(PairsimError):
    """This machine cannot give a scenario separate network places (not root, no iproute2, no kernel support)."""


@dataclass(frozen=True)
class Host:
    """One machine: a network namespace and its address on the shared /24."""

    role: str
    netns: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run on this machine."""
        return ["ip", "netns", "exec", self.netns, *argv]


def require_privileges() -> None:
    """Fail with a sentence a person can act on when namespaces cannot be made here."""
    if os.geteuid() != 0:
        raise NamespacesUnavailable(
            "the remote-login scenarios need separate network namespaces, which only root can create; "
            "run the tests as root (CI does), e.g. `sudo make test`"
        )
    if shutil.which("ip") is None:
        raise NamespacesUnavailable("`ip` (iproute2) is not installed; run scripts/ensure-system-deps")


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise NamespacesUnavailable(f"`ip {' '.join(args)}` failed: {result.stderr.strip() or result.returncode}")
    return result.stdout


def enter_namespace(netns: str) -> None:
    """Move the *calling thread* into `netns`. Network namespaces are per thread, so the rest of the process
    (and every socket it already has) stays where it was; sockets this thread opens from now on live there."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / netns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NamespacesUnavailable(f"cannot enter namespace {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def run_in_namespace(netns: str, fn: Callable[[], T], *, timeout: float = 30.0) -> T:
    """Call `fn` on a fresh thread that lives in `netns` (for probes from the test process)."""
    outcome: dict[str, object] = {}

    def body() -> None:
        try:
            enter_namespace(netns)
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=body, name=f"in-{netns}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"call inside {netns} did not finish in {timeout}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _namespace_ids() -> dict[str, list[str]]:
    """Our namespaces now on this machine, by network id."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return {}
    ids: dict[str, list[str]] = {}
    for name in names:
        if name.startswith(NAME_PREFIX) and name.count("-") >= 2:
            ids.setdefault(name[len(NAME_PREFIX):].rsplit("-", 1)[0], []).append(name)
    return ids


def _kill_everything_in(netns: str) -> None:
    # Only our own namespaces are ever passed here: whatever runs inside one was started by a pairsim run.
    with contextlib.suppress(NamespacesUnavailable):
        for pid in _ip("netns", "pids", netns).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _delete_namespaces(names: Sequence[str]) -> list[str]:
    failed = []
    for name in names:
        _kill_everything_in(name)
        try:
            _ip("netns", "delete", name)
        except NamespacesUnavailable:
            if (NETNS_DIR / name).exists():
                failed.append(name)
    return failed


def sweep_stale() -> list[str]:
    """Delete namespaces whose Network's owner is gone (its lock file is missing or nobody holds its flock);
    return their names. A live Network anywhere on the machine (another xdist worker) keeps its lock held."""
    swept: list[str] = []
    for network_id, names in _namespace_ids().items():
        lock_path = LOCK_DIR / f"{network_id}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            fd = None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
        try:
            _delete_namespaces(names)
            swept.extend(names)
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
        finally:
            if fd is not None:
                os.close(fd)
    return swept


@dataclass
class Network:
    """The laptop, the remote machine and the cloud, and every process started on them."""

    network_id: str
    hosts: dict[str, Host]
    _lock_fd: int = field(repr=False)
    _processes: list[ManagedProcess] = field(default_factory=list, repr=False)
    _closed: bool = False

    @classmethod
    def create(cls, network_id: str | None = None) -> Network:
        require_privileges()
        sweep_stale()
        network_id = network_id or secrets.token_hex(3)
        LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(LOCK_DIR / f"{network_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        hosts = {
            role: Host(role, f"{NAME_PREFIX}{network_id}-{role}", f"{SUBNET}.{_HOST_NUMBER[role]}") for role in ROLES
        }
        network = cls(network_id, hosts, lock_fd)
        try:
            network._build()
        except BaseException:
            network.close()
            raise
        return network

    def _build(self) -> None:
        for host in self.hosts.values():
            _ip("netns", "add", host.netns)
            _ip("-n", host.netns, "link", "set", "lo", "up")
        cloud = self.cloud.netns
        # forward_delay 0: with STP off the ports forward at once; no learning period to wait out.
        _ip("-n", cloud, "link", "add", BRIDGE, "type", "bridge", "forward_delay", "0")
        _ip("-n", cloud, "addr", "add", f"{self.cloud.address}/{PREFIX_LEN}", "dev", BRIDGE)
        _ip("-n", cloud, "link", "set", BRIDGE, "up")
        for machine in (self.laptop, self.remote):
            port = f"lan-{machine.role}"
            _ip("-n", cloud, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", machine.netns)
            _ip("-n", cloud, "link", "set", port, "master", BRIDGE, "up")
            _ip("-n", machine.netns, "addr", "add", f"{machine.address}/{PREFIX_LEN}", "dev", "eth0")
            _ip("-n", machine.netns, "link", "set", "eth0", "up")

    @property
    def laptop(self) -> Host:
        return self.hosts["laptop"]

    @property
    def remote(self) -> Host:
        return self.hosts["remote"]

    @property
    def cloud(self) -> Host:
        return self.hosts["cloud"]

    def spawn(self, host: Host, label: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
              interactive: bool = False) -> ManagedProcess:
        """Start `argv` on `host`; the Network stops it at close() if nobody did before."""
        if self._closed:
            raise RuntimeError("the network is closed")
        process = ManagedProcess(label, host.command(argv), env=env, interactive=interactive)
        self._processes.append(process)
        return process

    def close(self) -> None:
        """Stop every process, delete the namespaces, release the lock. Runs to the end even if a step fails."""
        if self._closed:
            return
        self._closed = True
        try:
            for process in reversed(self._processes):
                with contextlib.suppress(Exception):
                    process.stop()
            failed = _delete_namespaces([h.netns for h in self.hosts.values() if (NETNS_DIR / h.netns).exists()])
            if failed:
                raise NamespacesUnavailable(f"could not delete namespaces {', '.join(failed)}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                (LOCK_DIR / f"{self.network_id}.lock").unlink()
            os.close(self._lock_fd)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
