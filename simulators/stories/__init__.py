"""The stories `pairsim reproduce` knows, by name: each module of `STORY_MODULES` lists its own in `STORIES`.

A story reproduces one failure people reported (or a path that works), end to end on a fresh world; see
`simulators/reproduce.py` for what a story is and how it is played.
"""

from __future__ import annotations

from simulators.reproduce import Story, UnknownScenario
from simulators.stories import (
    backend,
    clocks,
    control,
    network,
    pairing,
    processes,
    remote_projects,
    remote_projects_phone,
)

# remote_projects: SSH remote projects (issue 12); they need root for their namespaces.
STORY_MODULES = (pairing, backend, network, clocks, processes, remote_projects, remote_projects_phone, control)

STORIES: dict[str, Story] = {story.name: story for module in STORY_MODULES for story in module.STORIES}


def story(name: str) -> Story:
    try:
        return STORIES[name]
    except KeyError:
        raise UnknownScenario(f"unknown scenario {name!r}; known: {', '.join(STORIES)}") from None
