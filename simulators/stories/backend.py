"""Stories of the ChatGPT service's answers, and the daemon versions it accepts."""

from __future__ import annotations

from simulators.reproduce import Story

STORIES: tuple[Story, ...] = ()
