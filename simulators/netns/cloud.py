"""The OAuth issuer (the simulated ChatGPT backend) on the cloud host, in this process.

The server's event loop runs on a thread that entered the cloud namespace before the listening socket was made,
so the laptop's browser and the remote CLI reach it over the veths at `http://10.14.55.1:<port>`, while the
scenario keeps the backend's in-process control (accounts, passwords, MFA) without an admin API round trip.
"""

from __future__ import annotations

from typing import Self

from simulators.backend.admin import BackendControl
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.netns.hosts import Network, enter_namespace
from simulators.runtime import LoopThread
from simulators.tls import WorldTls


class CloudIssuer:
    def __init__(self, network: Network, *, seed: int = 0, tls: WorldTls | None = None) -> None:
        self.network = network
        self._loop = LoopThread(name=f"pairsim-cloud-{network.network_id}")
        self.server = BackendServer(BackendState.create(seed=seed), host=network.cloud.address, port=0, tls=tls)
        self.url = ""

    def start(self) -> Self:
        async def enter_and_start() -> str:
            # Runs on the loop's thread: that thread, and every socket it opens, now lives in the cloud namespace.
            enter_namespace(self.network.cloud.netns)
            return await self.server.start()

        try:
            self.url = self._loop.run(enter_and_start())
        except BaseException:
            self._loop.close()
            raise
        return self

    @property
    def control(self) -> BackendControl:
        return self.server.control

    def stop(self) -> None:
        try:
            self._loop.run(self.server.stop())
        finally:
            self._loop.close()
