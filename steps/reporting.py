"""What a scenario leaves in the Allure report: what each person saw, and the redacted traffic.

Attachments are made in the `world` fixture's teardown, so a failed scenario (the one someone has to debug) gets
them as well as a passing one. Nothing here may carry a secret: the trace is redacted by the World, screens and
Settings text are product copy, enrollment rows hold no tokens, and the pairing link (which holds the pairing code)
is attached only as the QR image a person would have seen on the Mac.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import allure

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext


def attach_world(world: World, ctx: ScenarioContext) -> None:
    image = ctx.qr_image()
    if image is not None and image.is_file():
        allure.attach.file(str(image), name="Mac: pairing QR code", attachment_type=allure.attachment_type.PNG)
    for number, (label, outcome) in enumerate(ctx.attempts, 1):
        _attach_json(f"{label}, pairing attempt {number}: screens", lambda o=outcome: {
            "outcome": o.outcome, "message": o.message, "host": o.host_name, "screens": o.screens,
        })
    _attach_text("Mac: remote-control status and Settings › Connections",
                 lambda: f"status: {world.mac().status}\n\n{world.mac().connections_text}\n")
    _attach_text("pairsim doctor", lambda: "\n".join(world.mac().doctor_lines()) + "\n")
    _attach_json("Mac: enrollment table", world.mac().enrollment_rows)
    _attach_text("Mac: daemon log (redacted)", lambda: "\n".join(world.mac().daemon_log()) + "\n")
    _attach_json("Trace: every party's traffic (redacted)", lambda: world.trace)


def _attach_text(name: str, read: Callable[[], str]) -> None:
    allure.attach(_read(read), name=name, attachment_type=allure.attachment_type.TEXT)


def _attach_json(name: str, read: Callable[[], Any]) -> None:
    allure.attach(
        _read(lambda: json.dumps(read(), indent=2, sort_keys=True, default=str)),
        name=name,
        attachment_type=allure.attachment_type.JSON,
    )


def _read(read: Callable[[], str]) -> str:
    # A world that broke mid-scenario must not hide the scenario's own failure behind a teardown error.
    try:
        return read()
    except Exception as exc:
        return f"(could not read this from the world: {type(exc).__name__})"
