"""Every string a user sees on the phone, the desktop, in `pairsim doctor` and the CLI, in one place for product
review.

Product features quote these texts verbatim and `tests/test_copy_catalogue.py` ties every quote to an entry here
(and every entry to a feature that quotes it); `catalogue()` lists the entries. Each typed error code has its own
phone copy; the generic fallback is for `unknown` only (tests/test_messages.py checks that mapping exhaustively).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.protocol.errors import ErrorCode


@dataclass(frozen=True)
class ScreenCopy:
    title: str
    body: str
    actions: tuple[str, ...] = ()


GENERIC_SETUP_FAILURE = "Setup failed. Couldn't finish secure setup. Try again."
GENERIC_PAIRING_FAILURE = "An error occurred while pairing. Please scan the code again."

# The phone's screens on the way to a paired host.
PHONE_SCREENS: dict[str, ScreenCopy] = {
    "scan": ScreenCopy("Connect to your Mac", "Scan the QR code shown in Codex on your Mac.", ("Scan QR code",)),
    "confirm_host": ScreenCopy("Connect to {server_name}?", "Sign in with the ChatGPT account you use on this Mac.", ("Continue", "Cancel")),
    "signing_in": ScreenCopy("Sign in to ChatGPT", "Finish signing in in the browser.", ("Cancel",)),
    "securing": ScreenCopy("Setting up a secure connection", "Keep Codex open on {server_name}.", ()),
    "paired": ScreenCopy("Connected to {server_name}", "You can now follow and approve Codex work from this phone.", ("Done",)),
    "threads": ScreenCopy("{server_name}", "{thread_count} threads", ("Open", "Switch host")),
    "approval_command": ScreenCopy("Approve command?", "Codex wants to run `{command}` in {cwd}.", ("Approve", "Decline")),
    "approval_file_change": ScreenCopy("Approve file change?", "Codex wants to change {path}.", ("Approve", "Decline")),
    "approval_sent": ScreenCopy("Decision sent", "{decision_text}", ("Done",)),
    # A paired phone whose Mac is not connected waits for it. Today's app waits on this screen however long the Mac
    # stays errored (openai/codex#27167, #24046, #23289, #22715); with the fix it waits only while no cause is known.
    "waiting_for_host": ScreenCopy("Waiting for desktop", "Waiting for computer response", ()),
    # issue 12: the Mac's SSH remote projects, one row per project, below its threads. Today's phone lists none of
    # them (openai/codex#23527); with the fix it lists each, and Codex works in it through the Mac.
    "remote_projects": ScreenCopy("Remote projects on {server_name}", "{project} on {host}, over SSH", ("Open",)),
}

DECISION_TEXT: dict[str, str] = {
    "accept": "You approved this request.",
    "acceptForSession": "You approved this request for the rest of the session.",
    "decline": "You declined this request.",
    "cancel": "You cancelled this turn.",
}

# What the phone says for each typed cause. Title, body, actions.
PHONE_ERRORS: dict[ErrorCode, ScreenCopy] = {
    ErrorCode.MFA_REQUIRED: ScreenCopy(
        "Turn on multi-factor authentication",
        "Your Mac needs multi-factor authentication enabled before iPhone setup can finish. Enable MFA on your "
        "ChatGPT account, sign in to Codex on your Mac again, then retry.",
        ("Open security settings", "Retry"),
    ),
    ErrorCode.SIGN_IN_WITHOUT_MFA: ScreenCopy(
        "Sign in with your authenticator",
        "This phone signed in to ChatGPT without your authenticator code, because its browser remembers this "
        "device. Pairing needs multi-factor authentication: sign out of ChatGPT in the browser, then scan the code "
        "again and enter your authenticator code.",
        ("Sign out and scan again",),
    ),
    ErrorCode.PAIRING_CODE_EXPIRED: ScreenCopy(
        "Code expired",
        "This pairing code has expired. Show a new code in Codex on your Mac and scan again.",
        ("Scan again",),
    ),
    ErrorCode.PAIRING_CODE_CLAIMED: ScreenCopy(
        "Code already used",
        "This code was already used by another device. For your security, start pairing again on your Mac.",
        ("Scan again",),
    ),
    ErrorCode.NOT_A_PAIRING_CODE: ScreenCopy(
        "Not a pairing code",
        "This QR code is not a Codex pairing code. In Codex on your Mac, open Settings › Connections and choose "
        "Pair phone.",
        ("Scan again",),
    ),
    ErrorCode.ACCOUNT_MISMATCH: ScreenCopy(
        "Different account",
        "This Mac is signed in to a different ChatGPT account. Sign in on your phone with the account you use in "
        "Codex on your Mac.",
        ("Switch account",),
    ),
    ErrorCode.WORKSPACE_MISMATCH: ScreenCopy(
        "Different workspace",
        "This Mac uses a different ChatGPT workspace. Sign in again and choose the workspace you use in Codex on "
        "your Mac.",
        ("Choose workspace",),
    ),
    ErrorCode.REMOTE_CONTROL_DISABLED: ScreenCopy(
        "Connections are off on your Mac",
        "Your Mac isn't accepting connections. In Codex on your Mac, turn on Settings › Connections › Allow other "
        "devices to connect, then scan again.",
        ("Scan again",),
    ),
    ErrorCode.BLOCKED_BY_POLICY: ScreenCopy(
        "Blocked by your workspace",
        "Your workspace admin doesn't allow phones to control Codex on this Mac. Ask your admin to allow remote "
        "control.",
        ("OK",),
    ),
    ErrorCode.HOST_OFFLINE: ScreenCopy(
        "Mac not responding",
        "Your Mac stopped responding. Make sure it's awake, online and has Codex open, then try again.",
        ("Try again",),
    ),
    ErrorCode.RELAY_UNREACHABLE: ScreenCopy(
        "Can't reach Codex",
        "Can't reach the Codex connection service. Check your phone's internet connection and try again.",
        ("Try again",),
    ),
    ErrorCode.RATE_LIMITED: ScreenCopy(
        "Too many attempts",
        "Too many pairing attempts. Wait a minute, then try again.",
        ("OK",),
    ),
    ErrorCode.REGION_UNAVAILABLE: ScreenCopy(
        "Not available in your region",
        "Controlling Codex from your phone isn't available in your account's region yet.",
        ("OK",),
    ),
    ErrorCode.UNSUPPORTED_VERSION: ScreenCopy(
        "Update required",
        "This pairing code needs a newer version of the app. Update the ChatGPT app, then scan again.",
        ("Open App Store",),
    ),
    ErrorCode.QR_UNREADABLE: ScreenCopy(
        "Couldn't read the image",
        "The camera image couldn't be read. Hold your phone steady in front of your Mac's screen and scan again.",
        ("Scan again",),
    ),
    ErrorCode.QR_NOT_FOUND: ScreenCopy(
        "No QR code found",
        "No QR code was found. Point your camera at the code shown in Codex on your Mac.",
        ("Scan again",),
    ),
    ErrorCode.SIGN_IN_FAILED: ScreenCopy(
        "Sign-in failed",
        "Your email or password wasn't accepted. Check them and sign in again.",
        ("Try again",),
    ),
    ErrorCode.SIGN_IN_CANCELLED: ScreenCopy(
        "Sign-in cancelled",
        "Sign-in was cancelled, so your phone wasn't connected to your Mac.",
        ("Try again",),
    ),
    ErrorCode.MFA_CODE_REJECTED: ScreenCopy(
        "Verification failed",
        "Too many verification codes weren't accepted. Wait 15 minutes, then sign in again.",
        ("OK",),
    ),
    ErrorCode.SESSION_EXPIRED: ScreenCopy(
        "Signed out",
        "Your ChatGPT sign-in expired, for example after a password change. Sign in again to continue.",
        ("Sign in",),
    ),
    ErrorCode.DEVICE_PROOF_REJECTED: ScreenCopy(
        "Couldn't verify this phone",
        "This phone couldn't prove it is the device that was paired. Remove it in Codex on your Mac and pair again.",
        ("Pair again",),
    ),
    ErrorCode.CLIENT_REVOKED: ScreenCopy(
        "Removed from this Mac",
        "This phone was removed from Codex on your Mac, there or in your ChatGPT account settings. Scan a new "
        "pairing code from your Mac to pair it again.",
        ("Scan again",),
    ),
    ErrorCode.PROTOCOL_VIOLATION: ScreenCopy(
        "Connection problem",
        "Your phone and Mac couldn't understand each other. Update Codex on your Mac and the ChatGPT app, then "
        "try again.",
        ("Try again",),
    ),
    # Time and clocks (issue 10).
    ErrorCode.AUTHENTICATOR_CLOCK_OFF: ScreenCopy(
        "Check your phone's time",
        "Your authenticator code wasn't accepted because the clock on the device with your authenticator app is "
        "off. Turn on Set Automatically in Settings › General › Date & Time on that device, then scan the code "
        "again.",
        ("Scan again",),
    ),
    ErrorCode.SIGN_IN_EXPIRED: ScreenCopy(
        "Sign-in expired",
        "The sign-in page was open too long and expired. Show a new pairing code in Codex on your Mac and scan it "
        "again.",
        ("Scan again",),
    ),
    ErrorCode.UNKNOWN: ScreenCopy("Setup failed", GENERIC_SETUP_FAILURE, ("Try again",)),
}


def phone_error(code: ErrorCode | None) -> ScreenCopy:
    """The phone's copy for a cause; no code (a backend that sends none) gets the generic fallback."""
    return PHONE_ERRORS[code if code is not None else ErrorCode.UNKNOWN]


