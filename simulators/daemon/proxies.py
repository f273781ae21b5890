"""Which proxy the daemon's connections go through, from the environment it inherited, as codex 0.169.0 chooses.

Observed with the real binary against a logging proxy on loopback (docs/protocol.md §8): `HTTP_PROXY` (or
`http_proxy`) carries every `http://` request, in absolute form, and the `ws://` relay socket, as a `CONNECT` tunnel;
`HTTPS_PROXY` (`https_proxy`) carries only `https://`/`wss://` targets; `ALL_PROXY` (`all_proxy`) carries both when the
scheme's own variable is unset; `NO_PROXY` (`no_proxy`) names hosts that go direct (`127.0.0.1` did, `localhost` did
not match `127.0.0.1`). Loopback is not exempt by itself: a backend on 127.0.0.1 is reached through the proxy.
Upper case is read before lower case, as reqwest does. Pure functions: the mock daemon asks them with its Mac's
environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def proxy_for(url: str, environment: Mapping[str, str]) -> str | None:
    """The proxy URL a connection to `url` goes through, or None to go direct."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    own = ("HTTPS_PROXY", "https_proxy") if secure else ("HTTP_PROXY", "http_proxy")
    chosen = next((environment[name] for name in (*own, "ALL_PROXY", "all_proxy") if environment.get(name)), None)
    if chosen is None or _bypassed(parts.hostname or "", environment):
        return None
    return chosen


def _bypassed(host: str, environment: Mapping[str, str]) -> bool:
    raw = environment.get("NO_PROXY") or environment.get("no_proxy") or ""
    for entry in (item.strip().lower() for item in raw.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        domain = entry.lstrip(".")
        if host.lower() == domain or host.lower().endswith("." + domain):
            return True
    return False


__all__ = ["PROXY_VARIABLES", "proxy_for"]
