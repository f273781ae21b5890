"""The network between a world's parties and its backend: one real path per party.

Each party reaches the backend through its own `LoopbackForwarder` (`simulators/network.py`): the phones through
one path (the pairing QR code names the backend as the phones reach it), each Mac through its own (its desktop's
sign-in, its daemon's enrollment and relay socket). Cutting a path is a real connection failure for that party
alone, met by the party's real client code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from simulators.network import LoopbackForwarder
from simulators.network_proxy import HttpProxy
from simulators.world.runner import Runner
from simulators.world.time import WorldTime

PHONES = "phones"


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"the backend's address names no host and port: {url!r}")
    return parts.hostname, parts.port


class Network:
    """`https_url`: the backend's TLS listener (the model's workspace origin); each party then has a second path,
    to it, cut and restored with the first."""

    def __init__(self, runner: Runner, backend_url: str, time: WorldTime, root: Path,
                 https_url: str | None = None) -> None:
        self._runner = runner
        self._time = time
        self._root = root
        self._proxy: HttpProxy | None = None
        self._target = _host_and_port(backend_url)
        self._tls_target = None if https_url is None else _host_and_port(https_url)
        self._paths: dict[str, LoopbackForwarder] = {}
        self._tls_paths: dict[str, LoopbackForwarder] = {}

    async def open(self, party: str) -> LoopbackForwarder:
        """A new path from `party` to the backend (on the world's loop)."""
        if party in self._paths:
            raise ValueError(f"{party} already has a path to the backend")
        path = await LoopbackForwarder(*self._target, name=party).start()
        self._paths[party] = path
        if self._tls_target is not None:
            self._tls_paths[party] = await LoopbackForwarder(*self._tls_target, name=f"{party}:tls").start()
        return path

    def https_url(self, party: str) -> str | None:
        """The backend's TLS listener as `party` reaches it (None: the backend has none)."""
        path = self._tls_paths.get(party)
        return None if path is None else path.url.replace("http://", "https://", 1)

    def path(self, party: str) -> LoopbackForwarder:
        try:
            return self._paths[party]
        except KeyError:
            raise ValueError(f"{party} has no path to the backend (paths: {', '.join(self._paths)})") from None

    def cut(self, party: str, *, for_seconds: float | None = None) -> None:
        """The party loses its connection: new connections are refused, open ones are reset. With `for_seconds`,
        the path comes back by itself once that much time has passed on the world's clock (when a step says time
        passes, so the outage lasts exactly as long in every run)."""
        self._runner.run(self.path(party).cut())
        if party in self._tls_paths:
            self._runner.run(self._tls_paths[party].cut())
        if for_seconds is not None:
            self._time.after(for_seconds, lambda: self.restore(party))

    def restore(self, party: str) -> None:
        """The party is back online, on the same address."""
        self._runner.run(self.path(party).restore())
        if party in self._tls_paths:
            self._runner.run(self._tls_paths[party].restore())

    def proxy(self) -> HttpProxy:
        """The HTTP proxy of this world (a real proxy.py process on 127.0.0.1), started on first use. A party that
        goes through it reaches the backend as `party → proxy → party's path → backend`."""
        if self._proxy is None:
            self._proxy = HttpProxy(self._root / "proxy-control").start()
        return self._proxy

    async def close(self) -> None:
        for path in [*self._paths.values(), *self._tls_paths.values()]:
            await path.close()
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            await asyncio.to_thread(proxy.stop)