# Today's phone app names no cause: it says only where setup stopped. The texts are the ones users quoted.
LEGACY_PAIRING_FAILURE = ScreenCopy(
    # The body as in openai/codex#39959 (the claim was refused); the title as users quote it in #30750.
    "Pairing failed", GENERIC_PAIRING_FAILURE, ("Scan again",)
)
LEGACY_SETUP_FAILURE = PHONE_ERRORS[ErrorCode.UNKNOWN]  # openai/codex#24328, #22802: anything after the claim

# ---- The parties' processes (issue 10): a Mac that switched account, a phone that was removed.
# The phone's list of computers: each one online or offline, and when an offline one was last seen, worded as
# users quote it ("last seen ~11 hours ago", openai/codex#23977); `{ago}` is "11 hours", "1 minute", "2 days".
PHONE_CONNECTION_ONLINE = "Online"
PHONE_CONNECTION_OFFLINE = "Offline"
PHONE_LAST_SEEN = "last seen ~{ago} ago"
PHONE_LAST_SEEN_JUST_NOW = "last seen just now"
# With the fix, an offline computer whose Mac now uses another account or workspace says so, and what to do.
PHONE_SIGNED_IN_ELSEWHERE = (
    "This Mac is signed in to another ChatGPT account or workspace now. Sign in to Codex on it with this account "
    "again, or pair your phone with the account it uses now."
)
# Today's app, opening a chat on a computer whose connection the backend refuses: the HTTP status and the
# backend's request id for that request, as in openai/codex#23290.
LEGACY_LOAD_MESSAGES_ERROR = "Error loading messages: There is a problem with your request. ({http_status}, {request_id})"
# The desktop's pairing page when it remembers a phone it paired: today it waits for that phone to approve, even
# when the phone was removed (openai/codex#23112, #23247); with the fix it says the phone was removed and what to do.
DESKTOP_APPROVE_ON_MOBILE = "Approve on mobile device"
DESKTOP_REMEMBERED_PHONE_REMOVED = (
    "{device} was removed from this Mac, so it can't approve this code. Scan the code with it to pair it again."
)


