"""The meeting point of the two halves of SSH remote projects: a link to a remote `codex app-server`.

The desktop reaches the remote app-server through a forwarded local port (its log: `[ssh-websocket-v0] selected
app-server transport websocketUrl=ws://127.0.0.1:<port>/rpc`). Whatever sets that up (discovery, probe, start and
tunnel over SSH; or a real app-server on loopback in tests) hands the session a `RemoteLink`: each `open()` is a
new WebSocket to the remote app-server, so the session can open it again after it dropped.
"""

from __future__ import annotations

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
