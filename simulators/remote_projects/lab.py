"""A Mac, a remote host called `devbox` and the network between them: the world of the SSH remote-project
scenarios. One method per thing a person sets up or does, so steps stay one line; `close()` ends every process
and namespace, also when a scenario failed half way."""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.daemon.workspace import Workspace
from simulators.netns.hosts import Network
from simulators.netns.remote_host import SSH_PORT, RemoteAccount, RemoteHost
from simulators.remote_projects.cloud_backend import CloudBackend
from simulators.remote_projects.desktop import RemoteProjectsDesktop
from simulators.remote_projects.mac import Mac

ALIAS = "devbox"
SKELETON_BASHRC = Path("/etc/skel/.bashrc")


@dataclass
class RemoteProjectsLab:
    directory: Path
    profile: str = "fixed"
    account: RemoteAccount = field(default_factory=RemoteAccount)
    network: Network | None = None
    mac: Mac | None = None
    host: RemoteHost | None = None
    desktop: RemoteProjectsDesktop | None = None
    config_extra: str = ""  # lines for devbox's Host block in the Mac's ~/.ssh/config
    config_head: str = ""  # lines before it (an Include, say)
    known_host: str = "trusted"  # "trusted", "unknown" or "changed"
    install_dir: str | None = None  # CODEX_INSTALL_DIR in the desktop's environment
    mac_files: dict[str, str] = field(default_factory=dict)  # more files in the Mac's home (an Include's target)
    thread_id: str | None = None  # the thread a scenario started on devbox
    signed_in: bool = False  # whether codex on devbox is signed in to ChatGPT (the backend on the cloud host)
    backend: CloudBackend | None = None
    last_turn: dict[str, Any] | None = None  # the last turn a scenario ran on devbox, as turn/completed gave it
    project: Workspace | None = None  # the person's git project on devbox (on this machine's disk)
    turn: tuple[str, int] | None = None  # the turn under way: its id and the notifications before it
    approvals_seen: int = 0

    def open_network(self) -> RemoteProjectsLab:
        self.network = Network.create()
        self.mac = Mac(self.network, self.directory)
        return self

    def start_host(self) -> RemoteHost:
        """devbox comes up: the account as the scenario described it, sshd, and the Mac's config naming it."""
        assert self.network is not None and self.mac is not None
        if self.signed_in:
            self.backend = CloudBackend(self.network, self.directory).start()
            bashrc = self.account.rc_files.get(".bashrc", SKELETON_BASHRC.read_text())
            # Above Debian's interactive-only check: the app-server's non-interactive shell reads it too.
            self.account.rc_files[".bashrc"] = CloudBackend.ca_line(self.account.home) + bashrc
        self.host = RemoteHost(self.network, self.directory / "devbox", self.account,
                               authorized_key=self.mac.public_key).start()
        if self.backend is not None:
            self.backend.sign_in(self.host.home, self.account.uid)
        self.write_mac_config()
        for relative, text in self.mac_files.items():
            self.mac.write_file(relative, text)
        address = self.network.remote.address
        if self.known_host == "trusted":
            self.mac.trust_host_key(address, self.host.public_host_key())
        elif self.known_host == "changed":
            self.mac.trust_host_key(address, _another_host_key(self.directory))
        return self.host

    def write_mac_config(self) -> None:
        assert self.network is not None and self.mac is not None
        block = "\n".join(line for line in [
            f"Host {ALIAS}",
            f"  HostName {self.network.remote.address}",
            f"  User {self.account.user}",
            f"  Port {SSH_PORT}",
            *[f"  {line}" for line in self.config_extra.splitlines() if line.strip()],
        ])
        # A pattern-only entry, as most configs have: options for every host, not a host one can open.
        self.mac.write_config(f"{self.config_head}\n{block}\n\nHost *\n  ServerAliveInterval 30\n")

    def seed_project(self, name: str = "project") -> Workspace:
        """The person's git repository in her home on devbox (the tiny project the model's turns work on)."""
        assert self.host is not None
        self.project = Workspace.seed(self.host.home / name)
        for path in [self.project.root, *self.project.root.rglob("*")]:
            os.lchown(path, self.account.uid, self.account.uid)
        return self.project

    def open_desktop(self, install_dir: str | None = None) -> RemoteProjectsDesktop:
        assert self.mac is not None
        self.desktop = RemoteProjectsDesktop(self.mac, self.profile, install_dir=install_dir)
        return self.desktop

    def close(self) -> None:
        try:
            if self.desktop is not None:
                self.desktop.close()
        finally:
            try:
                if self.backend is not None:
                    self.backend.stop()
            finally:
                if self.network is not None:
                    self.network.close()


def _another_host_key(directory: Path) -> str:
    """The key devbox had before it was reinstalled: a real key, just not the one it has now."""
    path = directory / "old-devbox-key"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "devbox-before", "-f", str(path)],
                   capture_output=True, check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()