# `codex remote-control`'s status line when the connection is errored: the real CLI's words
# [V: cli/src/remote_control_cmd.rs; observed 0.169.0 §6], exit code 1.
CLI_REMOTE_CONTROL_ERRORED = "Remote control is enabled on {server_name} but the connection is errored."

# Desktop Settings › Connections: one line per remote-control state, and one per blocking cause.
DESKTOP_ALLOW_CONNECTIONS = "Allow other devices to connect"
DESKTOP_KEEP_AWAKE = "Keep Mac awake"

DESKTOP_STATUS: dict[str, str] = {
    "disabled": "Other devices can't connect. Turn on Allow other devices to connect to pair a phone.",
    "connecting": "Connecting to Codex remote control…",
    "connected": "Ready. Scan the QR code with your phone to connect.",
    "errored": "Remote control is errored.",
}

DESKTOP_BLOCKED: dict[ErrorCode, str] = {
    ErrorCode.MFA_REQUIRED: (
        "Multi-factor authentication is required before this Mac can be controlled from iPhone. Open account "
        "security settings, enable MFA, then sign in to Codex again."
    ),
    ErrorCode.BLOCKED_BY_POLICY: (
        "Your workspace admin doesn't allow remote control of this Mac. Ask your admin to allow remote control, "
        "then try again."
    ),
    ErrorCode.REGION_UNAVAILABLE: "Remote control isn't available in your account's region yet.",
    ErrorCode.SESSION_EXPIRED: "Your ChatGPT sign-in expired. Sign in to Codex again to reconnect your phone.",
}


