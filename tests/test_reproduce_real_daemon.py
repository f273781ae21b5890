"""Every story a daemon takes part in, played with the real `codex app-server` behind the Mac: today's product
(`legacy`) must show what users reported, read from the story's surface, exactly as it does on our mock."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.reproduce import reproduce
from simulators.stories import STORIES

pytestmark = pytest.mark.real_daemon


@pytest.mark.parametrize("name", sorted(name for name, story in STORIES.items() if story.on_real_daemon))
def test_the_story_shows_on_the_real_daemon_what_users_reported(tmp_path: Path, name: str) -> None:
    chosen = STORIES[name]
    result = reproduce(chosen, profile="legacy", daemon="codex", out=tmp_path)
    expected = chosen.expected("legacy", daemon="codex")
    if expected is None:
        assert result.outcome == "paired", result.verdict()
    else:
        assert result.said is not None, result.verdict()
        assert (result.said.surface, result.said.text) == (chosen.surface, expected), result.verdict()
