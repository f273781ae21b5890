"""A remote project's host on this machine: the real `codex app-server` on loopback, behind a tunnel that can drop.

For the session's tests that need no SSH (the scenarios use devbox over SSH, `ssh_host.py`), this is the far end
of a `RemoteLink`: the pinned real binary started as a user would
start it on the remote (`codex app-server --listen ws://127.0.0.1:0` in the project's folder), with a CODEX_HOME of
its own (config.toml naming the world's backend as that computer reaches it, the person's sign-in copied there, the
world's CA for the model's HTTPS origin). The desktop reaches it through a forwarded local port, as through the SSH
tunnel (`LoopbackForwarder`): cutting the forwarder resets the open connection and refuses new ones, which is what
the desktop meets when the SSH connection drops; the app-server itself keeps running, as it does on the remote.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from simulators.daemon.workspace import PROJECT, Workspace
from simulators.network import LoopbackForwarder
from simulators.real.codex import write_config_toml
from simulators.real.target import DaemonKind, DaemonTarget, RunningDaemon
from simulators.remote_projects.link import RemoteAccess
from simulators.tls import CA_ENVIRONMENT_VARIABLE

AUTH_FILE = "auth.json"
OPEN_TIMEOUT = 10.0
# What the remote app-server logs: warnings, without the plugin and model managers' noise about our backend.
RUST_LOG = "warn,codex_core_plugins=error,codex_models_manager=off"


class LoopbackLink:
    """A `RemoteLink` to a local app-server through a forwarded port (the tunnel)."""

    def __init__(self, name: str, tunnel: LoopbackForwarder) -> None:
        self.name = name
        self.tunnel = tunnel

    async def open(self) -> ClientConnection:
        # The desktop names the transport's path `/rpc`; the app-server serves its socket on any path.
        return await connect(f"ws://127.0.0.1:{self.tunnel.port}/rpc", compression=None, max_size=None,
                             open_timeout=OPEN_TIMEOUT, ping_interval=None)


class LoopbackRemoteHost:
    """One remote computer with one project and the real Codex, on this machine. Coroutines run on one loop."""

    def __init__(self, alias: str, directory: Path, access: RemoteAccess, *, sign_in_from: Path | None) -> None:
        self.alias = alias
        self.directory = directory
        self.access = access
        self.workspace = Workspace.seed(directory / PROJECT)
        self._target = DaemonTarget(DaemonKind.CODEX)
        self.home = self._target.new_home()
        if sign_in_from is not None and (sign_in_from / AUTH_FILE).is_file():
            # The person copied her sign-in to the remote, as the headless-login advice says.
            shutil.copy2(sign_in_from / AUTH_FILE, self.home / AUTH_FILE)
        write_config_toml(self.home, chatgpt_base_url=access.chatgpt_base_url)
        self.daemon: RunningDaemon | None = None
        self.tunnel: LoopbackForwarder | None = None

    @property
    def project(self) -> Path:
        return self.workspace.root

    @property
    def project_cwd(self) -> str:
        return str(self.workspace.root)

    @property
    def project_dir(self) -> Path:
        return self.workspace.root

    async def start(self) -> LoopbackRemoteHost:
        env = {"RUST_LOG": RUST_LOG, "TERM": "xterm",
               "CODEX_REFRESH_TOKEN_URL_OVERRIDE": self.access.issuer_url.rstrip("/") + "/oauth/token"}
        if self.access.ca_file is not None:
            env[CA_ENVIRONMENT_VARIABLE] = str(self.access.ca_file)
        self.daemon = await asyncio.to_thread(self._target.start_app_server, "ws://127.0.0.1:0", home=self.home,
                                              env=env, cwd=self.project)
        self.tunnel = await LoopbackForwarder(self.daemon.host, self.daemon.port, name=f"ssh:{self.alias}").start()
        return self

    def link(self) -> LoopbackLink:
        assert self.tunnel is not None, "the remote host is not started"
        return LoopbackLink(self.alias, self.tunnel)

    async def drop_connection(self) -> None:
        """The connection to the remote drops and stays down (open sockets reset, new ones refused)."""
        assert self.tunnel is not None
        await self.tunnel.cut()

    async def restore_connection(self) -> None:
        assert self.tunnel is not None
        await self.tunnel.restore()

    def log_lines(self) -> tuple[str, ...]:
        return () if self.daemon is None else self.daemon.stderr_lines

    async def stop(self) -> None:
        if self.tunnel is not None:
            await self.tunnel.close()
        await asyncio.to_thread(self._target.stop)


async def start_loopback_host(alias: str, directory: Path, access: RemoteAccess,
                              sign_in_from: Path | None) -> LoopbackRemoteHost:
    """A `RemoteHostFactory`: the remote computer as a real app-server on this machine."""
    return await LoopbackRemoteHost(alias, directory, access, sign_in_from=sign_in_from).start()
