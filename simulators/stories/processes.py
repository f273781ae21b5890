"""Stories of the parties' processes: a daemon restart, a Mac that signs out or switches account, a phone app killed and relaunched, a revoked phone."""

from __future__ import annotations

from simulators.reproduce import Story

STORIES: tuple[Story, ...] = ()
