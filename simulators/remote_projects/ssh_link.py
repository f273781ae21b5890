"""The JSON-RPC link to a remote project's app-server over SSH: a WebSocket to the tunnel's local end, made on the Mac.

`SshTunnelLink` is a `link.RemoteLink` (a name and `open()`). The TCP socket is created on a thread that entered the laptop's network namespace, so it is
the Mac's `127.0.0.1:<localPort>` that it reaches (the tunnel's listener), never this machine's loopback; the
WebSocket handshake then runs over it on the caller's event loop.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect

from simulators.netns.hosts import run_in_namespace

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SshTunnelLink:
    """`name` is the SSH alias the project lives on; `url` is what the desktop's log calls the transport."""

    name: str
    netns: str
    local_port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.local_port}/rpc"

    def _socket(self) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.create_connection(("127.0.0.1", self.local_port), timeout=CONNECT_TIMEOUT)
            sock.setblocking(False)
            return sock

        return run_in_namespace(self.netns, make, timeout=CONNECT_TIMEOUT + 5)

    async def open(self) -> ClientConnection:
        """A WebSocket to the remote app-server through the tunnel. The real server refuses any `Origin` header
        (observed 0.169.0 §3.2), which `websockets` does not send."""
        return await connect(self.url, sock=self._socket(), compression=None, max_size=None,
                             open_timeout=CONNECT_TIMEOUT, ping_interval=None)
