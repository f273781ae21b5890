"""`pairsim reproduce` prints a story and writes a trace for bug reports: neither may carry a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

import simulators.world as world_module
from simulators.cli import main


class _RecordingWorld(world_module.World):
    """The real World, remembering every secret it issued before it stops."""

    seen: list[str] = []  # noqa: RUF012 - one list shared by the worlds a test starts

    def stop(self) -> None:
        if self._started:
            names = self.people.names
            _RecordingWorld.seen.extend(self.issued_secrets())
            for name in names:
                person = self.person(name)
                _RecordingWorld.seen.append(person.password)
                if person.totp_secret:
                    _RecordingWorld.seen.append(person.totp_secret)
        super().stop()


@pytest.mark.parametrize("profile", ["fixed", "legacy"])
@pytest.mark.parametrize("as_json", [False, True])
def test_no_secret_reaches_the_printed_story_or_the_trace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: str, as_json: bool
) -> None:
    _RecordingWorld.seen = []
    monkeypatch.setattr(world_module, "World", _RecordingWorld)
    argv = ["reproduce", "password-change", "--profile", profile, "--out", str(tmp_path)]
    assert main([*argv, "--json"] if as_json else argv) == 0
    printed = capsys.readouterr()
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.json"))
    secrets = [s for s in _RecordingWorld.seen if s and len(s) >= 8]
    assert len(secrets) >= 6, "the story issued passwords, TOTP secrets and tokens; the test must see them"
    leaked = [s[:6] + "…" for s in secrets if s in printed.out or s in printed.err or s in written]
    assert not leaked
