"""Real OpenSSH between the laptop and the remote machine: sshd on the remote, `ssh -N -L` on the laptop.

Keys are fresh ed25519 pairs made by `ssh-keygen` in a temporary directory (a host key for sshd, a user key for
root's login); nothing in ~/.ssh or /etc/ssh is read or written (`ssh -F /dev/null`, an sshd_config of our own).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulators.netns.hosts import Host, Network
from simulators.netns.processes import ManagedProcess, ProcessFailed
from simulators.protocol.errors import PairsimError

SSHD = "/usr/sbin/sshd"
SSHD_PORT = 2222  # inside the remote machine's own namespace: nothing else listens there
CALLBACK_PORT = 1455
READY_TIMEOUT = 10.0
# sshd refuses to start without its privilege-separation directory, which a container may never have created.
PRIVSEP_DIR = Path("/run/sshd")


class SshSetupFailed(PairsimError):
    """sshd or ssh-keygen did not do what the scenario needs (a harness problem, not a user's)."""


class ForwardFailed(PairsimError):
    """`ssh -L` exited because it could not set up the forward (ExitOnForwardFailure). `stderr` is what ssh said."""

    def __init__(self, message: str, stderr: str, returncode: int | None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


@dataclass(frozen=True)
class SshKeys:
    host_key: Path
    user_key: Path
    authorized_keys: Path
    known_hosts: Path


def generate_keys(directory: Path) -> SshKeys:
    directory.mkdir(parents=True, exist_ok=True)
    keys = SshKeys(directory / "ssh_host_ed25519_key", directory / "id_ed25519", directory / "authorized_keys",
                   directory / "known_hosts")
    for path, comment in ((keys.host_key, "pairsim-remote-host"), (keys.user_key, "pairsim-laptop-user")):
        result = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                                capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise SshSetupFailed(f"ssh-keygen failed: {result.stderr.strip()}")
    keys.authorized_keys.write_text(keys.user_key.with_suffix(".pub").read_text())
    keys.authorized_keys.chmod(0o600)
    return keys


def sshd_config(host: Host, port: int, keys: SshKeys, directory: Path) -> str:
    return "\n".join([
        f"ListenAddress {host.address}:{port}",
        f"HostKey {keys.host_key}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {keys.authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding yes",
        "GatewayPorts no",
        "StrictModes no",  # the key files live in a temporary directory, not a home with strict permissions
        "UsePAM no",
        "PrintMotd no",
        "LogLevel INFO",
        "",
    ])


class SshServer:
    """`sshd -D -e` on the remote machine, listening on its LAN address."""

    def __init__(self, network: Network, directory: Path, *, port: int = SSHD_PORT) -> None:
        self.network = network
        self.host = network.remote
        self.port = port
        self.directory = directory
        self.keys = generate_keys(directory / "keys")
        self.config = directory / "sshd_config"
        self.config.write_text(sshd_config(self.host, port, self.keys, directory))
        self.process: ManagedProcess | None = None

    def start(self) -> SshServer:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise SshSetupFailed(f"sshd refused its configuration: {check.stderr.strip()}")
        self.process = self.network.spawn(self.host, "sshd", [SSHD, "-D", "-e", "-f", str(self.config)])
        try:
            self.process.wait_listening(self.port, timeout=READY_TIMEOUT)
        except ProcessFailed as exc:
            raise SshSetupFailed(f"sshd did not start: {self.process.output()[-500:]}") from exc
        return self

    def log(self) -> str:
        return self.process.output() if self.process else ""


def forward_spec(local_port: int, remote_port: int = CALLBACK_PORT, bind: str | None = None) -> str:
    """What the user types after `-L`: `[bind:]LPORT:localhost:RPORT`."""
    prefix = f"{bind}:" if bind else ""
    return f"{prefix}{local_port}:localhost:{remote_port}"


class SshTunnel:
    """`ssh -N -L …` from the laptop to the remote machine's sshd."""

    def __init__(self, server: SshServer, local_port: int = CALLBACK_PORT, remote_port: int = CALLBACK_PORT,
                 *, bind: str | None = None) -> None:
        self.server = server
        self.local_port = local_port
        self.spec = forward_spec(local_port, remote_port, bind)
        self.process: ManagedProcess | None = None

    def argv(self) -> list[str]:
        keys = self.server.keys
        return [
            "ssh", "-F", "/dev/null", "-N",
            "-L", self.spec,
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", f"UserKnownHostsFile={keys.known_hosts}",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=10",
            "-i", str(keys.user_key),
            "-p", str(self.server.port),
            f"root@{self.server.host.address}",
        ]

    def open(self, *, timeout: float = READY_TIMEOUT) -> SshTunnel:
        """Start ssh and return once it listens on the local port; ForwardFailed if ssh gives up instead."""
        network = self.server.network
        self.process = network.spawn(network.laptop, "ssh", self.argv())
        try:
            self.process.wait_listening(self.local_port, timeout=timeout)
        except ProcessFailed as exc:
            if self.process.running:
                raise
            self.process.wait_exit()
            stderr = self.process.output()
            raise ForwardFailed(f"ssh -L {self.spec} exited with {self.process.returncode}", stderr,
                                self.process.returncode) from exc
        return self

    def messages(self) -> list[str]:
        """What ssh printed, minus the first-connection known_hosts notice."""
        if self.process is None:
            return []
        return [line for line in self.process.lines() if not line.startswith("Warning: Permanently added")]

    def close(self) -> None:
        """The user closes the tunnel (or the connection drops): ssh ends at once, its listener with it."""
        if self.process is not None:
            self.process.kill()


def bind_failure(messages: list[str]) -> str | None:
    """ssh's line saying which local address it could not bind, e.g. `bind [127.0.0.1]:1455: Address already in use`."""
    for line in messages:
        if re.match(r"bind \[[^\]]+\]:\d+: ", line):
            return line
    return None
