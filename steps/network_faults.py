"""Steps: the relay and the network between the parties: refused upgrades, closed and dropped sockets, delays, pings, cut paths, an HTTP proxy. Each is one line of product or operator language calling one
driver method; the README's step list shows each with an example."""

from __future__ import annotations
