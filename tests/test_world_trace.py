"""A world's trace names who said what, covers the backend's view, and holds no secret the world issued."""

from __future__ import annotations

import json
from pathlib import Path

from simulators.world import QrShown, World
from simulators.world.backend import Operation


def test_trace_names_each_phone_and_its_browser_and_keeps_secrets_out(tmp_path: Path) -> None:
    with World(seed=21, root=tmp_path) as world:
        world.people.create("Dana", mfa=True)
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        shown = world.mac().show_pairing_qr()
        assert isinstance(shown, QrShown)
        assert world.phone("Dana's iPhone").pair("Dana", shown.png_path).outcome == "paired"
        trace = world.trace
        secrets = [s for s in world.issued_secrets() if s]
    parties = {(entry["party"], entry.get("via")) for entry in trace}
    assert {("phone:Dana's iPhone", "phone"), ("phone:Dana's iPhone", "browser")} <= parties
    assert any(e["party"] == "backend" and e["url"].endswith("/server/enroll") for e in trace)
    text = json.dumps(trace)
    assert secrets and not [s[:8] for s in secrets if s in text]


def test_a_secret_no_key_names_is_masked_by_value(tmp_path: Path) -> None:
    """A body that quotes a secret under an ordinary key (here a refusal's `detail`) is still masked: the trace
    masks every value the world issued, wherever it stands."""
    with World(seed=22, root=tmp_path) as world:
        world.people.create("Dana", mfa=True)
        password = world.person("Dana").password
        world.mac().sign_in("Dana")
        world.mac().allow_connections(True)
        world.backend.answer_next(Operation.CLAIM, 409, json.dumps({"detail": f"conflict for {password}"}))
        shown = world.mac().show_pairing_qr()
        assert isinstance(shown, QrShown)
        assert world.phone().pair("Dana", shown.png_path).outcome != "paired"
        text = json.dumps(world.trace)
    assert "conflict for <redacted>" in text
    assert password not in text


def test_a_replaced_password_is_still_an_issued_secret(tmp_path: Path) -> None:
    with World(seed=23, root=tmp_path) as world:
        world.people.create("Dana", mfa=True)
        first = world.person("Dana").password
        world.change_password("Dana")
        second = world.person("Dana").password
        issued = set(world.issued_secrets())
    assert first != second
    assert {first, second} <= issued
