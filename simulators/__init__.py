"""pairsim: simulators for the Codex remote-control system (phone, desktop daemon, backend, relay)."""

__version__ = "0.1.0"
