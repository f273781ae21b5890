"""Stories of the relay and the network between the parties: refused upgrades, closed and dropped sockets, delays, pings, cut paths, an HTTP proxy."""

from __future__ import annotations

from simulators.reproduce import Story

STORIES: tuple[Story, ...] = ()
