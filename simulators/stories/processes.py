"""Stories of the parties' processes: a Mac that switches ChatGPT account or workspace and leaves the phone that
paired with it (openai/codex#23977), and a paired phone removed on the Mac, for which the desktop keeps waiting
(#23112, #23247) and whose chats the phone can no longer open (#23290)."""

from __future__ import annotations

from simulators import messages
from simulators.protocol.errors import ErrorCode
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import PairingOutcome

PHONE = f"{PERSON}'s phone"  # the name her phone pairs with, and the Mac lists it by
NEW_PHONE = f"{PERSON}'s new phone"
WORKSPACE = "Acme"
HOURS_LATER = 11  # as in openai/codex#23977: "last seen ~11 hours ago"
# The phone's socket to the relay: the request whose refusal a phone quotes the id of.
PHONE_SOCKET_PATH = "/backend-api/wham/remote/control/client"
# How the report writes the id the backend gave that request (openai/codex#23290 quotes a real one).
REQUEST_ID = "<request id>"


def _paired(play: Play, *, workspaces: tuple[str, ...] = ()) -> PairingOutcome:
    """Dana, with MFA, pairs her phone with her Mac; the Mac's browser remembers her device."""
    world = play.world
    world.people.create(PERSON, mfa=True, workspaces=workspaces)
    teams = f' and a team workspace "{workspaces[0]}"' if workspaces else ""
    play.note(f"{PERSON} has a ChatGPT account with multi-factor authentication{teams}.")
    world.mac().sign_in(PERSON, remember_device=True)
    world.mac().allow_connections(True)
    play.note("Codex on her Mac signs in with MFA; she lets the browser remember her device, and turns on "
              f'"{messages.DESKTOP_ALLOW_CONNECTIONS}".', play.mac(), *play.enrollment())
    play.note("Her Mac shows a pairing code.", play.show_code())
    outcome = world.phone(PHONE).pair(PERSON, play.qr_path)
    play.note(f"{PERSON} scans it with her phone and signs in with her password and MFA code.", play.phone(outcome))
    return outcome


def _account_switch(play: Play) -> PairingOutcome:
    world = play.world
    outcome = _paired(play, workspaces=(WORKSPACE,))
    world.mac().switch_account(PERSON, workspace=WORKSPACE)
    play.note(f'She switches Codex on her Mac to her "{WORKSPACE}" workspace. The browser remembers her device, so '
              "only the password is asked; the Mac's daemon has no enrollment for that workspace and enrolls, "
              "without multi-factor authentication.", play.mac(), *play.enrollment())
    world.time.passes(HOURS_LATER * 3600)
    name = world.mac().server_name
    rows = [row for row in world.phone(PHONE).open_computers() if row.name == name]
    play.note(f"{HOURS_LATER} hours later she opens the list of her Macs on her phone, which is still signed in to "
              "the workspace it paired in.",
              *(f"Phone    {row.name} · {row.status} · {row.detail}" for row in rows))
    if rows:
        play.record(Surface.PHONE, rows[0].detail, rows[0].status)
    return outcome


def _removed_phone_pairing_page(play: Play) -> PairingOutcome:
    world = play.world
    _paired(play)
    listed = world.mac().phones()
    play.note("She opens Settings › Connections on her Mac.", f"Mac      phones that control it: {', '.join(listed)}")
    world.mac().remove_phone(PHONE)
    play.note("She removes her phone there.")
    play.note("To pair it again she shows a new pairing code.", play.show_code(),
              f"Mac      beside the code: {getattr(play.qr, 'prompt', None)}",
              *(f"Desktop  its log: {line}" for line in world.mac().desktop_log()))
    play.record(Surface.DESKTOP, getattr(play.qr, "prompt", None) or "")
    retry = world.phone(PHONE).pair(PERSON, play.qr_path)
    claimed = world.mac().pairing_code_claimed(play.qr) if play.qr_path else False  # type: ignore[arg-type]
    play.note("She scans it with her phone.", play.phone(retry),
              f"Mac      the code was {'claimed' if claimed else 'never claimed'}")
    play.recovery = retry.outcome
    play.recovery_action = "Dana scanned the new code with the phone she had removed"
    return retry


def _removed_phone_chat(play: Play) -> PairingOutcome:
    world = play.world
    outcome = _paired(play)
    world.mac().phones()
    world.mac().remove_phone(PHONE)
    play.note("She removes her phone in Settings › Connections on her Mac.")
    restored = world.restore_phone_backup(from_phone=PHONE, to_phone=NEW_PHONE)
    play.note("She sets up a new phone from her old phone's backup and opens the ChatGPT app: it restores the "
              "connection it kept for her Mac.", play.phone(restored))
    screen = world.phone(NEW_PHONE).open_chat()
    refused = [e for e in world.backend.traffic() if e["url"] == PHONE_SOCKET_PATH and e["status"] >= 400]
    play.note("She opens her last chat with her Mac.", f"Phone    {screen.title} · {screen.body}",
              *(f"Backend  refused the phone's connection: HTTP {e['status']}, request id {e['request_id']}"
                for e in refused[-1:]))
    # The report names the id as "<request id>": the phone's text says so once its id is the backend's own.
    body = screen.body
    if refused and refused[-1]["request_id"]:
        body = body.replace(f"({refused[-1]['status']}, {refused[-1]['request_id']})",
                            f"({refused[-1]['status']}, {REQUEST_ID})")
    play.record(Surface.PHONE, body, screen.title)
    return outcome


STORIES = (
    Story("account-switch", "Codex on the Mac switches to another workspace; the phone that paired in the old one "
          "lists the Mac as offline since.", ("openai/codex#23977", "openai/codex#24328"), Surface.PHONE,
          messages.PHONE_LAST_SEEN.format(ago=f"{HOURS_LATER} hours"), messages.PHONE_SIGNED_IN_ELSEWHERE,
          _account_switch),
    Story("removed-phone-pairing-page", "Dana removes her phone on her Mac and shows a new code to pair it again; "
          "the desktop waits for the removed phone to approve.", ("openai/codex#23112", "openai/codex#23247"),
          Surface.DESKTOP, messages.DESKTOP_APPROVE_ON_MOBILE,
          messages.DESKTOP_REMEMBERED_PHONE_REMOVED.format(device=PHONE), _removed_phone_pairing_page),
    Story("removed-phone-chat", "A phone removed on the Mac comes back from a backup and opens a chat; the ChatGPT "
          "service refuses it with a 403.", ("openai/codex#23290",), Surface.PHONE,
          messages.LEGACY_LOAD_MESSAGES_ERROR.format(http_status=403, request_id=REQUEST_ID),
          messages.PHONE_ERRORS[ErrorCode.CLIENT_REVOKED].body, _removed_phone_chat),
)
