"""Stories of time passing and each party's clock: expiry the way it happens, a clock that is off, tokens that race.

Nobody edits an expiry here: the world's clock moves (`World.let_time_pass`), or one party's clock is off
(`World.set_clock_off`). With the real daemon behind the Mac every story plays the same: the codes, sign-in pages
and tokens expire at the backend, by the service's clock; the Mac's sign-in is refreshed by the desktop app, and the
daemon takes it from auth.json when the backend refuses the old one. A Mac whose clock is ahead of the service's is
played by setting the service's clock back, which the real daemon sees too.
"""

from __future__ import annotations

from pathlib import Path

from simulators import messages
from simulators.daemon.desktop import PAIRING_TOKEN_EXPIRED, PAIRING_UNAVAILABLE
from simulators.protocol.errors import ErrorCode
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import Linger, PairingOutcome, QrShown

PHONE = f"{PERSON}'s phone"
MAC = f"{PERSON}'s Mac"
DEV_SERVER = f"{PERSON}'s dev server"
SERVICE = "the ChatGPT service"
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
# A pairing code lives ten minutes, a sign-in page thirty, an access token ten days.
PAST_A_PAIRING_CODE = 10.5 * MINUTE
PAST_A_SIGN_IN_PAGE = 31 * MINUTE
PAST_AN_ACCESS_TOKEN = 11 * DAY
# Further apart than a server token's hour: every token the service issues has expired by the Mac's clock.
CLOCKS_APART = 2 * HOUR
# Off by six steps of thirty seconds: far outside the one step either side the service accepts.
AUTHENTICATOR_AHEAD = 3 * MINUTE
# The legacy terminal line for a request the service refused with a revoked token (see `TerminalSession`).
REVOKED_REQUEST_LINE = messages.CLI_UNEXPECTED_STATUS.format(
    status="401 Unauthorized", detail="The access token was rejected (revoked).", code="token_revoked")


def _code(play: Play) -> Path | None:
    """The pairing code the Mac showed last, as an image the phone scans."""
    return getattr(play.qr, "png_path", None)


def _scan(play: Play) -> PairingOutcome:
    return play.world.phone(PHONE).pair(PERSON, _code(play))


