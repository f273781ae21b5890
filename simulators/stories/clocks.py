"""Stories of time passing and each party's clock: expiry the way it happens, a clock that is off, tokens that race."""

from __future__ import annotations

from simulators.reproduce import Story

STORIES: tuple[Story, ...] = ()