# The daemon inherited HTTP_PROXY and the proxy refuses the relay's WebSocket (openai/codex#41549).
DESKTOP_PROXY_REFUSED = (
    "Codex can't reach remote control through the HTTP proxy it was started with: the proxy refuses WebSocket "
    "connections. Turn off HTTP_PROXY for Codex, or allow WebSocket connections through the proxy, then turn Allow "
    "other devices to connect off and on."
)


# --- SSH remote projects (Settings › Connections › SSH; helper "ssh", issue 12) -----------------------------------
# A connection row: its status, then a line saying why when it is in error.
DESKTOP_REMOTE_STATUS: dict[str, str] = {"connected": "Connected", "error": "Error"}
# Today's desktop, word for word as the reports quote it: openai/codex#36242, #19198, and #19744 / #10450 (the
# socket's own error: the app-server never listened and the tunnel's channel was refused).
DESKTOP_REMOTE_DISCOVERY_FAILED = "Failed to discover remote SSH connections"
DESKTOP_REMOTE_CODEX_NOT_FOUND = "No `codex` found in PATH. Please install Codex on the remote machine."
DESKTOP_REMOTE_CONNECTION_RESET = "read ECONNRESET"
# The fix: each line names the cause and the one thing to do, by the failure's cause (remote_projects.failures).
DESKTOP_REMOTE_FIXED: dict[str, str] = {
    "codex_not_found": (
        "Codex isn't installed on {host}, or your login shell ({shell}) doesn't put it on PATH. Install Codex on "
        "{host}, or set CODEX_INSTALL_DIR to the folder that holds codex, then reconnect."
    ),
    "app_server_exited": (
        "Codex on {host} stopped as it started: {cause}. Codex runs in a non-interactive shell there, which "
        "doesn't read your interactive shell setup; make node and codex available to it, then reconnect."
    ),
    "remote_port_taken": (
        "Codex on {host} couldn't listen on port {port}: another program already uses it. Stop that program or "
        "choose another remote port for {alias}, then reconnect."
    ),
    "host_key_unknown": (
        "{host} isn't a known host yet. Connect once with ssh {alias} in Terminal, check and accept its host key, "
        "then reconnect."
    ),
    "host_key_changed": (
        "The host key of {host} has changed since you last connected. If you didn't expect this, someone may be "
        "intercepting the connection: check with its administrator before you remove the old key with ssh-keygen "
        "-R and reconnect."
    ),
    "publickey_refused": (
        "{host} refused your SSH key for {user}. Add your public key to authorized_keys for {user} on {host}, or "
        "set the IdentityFile for {alias}, then reconnect."
    ),
}
# --- end SSH remote projects


@dataclass(frozen=True)
class DoctorCopy:
    reason: str
    action: str


DOCTOR_ENROLLMENT_OK = "Remote control enrollment: ok"
DOCTOR_ENROLLMENT_BLOCKED = "Remote control enrollment: blocked"
DOCTOR_ENROLLMENT_DISABLED = "Remote control enrollment: disabled"
DOCTOR_ENROLLMENT_ERRORED = "Remote control enrollment: errored"

DOCTOR_BLOCKED: dict[ErrorCode, DoctorCopy] = {
    ErrorCode.MFA_REQUIRED: DoctorCopy(
        "Multi-factor authentication required", "Enable MFA and re-authenticate Codex desktop."
    ),
    ErrorCode.BLOCKED_BY_POLICY: DoctorCopy(
        "Remote control is disabled for this workspace", "Ask your workspace admin to allow remote control."
    ),
    ErrorCode.REGION_UNAVAILABLE: DoctorCopy(
        "Remote control is not available in this region", "Use an account in a supported region."
    ),
    ErrorCode.SESSION_EXPIRED: DoctorCopy("ChatGPT sign-in expired", "Sign in to Codex desktop again."),
}


