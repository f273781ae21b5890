"""A remote project's host over real SSH: `devbox` of the SSH lab, as a `link.RemoteHost`.

The lab gives the Mac (the laptop namespace, OpenSSH with the Mac's own ~/.ssh) and devbox (sshd in namespaces of
its own, Dana's account and login shell, the real codex laid out as npm installs it). Here the project is a git
repository in Dana's home there, read from this machine through the host's backing folder; the link's `open()`
does what the desktop does before every connection (`ensure_remote_app_server_and_tunnel`: probe, start unless an
app-server answers, `ssh -N -L`) and then opens the WebSocket from the laptop namespace. So after
`drop_connection()` (the tunnel's ssh is killed and the Mac's network goes down) the session's reconnect really
runs ssh again, and finds the app-server devbox kept running.

devbox's codex reaches the world's own backend, the one the Mac and the phone use: a forwarder listens on the cloud
host's address (its socket made in the cloud namespace) and carries each connection to the world's path for this
host on this machine's loopback; the world's TLS leaf names the cloud address, so codex checks the model's HTTPS
origin for real against the world's CA, which Dana's shell names for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection

from simulators.daemon.workspace import PROJECT
from simulators.netns.hosts import run_in_namespace
from simulators.netns.processes import ManagedProcess
from simulators.netns.remote_host import RemoteAccount
from simulators.network import LoopbackForwarder
from simulators.real.codex import write_config_toml
from simulators.remote_projects.lab import ALIAS, SKELETON_BASHRC, RemoteProjectsLab
from simulators.remote_projects.link import RemoteAccess
from simulators.remote_projects.ssh_link import SshTunnelLink
from simulators.tls import CA_ENVIRONMENT_VARIABLE

AUTH_FILE = "auth.json"
CA_NAME = "pairsim-ca.pem"
# What the remote app-server logs: warnings, without the plugin and model managers' noise about our backend.
RUST_LOG = "warn,codex_core_plugins=error,codex_models_manager=off"


class CloudForwarder(LoopbackForwarder):
    """A forwarder whose listening socket lives in the cloud namespace (a socket keeps the namespace it was made
    in), while its loop, on this machine's namespace, connects to the target on this machine's loopback."""

    def __init__(self, netns: str, address: str, target_host: str, target_port: int, *, name: str) -> None:
        super().__init__(target_host, target_port, name=name)
        self._netns = netns
        self._address = address

    async def start(self) -> CloudForwarder:
        if self._started:
            return self
        self._started = True

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((self._address, 0))
            return sock

        self._socket = run_in_namespace(self._netns, make)
        self._socket.setblocking(False)
        self._listen()
        return self

    @property
    def url(self) -> str:
        return f"http://{self._address}:{self.port}"


def _port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    return parts.hostname, parts.port


class SshRemoteLink:
    """A `RemoteLink` over SSH: every `open()` makes sure the remote app-server runs and the tunnel is up first."""

    def __init__(self, host: SshRemoteHost) -> None:
        self.name = host.alias
        self._host = host

    async def open(self) -> ClientConnection:
        link = await self._host.ensure_tunnel()
        return await link.open()


class SshRemoteHost:
    """devbox with Dana's project and the real codex, reached by the Mac over real SSH. Coroutines run on one loop."""

    def __init__(self, alias: str, directory: Path, access: RemoteAccess, *, sign_in_from: Path | None) -> None:
        if alias != ALIAS:
            raise ValueError(f"the SSH lab's remote host is {ALIAS!r}, not {alias!r}")
        self.alias = alias
        self.access = access
        self.sign_in_from = sign_in_from
        directory.mkdir(parents=True, exist_ok=True)
        self.lab = RemoteProjectsLab(directory)
        self._paths: list[CloudForwarder] = []
        self._tunnel: ManagedProcess | None = None
        self._link: SshTunnelLink | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------------------------------ RemoteHost

    @property
    def project_cwd(self) -> str:
        return f"{self.lab.account.home}/{PROJECT}"

    @property
    def project_dir(self) -> Path:
        assert self.lab.host is not None, "devbox is not started"
        return self.lab.host.home / PROJECT

    def link(self) -> SshRemoteLink:
        return SshRemoteLink(self)

    async def drop_connection(self) -> None:
        """The Mac loses its network: the tunnel's ssh dies (the open WebSocket ends with it) and every new ssh
        fails until it is back. devbox and its app-server keep running."""
        await asyncio.to_thread(self._mac_link, "down")
        async with self._lock:
            tunnel, self._tunnel, self._link = self._tunnel, None, None
        if tunnel is not None:
            await asyncio.to_thread(tunnel.stop)

    async def restore_connection(self) -> None:
        await asyncio.to_thread(self._mac_link, "up")

    def log_lines(self) -> tuple[str, ...]:
        lines: list[str] = []
        if self.lab.desktop is not None:
            lines += self.lab.desktop.log
        if self.lab.host is not None:
            with contextlib.suppress(OSError):
                lines += self.lab.host.app_server_log().splitlines()
        return tuple(lines)

    async def stop(self) -> None:
        for path in self._paths:
            with contextlib.suppress(Exception):
                await path.close()
        if self._tunnel is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._tunnel.stop)
        await asyncio.to_thread(self.lab.close)

    # ------------------------------------------------------------------------------------------ building

    async def start(self) -> SshRemoteHost:
        try:
            await asyncio.to_thread(self.lab.open_network)
            assert self.lab.network is not None
            cloud = self.lab.network.cloud
            backend = await CloudForwarder(cloud.netns, cloud.address, *_port(self.access.chatgpt_base_url),
                                           name=f"cloud:{self.alias}").start()
            self._paths.append(backend)
            if self.access.model_url is not None and self.access.origins is not None:
                model = await CloudForwarder(cloud.netns, cloud.address, *_port(self.access.model_url),
                                             name=f"cloud:{self.alias}:tls").start()
                self._paths.append(model)
                # Discovery names the model's HTTPS origin as devbox reaches it.
                self.access.origins[f"{cloud.address}:{backend.port}"] = \
                    model.url.replace("http://", "https://", 1)
            await asyncio.to_thread(self._build, backend.url)
        except BaseException:
            await self.stop()
            raise
        return self

    def _build(self, backend_url: str) -> None:
        lab = self.lab
        account: RemoteAccount = lab.account
        codex_home = f"{account.home}/.codex"
        # Above Debian's interactive-only check: the app-server's non-interactive shell reads these lines too.
        lab.account.rc_files[".bashrc"] = (
            f'export {CA_ENVIRONMENT_VARIABLE}="{codex_home}/{CA_NAME}"\n'
            f'export CODEX_REFRESH_TOKEN_URL_OVERRIDE="{backend_url}/oauth/token"\n'
            f'export RUST_LOG="{RUST_LOG}"\n' + SKELETON_BASHRC.read_text())
        host = lab.start_host()
        home = host.home / ".codex"
        home.mkdir(exist_ok=True)
        write_config_toml(home, chatgpt_base_url=f"{backend_url}/backend-api/")
        if self.sign_in_from is not None and (self.sign_in_from / AUTH_FILE).is_file():
            # Dana copied her sign-in to devbox, as the headless-login advice says.
            shutil.copy2(self.sign_in_from / AUTH_FILE, home / AUTH_FILE)
        if self.access.ca_file is not None:
            shutil.copy2(self.access.ca_file, home / CA_NAME)
        for path in (home, *home.iterdir()):
            os.lchown(path, account.uid, account.uid)
        lab.seed_project(PROJECT)
        desktop = lab.open_desktop()
        listed = desktop.discover()
        assert self.alias in listed, f"the Mac's desktop lists {listed}, not {self.alias}"

    # ------------------------------------------------------------------------------------------ the tunnel

    async def ensure_tunnel(self) -> SshTunnelLink:
        """The desktop's `ensure_remote_app_server_and_tunnel`, unless the tunnel it opened still runs."""
        async with self._lock:
            if self._tunnel is not None and self._tunnel.running and self._link is not None:
                return self._link
            old, self._tunnel, self._link = self._tunnel, None, None
            if old is not None:
                await asyncio.to_thread(old.stop)
            desktop = self.lab.desktop
            assert desktop is not None, "devbox is not started"
            # Raises ConnectFailed (an OSError) while devbox is out of reach: the session tries again later.
            tunnel, link, _reused = await asyncio.to_thread(desktop.ensure_remote_app_server_and_tunnel, self.alias)
            self._tunnel, self._link = tunnel, link
            return link

    def _mac_link(self, state: str) -> None:
        assert self.lab.network is not None
        subprocess.run(["ip", "-n", self.lab.network.laptop.netns, "link", "set", "eth0", state], check=True,
                       capture_output=True, timeout=30)


async def start_ssh_host(alias: str, directory: Path, access: RemoteAccess, sign_in_from: Path | None) -> SshRemoteHost:
    """A `RemoteHostFactory`: the remote computer as devbox over real SSH."""
    return await SshRemoteHost(alias, directory, access, sign_in_from=sign_in_from).start()
