"""Stories of the ChatGPT service's answers, and the Codex versions it accepts: a pairing code the Mac cannot get
(#45674, #32164, #46091) or waits too little for (#38534), connections that still fail after MFA was turned on
(#41747, #46601, #46449, #43459), and a Mac whose Codex is older than the service accepts (#22714)."""

from __future__ import annotations

from collections.abc import Callable

from simulators import messages
from simulators.backend.faults import CHALLENGE_PAGE, HTML
from simulators.daemon.desktop import PAIRING_START_TIMED_OUT, PAIRING_UNAVAILABLE
from simulators.protocol.errors import ErrorCode
from simulators.real.target import version_under_test
from simulators.real.versions import NEXT_VERSION_PLACEHOLDER, VERSION_PLACEHOLDER, fill_versions
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import PairingOutcome, QrShown
from simulators.world.backend import Operation

# The versions of openai/codex#22714, and the real daemon's own with a minimum above it.
REPORTED_MINIMUM, REPORTED_VERSION = "0.129.0-alpha.6", "0.128.0"
# The daemon under test's own version, and the next release after it, as the placeholders its texts are filled with.
REAL_DAEMON_VERSION, ABOVE_THE_REAL_DAEMON = VERSION_PLACEHOLDER, NEXT_VERSION_PLACEHOLDER
PAIRING_TIMEOUT_S = 2


def _pair_phone(play: Play) -> str:
    """What "Pair phone" shows now, as a line; it is recorded as the Mac's answer when it is not a code."""
    screen = play.world.mac().pairing_screen()
    play.qr = screen
    if isinstance(screen, QrShown):
        play.qr_path = screen.png_path
        return f"Mac      QR code {screen.png_path}"
    return f"Mac      Pair phone: {screen.text}"


def _record_pair_phone(play: Play) -> None:
    screen = play.world.mac().pairing_screen()
    if not isinstance(screen, QrShown):
        play.record(Surface.DESKTOP, screen.text)
        play.failure = play.read_surfaces(None)


def _signed_in_and_connected(play: Play) -> None:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.mac().sign_in(PERSON)
    world.mac().allow_connections(True)
    play.note(f"{PERSON} has a ChatGPT account with multi-factor authentication; Codex on her Mac signs in with it and "
              f'she turns on "{messages.DESKTOP_ALLOW_CONNECTIONS}".', play.mac(), *play.enrollment())


def _scan(play: Play, action: str) -> PairingOutcome:
    outcome = play.scan()
    play.note(action, play.phone(outcome))
    return outcome


def _pairing_request_refused(play: Play) -> PairingOutcome | None:
    world = play.world
    _signed_in_and_connected(play)
    world.backend.answer_next(Operation.PAIR, 403, CHALLENGE_PAGE, times=None, content_type=HTML)
    play.note("Her network's proxy answers every pairing request of the Mac with its own page: HTTP 403, \"Enable "
              "JavaScript and cookies to continue\".")
    world.mac().show_pairing_qr()
    play.note("She chooses Pair phone. The daemon's pairing request is turned down; it renews its server token and "
              "asks again, is turned down again, and drops the token: its enrollment is no longer complete.",
              _pair_phone(play), play.mac(), *[f"Daemon   {line}" for line in world.mac().daemon_log()[-2:]])
    _record_pair_phone(play)
    world.backend.answer_as_usual(Operation.PAIR)
    world.mac().show_pairing_qr()
    play.note("She joins another network, where nothing stands between her Mac and ChatGPT, and chooses Pair phone "
              "again.", _pair_phone(play))
    retry = _scan(play, f"{PERSON} scans the code with her phone.")
    play.recovery = retry.outcome
    play.recovery_action = "Pair phone again once nothing on the network answers for ChatGPT"
    return None


def _pairing_while_enrolling(play: Play) -> PairingOutcome | None:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.mac().allow_connections(True)
    play.note(f'{PERSON} installs Codex on her Mac and turns on "{messages.DESKTOP_ALLOW_CONNECTIONS}" before she '
              "signs in.", play.mac())
    world.backend.hold_enrollments()
    world.mac().sign_in(PERSON)
    play.note("She signs in with her authenticator. The ChatGPT service is slow to answer the Mac's enrollment: the "
              "Mac stays connecting, its environment still unknown.", play.mac())
    world.mac().show_pairing_qr()
    play.note("She chooses Pair phone. The daemon holds the pairing request until the enrollment is answered.",
              _pair_phone(play))
    world.time.passes(PAIRING_TIMEOUT_S)
    play.note(f"{PAIRING_TIMEOUT_S} seconds pass.", _pair_phone(play),
              *[f"Desktop  {line}" for line in world.mac().desktop_log()[-1:]])
    _record_pair_phone(play)
    world.answer_held_enrollments()
    play.note("The ChatGPT service answers the Mac's enrollment.", play.mac(), _pair_phone(play))
    if isinstance(play.qr, QrShown):
        retry = _scan(play, f"The code is on her screen; {PERSON} scans it with her phone.")
    else:
        world.mac().show_pairing_qr()
        play.note("She chooses Pair phone again.", _pair_phone(play))
        retry = _scan(play, f"{PERSON} scans the code with her phone.")
    play.recovery = retry.outcome
    play.recovery_action = "Scan the code once the Mac's enrollment was answered"
    return None


