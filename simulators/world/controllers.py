"""A Mac that controls another Mac (Settings › Connections › Control other devices), as a scenario drives it.

Synchronous, one controlling Mac per driver; `simulators.controller.app.ControllingMac` does the work on the world's
loop. The controlling Mac has its own clock and its own network path to the backend (cut, or made to hold
WebSocket upgrades, without touching anyone else's); what it controls is a Mac of the world, whose own daemon
(mock or real) serves it through the relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from simulators.controller.app import ControllingMac, ControlProfile, ControlScreen, HostRow
from simulators.network import LoopbackForwarder
from simulators.phone.app import Approval
from simulators.world.people import People
from simulators.world.runner import Runner
from simulators.world.time import WorldTime


class ControllingMacDriver:
    def __init__(self, label: str, party: str, app: ControllingMac, runner: Runner, people: People,
                 path: LoopbackForwarder, time: WorldTime, cut: Callable[[float | None], None],
                 enable_own_remote_control: Callable[[], Awaitable[Any]] | None) -> None:
        self.label = label
        self.party = party
        self.app = app
        self._runner = runner
        self._people = people
        self._path = path
        self._time = time
        self._cut = cut
        self._enable_own = enable_own_remote_control
        self._opening: dict[str, asyncio.Future[ControlScreen]] = {}

    @property
    def name(self) -> str:
        return self.app.name

    def sign_in(self, name: str) -> None:
        person = self._people.get(name)
        self._runner.run(self.app.sign_in(person.email, person.password, person.totp_secret))

    def turn_on(self) -> ControlScreen:
        """Turn on "Control other devices" (remote control on this Mac's own daemon first, when it has one)."""
        return self._runner.run(self.app.turn_on(self._enable_own))

    def hosts(self) -> list[HostRow]:
        """The list as it shows when opened now."""
        return list(self._runner.run(self.app.list_hosts()))

    def pair(self, host: str, manual_code: str) -> ControlScreen:
        return self._until_done_or_stalled(host, self.app.pair(host, manual_code))

    def open(self, host: str) -> ControlScreen:
        return self._until_done_or_stalled(host, self.app.open(host))

    def _until_done_or_stalled(self, host: str, action: Awaitable[ControlScreen]) -> ControlScreen:
        """Run a pairing or an opening until it is done, or until this Mac's path holds its relay socket's upgrade:
        it then goes on in the background (its handshake timer runs on this Mac's clock) and the row shows what
        it shows meanwhile; `screen` waits for the outcome."""

        async def run() -> ControlScreen | None:
            held_before = self._path.stalled_upgrades
            task = asyncio.ensure_future(action)
            stalled = asyncio.ensure_future(self._path.wait_upgrade_stalled(beyond=held_before))
            try:
                await asyncio.wait({task, stalled}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stalled.cancel()
            if task.done():
                return task.result()
            self._opening[host] = task
            return None

        shown = self._runner.run(run())
        return shown if shown is not None else self.app.screens[host]

    def screen(self, host: str) -> ControlScreen:
        """What the host's row shows, once an opening that was under way has ended."""
        opening = self._opening.pop(host, None)
        if opening is not None:

            async def outcome() -> ControlScreen:
                return await opening

            return self._runner.run(outcome())
        return self.app.screens[host]

    def opening_under_way(self, host: str) -> bool:
        return host in self._opening and not self._opening[host].done()

    def close_host(self, host: str) -> None:
        """The person leaves the host on this Mac (closes its window): its relay connection ends."""
        self._runner.run(self.app.close_host(host))

    def start_turn(self, host: str, text: str) -> str:
        return self._runner.run(self.app.start_turn(host, text))

    def wait_for_approval(self, kind: str) -> Approval:
        return self._runner.run(self.app.wait_for_approval(kind))

    def decide(self, approval: Approval, decision: str) -> None:
        self._runner.run(self.app.decide(approval, decision))

    def presence(self, host: str, status: str) -> str:
        """Until the relay says the open host is `status`; the row's presence then."""
        return self._runner.run(self.app.wait_host_status(host, status))

    def threads(self, host: str) -> list[dict[str, Any]]:
        return self.app.threads.get(host, [])

    def request(self, host: str, method: str, params: Any = None) -> Any:
        environment_id = next(p.environment_id for p in self.app.pairings.values() if p.name == host)
        return self._runner.run(self.app.request(environment_id, method, params))

    def relaunch(self) -> None:
        """Codex on this Mac quits and starts again."""
        old = self.app
        self._runner.run(old.close())
        self.app = old.relaunched()

    def stall_websocket_upgrades(self) -> None:
        """Something on this Mac's network holds WebSocket upgrades; plain HTTPS passes."""
        self._runner.call(self._path.stall_websocket_upgrades, True)

    def offline(self, for_seconds: float | None = None) -> None:
        self._cut(for_seconds)

    async def close(self) -> None:
        for task in self._opening.values():
            task.cancel()
        await asyncio.gather(*self._opening.values(), return_exceptions=True)
        await self.app.close()

    def issued_secrets(self) -> Iterator[str]:
        yield from self.app.issued_secrets()

    def trace(self) -> list[dict[str, Any]]:
        return list(self.app.trace.entries)


def control_profile(fixed: bool) -> ControlProfile:
    return ControlProfile.FIXED if fixed else ControlProfile.LEGACY
