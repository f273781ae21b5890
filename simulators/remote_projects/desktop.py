"""The desktop app's SSH remote projects (Settings › Connections › SSH), run for real from the Mac.

discover: collect concrete aliases from the Mac's `~/.ssh/config` (`ssh_config`), resolve each with `ssh -G`.
connect:  probe `codex` through the remote login shell, start the remote app-server by a non-interactive SSH
          command, forward an ephemeral local port with `ssh -N -L`, open `ws://127.0.0.1:<localPort>/rpc` and
          send `initialize`.

Every ssh here is the real OpenSSH client in the laptop namespace, with the desktop's options (`BatchMode=yes`,
`ConnectTimeout`; the tunnel adds `ExitOnForwardFailure=yes`). What the person reads is a connection row
(`Connection`: status and message, from the copy catalogue); what an engineer reads is `log`, in the real
product's words (`[remote-connections/discovery] discovery_completed …`, `[ssh-websocket-v0] selected app-server
transport websocketUrl=…`, `ssh_websocket_v0.ensure_remote_app_server_and_tunnel localPort=… remotePort=…`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import InvalidStatus

from simulators import messages
from simulators.netns.hosts import run_in_namespace
from simulators.netns.processes import ManagedProcess, ProcessFailed
from simulators.remote_projects import bootstrap
from simulators.remote_projects.core import Approval
from simulators.remote_projects.failures import Cause, Failure, fixed_message, legacy_message, ssh_cause
from simulators.remote_projects.mac import Finished, Mac
from simulators.remote_projects.session import RemoteProject, RemoteProjectSession, RemoteUnreachable
from simulators.remote_projects.ssh_config import DiscoveryFailed, ResolvedHost, collect_aliases
from simulators.remote_projects.ssh_link import SshTunnelLink
from simulators.runtime import LoopThread

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
TUNNEL_READY_TIMEOUT = 10.0
TUNNEL_ATTEMPTS = 3
LOCAL_PORT_SCAN = 1000
# A turn on a loaded 2-core machine: the model answers at once, codex and the tunnel take their time.
TURN_TIMEOUT = 60.0
SSH_FAILED = 255  # ssh's own exit status when it, not the remote command, failed


@dataclass
class Connection:
    """One row of Settings › Connections."""

    alias: str
    status: str = ""
    message: str = ""
    failure: Failure | None = None


@dataclass
class OpenProject:
    """An open connection to a host's app-server: the tunnel it goes through and the desktop's one JSON-RPC session
    (`RemoteProjectSession`: requests, notifications, the remote's approvals, answered by item)."""

    link: SshTunnelLink
    tunnel: ManagedProcess
    session: RemoteProjectSession
    reused_app_server: bool = False

    @property
    def initialize(self) -> dict[str, Any]:
        return self.session.initialize_result


class ConnectFailed(OSError):
    """Opening the way to a remote app-server failed; an OSError, so a reconnecting session tries again later."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.cause.value)
        self.failure = failure


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.cause.value)
        self.failure = failure


@dataclass
class RemoteProjectsDesktop:
    mac: Mac
    profile: str = "fixed"  # "legacy": today's desktop; "fixed": the copy that names the cause
    remote_port: int = bootstrap.DEFAULT_REMOTE_PORT
    install_dir: str | None = None  # CODEX_INSTALL_DIR in the desktop's environment (fixed desktop only)
    log: list[str] = field(default_factory=list)
    hosts: dict[str, ResolvedHost] = field(default_factory=dict)
    discovery_error: str | None = None
    connections: dict[str, Connection] = field(default_factory=dict)
    projects: dict[str, OpenProject] = field(default_factory=dict)
    _loop: LoopThread | None = None

    @property
    def legacy(self) -> bool:
        return self.profile == "legacy"

    # ------------------------------------------------------------------------------------------ discovery

    def discover(self) -> list[str]:
        """The aliases Settings › Connections lists; `discovery_error` holds the banner when it failed."""
        home = str(self.mac.home)
        entry = "~/.ssh/config"
        self.log.append(f"[remote-connections/discovery] discovery_started entrypointPath={entry} "
                        "savedRemoteConnectionAliasCount=0")

        def read(path: str) -> str:
            # The Mac's paths as the Mac sees them: `~` and /root are its home.
            real = path.replace("~", home, 1) if path.startswith("~") else path
            if real == "/root" or real.startswith("/root/"):
                real = home + real[len("/root"):]
            elif not real.startswith("/"):
                real = os.path.join(home, real)  # the desktop's working directory is the home
            with open(real, encoding="utf-8") as handle:
                return handle.read()

        def listdir(path: str) -> list[str]:
            real = home + path[len("/root"):] if path.startswith("/root") else path
            return os.listdir(real)

        try:
            collected = collect_aliases(entry, home="/root", read=read, listdir=listdir,
                                        follow_openssh=not self.legacy)
        except DiscoveryFailed as exc:
            self.discovery_error = messages.DESKTOP_REMOTE_DISCOVERY_FAILED
            self.log.append(f"[remote-connections/discovery] discovery_failed errorMessage=\"{exc.cause}\"")
            return []
        for alias in collected.aliases:
            resolved = self.mac.run(["ssh", "-G", alias])
            if resolved.returncode == 0:
                self.hosts[alias] = ResolvedHost.from_ssh_g(alias, resolved.stdout)
        self.log.append(
            f"[remote-connections/discovery] discovery_completed collectedAliasCount={len(collected.aliases)} "
            f"collectedAliases={list(collected.aliases)!r} resolvedConnectionCount={len(self.hosts)}".replace(
                "'", '"'))
        self.discovery_error = None
        return list(self.hosts)

    # ------------------------------------------------------------------------------------------ connect

    def _ssh(self, alias: str, command: str) -> Finished:
        options = [*SSH_OPTIONS] if self.legacy else [*SSH_OPTIONS, "-o", "RemoteCommand=none"]
        return self.mac.run(["ssh", *options, alias, command])

    def _failure(self, cause: Cause, alias: str, detail: str = "", **facts: Any) -> _Stop:
        host = self.hosts.get(alias)
        return _Stop(Failure(cause, alias, detail, host=alias, user=host.user if host else "", **facts))

    def _check_ssh(self, alias: str, finished: Finished) -> None:
        if finished.returncode == SSH_FAILED:
            cause = ssh_cause(finished.stderr)
            raise self._failure(cause, alias, finished.stderr)

    def connect(self, alias: str) -> Connection:
        """Open the remote project on `alias`; the row says how it went."""
        row = Connection(alias)
        self.connections[alias] = row
        try:
            self.projects[alias] = self._connect(alias)
        except _Stop as stop:
            row.failure = stop.failure
            row.status = messages.DESKTOP_REMOTE_STATUS["error"]
            row.message = legacy_message(stop.failure) if self.legacy else fixed_message(stop.failure)
            self.log.append(f"[AppServerConnection] app_server_connection.transport_connect_failed "
                            f"errorMessage=\"{row.message}\"")
            return row
        row.status = messages.DESKTOP_REMOTE_STATUS["connected"]
        return row

    def _connect(self, alias: str) -> OpenProject:
        tunnel, link, reused = self._ensure(alias)
        try:
            session = self._loop_thread().run(self._initialize(link))
        except _Stop:
            tunnel.stop()
            raise
        return OpenProject(link, tunnel, session, reused)

    def ensure_remote_app_server_and_tunnel(self, alias: str) -> tuple[ManagedProcess, SshTunnelLink, bool]:
        """Probe `codex`, start the remote app-server unless one answers, and forward a local port to it: the
        running tunnel, the link through it, and whether a running app-server was reused. Raises `ConnectFailed`
        (its `failure` says why) when any step fails; nothing it started is left running then."""
        try:
            return self._ensure(alias)
        except _Stop as stop:
            raise ConnectFailed(stop.failure) from None

    def _ensure(self, alias: str) -> tuple[ManagedProcess, SshTunnelLink, bool]:
        host = self.hosts[alias]
        probe_command = bootstrap.LEGACY_PROBE if self.legacy else bootstrap.fixed_probe(self.install_dir)
        probe = self._ssh(alias, probe_command)
        self.log.append(f"[AppServerTransportSshWebsocket] codex_path_probe code={probe.returncode}")
        self._check_ssh(alias, probe)
        answer = bootstrap.read_probe(probe.returncode, probe.stdout, probe.stderr)
        if answer.result is bootstrap.ProbeResult.SHELL_ERROR:
            raise self._failure(Cause.PROBE_SHELL_ERROR, alias, probe.stderr)
        if answer.codex_path is None:
            shell = self.mac.run(["ssh", *SSH_OPTIONS, "-o", "RemoteCommand=none", alias, "echo $SHELL"])
            raise self._failure(Cause.CODEX_NOT_FOUND, alias, probe.stderr,
                                shell=os.path.basename(shell.stdout.strip()) or "sh")

        try:
            local_port = self._free_local_port()
        except OSError as exc:
            raise self._failure(Cause.SSH_OTHER, alias, str(exc)) from exc
        link = SshTunnelLink(alias, self.mac.network.laptop.netns, local_port)
        self.log.append(f"[WindowContext] [ssh-websocket-v0] selected app-server transport websocketUrl={link.url}")
        self.log.append(
            f"[AppServerTransportSshWebsocket] ssh_websocket_v0.ensure_remote_app_server_and_tunnel "
            f"localPort={local_port} remotePort={self.remote_port} sshAlias={alias} sshHost={host.hostname} "
            f"sshPort={host.port}")
        if self.legacy:
            # Today's desktop starts first and tunnels after, whatever the start said.
            self._start(alias, answer.codex_path)
            tunnel, link = self._open_tunnel(alias, link)
            reused = False
        else:
            # The fixed desktop tunnels first and asks the app-server's /readyz: one that still runs (after a
            # dropped connection, say) is reused, and a start is only tried when none answers.
            tunnel, link = self._open_tunnel(alias, link)
            reused = self._app_server_ready(link)
            self.log.append(f"[AppServerTransportSshWebsocket] remote_app_server_ready_check ready={str(reused).lower()}")
            if not reused:
                try:
                    self._start(alias, answer.codex_path)
                except _Stop:
                    tunnel.stop()
                    raise
        return tunnel, link, reused

    def _start(self, alias: str, codex_path: str) -> None:
        start = self._ssh(alias, bootstrap.start_command(codex_path, self.remote_port))
        self._check_ssh(alias, start)
        started = bootstrap.read_start(start.stdout)
        self.log.append(f"[AppServerTransportSshWebsocket] remote_app_server_start result={started.value}")
        if started is not bootstrap.StartResult.READY and not self.legacy:
            # The fixed desktop reads the remote log's last lines: the cause is only written there.
            tail = self._ssh(alias, f"tail -n 20 {bootstrap.APP_SERVER_LOG}").stdout
            cause = bootstrap.log_cause(tail) or ""
            if "Address in use" in tail:
                raise self._failure(Cause.REMOTE_PORT_TAKEN, alias, cause, port=self.remote_port)
            raise self._failure(Cause.APP_SERVER_EXITED, alias, cause)

    def _app_server_ready(self, link: SshTunnelLink) -> bool:
        """`GET /readyz` through the tunnel: 200 from a codex app-server (observed 0.169.0 §3.2). Nothing
        listening there closes the socket at once (sshd refuses the channel); another program answers otherwise."""

        def ask() -> bool:
            with socket.create_connection(("127.0.0.1", link.local_port), timeout=10) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                head = b""
                while b"\r\n" not in head:
                    chunk = sock.recv(1024)
                    if not chunk:
                        break
                    head += chunk
            return head.startswith(b"HTTP/1.1 200")

        try:
            return run_in_namespace(link.netns, ask)
        except OSError:
            return False

    def _free_local_port(self, after: int | None = None) -> int:
        """The first port from the remote port on (or after `after`) that is free on the Mac's loopback now, as
        the product scans for one (up to 1000 ports). Fixed numbers are safe here: the Mac is a namespace of the
        scenario's own. ssh may still lose the port to a racer: see _open_tunnel."""
        first = self.remote_port if after is None else after + 1

        def pick() -> int:
            for port in range(first, min(first + LOCAL_PORT_SCAN, 65536)):
                with socket.socket() as probe:
                    try:
                        probe.bind(("127.0.0.1", port))
                    except OSError:
                        continue
                    return port
            raise OSError(f"no free local port in {first}..{first + LOCAL_PORT_SCAN - 1}")

        return run_in_namespace(self.mac.network.laptop.netns, pick)

    def _open_tunnel(self, alias: str, link: SshTunnelLink) -> tuple[ManagedProcess, SshTunnelLink]:
        """`ssh -N -L`, listening; the link names the port it got (another one if ours was taken meanwhile)."""
        options = [*SSH_OPTIONS, "-o", "ExitOnForwardFailure=yes"]
        if not self.legacy:
            options += ["-o", "RemoteCommand=none"]
        for _attempt in range(TUNNEL_ATTEMPTS):
            tunnel = self.mac.spawn(f"ssh-tunnel-{alias}", [
                "ssh", "-N", "-L", f"{link.local_port}:127.0.0.1:{self.remote_port}", *options, alias])
            try:
                tunnel.wait_listening(link.local_port, timeout=TUNNEL_READY_TIMEOUT)
                return tunnel, link
            except ProcessFailed:
                if tunnel.running:
                    tunnel.stop()
                    raise
                tunnel.wait_exit()
                stderr = tunnel.output()
                if "Address already in use" not in stderr:
                    raise self._failure(ssh_cause(stderr), alias, stderr) from None
                # Another program took the port between our look and ssh's bind: take another one.
                link = SshTunnelLink(link.name, link.netns, self._free_local_port(after=link.local_port))
        raise self._failure(Cause.SSH_OTHER, alias, "no local port for the tunnel")

    async def _initialize(self, link: SshTunnelLink) -> RemoteProjectSession:
        # The session is the host's: threads name their project's folder themselves (`thread/start {cwd}`).
        session = RemoteProjectSession(RemoteProject(link.name, link.name, ""), link)
        try:
            return await session.open()
        except RemoteUnreachable as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidStatus):
                # Node's `ws` words a refused upgrade this way; the legacy desktop shows it as is.
                status = cause.response.status_code
                raise self._failure(Cause.HANDSHAKE_REFUSED, link.name,
                                    f"Unexpected server response: {status}") from exc
            # The tunnel accepted locally, then sshd could not reach the remote port and ssh closed the socket:
            # the WebSocket never opened, or closed before `initialize` was answered (close 1006; Node's `ws`
            # reports the reset read).
            raise self._failure(Cause.SOCKET_CLOSED, link.name,
                                f"read ECONNRESET ({type(cause).__name__})") from exc

    def _loop_thread(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread(name="pairsim-remote-projects")
        return self._loop

    # ------------------------------------------------------------------------------------------ use

    def request(self, alias: str, method: str, params: dict[str, Any]) -> Any:
        """One JSON-RPC call to the open project's app-server."""
        return self._loop_thread().run(self.projects[alias].session.request(method, params))

    def run_turn(self, alias: str, thread_id: str, text: str, *, timeout: float = TURN_TIMEOUT) -> dict[str, Any]:
        """Start a turn with `text` and wait for the app-server's `turn/completed` for it; the completed turn."""
        turn_id, seen = self.start_turn(alias, thread_id, text)
        return self.wait_turn(alias, turn_id, seen, timeout=timeout)

    def start_turn(self, alias: str, thread_id: str, text: str) -> tuple[str, int]:
        """`turn/start`; the turn's id and how many notifications came before it."""
        session = self.projects[alias].session
        seen = len(session.notifications)
        turn = self._loop_thread().run(session.start_turn(thread_id, text))
        return str(turn["id"]), seen

    def wait_turn(self, alias: str, turn_id: str, seen: int, *, timeout: float = TURN_TIMEOUT) -> dict[str, Any]:
        session = self.projects[alias].session
        return self._loop_thread().run(session.wait_turn_completed(turn_id, timeout), timeout=timeout + 10)

    def next_approval(self, alias: str, after: int, *, timeout: float = TURN_TIMEOUT) -> Approval:
        """What Codex on the remote asks next (request number `after`), once it asks."""
        session = self.projects[alias].session
        return self._loop_thread().run(session.wait_approval(start=after, timeout=timeout), timeout=timeout + 10)

    def decide(self, alias: str, approval: Approval, decision: str) -> None:
        self._loop_thread().run(self.projects[alias].session.decide(approval.key, decision))

    def wait_closed(self, alias: str, timeout: float = 10.0) -> int | None:
        """Wait until the project's WebSocket has closed (its reader saw the end); its close code."""
        session = self.projects[alias].session
        self._loop_thread().run(session.wait_dropped(1, timeout), timeout=timeout + 5)
        return session.record.close_codes[0]

    def reconnect(self, alias: str) -> Connection:
        """After the connection closed: the old tunnel and socket go, and the desktop connects again."""
        old = self.projects.pop(alias)
        with contextlib.suppress(Exception):
            self._loop_thread().run(old.session.close(), timeout=5)
        old.tunnel.stop()
        self.log.append(f"[AppServerConnection] app_server_connection.reconnecting sshAlias={alias}")
        return self.connect(alias)

    def list_threads(self, alias: str) -> list[dict[str, Any]]:
        result = self._loop_thread().run(self.projects[alias].session.request("thread/list", {}))
        return list(result.get("data", [])) if isinstance(result, dict) else []

    def close(self) -> None:
        for project in self.projects.values():
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.run(project.session.close(), timeout=5)
            with contextlib.suppress(Exception):
                project.tunnel.stop()
        self.projects.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
