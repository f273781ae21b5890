"""Why a remote project did not open, and what the desktop says about it in each profile (sans-I/O).

The legacy desktop shows what the failing layer said: ssh's last line, the login shell's stderr, the socket's
error as Node's `ws` words it (`read ECONNRESET`, `Unexpected server response: 404`), or its own generic sentence.
The fixed desktop names the cause with the catalogue's copy (`simulators/messages.py`, DESKTOP_REMOTE_*).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from simulators import messages


class Cause(StrEnum):
    DISCOVERY_FAILED = "discovery_failed"
    HOST_KEY_UNKNOWN = "host_key_unknown"
    HOST_KEY_CHANGED = "host_key_changed"
    PUBLICKEY_REFUSED = "publickey_refused"
    REMOTE_COMMAND = "remote_command"
    SSH_OTHER = "ssh_other"
    PROBE_SHELL_ERROR = "probe_shell_error"
    CODEX_NOT_FOUND = "codex_not_found"
    APP_SERVER_EXITED = "app_server_exited"
    REMOTE_PORT_TAKEN = "remote_port_taken"
    SOCKET_CLOSED = "socket_closed"
    HANDSHAKE_REFUSED = "handshake_refused"


def ssh_cause(stderr: str) -> Cause:
    """Which of OpenSSH's own failures ended a command (its exit status was 255)."""
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return Cause.HOST_KEY_CHANGED
    if "Host key verification failed." in stderr:
        return Cause.HOST_KEY_UNKNOWN
    if "Permission denied (publickey" in stderr:
        return Cause.PUBLICKEY_REFUSED
    if "Cannot execute command-line and remote command." in stderr:
        return Cause.REMOTE_COMMAND
    return Cause.SSH_OTHER


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class Failure:
    """One failure and the facts the copy needs. `detail` is what the failing layer said (never a secret: ssh,
    shell and app-server output about paths, keys' fingerprints and ports)."""

    cause: Cause
    alias: str
    detail: str = ""
    host: str = ""
    user: str = ""
    shell: str = ""
    port: int = 0


def legacy_message(failure: Failure) -> str:
    match failure.cause:
        case Cause.DISCOVERY_FAILED:
            return messages.DESKTOP_REMOTE_DISCOVERY_FAILED
        case Cause.CODEX_NOT_FOUND:
            return messages.DESKTOP_REMOTE_CODEX_NOT_FOUND
        case Cause.PROBE_SHELL_ERROR:
            return failure.detail.strip()
        case Cause.SOCKET_CLOSED | Cause.APP_SERVER_EXITED:
            return messages.DESKTOP_REMOTE_CONNECTION_RESET
        case _:
            return last_line(failure.detail)


def fixed_message(failure: Failure) -> str:
    fill = {"alias": failure.alias, "host": failure.host or failure.alias, "user": failure.user,
            "shell": failure.shell, "port": failure.port, "cause": last_line(failure.detail)}
    if failure.cause.value in messages.DESKTOP_REMOTE_FIXED:
        return messages.DESKTOP_REMOTE_FIXED[failure.cause.value].format(**fill)
    # Causes the fix makes impossible (csh, RemoteCommand, Include) or that have no better words than the layer's.
    return legacy_message(failure)