# `pairsim doctor`: the other checks' lines, the enrollment states without a blocking cause, and the layout.
DOCTOR_REASON_LINE = "Reason: {reason}"
DOCTOR_ACTION_LINE = "Action: {action}"
DOCTOR_SUMMARY = "{ok} ok · {warn} warn · {fail} fail"
DOCTOR_STATE_DB_OK = "State database: ok"
DOCTOR_STATE_DB_MISSING = "State database: missing"
DOCTOR_STATE_DB_MISSING_COPY = DoctorCopy(
    "Codex desktop has not stored any state in this folder", "Start Codex desktop once, or pass the right --home."
)
DOCTOR_AUTH_OK = "ChatGPT sign-in: ok"
DOCTOR_AUTH_MISSING = "ChatGPT sign-in: not signed in"
DOCTOR_AUTH_MISSING_COPY = DoctorCopy("No ChatGPT tokens are stored", "Sign in to Codex desktop.")
DOCTOR_ENROLLMENT_PENDING = "Remote control enrollment: not enrolled yet"
DOCTOR_ENROLLMENT_PENDING_COPY = DoctorCopy(
    "Codex desktop has not finished enrolling this Mac", "Keep Codex desktop open until it finishes connecting."
)
DOCTOR_ENROLLMENT_DISABLED_COPY = DoctorCopy(
    "Allow other devices to connect is off",
    "Turn on Settings › Connections › Allow other devices to connect in Codex desktop.",
)
DOCTOR_ENROLLMENT_ERRORED_COPY = DoctorCopy(
    "The backend refused enrollment (HTTP {http_status})",
    "Check the daemon log for the enrollment error, then turn Allow other devices to connect off and on.",
)
DOCTOR_ENROLLMENT_UNREACHABLE_COPY = DoctorCopy(
    "The remote control service could not be reached", "Check this Mac's internet connection."
)


# ------------------------------------------------------------------------------------------------------------
# CLI login (`pairsim login`): pairsim's own copy. The real CLI's texts that pairsim reproduces verbatim (the
# login banner, `Error logging in: ...`, the device-code steps) are protocol facts and live beside the code in
# simulators/login/.

CLI_ACCESS_TOKEN_PLAN = (
    "Access tokens can sign in Codex only for ChatGPT Business and Enterprise workspaces; this token belongs to "
    "a {plan} plan."
)
CLI_ACCESS_TOKEN_EXPIRED = "The access token has expired. Create a new one and try again."
CLI_ACCESS_TOKEN_REVOKED = "The access token has been revoked. Create a new one and try again."
CLI_KEYRING_UNAVAILABLE = (
    "No keyring is available on this machine. Use --credentials-store file or auto, or install a keyring."
)
CLI_STATUS_CHATGPT = "Logged in using ChatGPT"  # [V]
CLI_STATUS_ACCESS_TOKEN = "Logged in using access token"  # [V: string in 0.169.0]
CLI_STATUS_NOT_LOGGED_IN = "Not logged in"  # [V]
CLI_LOGGED_OUT = "Successfully logged out"  # [V]
# `pairsim connect`: the remote app server accepted the WebSocket (the real TUI shows its screen instead).
CLI_REMOTE_CONNECTED = "Connected to the remote app server at `{url}`."

# Time and clocks (issue 10): Codex in a terminal, when its ChatGPT sign-in cannot be refreshed or was revoked.
# Today's words are the real CLI's [V: strings of codex 0.169.0; the reused one also observed in its log, and quoted
# in openai/codex#6498, #9634, #24365, #13238]; a refused request is its `unexpected status` line, whose end users
# quote in #13118 (the real line also names the URL, which pairsim leaves out: a loopback URL changes every run).
CLI_ANSWERED = "Codex answered."
CLI_REFRESH_TOKEN_REUSED = (
    "Your access token could not be refreshed because your refresh token was already used. Please log out and "
    "sign in again."
)
CLI_REFRESH_TOKEN_EXPIRED = (
    "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in "
    "again."
)
CLI_REFRESH_TOKEN_REVOKED = (
    "Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in "
    "again."
)
CLI_UNEXPECTED_STATUS = "unexpected status {status}: {detail}, auth error code: {code}"
# With the fix: the cause (a copy of this sign-in used, or replaced, on another computer) and what to do.
CLI_SIGN_IN_USED_ELSEWHERE = (
    "Another computer refreshed this sign-in first: it uses a copy of it (a copied auth.json), and a sign-in can be "
    "refreshed only once. Run `codex login` on this computer to give it a sign-in of its own."
)
CLI_SIGN_IN_REPLACED_ELSEWHERE = (
    "This sign-in was replaced by a newer sign-in on another computer, which signed out every copy of it. Run "
    "`codex login` on this computer to give it a sign-in of its own."
)


