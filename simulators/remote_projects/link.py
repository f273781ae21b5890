"""The meeting point of the two halves of SSH remote projects: a link to a remote `codex app-server`.

The desktop reaches the remote app-server through a forwarded local port (its log: `[ssh-websocket-v0] selected
app-server transport websocketUrl=ws://127.0.0.1:<port>/rpc`). Whatever sets that up (discovery, probe, start and
tunnel over SSH; or a real app-server on loopback in tests) hands the session a `RemoteLink`: each `open()` is a
new WebSocket to the remote app-server, so the session can open it again after it dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from websockets.asyncio.client import ClientConnection

from simulators.protocol.errors import ErrorCode, PairsimError

TRANSPORT = "ssh-websocket-v0"


@runtime_checkable
class RemoteLink(Protocol):
    """A way to the app-server of one remote project's host."""

    name: str  # the host as the desktop lists it: the SSH alias ("devbox")

    async def open(self) -> ClientConnection:
        """A new WebSocket to the remote app-server. Raises OSError (or a websockets error) while it is unreachable."""
        ...


class RemoteLinkLost(PairsimError):
    """The link to the remote app-server dropped before the remote answered."""

    code = ErrorCode.RELAY_UNREACHABLE


@dataclass(frozen=True)
class RemoteAccess:
    """How a remote computer reaches the world: the backend as it sees it (for its Codex's config.toml and the
    model), and the world's CA (the model's HTTPS origin is signed by it)."""

    chatgpt_base_url: str  # e.g. http://127.0.0.1:PORT/backend-api/
    issuer_url: str
    ca_file: Path | None
    # The model's HTTPS origin as this machine's loopback reaches it, and the backend's map from the host a caller
    # names to the origin discovery gives it: a host on a network of its own forwards both and adds its entry.
    model_url: str | None = None
    origins: dict[str, str] | None = None


class RemoteHost(Protocol):
    """A remote computer with one project and Codex installed, as a scenario needs it: the link the desktop opens,
    the project as the remote sees it and as this machine can read it, and the connection to drop and restore."""

    alias: str  # the SSH alias the desktop lists it by

    @property
    def project_cwd(self) -> str:
        """The project's folder on the remote, as its app-server sees it (the thread's cwd)."""
        ...

    @property
    def project_dir(self) -> Path:
        """Where this machine reads the remote project's files (its repository on disk)."""
        ...

    def link(self) -> RemoteLink: ...

    async def drop_connection(self) -> None:
        """The desktop's connection to the remote drops and stays down; the remote app-server keeps running."""
        ...

    async def restore_connection(self) -> None: ...

    def log_lines(self) -> tuple[str, ...]: ...

    async def stop(self) -> None: ...


# Makes a started remote host: (alias, a folder of its own, how it reaches the world, the CODEX_HOME whose sign-in
# the person copied there or None). The one thing that changes when the SSH lab replaces the loopback host.
RemoteHostFactory = Callable[[str, Path, RemoteAccess, "Path | None"], Awaitable[RemoteHost]]
