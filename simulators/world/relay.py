"""The backend's relay as a scenario reaches it: the faults it commits against one party's sockets (the Mac's
daemon socket or the phones' client sockets). The relay is the real one (`simulators/backend/relay.py`), serving
real WebSockets; `RelayFaults` (`simulators/backend/relay_faults.py`) holds what it was told to do, and this driver
only arms it and, for what happens at once (a drop, a close), waits until the relay has seen the sockets end.
"""

from __future__ import annotations

from simulators.backend.relay import RelayHub
from simulators.backend.relay_faults import CloseOrder, RelayParty
from simulators.world.runner import Runner

RECONNECT_TIMEOUT = 30.0


class RelayDriver:
    def __init__(self, runner: Runner, hub: RelayHub) -> None:
        self._runner = runner
        self._hub = hub
        # Where the relay's event log stood when a fault last struck each party: a reconnect is a connection after it.
        self._struck: dict[RelayParty, int] = {}

    def _strike(self, party: RelayParty) -> None:
        self._struck[party] = self._runner.call(lambda: len(self._hub.events.events))

    def wait_reconnected(self, party: RelayParty | str, timeout: float = RECONNECT_TIMEOUT) -> None:
        """Until the party has opened a new socket since a fault last struck it (at once when none did). How long
        that takes is the party's own retry delay: the real daemon backs off for seconds."""
        chosen = RelayParty(party)
        mark = self._struck.get(chosen)
        if mark is None:
            return
        kind = "daemon_connected" if chosen is RelayParty.DAEMON else "phone_connected"
        self._runner.run(self._hub.events.wait_event(kind, since=mark, timeout=timeout), timeout=timeout + 5)

    def refuse_upgrades(self, party: RelayParty | str, status: int, body: str = "", *, times: int = 1) -> None:
        """The party's next `times` WebSocket upgrades are answered with HTTP `status` and `body` instead of 101."""
        self._strike(RelayParty(party))
        self._hub.faults.refuse_upgrades(RelayParty(party), status, body, times=times)

    def close_after(self, party: RelayParty | str, messages: int, code: int, reason: str = "") -> int:
        """The party's socket is closed with `code` once the relay has sent it `messages` more frames. With 0, every
        open socket of the party is closed now; returns how many were (0 when the close waits for frames)."""
        chosen = RelayParty(party)
        self._strike(chosen)
        self._hub.faults.close_after(chosen, messages, code, reason)
        order: CloseOrder | None = self._runner.call(self._hub.faults.close_now, chosen)
        if order is None:
            return 0
        return self._runner.run(self._hub.close_party_now(chosen, order))

    def drop(self, party: RelayParty | str) -> int:
        """Every open socket of the party loses its TCP connection, with no close frame; returns how many did, once
        the relay has seen them end. The party finds out the way it would in life (a read fails, a ping times
        out) and reconnects on its own."""
        self._strike(RelayParty(party))
        return self._runner.run(self._hub.drop(RelayParty(party)))

    def delay(self, party: RelayParty | str, seconds: float) -> None:
        """Every frame the relay writes to the party waits `seconds` first (0: no delay), in order."""
        self._hub.faults.delay(RelayParty(party), seconds)

    def stop_answering_pings(self, party: RelayParty | str) -> None:
        """The relay no longer answers the party's WebSocket pings, as a stalled relay or a proxy that swallows
        control frames would: the party's keepalive (the daemon's: a ping every 10 s, 60 s to answer) gives up."""
        self._hub.faults.stop_answering_pings(RelayParty(party))

    def refused_upgrades(self, party: RelayParty | str) -> int:
        """How many upgrades of the party the relay refused on a fault's orders."""
        return self._hub.faults.refused[RelayParty(party)]


__all__ = ["RelayDriver", "RelayParty"]