def catalogue() -> dict[str, str]:
    """Every message a person reads, by a key naming where it appears. Button labels are part of their screen
    and not listed on their own."""
    entries: dict[str, str] = {}
    for key, copy in PHONE_SCREENS.items():
        entries[f"phone.screen.{key}.title"] = copy.title
        entries[f"phone.screen.{key}.body"] = copy.body
    for code, copy in PHONE_ERRORS.items():
        entries[f"phone.error.{code.value}.title"] = copy.title
        entries[f"phone.error.{code.value}.body"] = copy.body
    entries["phone.legacy.pairing.title"] = LEGACY_PAIRING_FAILURE.title
    entries["phone.legacy.pairing.body"] = LEGACY_PAIRING_FAILURE.body
    entries["phone.legacy.load_messages"] = LEGACY_LOAD_MESSAGES_ERROR
    entries["phone.connections.online"] = PHONE_CONNECTION_ONLINE
    entries["phone.connections.offline"] = PHONE_CONNECTION_OFFLINE
    entries["phone.connections.last_seen"] = PHONE_LAST_SEEN
    entries["phone.connections.last_seen_just_now"] = PHONE_LAST_SEEN_JUST_NOW
    entries["phone.connections.signed_in_elsewhere"] = PHONE_SIGNED_IN_ELSEWHERE
    entries["desktop.pairing.approve_on_mobile"] = DESKTOP_APPROVE_ON_MOBILE
    entries["desktop.pairing.remembered_phone_removed"] = DESKTOP_REMEMBERED_PHONE_REMOVED
    for decision, text in DECISION_TEXT.items():
        entries[f"phone.decision.{decision}"] = text
    entries["desktop.setting.allow_connections"] = DESKTOP_ALLOW_CONNECTIONS
    for state, text in DESKTOP_STATUS.items():
        entries[f"desktop.status.{state}"] = text
    for code, text in DESKTOP_BLOCKED.items():
        entries[f"desktop.blocked.{code.value}"] = text
    entries["desktop.proxy_refused"] = DESKTOP_PROXY_REFUSED
    entries["cli.remote_control.errored"] = CLI_REMOTE_CONTROL_ERRORED
    # SSH remote projects (helper "ssh")
    for state, text in DESKTOP_REMOTE_STATUS.items():
        entries[f"desktop.remote.status.{state}"] = text
    entries["desktop.remote.legacy.discovery_failed"] = DESKTOP_REMOTE_DISCOVERY_FAILED
    entries["desktop.remote.legacy.codex_not_found"] = DESKTOP_REMOTE_CODEX_NOT_FOUND
    entries["desktop.remote.legacy.connection_reset"] = DESKTOP_REMOTE_CONNECTION_RESET
    for cause, text in DESKTOP_REMOTE_FIXED.items():
        entries[f"desktop.remote.{cause}"] = text
    for key, value in globals().items():
        if key.startswith("DOCTOR_") and isinstance(value, str):
            entries[f"doctor.{key[len('DOCTOR_'):].lower()}"] = value
    doctor_copies = {
        **{f"blocked.{code.value}": copy for code, copy in DOCTOR_BLOCKED.items()},
        "state_db_missing": DOCTOR_STATE_DB_MISSING_COPY,
        "auth_missing": DOCTOR_AUTH_MISSING_COPY,
        "enrollment_pending": DOCTOR_ENROLLMENT_PENDING_COPY,
        "enrollment_disabled": DOCTOR_ENROLLMENT_DISABLED_COPY,
        "enrollment_errored": DOCTOR_ENROLLMENT_ERRORED_COPY,
        "enrollment_unreachable": DOCTOR_ENROLLMENT_UNREACHABLE_COPY,
    }
    for key, copy in doctor_copies.items():
        entries[f"doctor.{key}.reason"] = DOCTOR_REASON_LINE.format(reason=copy.reason)
        entries[f"doctor.{key}.action"] = DOCTOR_ACTION_LINE.format(action=copy.action)
    for key in ("DOCTOR_REASON_LINE", "DOCTOR_ACTION_LINE"):
        entries.pop(f"doctor.{key[len('DOCTOR_'):].lower()}")  # templates of the lines above, not lines
    for key, value in globals().items():
        if key.startswith("CLI_") and isinstance(value, str):
            entries.setdefault(f"cli.{key[len('CLI_'):].lower()}", value)
    entries.update(BACKEND_ANSWERS_COPY)
    entries.update(control_catalogue())
    return entries


