"""The phone's setup state machine: from a scanned QR code to a live connection with a host, or a typed failure.

No I/O and no clock of its own: the app feeds it events (`fire`, `accept_link`, `fail`) as things happen on the
wire, and the machine decides which transitions are legal, which screen the phone shows, and keeps an observable
log of every transition and every screen with the time from the injected clock. A scenario can then assert both
*where* setup stopped and *what the user saw*.

    idle → scanned → link_validated → browser_open → signing_in → [mfa_challenge] → [choosing_workspace]
         → [consenting] → authorized → tokens_exchanged → claimed → socket_open → device_proven → initialized → live

An app that starts with a host's stored credentials goes from `idle` straight to `claimed` (`credentials_restored`).

Any state but `failed` may fail with an `ErrorCode`; `failed` and `live` go back to `idle` with `restart`. A lost
socket after the claim goes back to `claimed`, so the phone can reconnect without claiming again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from simulators.clock import Clock
from simulators.phone import screens
from simulators.phone.screens import FailureCopy, Screen
from simulators.protocol.errors import ErrorCode, PairsimError


class PhoneState(StrEnum):
    IDLE = "idle"
    SCANNED = "scanned"
    LINK_VALIDATED = "link_validated"
    BROWSER_OPEN = "browser_open"
    SIGNING_IN = "signing_in"
    MFA_CHALLENGE = "mfa_challenge"
    CHOOSING_WORKSPACE = "choosing_workspace"
    CONSENTING = "consenting"
    AUTHORIZED = "authorized"
    TOKENS_EXCHANGED = "tokens_exchanged"
    CLAIMED = "claimed"
    SOCKET_OPEN = "socket_open"
    DEVICE_PROVEN = "device_proven"
    INITIALIZED = "initialized"
    LIVE = "live"
    WAITING_FOR_HOST = "waiting_for_host"
    FAILED = "failed"


class PhoneEvent(StrEnum):
    QR_DECODED = "qr_decoded"
    LINK_ACCEPTED = "link_accepted"
    BROWSER_OPENED = "browser_opened"
    CREDENTIALS_SUBMITTED = "credentials_submitted"
    MFA_REQUESTED = "mfa_requested"
    WORKSPACE_CHOICE_SHOWN = "workspace_choice_shown"
    CONSENT_SHOWN = "consent_shown"
    AUTHORIZATION_CODE_RECEIVED = "authorization_code_received"
    TOKENS_RECEIVED = "tokens_received"
    CLAIM_ACCEPTED = "claim_accepted"
    SOCKET_OPENED = "socket_opened"
    DEVICE_KEY_ACCEPTED = "device_key_accepted"
    SESSION_INITIALIZED = "session_initialized"
    LIVE_STATE_LOADED = "live_state_loaded"
    CREDENTIALS_RESTORED = "credentials_restored"
    CONNECTION_LOST = "connection_lost"
    HOST_WENT_OFFLINE = "host_went_offline"
    HOST_BACK = "host_back"
    FAILURE = "failure"
    RESTART = "restart"


S = PhoneState
E = PhoneEvent

_SIGN_IN_PAGES = (S.SIGNING_IN, S.MFA_CHALLENGE, S.CHOOSING_WORKSPACE, S.CONSENTING)
_CONNECTED = (S.SOCKET_OPEN, S.DEVICE_PROVEN, S.INITIALIZED, S.LIVE, S.WAITING_FOR_HOST)

# (from, event) → to. FAILURE is handled apart: it is legal from every state but FAILED.
TRANSITIONS: dict[tuple[PhoneState, PhoneEvent], PhoneState] = {
    (S.IDLE, E.QR_DECODED): S.SCANNED,
    (S.SCANNED, E.LINK_ACCEPTED): S.LINK_VALIDATED,
    (S.LINK_VALIDATED, E.BROWSER_OPENED): S.BROWSER_OPEN,
    (S.BROWSER_OPEN, E.CREDENTIALS_SUBMITTED): S.SIGNING_IN,
    (S.SIGNING_IN, E.MFA_REQUESTED): S.MFA_CHALLENGE,
    # The issuer skips the pages that have nothing to ask: no MFA, one workspace, consent already given.
    # A browser already signed in skips the password; one whose session lacks MFA is asked for it first (step-up).
    (S.BROWSER_OPEN, E.MFA_REQUESTED): S.MFA_CHALLENGE,
    **{(state, E.WORKSPACE_CHOICE_SHOWN): S.CHOOSING_WORKSPACE
       for state in (S.BROWSER_OPEN, S.SIGNING_IN, S.MFA_CHALLENGE)},
    **{(state, E.CONSENT_SHOWN): S.CONSENTING
       for state in (S.BROWSER_OPEN, S.SIGNING_IN, S.MFA_CHALLENGE, S.CHOOSING_WORKSPACE)},
    **{(state, E.AUTHORIZATION_CODE_RECEIVED): S.AUTHORIZED for state in _SIGN_IN_PAGES},
    (S.AUTHORIZED, E.TOKENS_RECEIVED): S.TOKENS_EXCHANGED,
    (S.TOKENS_EXCHANGED, E.CLAIM_ACCEPTED): S.CLAIMED,
    (S.CLAIMED, E.SOCKET_OPENED): S.SOCKET_OPEN,
    (S.SOCKET_OPEN, E.DEVICE_KEY_ACCEPTED): S.DEVICE_PROVEN,
    (S.DEVICE_PROVEN, E.SESSION_INITIALIZED): S.INITIALIZED,
    (S.INITIALIZED, E.LIVE_STATE_LOADED): S.LIVE,
    **{(state, E.CONNECTION_LOST): S.CLAIMED for state in _CONNECTED},
    # The relay says the paired Mac is gone (its daemon left the relay) while the phone is open, and back.
    (S.LIVE, E.HOST_WENT_OFFLINE): S.WAITING_FOR_HOST,
    (S.WAITING_FOR_HOST, E.HOST_BACK): S.LIVE,
    # The app starts with a host's stored credentials (from its own storage or a device backup): it has claimed
    # before and reconnects without scanning.
    (S.IDLE, E.CREDENTIALS_RESTORED): S.CLAIMED,
    (S.FAILED, E.RESTART): S.IDLE,
    (S.LIVE, E.RESTART): S.IDLE,
}

# Which catalogue screen each state shows (FAILED shows the error screen of its code).
STATE_SCREENS: dict[PhoneState, str] = {
    S.IDLE: "scan",
    S.SCANNED: "scan",
    S.LINK_VALIDATED: "confirm_host",
    S.BROWSER_OPEN: "signing_in",
    S.SIGNING_IN: "signing_in",
    S.MFA_CHALLENGE: "signing_in",
    S.CHOOSING_WORKSPACE: "signing_in",
    S.CONSENTING: "signing_in",
    S.AUTHORIZED: "securing",
    S.TOKENS_EXCHANGED: "securing",
    S.CLAIMED: "securing",
    S.SOCKET_OPEN: "securing",
    S.DEVICE_PROVEN: "securing",
    S.INITIALIZED: "securing",
    S.LIVE: "paired",
    S.WAITING_FOR_HOST: "waiting_for_host",
}


class InvalidTransition(PairsimError):
    """An event that is not legal in the current state: a bug in the driver or an out-of-order message."""

    def __init__(self, state: PhoneState, event: PhoneEvent) -> None:
        super().__init__(f"event {event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Transition:
    from_state: PhoneState
    to_state: PhoneState
    event: PhoneEvent
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_state.value, "to": self.to_state.value, "event": self.event.value, "at": self.at}


@dataclass(frozen=True)
class ShownScreen:
    screen: Screen
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.screen.to_dict(), "at": self.at}


class PhoneMachine:
    def __init__(self, clock: Clock, *, failure_copy: FailureCopy = FailureCopy.NAMES_CAUSE,
                 on_screen: Callable[[Screen], None] | None = None) -> None:
        self._clock = clock
        # Told of every screen shown, so an app can let whoever waits for a screen know (no I/O here).
        self._on_screen = on_screen
        self.failure_copy = failure_copy
        self.state = PhoneState.IDLE
        self.failed_in: PhoneState | None = None
        self.error_code: ErrorCode | None = None
        # What the other side said (e.g. a backend's `detail`), for reports; the user sees the catalogue copy.
        self.error_detail: str | None = None
        self.error_fields: dict[str, str] = {}
        self.server_name: str | None = None
        # What a failure shows instead of its error screen, when the app words it otherwise (`show_instead`).
        self.failure_screen: Screen | None = None
        self.transitions: list[Transition] = []
        self.screens: list[ShownScreen] = []
        self._show(self._state_screen())

    @property
    def screen(self) -> Screen:
        return self.screens[-1].screen

    @property
    def state_screen(self) -> Screen:
        """The screen of the setup state itself (`paired`, an error), ignoring live screens shown on top of it."""
        return self._state_screen()

    @property
    def is_live(self) -> bool:
        return self.state is PhoneState.LIVE

    @property
    def is_failed(self) -> bool:
        return self.state is PhoneState.FAILED

    def can(self, event: PhoneEvent) -> bool:
        if event is PhoneEvent.FAILURE:
            return self.state is not PhoneState.FAILED
        return (self.state, event) in TRANSITIONS

    def fire(self, event: PhoneEvent) -> PhoneState:
        """Apply an event that carries no data; raise `InvalidTransition` if it is not legal now."""
        if event in (PhoneEvent.LINK_ACCEPTED, PhoneEvent.CREDENTIALS_RESTORED, PhoneEvent.FAILURE):
            # These carry data: use accept_link() / restore_credentials() / fail().
            raise InvalidTransition(self.state, event)
        return self._move(event)

    def accept_link(self, server_name: str) -> PhoneState:
        if not self.can(PhoneEvent.LINK_ACCEPTED):
            raise InvalidTransition(self.state, PhoneEvent.LINK_ACCEPTED)
        self.server_name = server_name
        return self._move(PhoneEvent.LINK_ACCEPTED)

    def restore_credentials(self, server_name: str) -> PhoneState:
        if not self.can(PhoneEvent.CREDENTIALS_RESTORED):
            raise InvalidTransition(self.state, PhoneEvent.CREDENTIALS_RESTORED)
        self.server_name = server_name
        return self._move(PhoneEvent.CREDENTIALS_RESTORED)

    def fail(self, code: ErrorCode | None, detail: str | None = None, *,
             fields: dict[str, str] | None = None) -> PhoneState:
        """Stop setup. `code=None` means the cause is unknown: the phone can only show the generic copy. `fields`
        are what the error screen's copy needs besides the cause (the versions of a Mac too old)."""
        if not self.can(PhoneEvent.FAILURE):
            raise InvalidTransition(self.state, PhoneEvent.FAILURE)
        self.error_code = code if code is not None else ErrorCode.UNKNOWN
        self.error_detail = detail
        self.error_fields = dict(fields or {})
        self.failed_in = self.state
        return self._move(PhoneEvent.FAILURE)

    # Screens inside a live session: they do not change the setup state.
    def show_threads(self, thread_count: int) -> Screen:
        return self._show_live(screens.threads_screen(self.server_name or "", thread_count))

    def show_approval(self, screen: Screen) -> Screen:
        return self._show_live(screen)

    def show_decision(self, decision: str) -> Screen:
        return self._show_live(screens.decision_screen(decision))

    def show_instead(self, screen: Screen) -> Screen:
        """A failed state shown in the app's own words instead of its error screen (today's app keeps showing the
        chats it listed, or an error inside a chat); the state and its code stay what they are."""
        if self.state is not PhoneState.FAILED:
            raise InvalidTransition(self.state, PhoneEvent.FAILURE)
        self.failure_screen = screen
        self._show(screen)
        return screen

    def _show_live(self, screen: Screen) -> Screen:
        if self.state is not PhoneState.LIVE:
            raise InvalidTransition(self.state, PhoneEvent.LIVE_STATE_LOADED)
        self._show(screen)
        return screen

    def _move(self, event: PhoneEvent) -> PhoneState:
        if event is PhoneEvent.FAILURE:
            target = PhoneState.FAILED
        else:
            try:
                target = TRANSITIONS[(self.state, event)]
            except KeyError:
                raise InvalidTransition(self.state, event) from None
        if target is PhoneState.IDLE:
            self.error_code = None
            self.error_detail = None
            self.error_fields = {}
            self.failed_in = None
            self.server_name = None
            self.failure_screen = None
        self.transitions.append(Transition(self.state, target, event, self._clock.now()))
        self.state = target
        screen = self._state_screen()
        if screen != self.screen:
            self._show(screen)
        return target

    def _state_screen(self) -> Screen:
        if self.state is PhoneState.FAILED and self.failure_screen is not None:
            return self.failure_screen
        if self.state is PhoneState.FAILED:
            # The claim is made once the tokens are exchanged: a failure there is a refused pairing.
            during_claim = self.failed_in is PhoneState.TOKENS_EXCHANGED
            return screens.error_screen(self.error_code, during_claim=during_claim, copy=self.failure_copy,
                                        fields=self.error_fields)
        return screens.render(STATE_SCREENS[self.state], server_name=self.server_name or "")

    def _show(self, screen: Screen) -> None:
        self.screens.append(ShownScreen(screen, self._clock.now()))
        if self._on_screen is not None:
            self._on_screen(screen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "error_code": self.error_code.value if self.error_code else None,
            "error_detail": self.error_detail,
            "server_name": self.server_name,
            "transitions": [t.to_dict() for t in self.transitions],
            "screens": [s.to_dict() for s in self.screens],
        }