def _mfa_turned_on_too_late(play: Play) -> PairingOutcome | None:
    world = play.world
    world.people.create(PERSON, mfa=False)
    world.mac().sign_in(PERSON)
    world.mac().allow_connections(True)
    play.note(f"{PERSON} has no multi-factor authentication. Codex on her Mac signs in, and she turns on "
              f'"{messages.DESKTOP_ALLOW_CONNECTIONS}": remote control needs MFA, so it does not take.',
              play.mac(), *play.enrollment())
    world.people.set_up_mfa(PERSON)
    play.note("She turns on multi-factor authentication for her account, with an authenticator app.")
    world.mac().allow_connections(False)
    world.mac().allow_connections(True)
    notice = world.mac().notice
    title, body = notice if notice is not None else ("", "")
    play.note("She turns the switch off and on again. Codex on her Mac is still signed in from before MFA: the "
              "daemon reads that sign-in again, finds it unchanged, and is turned down again.",
              f"Mac      {title} · {body}", play.mac(),
              *[f"Daemon   {line}" for line in world.mac().daemon_log() if line.startswith("Reloaded auth")][-1:],
              *[f"Desktop  {line}" for line in world.mac().desktop_log()[-1:]])
    if notice is not None:
        play.record(Surface.DESKTOP, body, title)
    play.failure = play.read_surfaces(None)
    world.mac().sign_in(PERSON)
    play.note("She signs in to Codex on her Mac again, with her authenticator code.", play.mac())
    play.note("She chooses Pair phone.", play.show_code())
    retry = _scan(play, f"{PERSON} scans the code with her phone.")
    play.recovery = retry.outcome
    play.recovery_action = "Sign in to Codex on the Mac again, with the authenticator code"
    return None


def _out_of_date(minimum: str, current: str | None) -> Callable[[Play], PairingOutcome]:
    """The story of #22714 with these versions (`current=None`: whatever the Mac's daemon is; a minimum may be
    `{next version}`, the release after the Mac's daemon's)."""

    def play_it(play: Play) -> PairingOutcome:
        world = play.world
        minimum_now = fill_versions(minimum, version_under_test(world.daemon))
        world.backend.accept_codex_from(minimum_now)
        world.people.create(PERSON, mfa=True)
        if current is not None:
            world.mac().runs_codex_version(current)
        world.mac().sign_in(PERSON)
        world.mac().allow_connections(True)
        play.note(f"The ChatGPT service accepts Codex on a Mac from {minimum_now} on. {PERSON}'s Mac runs Codex "
                  f"{current or 'as installed'}; it signs in with MFA, enrolls, and is ready.", play.mac(),
                  *play.enrollment())
        play.note("Her Mac shows a pairing code.", play.show_code())
        outcome = _scan(play, f"{PERSON} scans the code with her phone.")
        play.record_phone(outcome)
        return outcome

    return play_it


def _outdated_text(copy: messages.ScreenCopy, minimum: str, current: str) -> str:
    return copy.body.format(minimum_version=minimum, current_version=current)


_FIXED_OUTDATED = messages.PHONE_ERRORS[ErrorCode.APP_SERVER_OUTDATED]
_LEGACY_OUTDATED = messages.LEGACY_APP_SERVER_OUTDATED

STORIES = (
    Story("pairing-code-unavailable", "A proxy answers the Mac's pairing requests with its own page: the daemon drops "
          "its server token, and today's Mac says only that pairing is unavailable until enrollment completes.",
          ("openai/codex#45674", "openai/codex#32164", "openai/codex#46091"), Surface.DESKTOP,
          messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_UNAVAILABLE),
          messages.DESKTOP_PAIRING_REFUSED, _pairing_request_refused),
    Story("pairing-start-timeout", "Dana chooses Pair phone while the ChatGPT service is slow to answer the Mac's "
          "enrollment: today's Mac gives up after 2 seconds; with the fix it says it is still enrolling, and shows "
          "the code when it can.", ("openai/codex#38534",), Surface.DESKTOP,
          messages.DESKTOP_PAIRING_UNAVAILABLE.format(reason=PAIRING_START_TIMED_OUT),
          messages.DESKTOP_PAIRING_WAITS_FOR_ENROLLMENT, _pairing_while_enrolling),
    Story("mfa-turned-on-too-late", "Dana turns on multi-factor authentication after Codex on her Mac signed in: "
          "turning on connections still fails, because the Mac's sign-in predates MFA.",
          ("openai/codex#41747", "openai/codex#46601", "openai/codex#46449", "openai/codex#43459"), Surface.DESKTOP,
          messages.DESKTOP_CONNECTIONS_FAILED.body, messages.DESKTOP_SIGNED_IN_WITHOUT_MFA, _mfa_turned_on_too_late),
    # The report's versions: the real daemon is the installed binary and reports its own version when it
    # enrolls, so this one plays on the mock daemon only; `codex-older-than-accepted` is its twin on both.
    Story("codex-out-of-date", f"Dana's Mac runs Codex {REPORTED_VERSION} and the ChatGPT service accepts Codex from "
          f"{REPORTED_MINIMUM} on: the phone that scans the Mac's code is turned away.", ("openai/codex#22714",),
          Surface.PHONE, _outdated_text(_LEGACY_OUTDATED, REPORTED_MINIMUM, REPORTED_VERSION),
          _outdated_text(_FIXED_OUTDATED, REPORTED_MINIMUM, REPORTED_VERSION),
          _out_of_date(REPORTED_MINIMUM, REPORTED_VERSION), on_real_daemon=False),
    Story("codex-older-than-accepted", "The ChatGPT service accepts Codex only from the release after the one on "
          "Dana's Mac: the phone that scans its code is turned away.",
          ("openai/codex#22714",), Surface.PHONE,
          _outdated_text(_LEGACY_OUTDATED, ABOVE_THE_REAL_DAEMON, REAL_DAEMON_VERSION),
          _outdated_text(_FIXED_OUTDATED, ABOVE_THE_REAL_DAEMON, REAL_DAEMON_VERSION),
          _out_of_date(ABOVE_THE_REAL_DAEMON, None)),
)
