"""Where a remote client may send its bearer token: `wss://` anywhere, `ws://` only to a loopback host. Pure.

The rule and the refusal texts are the real client's [V: codex-rs/app-server-client/src/remote.rs
`websocket_url_supports_auth_token`; observed 0.169.0 §4 for the TUI's wording], reproduced verbatim because
scenarios compare them with what the real binary prints.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from simulators.protocol.errors import ErrorCode, PairsimError

# The app-server client's refusal [V].
CLIENT_REFUSAL = "remote auth tokens require `wss://` or loopback `ws://` URLs; got `{url}`"
# The TUI checks the flag combination first and words it its own way [observed 0.169.0 §4].
TUI_REFUSAL = "`--remote-auth-token-env` requires a `wss://` or loopback `ws://` remote."
TUI_REQUIRES_REMOTE = "`--remote-auth-token-env` requires `--remote`."
TUI_ERROR_PREFIX = "ERROR: "
ENV_NOT_SET = "environment variable `{name}` is not set"
ENV_EMPTY = "environment variable `{name}` is empty"


class RemoteTokenRefused(PairsimError):
    """The token would travel in clear text to a non-loopback host; nothing was sent."""

    code = ErrorCode.BLOCKED_BY_POLICY


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # any other DNS name could resolve anywhere
    if address.version == 6:
        return address == ipaddress.IPv6Address("::1")
    return address.is_loopback


def token_allowed(url: str) -> bool:
    """True when a bearer token may be sent on a WebSocket handshake to `url`."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "wss":
        return bool(host)
    return scheme == "ws" and host is not None and _is_loopback_host(host)


def check_client_url(url: str) -> None:
    """The app-server client's check; raises `RemoteTokenRefused` with its exact text."""
    if not token_allowed(url):
        raise RemoteTokenRefused(CLIENT_REFUSAL.format(url=url))


def check_tui_remote(remote: str | None) -> None:
    """The TUI's check of `--remote` with `--remote-auth-token-env`; raises with the TUI's exact text."""
    if remote is None:
        raise RemoteTokenRefused(TUI_REQUIRES_REMOTE)
    if not token_allowed(remote):
        raise RemoteTokenRefused(TUI_REFUSAL)


def read_token_env(name: str, environ: dict[str, str]) -> str:
    """The token from environment variable `name`, trimmed; missing or blank raises with the real texts."""
    if name not in environ:
        raise RemoteTokenRefused(ENV_NOT_SET.format(name=name), code=ErrorCode.SIGN_IN_FAILED)
    value = environ[name].strip()
    if not value:
        raise RemoteTokenRefused(ENV_EMPTY.format(name=name), code=ErrorCode.SIGN_IN_FAILED)
    return value
