"""Pairing a phone: the path that works, the seed story (openai/codex#24328) and the MFA it turned on, a phone whose
browser skips the authenticator (#39959), and the refusals whose messages the phone must tell apart."""

from __future__ import annotations

import json

from simulators import messages
from simulators.protocol.errors import ErrorCode
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import PairingOutcome
from simulators.world.backend import Operation

# A cause no phone release knows, so the phone must fall back to the generic copy.
UNMAPPED_CLAIM_FAILURE = (422, json.dumps({"detail": "Environment snapshot is stale",
                                           "code": "environment_snapshot_stale"}))


def _happy_path(play: Play) -> PairingOutcome:
    play.ready_mac()
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone and signs in with her password and MFA code.",
              play.phone(outcome))
    return outcome


def _mfa_required(play: Play) -> PairingOutcome:
    play.ready_mac()
    play.world.mac().quit_browser()
    play.world.mac().sign_in(PERSON)
    play.note("She quits the browser; Codex on her Mac signs in again. The browser is remembered, so only the "
              "password is asked: the sign-in carries no multi-factor authentication.", *play.enrollment(), play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    return outcome


def _password_change(play: Play) -> PairingOutcome:
    world = play.world
    play.ready_mac()
    world.change_password(PERSON)
    play.note(f"{PERSON} changes her ChatGPT password. Every session is revoked; Codex on her Mac is signed out.")
    world.mac().sign_in(PERSON)
    play.note("Codex on her Mac signs in again. The browser is remembered, so only the new password is asked: "
              "the sign-in carries no multi-factor authentication.", *play.enrollment(), play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    play.record_phone(outcome)
    play.failure = play.read_surfaces(outcome)

    world.people.set_up_mfa(PERSON)
    world.mac().sign_in(PERSON)
    play.note("She does what the message says: sets up MFA again (which forgets every remembered browser) and "
              "signs in to Codex on her Mac, this time with her authenticator code.", *play.enrollment(), play.mac())
    play.note("Her Mac shows a new pairing code.", play.show_code())
    retry = play.scan()
    play.note(f"{PERSON} scans the new code with her phone.", play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = "Retry after Dana signed in to Codex on her Mac with MFA again"
    return outcome


def _trusted_phone_browser(play: Play) -> PairingOutcome:
    world = play.world
    world.people.create(PERSON, mfa=True)
    world.phone().remembers_device(PERSON)
    play.note(f"{PERSON} signed in to ChatGPT on her phone some time ago, with her authenticator, and let its browser "
              "remember her device.")
    world.mac().sign_in(PERSON)
    world.mac().allow_connections(True)
    play.note("Codex on her Mac signs in with MFA and she turns on connections.", play.mac())
    play.note("Her Mac shows a pairing code.", play.show_code())
    outcome = play.scan()
    pages = " → ".join(world.phone().sign_in_pages)
    play.note(f"{PERSON} scans the code. Her phone's browser is remembered, so the sign-in skips the authenticator "
              f"({pages}); the backend refuses the claim.", play.phone(outcome))
    play.record_phone(outcome)
    play.failure = play.read_surfaces(outcome)
    world.phone().sign_out_of_chatgpt()
    retry = play.scan()
    play.note("She signs out of ChatGPT in the phone's browser and scans again; this time the sign-in asks for her "
              "authenticator code.", play.phone(retry))
    play.recovery = retry.outcome
    play.recovery_action = "Retry after Dana signed out of ChatGPT in her phone's browser"
    return outcome


def _remote_control_disabled(play: Play) -> PairingOutcome:
    play.ready_mac()
    play.world.mac().allow_connections(False)
    play.note(f'{PERSON} turns off "{messages.DESKTOP_ALLOW_CONNECTIONS}" on her Mac.', play.mac())
    outcome = play.scan()
    play.note(f"{PERSON} scans the code that is still on her screen.", play.phone(outcome))
    return outcome


def _unknown_error(play: Play) -> PairingOutcome:
    play.ready_mac()
    play.world.backend.answer_next(Operation.CLAIM, *UNMAPPED_CLAIM_FAILURE)
    play.note("The backend answers the phone's claim with an error no phone release knows.")
    outcome = play.scan()
    play.note(f"{PERSON} scans the code with her phone.", play.phone(outcome))
    return outcome


def _phone_error(code: ErrorCode) -> str:
    return messages.PHONE_ERRORS[code].body


STORIES = (
    Story("happy-path", "Dana, with MFA, pairs her phone with Codex on her Mac.", (), Surface.PHONE, None, None,
          _happy_path),
    Story("password-change", "The seed story: after a password change the Mac signs in again without MFA, and the "
          "backend refuses to enroll it.", ("openai/codex#24328",), Surface.PHONE,
          messages.GENERIC_SETUP_FAILURE, _phone_error(ErrorCode.MFA_REQUIRED), _password_change),
    Story("mfa-required", "Codex on the Mac signs in from a remembered browser, without MFA; the backend refuses "
          "remote control.", (), Surface.PHONE,
          messages.GENERIC_SETUP_FAILURE, _phone_error(ErrorCode.MFA_REQUIRED), _mfa_required),
    Story("trusted-phone-browser", "The phone's browser is remembered as a trusted device, skips the authenticator, "
          "and the backend refuses its claim.", ("openai/codex#39959",), Surface.PHONE,
          messages.GENERIC_PAIRING_FAILURE, _phone_error(ErrorCode.SIGN_IN_WITHOUT_MFA), _trusted_phone_browser),
    Story("remote-control-disabled", 'Dana turns off "Allow other devices to connect", then scans: today the Mac just '
          "leaves the relay, and the phone finds it offline in secure setup.", (),
          Surface.PHONE, messages.GENERIC_SETUP_FAILURE, _phone_error(ErrorCode.REMOTE_CONTROL_DISABLED),
          _remote_control_disabled),
    Story("unknown-error", "The backend fails with a cause no phone knows: the generic message, rightly.", (),
          Surface.PHONE, messages.GENERIC_PAIRING_FAILURE, messages.GENERIC_SETUP_FAILURE, _unknown_error),
)
