"""The Mac's side of SSH: the laptop namespace, with a home of its own for OpenSSH.

OpenSSH finds `~/.ssh/config`, `~/.ssh/known_hosts` and `~/.ssh/id_ed25519` through the account's home in the
password database, not `$HOME`, so the Mac's ssh runs in a private mount namespace where the Mac's home (a
temporary directory) is bound over /root. Every `ssh` and `ssh -G` the desktop runs therefore reads the Mac's own
files, and nothing in this machine's /root/.ssh is read or written.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators.netns.hosts import Network
from simulators.netns.processes import ManagedProcess
from simulators.netns.ssh import SshSetupFailed

_BIND_HOME = 'mount --bind "$0" /root && exec "$@"'
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Finished:
    """One command the Mac ran to its end."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Mac:
    def __init__(self, network: Network, directory: Path) -> None:
        self.network = network
        self.home = directory / "mac-home"
        self.ssh_dir = self.home / ".ssh"
        self.ssh_dir.mkdir(parents=True)
        self.ssh_dir.chmod(0o700)
        self.key = self.ssh_dir / "id_ed25519"
        result = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dana@mac", "-f",
                                 str(self.key)], capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise SshSetupFailed(f"ssh-keygen failed: {result.stderr.strip()}")
        self.config = self.ssh_dir / "config"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.config.write_text("")
        self.known_hosts.write_text("")

    @property
    def public_key(self) -> str:
        return self.key.with_suffix(".pub").read_text().strip()

    def write_config(self, text: str) -> None:
        self.config.write_text(text)
        self.config.chmod(0o600)

    def write_file(self, relative: str, text: str) -> None:
        """A file under the Mac's home (`.ssh/config.d/work`, say)."""
        path = self.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def trust_host_key(self, address: str, public_key: str) -> None:
        """known_hosts says `address` has this key (the person connected once before)."""
        key_type, key_body = public_key.split()[:2]
        self.known_hosts.write_text(f"{address} {key_type} {key_body}\n")

    def argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` run on the Mac with the Mac's home as root's home."""
        return self.network.laptop.command(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _BIND_HOME, str(self.home), *argv])

    def run(self, argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> Finished:
        result = subprocess.run(self.argv(argv), capture_output=True, text=True, check=False, timeout=timeout,
                                stdin=subprocess.DEVNULL, errors="replace")
        return Finished(tuple(argv), result.returncode, result.stdout, result.stderr)

    def spawn(self, label: str, argv: Sequence[str]) -> ManagedProcess:
        """A long-lived command (a tunnel); `unshare` and `sh` exec into it, so its pid is the command's."""
        return self.network.spawn(self.network.laptop, label,
                                  ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _BIND_HOME,
                                   str(self.home), *argv])

    def occupy_port(self, port: int) -> ManagedProcess:
        """Another program on the Mac listens on `port` of its loopback (another tunnel, a dev server)."""
        code = (
            "import socket\n"
            f"s=socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(8)\n"
            "while True:\n"
            "    s.accept()[0].close()\n"
        )
        process = self.network.spawn(self.network.laptop, "mac-port-holder", ["python3", "-c", code])
        process.wait_listening(port, timeout=10.0)
        return process
