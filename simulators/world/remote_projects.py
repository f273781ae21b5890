"""The remote computers of a world and the SSH remote projects the Macs open on them (issue 12).

A remote host is made by a `RemoteHostFactory` (in the scenarios devbox over real SSH,
`simulators/remote_projects/ssh_host.py`; the real `codex app-server` on loopback, `loopback.py`, in the session's
tests): this driver gives it its own path to
the backend (so its Codex reaches the model as the Mac's real daemon does) and its own folder, opens its project in
a Mac's desktop app, and drops and restores the desktop's connection to it. Every method is synchronous.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from simulators.remote_projects.link import RemoteAccess, RemoteHost, RemoteHostFactory
from simulators.remote_projects.session import RemoteProject, RemoteProjectSession
from simulators.tls import WorldTls
from simulators.world.backend import BackendDriver
from simulators.world.macs import MacDriver
from simulators.world.network import Network
from simulators.world.runner import Runner

RECONNECT_TIMEOUT = 60.0


class RemoteProjects:
    def __init__(self, runner: Runner, network: Network, backend: BackendDriver, tls: WorldTls, root: Path) -> None:
        self._runner = runner
        self._network = network
        self._backend = backend
        self._tls = tls
        self._root = root
        self._hosts: dict[str, RemoteHost] = {}

    def add_host(self, alias: str, factory: RemoteHostFactory, *, sign_in_from: Path | None) -> RemoteHost:
        """A remote computer known by the SSH alias `alias`, with the project and Codex, started."""
        if alias in self._hosts:
            raise ValueError(f"this world already has a remote computer {alias!r}")
        return self._runner.run(self._add_host(alias, factory, sign_in_from))

    async def _add_host(self, alias: str, factory: RemoteHostFactory, sign_in_from: Path | None) -> RemoteHost:
        party = f"remote:{alias}"
        route = await self._network.open(party)
        https_url = self._network.https_url(party)
        if https_url is not None:
            # Discovery names the model's HTTPS origin as this computer reaches it, as for a Mac.
            self._backend.model.workspace_origins[f"127.0.0.1:{route.port}"] = https_url
        access = RemoteAccess(f"{route.url}/backend-api/", route.url, self._tls.ca_file, model_url=https_url,
                              origins=self._backend.model.workspace_origins)
        slug = re.sub(r"[^a-z0-9]+", "-", alias.lower()).strip("-") or "remote"
        host = await factory(alias, self._root / "remote-hosts" / slug, access, sign_in_from)
        self._hosts[alias] = host
        return host

    def host(self, alias: str) -> RemoteHost:
        try:
            return self._hosts[alias]
        except KeyError:
            raise ValueError(f"this world has no remote computer {alias!r} (it has: {', '.join(self._hosts)})") \
                from None

    def open_on(self, mac: MacDriver, alias: str, project_name: str) -> RemoteProjectSession:
        """The person opens the remote project in Codex on `mac` (its desktop app connects and initializes)."""
        host = self.host(alias)
        project = RemoteProject(project_name, alias, host.project_cwd)
        return self._runner.run(mac.desktop.open_remote_project(project, host.link()))

    def work(self, mac: MacDriver, alias: str) -> RemoteWork:
        """What the person does in the remote project open on `mac`."""
        return RemoteWork(self._runner, self.session(mac, alias))

    def session(self, mac: MacDriver, alias: str) -> RemoteProjectSession:
        for session in mac.desktop.remote_projects.values():
            if session.project.host == alias:
                return session
        raise ValueError(f"{mac.name} has no remote project open on {alias!r}")

    def drop(self, alias: str) -> None:
        self._runner.run(self.host(alias).drop_connection())

    def restore(self, alias: str) -> None:
        self._runner.run(self.host(alias).restore_connection())

    def wait_dropped(self, session: RemoteProjectSession, drops: int) -> None:
        self._runner.run(session.wait_dropped(drops, RECONNECT_TIMEOUT))

    def wait_unreachable(self, session: RemoteProjectSession, attempts: int) -> None:
        """Until the session has failed to open the link again `attempts` times in all."""
        self._runner.run(session.wait_failed_attempts(attempts, RECONNECT_TIMEOUT))

    def wait_decided(self, session: RemoteProjectSession, item_id: str) -> str:
        return self._runner.run(session.wait_decided(item_id, RECONNECT_TIMEOUT))

    def wait_item_completed(self, session: RemoteProjectSession, item_id: str) -> None:
        """Until the remote says the item is done (`item/completed`): a decision on it has been acted on."""
        self._runner.run(session.wait_notification(
            lambda n: n.method == "item/completed" and isinstance(n.params.get("item"), dict)
            and n.params["item"].get("id") == item_id, timeout=RECONNECT_TIMEOUT))

    def wait_reconnected(self, session: RemoteProjectSession, connections: int) -> None:
        self._runner.run(session.wait_connected(connections, RECONNECT_TIMEOUT))

    def log_lines(self) -> Iterator[tuple[str, str]]:
        for alias, host in self._hosts.items():
            for line in host.log_lines():
                yield alias, line

    async def close(self) -> None:
        for host in self._hosts.values():
            with contextlib.suppress(Exception):
                await host.stop()


# -- what the Mac's desktop does in a remote project, and what is on the remote's disk ---------------------------


class RemoteWork:
    """The person working in a remote project from the Mac's desktop app. Synchronous, on the world's loop."""

    def __init__(self, runner: Runner, session: RemoteProjectSession) -> None:
        self._runner = runner
        self.session = session

    def ask(self, text: str) -> str:
        """A new thread in the remote project and a turn in it; the turn's id."""
        async def ask() -> str:
            thread = await self.session.start_thread()
            turn = await self.session.start_turn(str(thread["id"]), text)
            return str(turn["id"])

        return self._runner.run(ask())

    def decide(self, kind: str, decision: str) -> None:
        """The person answers, in the desktop app, the first approval of `kind` she has not answered yet; returns
        once the remote has done what she decided (`item/completed`)."""
        async def decide() -> None:
            session = self.session
            approval = next((a for a in session.approvals
                             if a.kind == kind and session.core.decision(a.key) is None), None)
            if approval is None:
                approval = await session.wait_approval(kind, start=len(session.approvals))
            await session.decide(approval.key, decision)
            await session.wait_notification(lambda n: n.method == "item/completed" and isinstance(
                n.params.get("item"), dict) and n.params["item"].get("id") == approval.key.item_id)

        self._runner.run(decide())

    def wait_turn_completed(self, turn_id: str) -> dict[str, object]:
        return self._runner.run(self.session.wait_turn_completed(turn_id))

    def thread_previews(self) -> list[str]:
        return [str(thread.get("preview")) for thread in self._runner.run(self.session.list_threads())]


def branch(project: Path) -> str:
    return _git(project, "branch", "--show-current").strip()


def branch_switches(project: Path, name: str) -> int:
    """How many times the repository's HEAD moved to a new branch `name` (its reflog: every switch is a line)."""
    return sum(1 for line in _git(project, "reflog", "--format=%gs").splitlines()
               if re.fullmatch(rf"checkout: moving from \S+ to {re.escape(name)}", line))


def _git(project: Path, *args: str) -> str:
    # The remote's repository belongs to the person's account there, not to this process: git would refuse it.
    return subprocess.run(["git", "-c", f"safe.directory={project}", "-C", str(project), *args], check=True,
                          capture_output=True, text=True, timeout=30).stdout
