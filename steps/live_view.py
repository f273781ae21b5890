"""The phone's live view of a turn: watching it run, steering it, and catching up after being away.

What the phone shows is read from its own view of the turn (`PhoneApp.turn_view`), built from the daemon's real
notifications (or from `thread/read` after being away), so the same steps hold on the mock and the real daemon.
What Codex says comes from the backend model's scripts (`simulators/backend/model_scripts.py`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image
from pytest_bdd import given, parsers, then, when

from simulators.backend.model_scripts import edited_login_file
from steps.context import phone_label

if TYPE_CHECKING:
    from simulators.phone.live import TurnView
    from simulators.world import PhoneDriver, World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
_DECISIONS = {"": "accept", " for the rest of the session": "acceptForSession"}


def _phone(world: World) -> PhoneDriver:
    return world.phone(phone_label("Dana"))


def _view(world: World, name: str) -> TurnView:
    """The turn as the phone shows it once Codex is done with it (live, or as read back after being away)."""
    phone = world.phone(phone_label(name))
    if not phone.app.session.read_back:
        phone.wait_turn_completed()
    return phone.turn_view()


@given("Codex takes its time to answer")
def model_takes_its_time(world: World) -> None:
    world.backend.hold_model()


@when(parsers.re(
    rf"(?P<name>\w+) approves the (?P<kind>command|file change)(?P<session> for the rest of the session)? on "
    rf"{PRONOUN} phone"
))
def approve_next(world: World, ctx: ScenarioContext, name: str, kind: str, session: str | None) -> None:
    label = phone_label(name)
    ctx.approval = world.phone(label).wait_for_approval("command" if kind == "command" else "file_change")
    world.decide(ctx.approval, _DECISIONS[session or ""], phone=label)


@when(parsers.re(r"Codex finishes the turn on (?P<name>\w+)'s phone"))
def turn_finishes(world: World, name: str) -> None:
    world.phone(phone_label(name)).wait_turn_completed()


@when(parsers.re(rf'while Codex is thinking, (?P<name>\w+) sends "(?P<text>[^"]+)" from {PRONOUN} phone'))
def steer_while_thinking(world: World, name: str, text: str) -> None:
    interrupted = world.backend.model_interruptions()
    world.backend.wait_model_held()
    world.phone(phone_label(name)).steer(text)
    # The follow-up interrupts the answer being produced; from then on the model answers at once.
    world.backend.wait_model_interrupted(interrupted + 1)
    world.backend.release_model()


@when(parsers.re(r"(?P<name>\w+)'s phone loses its internet connection while Codex is thinking"))
def phone_offline_while_thinking(world: World, name: str) -> None:
    world.backend.wait_model_held()
    world.network.cut("phones")


@when(parsers.re(rf"Codex on {PRONOUN} Mac finishes the turn without (?P<name>\w+)'s phone"))
def mac_finishes_alone(world: World, name: str) -> None:
    thread_id = world.phone(phone_label(name)).app.session.thread_id
    assert thread_id is not None, "the phone started no thread"
    world.backend.release_model()
    world.mac().wait_turns_done(thread_id)


@when(parsers.re(rf"(?P<name>\w+) opens the thread on {PRONOUN} phone again"))
def reopen_thread(world: World, name: str) -> None:
    world.phone(phone_label(name)).reopen_thread()


@then(parsers.re(rf'{PRONOUN} phone showed the command\'s output as it arrived, ending with "(?P<tail>[^"]+)"'))
def output_streamed(world: World, tail: str) -> None:
    [command] = _view(world, "Dana").commands
    assert command.deltas > 0, "no output reached the phone while the command ran"
    assert command.output.rstrip("\n").endswith(tail), command.output


@then(parsers.re(rf"{PRONOUN} phone shows that the command (?P<outcome>failed|succeeded)"))
def command_outcome(world: World, outcome: str) -> None:
    [command] = _view(world, "Dana").commands
    assert command.status == ("failed" if outcome == "failed" else "completed"), command
    assert (command.exit_code == 0) is (outcome == "succeeded"), command


@then(parsers.re(rf'{PRONOUN} phone shows Codex\'s answer "(?P<text>[^"]+)"'))
def shows_answer(world: World, text: str) -> None:
    view = _view(world, "Dana")
    assert view.answers[-1:] == [text], view.answers


@then(parsers.re(rf"{PRONOUN} phone shows the turn (?P<status>completed|interrupted)"))
def shows_turn_status(world: World, status: str) -> None:
    assert _view(world, "Dana").status == status


@then(parsers.re(
    rf'{PRONOUN} phone shows the diff of "(?P<path>[^"]+)": "TIMEOUT = (?P<before>\d+)" becomes "TIMEOUT = (?P<after>\d+)"'
))
def shows_diff(world: World, path: str, before: str, after: str) -> None:
    # Shown as soon as Codex proposes the change, before anyone decides on it.
    phone = _phone(world)
    phone.wait_item_started("fileChange")
    [change] = phone.turn_view().changes
    [(changed, diff)] = change.diffs.items()
    assert changed == str(world.mac().project_folder / path), changed
    lines = diff.splitlines()
    assert [line for line in lines if line[:1] in "-+"] == [
        line for line in (f"-{_timeout(before)}", f"+{_timeout(after)}")], diff


def _timeout(seconds: str) -> str:
    return f"TIMEOUT = {seconds}  # seconds to wait for the service to answer"


@then(parsers.re(rf'{PRONOUN} phone shows the image Codex made, "(?P<path>[^"]+)", as it is on {PRONOUN} Mac'))
def shows_image(world: World, path: str) -> None:
    [shown] = _view(world, "Dana").images
    mac = world.mac()
    assert shown == str(mac.project_folder / path), shown
    loaded = _phone(world).fetch_image(shown)
    assert loaded == (mac.project_folder / path).read_bytes()
    picture = Image.open(io.BytesIO(loaded))
    assert picture.format == "PNG" and picture.size == (96, 32), (picture.format, picture.size)


@then(parsers.re(rf'{PRONOUN} phone shows "(?P<text>[^"]+)" as a follow-up in the same turn'))
def shows_follow_up(world: World, text: str) -> None:
    said = _view(world, "Dana").said
    assert len(said) == 2 and said[1] == text, said


@then(parsers.re(rf"Codex on {PRONOUN} Mac set the login timeout to (?P<seconds>\d+) seconds"))
def mac_timeout(world: World, seconds: str) -> None:
    assert world.mac().workspace_file("src/login.py") == edited_login_file(int(seconds))


@then("Codex ran the command again without asking her phone")
def ran_without_asking(world: World) -> None:
    phone = _phone(world)
    turn = phone.wait_turn_completed()
    view = phone.turn_view()
    assert turn.get("status") == "completed", turn
    [command] = view.commands
    assert command.status in ("completed", "failed") and command.exit_code is not None, command
    # Had Codex asked, the request would still wait for an answer and the turn could not have completed.
    assert phone.app.pending_approvals() == [], "the phone was asked again"
