"""Steps: the parties' processes: a daemon restart, a Mac that signs out or switches account, a phone app killed and relaunched, a revoked phone. Each is one line of product or operator language calling one
driver method; the README's step list shows each with an example."""

from __future__ import annotations
