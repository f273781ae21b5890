"""The pairing link: the text a desktop's QR code carries and a phone parses.

The real QR payload is not public (third-party reports describe a ChatGPT universal link wrapping the pairing code),
so pairsim defines its own link in that spirit, version 1:

    {origin}/codex/remote/pair?v=1&code=<pairing code>&env=<environment id>&name=<server name>&exp=<unix seconds>

Parsing is strict: a phone that guesses at a damaged or foreign link would pair with the wrong thing, so anything
that is not exactly such a link is `NotAPairingLink`, and a well-formed link of another version is
`UnsupportedLinkVersion`, so the phone can tell the user to update rather than blame the code. Pure functions only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from simulators.protocol.errors import ErrorCode, PairsimError

LINK_PATH = "/codex/remote/pair"
SUPPORTED_VERSION = 1
PRODUCTION_ORIGIN = "https://chatgpt.com"

FIELD_NAMES: tuple[str, ...] = ("v", "code", "env", "name", "exp")

# A QR code holds at most 7089 characters; anything longer cannot have come from one.
MAX_LINK_LENGTH = 8192

_PRODUCTION_DOMAINS = ("chatgpt.com", "chatgpt-staging.com")
# RFC 3986 unreserved + reserved + '%'. Checked before urlsplit, which silently drops tabs and newlines and would
# otherwise turn "chat\ngpt.com" into chatgpt.com.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PAIRING_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_ENVIRONMENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Canonical decimals only (no sign, no leading zeros), so one link has exactly one spelling.
_VERSION = re.compile(r"0|[1-9][0-9]{0,8}")
_EXPIRES_AT = re.compile(r"0|[1-9][0-9]{0,11}")
MAX_SERVER_NAME_LENGTH = 255


class NotAPairingLink(PairsimError):
    """The text is not a pairsim pairing link. The message says what was wrong, never the pairing code."""

    code = ErrorCode.NOT_A_PAIRING_CODE


class UnsupportedLinkVersion(PairsimError):
    """A pairing link of a version this reader does not understand (the phone app needs an update)."""

    code = ErrorCode.UNSUPPORTED_VERSION

    def __init__(self, version: int) -> None:
        super().__init__(f"pairing link version {version} is not supported (this reader supports version "
                         f"{SUPPORTED_VERSION})")
        self.version = version


@dataclass(frozen=True)
class PairingLink:
    """A valid version-1 pairing link. Construction validates every field, so `to_url()` always parses back."""

    version: ClassVar[int] = SUPPORTED_VERSION

    origin: str
    # Kept out of repr so that logging a link never logs the secret that claims it.
    pairing_code: str = field(repr=False)
    environment_id: str
    server_name: str
    expires_at: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", canonical_origin(self.origin))
        _check_fields(self.pairing_code, self.environment_id, self.server_name, self.expires_at)

    @property
    def backend_base_url(self) -> str:
        return f"{self.origin}/backend-api/"

    def to_url(self) -> str:
        query = urlencode([
            ("v", str(SUPPORTED_VERSION)),
            ("code", self.pairing_code),
            ("env", self.environment_id),
            ("name", self.server_name),
            ("exp", str(self.expires_at)),
        ])
        return f"{self.origin}{LINK_PATH}?{query}"

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


def parse_pairing_link(text: str) -> PairingLink:
    """Parse a scanned text into a `PairingLink`, or raise `NotAPairingLink` / `UnsupportedLinkVersion`."""
    if not text:
        raise NotAPairingLink("empty text is not a pairing link")
    if len(text) > MAX_LINK_LENGTH:
        raise NotAPairingLink(f"text of {len(text)} characters is too long to be a pairing link")
    if not _URL_CHARS.fullmatch(text):
        raise NotAPairingLink("text contains characters that cannot appear in a URL")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise NotAPairingLink("text is not a well-formed URL") from None
    if "#" in text:
        raise NotAPairingLink("URL has a fragment")
    origin = _origin_of_link(parts)
    if parts.path != LINK_PATH:
        raise NotAPairingLink(f"URL path is not {LINK_PATH}")
    fields = _query_fields(parts.query)

    version = _single(fields, "v")
    if not _VERSION.fullmatch(version):
        raise NotAPairingLink("field 'v' is not a decimal integer in plain form")
    if int(version) != SUPPORTED_VERSION:
        # Before the field checks: a newer link may carry fields this version does not know.
        raise UnsupportedLinkVersion(int(version))

    missing = [name for name in FIELD_NAMES if name not in fields]
    if missing:
        raise NotAPairingLink(f"missing field(s): {', '.join(missing)}")
    extra = [name for name in fields if name not in FIELD_NAMES]
    if extra:
        raise NotAPairingLink(f"unexpected field(s): {', '.join(_short_repr(name) for name in extra)}")

    expires_at = _single(fields, "exp")
    if not _EXPIRES_AT.fullmatch(expires_at):
        raise NotAPairingLink("field 'exp' must be a non-negative integer of at most 12 digits")
    return PairingLink(
        origin=origin,
        pairing_code=_single(fields, "code"),
        environment_id=_single(fields, "env"),
        server_name=_single(fields, "name"),
        expires_at=int(expires_at),
    )


def canonical_origin(origin: str) -> str:
    """`scheme://host[:port]`, lower-cased, if the origin is one a phone may trust to reach a backend.

    The rule is the real daemon's rule for its remote-control base URL: HTTPS to chatgpt.com, chatgpt-staging.com or
    a subdomain of them, or HTTP/HTTPS to localhost or a loopback IP literal (the simulated world).
    """
    if not isinstance(origin, str) or not _URL_CHARS.fullmatch(origin):
        raise NotAPairingLink("origin is not a URL")
    try:
        parts = urlsplit(origin)
    except ValueError:
        raise NotAPairingLink("origin is not a well-formed URL") from None
    if parts.path or "?" in origin or "#" in origin:
        raise NotAPairingLink("origin must be scheme://host[:port] with nothing after it")
    return _origin_of_link(parts)


def _origin_of_link(parts: SplitResult) -> str:
    scheme = parts.scheme
    if not scheme:
        raise NotAPairingLink("text is not an http or https URL")
    if scheme not in ("http", "https"):
        raise NotAPairingLink(f"scheme {_short_repr(scheme)} is not http or https")
    if not parts.netloc:
        raise NotAPairingLink("URL has no host")
    if "@" in parts.netloc:
        raise NotAPairingLink("URL carries user information before the host")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise NotAPairingLink("URL port is not a number from 1 to 65535") from None
    if port == 0:
        raise NotAPairingLink("URL port 0 is not a port a backend listens on")
    if not _is_trusted_host(scheme, host):
        raise NotAPairingLink(
            f"host {_short_repr(host)} over {scheme} is not a backend origin (HTTPS to chatgpt.com or chatgpt-staging.com, "
            "or HTTP/HTTPS to localhost or a loopback IP)")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    if parts.netloc.lower() != netloc:
        # Empty ports, leading zeros and the like: tolerated by urlsplit, never written by a desktop.
        raise NotAPairingLink("URL host and port are not in plain form")
    return f"{scheme}://{netloc}"


def _is_trusted_host(scheme: str, host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        # IPv6: only ::1, as in the daemon (Rust's Ipv6Addr::is_loopback); Python versions differ on mapped forms.
        return address.is_loopback if address.version == 4 else address == ipaddress.IPv6Address("::1")
    if scheme != "https":
        return False
    for domain in _PRODUCTION_DOMAINS:
        if host == domain:
            return True
        if host.endswith("." + domain):
            labels = host[: -len(domain) - 1].split(".")
            return all(_DNS_LABEL.fullmatch(label) for label in labels)
    return False


def _query_fields(query: str) -> dict[str, list[str]]:
    if not query:
        raise NotAPairingLink("URL has no query")
    if _BAD_PERCENT_ESCAPE.search(query):
        raise NotAPairingLink("query has a malformed percent-escape")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict")
    except (ValueError, UnicodeDecodeError):
        # The exception text would quote the query, which holds the pairing code.
        raise NotAPairingLink("query is not a list of name=value pairs in UTF-8") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    duplicated = [name for name, values in fields.items() if len(values) > 1]
    if duplicated:
        raise NotAPairingLink(f"field(s) given more than once: {', '.join(_short_repr(n) for n in duplicated)}")
    return fields


def _single(fields: dict[str, list[str]], name: str) -> str:
    if name not in fields:
        raise NotAPairingLink(f"missing field(s): {name}")
    return fields[name][0]


def _check_fields(pairing_code: str, environment_id: str, server_name: str, expires_at: int) -> None:
    # Messages give lengths, never values: the code is a secret, and the others may be attacker-chosen text.
    if not isinstance(pairing_code, str) or not _PAIRING_CODE.fullmatch(pairing_code):
        raise NotAPairingLink(
            f"field 'code' must be 16-128 characters of A-Z a-z 0-9 _ - (got {_describe(pairing_code)})")
    if not isinstance(environment_id, str) or not _ENVIRONMENT_ID.fullmatch(environment_id):
        raise NotAPairingLink(
            f"field 'env' must be 1-128 characters of A-Z a-z 0-9 _ . : - (got {_describe(environment_id)})")
    if (not isinstance(server_name, str) or not 1 <= len(server_name) <= MAX_SERVER_NAME_LENGTH
            or not server_name.isprintable()):
        raise NotAPairingLink(
            f"field 'name' must be 1-{MAX_SERVER_NAME_LENGTH} printable characters (got {_describe(server_name)})")
    if type(expires_at) is not int or not 0 <= expires_at < 10**12:
        raise NotAPairingLink("field 'exp' must be a non-negative integer of at most 12 digits")


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"{len(value)} characters"
    return type(value).__name__


def _short_repr(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