# ------------------------------------------------------------------------------------------------------------
# The backend's answers and the Mac's Codex version: "Pair phone" while the Mac enrolls or after its pairing
# request was refused, a switch that failed, a Mac too old for remote control.

# Today's desktop puts the daemon's reason after this prefix, verbatim: "Pairing code unavailable: remote control
# pairing is unavailable until enrollment completes." (openai/codex#45674, #32164, #46091). The reasons are the
# daemon's and its control client's words, kept with the code (simulators/daemon/desktop.py).
DESKTOP_PAIRING_UNAVAILABLE = "Pairing code unavailable: {reason}."
DESKTOP_PAIRING_STARTING = "Getting a pairing code…"
DESKTOP_PAIRING_WAITS_FOR_ENROLLMENT = (
    "This Mac is still enrolling with ChatGPT, so there is no pairing code yet. Keep Codex open: the code appears "
    "here as soon as enrollment completes."
)
DESKTOP_PAIRING_REFUSED = (
    "Couldn't get a pairing code: ChatGPT turned down this Mac's pairing request again after it reconnected. If this "
    "Mac is on a network with a proxy or firewall, allow chatgpt.com or try another network, then choose Pair phone "
    "again."
)

# "Pair phone" when the daemon's server token is expired by the Mac's clock, however often it renews it: the Mac's
# clock is ahead of ChatGPT's by more than the token's lifetime. Today's desktop passes the daemon's words on
# (DESKTOP_PAIRING_UNAVAILABLE); with the fix it says which clocks disagree, by how much (`{how_far}`: "2 hours"),
# and what to do.
DESKTOP_CLOCK_AHEAD = (
    "Couldn't get a pairing code because this Mac's clock is {how_far} ahead of ChatGPT's: by this Mac's clock, the "
    "permission ChatGPT gives it to pair has already expired. Turn on Set time and date automatically in System "
    "Settings › General › Date & Time, then choose Pair phone again."
)

# What the desktop says when "Allow other devices to connect" did not take: today, a title and a body that name no
# cause (openai/codex#41747, #46601 / #46449, #43459); with the fix, a body that says why and what to do.
DESKTOP_CONNECTIONS_FAILED = ScreenCopy(
    "Couldn't update remote control availability", "Unable to enable remote control. Please try again."
)
DESKTOP_SIGNED_IN_WITHOUT_MFA = (
    "Multi-factor authentication is on for your ChatGPT account, but Codex on this Mac signed in without it. Sign "
    "out of Codex on this Mac, sign in again with your authenticator code, then turn on Allow other devices to "
    "connect."
)
DESKTOP_SECURITY_CHECK_FAILED = (
    "Codex couldn't check this account's security settings: a web page answered instead of ChatGPT, so a proxy or "
    "firewall on this network may be in the way. Try another network or ask your network admin to allow "
    "chatgpt.com, then turn this on again."
)

# The phone, for a Mac whose Codex is older than the backend accepts. Today's words (openai/codex#22714), then the
# fix's, which say which computer and what to do there.
LEGACY_APP_SERVER_OUTDATED = ScreenCopy(
    PHONE_ERRORS[ErrorCode.UNSUPPORTED_VERSION].title,
    "Codex on this environment is out of date. Update to {minimum_version} or newer. Current version: "
    "{current_version}",
    ("OK",),
)
PHONE_ERRORS[ErrorCode.APP_SERVER_OUTDATED] = ScreenCopy(
    "Update Codex on your Mac",
    "Codex on your Mac is version {current_version}, older than remote control accepts. Update Codex on your Mac "
    "to {minimum_version} or newer, then scan the code again.",
    ("Scan again",),
)

