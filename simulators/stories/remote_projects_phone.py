"""SSH remote projects seen from the phone (issue 12): the Mac has a project open on Dana's dev server, and the phone
paired with the Mac lists it, or does not (openai/codex#23527)."""

from __future__ import annotations

from simulators import messages
from simulators.daemon.workspace import PROJECT
from simulators.remote_projects.ssh_host import start_ssh_host
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import SEEDED_THREADS, PairingOutcome

DEV_SERVER = "devbox"
THREADS = messages.PHONE_SCREENS["threads"]
REMOTE_PROJECTS = messages.PHONE_SCREENS["remote_projects"]


def _phone_lists_remote_projects(play: Play) -> PairingOutcome:
    world = play.world
    play.ready_mac()
    host = world.remote_projects.add_host(DEV_SERVER, start_ssh_host, sign_in_from=world.mac().home)
    play.note(f"{PERSON} keeps the {PROJECT} project on her dev server, {DEV_SERVER}, with Codex installed there and "
              "signed in to her account.", f"Remote   {DEV_SERVER}:{host.project_cwd}")
    session = world.remote_projects.open_on(world.mac(), DEV_SERVER, PROJECT)
    play.note(f"Codex on her Mac opens {PROJECT} on {DEV_SERVER} as a remote project, through an SSH tunnel.",
              *(f"Desktop  {line}" for line in session.record.log))
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone and signs in.", play.phone(outcome))
    phone = world.phone()
    rows = phone.open_remote_projects()
    screen = phone.view().screen
    if rows:
        play.note("She looks for the remote project on her phone.", f"Phone    {phone.remote_projects_title()} · "
                  + " · ".join(rows))
        play.record(Surface.PHONE, rows[0], phone.remote_projects_title())
    else:
        play.note("She looks for the remote project on her phone: it lists only the Mac's own threads.",
                  f"Phone    {screen.get('title')} · {screen.get('body')}")
        play.record(Surface.PHONE, str(screen.get("body")), screen.get("title"))
    return outcome


STORIES: tuple[Story, ...] = (
    Story("phone-lists-remote-projects", "Codex on the Mac has a project open on Dana's dev server over SSH: today "
          "the phone paired with the Mac lists only the Mac's own threads; with the fix it lists the remote project "
          "too, and works in it through the Mac.",
          ("openai/codex#23527",), Surface.PHONE,
          THREADS.body.format(thread_count=SEEDED_THREADS),
          REMOTE_PROJECTS.body.format(project=PROJECT, host=DEV_SERVER),
          _phone_lists_remote_projects,
          # The fix is the Mac's daemon carrying the desktop's remote projects, which pairsim models in its mock; the
          # dev server runs the real Codex in every run.
          on_real_daemon=False),
)