def _rescan(play: Play, action: str, recovery: str) -> None:
    play.note("Her Mac shows a new pairing code.", play.show_code())
    retry = _scan(play)
    play.note(action, play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = recovery


def _authenticator_clock_off(play: Play) -> PairingOutcome:
    world = play.world
    play.ready_mac()
    world.set_clock_off(PHONE, AUTHENTICATOR_AHEAD)
    play.note(f"{PERSON}'s phone, where her authenticator app runs, has a clock three minutes fast: its codes are "
              "those of three minutes from now.")
    outcome = _scan(play)
    play.note(f"{PERSON} scans the code and signs in; the service refuses her authenticator code.", play.phone(outcome))
    play.record_phone(outcome)
    play.failure = play.read_surfaces(outcome)
    world.set_clock_off(PHONE, 0.0)
    retry = _scan(play)
    play.note("She sets her phone's clock to set itself automatically and scans the same code again.",
              play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = "Retry after Dana set her phone's clock right"
    return outcome


def _pairing_code_expired(play: Play) -> PairingOutcome:
    play.ready_mac()
    play.world.let_time_pass(PAST_A_PAIRING_CODE)
    play.note(f"{PERSON} reads the code on her Mac for ten and a half minutes before she scans it; a code lives ten.")
    outcome = _scan(play)
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    play.record_phone(outcome)
    play.failure = play.read_surfaces(outcome)
    _rescan(play, "She scans the new code at once.", "Retry with a new pairing code")
    return outcome


def _sign_in_page_left_open(play: Play) -> PairingOutcome:
    play.ready_mac()
    outcome = play.world.phone(PHONE).pair(PERSON, _code(play),
                                           linger=Linger("sign_in", PAST_A_SIGN_IN_PAGE))
    play.note(f"{PERSON} scans the code; her phone opens the sign-in page, and she comes back to it 31 minutes later "
              "(a sign-in page lives thirty).", play.phone(outcome))
    play.record_phone(outcome)
    play.failure = play.read_surfaces(outcome)
    _rescan(play, "She scans the new code and signs in at once.", "Retry with a new pairing code")
    return outcome


def _copy_on_a_dev_server(play: Play) -> None:
    world = play.world
    play.ready_mac()
    world.copy_sign_in(MAC, DEV_SERVER)
    world.open_terminal(DEV_SERVER)
    play.note(f"{PERSON} copied her Codex sign-in (auth.json) from her Mac to her dev server, and has Codex open in a "
              "terminal there.")


def _refresh_token_race(play: Play) -> PairingOutcome:
    world = play.world
    _copy_on_a_dev_server(play)
    world.let_time_pass(PAST_AN_ACCESS_TOKEN)
    play.note("Eleven days pass: the access token both computers hold has expired (it lives ten).")
    play.note("She shows a pairing code on her Mac: Codex there refreshes the sign-in first, which uses up the "
              "refresh token both computers hold.", play.show_code())
    line = world.terminal(DEV_SERVER).ask()
    play.note(f"{PERSON} asks Codex something in the terminal on her dev server, which refreshes with the same "
              "refresh token.", f"Terminal {line}")
    play.record(Surface.CLI, line)
    outcome = _scan(play)
    play.note("Her phone still pairs with her Mac, whose sign-in is the refreshed one.", play.phone(outcome))
    return outcome


def _token_revoked(play: Play) -> PairingOutcome:
    world = play.world
    _copy_on_a_dev_server(play)
    world.mac().sign_in(PERSON)
    play.note("She signs in to Codex on her Mac again; the new sign-in revokes the one it replaces, and with it the "
              "copy on her dev server.", play.mac())
    line = world.terminal(DEV_SERVER).ask()
    play.note(f"{PERSON} asks Codex something in the terminal on her dev server.", f"Terminal {line}")
    play.record(Surface.CLI, line)
    play.note("Her Mac shows a pairing code.", play.show_code())
    outcome = _scan(play)
    play.note("Her phone pairs with her Mac, whose sign-in is the new one.", play.phone(outcome))
    return outcome


def _server_token_expired(play: Play) -> None:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.mac().sign_in(PERSON, remember_device=True)
    play.note(f"{PERSON} has a ChatGPT account with multi-factor authentication; Codex on her Mac signs in with it.")
    world.set_clock_off(SERVICE, -CLOCKS_APART)
    play.note("Her Mac's clock is two hours ahead of the ChatGPT service's. (pairsim sets the service's clock two "
              "hours back: to the Mac the same disagreement, and one the real daemon, which keeps the machine's "
              "clock, sees too.)")
    world.mac().allow_connections(True)
    play.note(f'She turns on "{messages.DESKTOP_ALLOW_CONNECTIONS}": her Mac enrolls. Its server token lives an hour '
              "of the service's time, so by her Mac's clock it expired an hour ago; the relay, which keeps the "
              "service's time, still takes it.", play.mac(), *play.enrollment())
    shown = play.show_code()
    play.note("She chooses Pair phone. The daemon renews its server token first, gets another that has already "
              "expired by her Mac's clock, and will not ask for a code with it.", shown,
              *[f"Desktop  {line}" for line in world.mac().desktop_log()[-2:]])
    if not isinstance(play.qr, QrShown) and play.qr is not None:
        play.record(Surface.DESKTOP, play.qr.text)
    play.failure = play.read_surfaces(None)
    world.set_clock_off(SERVICE, 0.0)
    play.note("The clocks agree again (she turns on Set time and date automatically on her Mac) and she chooses "
              "Pair phone again.", play.show_code())
    retry = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = "Pair phone again once the Mac's clock and the service's agree"


def _phone_error(code: ErrorCode) -> str:
    return messages.PHONE_ERRORS[code].body


STORIES: tuple[Story, ...] = (
    Story("authenticator-clock-off", "Dana's phone, where her authenticator app runs, has a clock three minutes "
          "fast; the service refuses her code and setup fails.", ("openai/codex#22802",), Surface.PHONE,
          messages.GENERIC_SETUP_FAILURE, _phone_error(ErrorCode.AUTHENTICATOR_CLOCK_OFF), _authenticator_clock_off),
    Story("pairing-code-expired", "The pairing code's ten minutes pass while Dana reads it; then she scans it.", (),
          Surface.PHONE, messages.GENERIC_SETUP_FAILURE, _phone_error(ErrorCode.PAIRING_CODE_EXPIRED),
          _pairing_code_expired),
    Story("sign-in-page-left-open", "Dana leaves the sign-in page on her phone open for 31 minutes, past its "
          "lifetime, then signs in.", (), Surface.PHONE, messages.GENERIC_SETUP_FAILURE,
          _phone_error(ErrorCode.SIGN_IN_EXPIRED), _sign_in_page_left_open),
    Story("server-token-expired", "Dana's Mac's clock is two hours ahead of the ChatGPT service's: every server "
          "token her Mac gets has already expired by its clock, so it gets no pairing code.", (), Surface.DESKTOP,
          messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_TOKEN_EXPIRED),
          messages.DESKTOP_CLOCK_AHEAD.format(how_far="2 hours"), _server_token_expired,
          legacy_text_on_codex=messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_UNAVAILABLE)),
    Story("refresh-token-race", "Dana's Mac and a copy of her sign-in on her dev server hold one refresh token; the "
          "Mac refreshes first, and the dev server is refused.",
          ("openai/codex#6498", "openai/codex#9634", "openai/codex#24365", "openai/codex#13238"), Surface.CLI,
          messages.CLI_REFRESH_TOKEN_REUSED, messages.CLI_SIGN_IN_USED_ELSEWHERE, _refresh_token_race),
    Story("token-revoked", "Dana signs in to Codex on her Mac again, which revokes the copy of her old sign-in on "
          "her dev server.", ("openai/codex#13118",), Surface.CLI, REVOKED_REQUEST_LINE,
          messages.CLI_SIGN_IN_REPLACED_ELSEWHERE, _token_revoked),
)