BACKEND_ANSWERS_COPY: dict[str, str] = {
    "desktop.pairing.unavailable": DESKTOP_PAIRING_UNAVAILABLE,
    "desktop.pairing.starting": DESKTOP_PAIRING_STARTING,
    "desktop.pairing.waits_for_enrollment": DESKTOP_PAIRING_WAITS_FOR_ENROLLMENT,
    "desktop.pairing.refused": DESKTOP_PAIRING_REFUSED,
    "desktop.pairing.clock_ahead": DESKTOP_CLOCK_AHEAD,
    "desktop.connections_failed.title": DESKTOP_CONNECTIONS_FAILED.title,
    "desktop.connections_failed.body": DESKTOP_CONNECTIONS_FAILED.body,
    "desktop.connections_failed.signed_in_without_mfa": DESKTOP_SIGNED_IN_WITHOUT_MFA,
    "desktop.connections_failed.security_check_failed": DESKTOP_SECURITY_CHECK_FAILED,
    "phone.legacy.app_server_outdated.body": LEGACY_APP_SERVER_OUTDATED.body,
}


# ------------------------------------------------------------------------------------------------------------
# Settings › Connections › Control other devices, on a Mac that controls another Mac through the relay (issue 12,
# simulators/controller). Today's desktop shows the texts users quoted; the fix names the cause.

DESKTOP_CONTROL_OTHER_DEVICES = "Control other devices"
CONTROL_ONLINE = "Online"
CONTROL_OFFLINE = "Offline"
CONTROL_CONNECTING = "Connecting…"
CONTROL_NOT_CONNECTED = "Not connected"
CONTROL_CONNECTED = "Connected to {server_name}"

# What today's desktop says, verbatim from the reports.
CONTROL_LEGACY: dict[str, str] = {
    # openai/codex#23915: a saved host whose pairing the backend no longer accepts.
    "stale_enrollment": "Remote control enrollment requires explicit authorization in settings.",
    # openai/codex#27231, #34010: the controller's own connection to the relay does not open.
    "connection_failed": "Connection failed",
    "handshake_timeout": "Opening handshake has timed out",
    # openai/codex#26193: adding a Mac again after it was removed, or any pairing call that failed.
    "update_failed": "Failed to update connections.",
    # openai/codex#41398: paired on both sides, every message fails.
    "no_manager": "No AppServerManager registered for hostId: remote-control:{environment_id}",
    # openai/codex#35351: turning on "Control other devices" when a step after `remoteControl/enable` failed.
    "state_failed": "Unable to update remote control state",
}

# What the fix says instead: the cause, and what to do about it.
CONTROL_CAUSES: dict[str, str] = {
    "pairing_expired": "This Mac's pairing with {server_name} has expired. Show a code to type on {server_name} and "
                       "pair again.",
    "handshake_timeout": "{server_name} is online, but this Mac's connection to the relay did not open within 30 "
                         "seconds. Something on this Mac's network, such as a proxy or firewall, is holding "
                         "WebSocket connections.",
    "hosts_unavailable": "Control other devices is on, but the list of your devices could not be loaded: the "
                         "ChatGPT service answered HTTP {http_status}. Try again in a moment.",
    "service_unavailable": "The ChatGPT service could not pair this Mac just now (HTTP {http_status}). Try again in "
                           "a moment.",
    "rate_limited": "Too many pairing attempts. Wait a minute and try again.",
    "offline": "This Mac is offline. Check its internet connection and try again.",
    "host_offline": "{server_name} is offline. Your pairing is kept: it opens once {server_name} is back online.",
    "code_not_valid": "This code is no longer valid: it expired or another device used it. Show a new code to type "
                      "on the other Mac and try again.",
}


def control_catalogue() -> dict[str, str]:
    """The Control other devices entries of `catalogue()`."""
    entries = {
        "desktop.setting.control_other_devices": DESKTOP_CONTROL_OTHER_DEVICES,
        "desktop.control.online": CONTROL_ONLINE,
        "desktop.control.offline": CONTROL_OFFLINE,
        "desktop.control.connecting": CONTROL_CONNECTING,
        "desktop.control.not_connected": CONTROL_NOT_CONNECTED,
        "desktop.control.connected": CONTROL_CONNECTED,
    }
    entries.update({f"desktop.control.legacy.{key}": text for key, text in CONTROL_LEGACY.items()})
    entries.update({f"desktop.control.cause.{key}": text for key, text in CONTROL_CAUSES.items()})
    return entries
