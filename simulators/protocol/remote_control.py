"""The remote-control HTTP API between the daemon and the ChatGPT backend: paths, bodies, URL rules, error text.

The daemon is the HTTP client here. It enrolls the machine (`server/enroll`, with the user's ChatGPT token), keeps
its server token fresh (`server/refresh`), asks for pairing codes (`server/pair`, with the server token), polls
whether a code was claimed (`server/pair/status`), and lists or revokes paired phones
(`environments/{env}/clients`). Bodies are snake_case JSON. Every model parses strictly (`from_json`, typed errors
naming the field) and writes exactly the wire shape back (`to_json`).

Error strings the real daemon prints (base-URL rule, HTTP failures, pairing-status argument errors) are rebuilt
here character for character, because scenarios and users grep for them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

from simulators.protocol.errors import PairsimError, ProtocolError
from simulators.protocol.redaction import redact_body
from simulators.protocol.relay import header_pairs

# --------------------------------------------------------------------------------------------------------------
# Paths and URLs
# --------------------------------------------------------------------------------------------------------------

ENROLL_PATH = "wham/remote/control/server/enroll"
REFRESH_PATH = "wham/remote/control/server/refresh"
PAIR_PATH = "wham/remote/control/server/pair"
PAIR_STATUS_PATH = "wham/remote/control/server/pair/status"
RELAY_WEBSOCKET_PATH = "wham/remote/control/server"
ENVIRONMENTS_PATH = "wham/remote/control/environments"

ACCOUNT_ID_HEADER = "chatgpt-account-id"
INSTALLATION_ID_HEADER = "x-codex-installation-id"
REQUEST_ID_HEADER = "x-request-id"
OAI_REQUEST_ID_HEADER = "x-oai-request-id"
CF_RAY_HEADER = "cf-ray"

SERVER_TOKEN_REFRESH_SKEW_SECONDS = 30
# [P] The computers list's `offline_reason` (the typed-error fix only): the Mac behind this environment has since
# enrolled, renewed or been refused in another ChatGPT account or workspace (docs/protocol.md §4.8).
OFFLINE_SIGNED_IN_ELSEWHERE = "signed_in_elsewhere"
CLIENT_LIST_LIMIT_MAX = 100

ALLOWED_CHATGPT_HOSTS = ("chatgpt.com", "chatgpt-staging.com")


class InvalidRemoteControlUrlError(PairsimError):
    """The configured base URL is not one the daemon will talk to. The message is the daemon's own."""

    def __init__(self, url: str, reason: str | None = None) -> None:
        if reason is None:
            message = (
                f"invalid remote control URL `{url}`; expected HTTPS URL for chatgpt.com or chatgpt-staging.com, "
                "or HTTP/HTTPS URL for localhost"
            )
        else:
            message = f"invalid remote control URL `{url}`: {reason}"
        super().__init__(message)
        self.url = url


def _percent_encode(text: str, keep: Any) -> str:
    out = []
    for char in text:
        if keep(char):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


_PATH_SEGMENT_ESCAPED = set(' "#<>?`{}/%')


def encode_path_segment(segment: str) -> str:
    """Percent-encode one path segment the way the daemon's URL library does (`env /?` → `env%20%2F%3F`)."""
    return _percent_encode(
        segment, lambda char: 0x20 <= ord(char) < 0x7F and char not in _PATH_SEGMENT_ESCAPED
    )


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """application/x-www-form-urlencoded, as the daemon writes query strings (space → `+`)."""

    def byte_serialize(text: str) -> str:
        encoded = _percent_encode(text, lambda char: char.isascii() and (char.isalnum() or char in "*-._ "))
        return encoded.replace(" ", "+")

    return "&".join(f"{byte_serialize(key)}={byte_serialize(value)}" for key, value in pairs)


def client_list_path(environment_id: str) -> str:
    return f"{ENVIRONMENTS_PATH}/{encode_path_segment(environment_id)}/clients"


def client_path(environment_id: str, client_id: str) -> str:
    return f"{client_list_path(environment_id)}/{encode_path_segment(client_id)}"


def join_base(base_url: str, path: str) -> str:
    """Join a relative endpoint path onto the base, adding the base's missing trailing slash first (so
    `.../backend-api` + `wham/...` keeps `backend-api`). The base's query and fragment are dropped."""
    parts = urlsplit(base_url)
    base_path = parts.path if parts.path.endswith("/") else parts.path + "/"
    rel_path, _, query = path.partition("?")
    return urlunsplit((parts.scheme, parts.netloc, base_path + rel_path.lstrip("/"), query, ""))


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The URL standard's IPv4 parser (which the daemon's URL library follows): `127.1` and `0x7f.0.0.1` are
    IPv4 addresses too. None when the host does not end in a number, i.e. is a domain."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    if not (last.isascii() and (last.isdigit() or re.fullmatch(r"0[xX][0-9A-Fa-f]*", last))):
        return None
    numbers = []
    for label in labels:
        if label == "" or not label.isascii():
            raise ValueError("invalid IPv4 address")
        try:
            if label[:2] in ("0x", "0X"):
                number = int(label[2:] or "0", 16)
            elif len(label) > 1 and label.startswith("0"):
                number = int(label[1:], 8)
            else:
                number = int(label, 10)
        except ValueError:
            raise ValueError("invalid IPv4 address") from None
        numbers.append(number)
    if len(numbers) > 4 or any(number > 255 for number in numbers[:-1]):
        raise ValueError("invalid IPv4 address")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError("invalid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _is_allowed_chatgpt_host(host: str) -> bool:
    return any(host == allowed or host.endswith("." + allowed) for allowed in ALLOWED_CHATGPT_HOSTS)


def normalize_base_url(base_url: str) -> str:
    """Apply the daemon's base-URL rule and return the base with a trailing slash.

    Allowed: `https` to chatgpt.com, chatgpt-staging.com or a subdomain of either; `http` or `https` to
    `localhost` or a loopback IP (127.0.0.0/8, ::1). Anything else raises `InvalidRemoteControlUrlError` with the
    daemon's exact message.
    """
    if not _SCHEME.match(base_url):
        raise InvalidRemoteControlUrlError(base_url, "relative URL without a base")
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidRemoteControlUrlError(base_url)
    raw_host = parts.hostname or ""
    if not raw_host:
        raise InvalidRemoteControlUrlError(base_url, "empty host")
    try:
        port = parts.port
    except ValueError:
        raise InvalidRemoteControlUrlError(base_url, "invalid port number") from None
    is_ipv6 = "[" in parts.netloc
    loopback = False
    if is_ipv6:
        try:
            host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.IPv6Address(raw_host)
        except ValueError:
            raise InvalidRemoteControlUrlError(base_url, "invalid IPv6 address") from None
        loopback = host_ip == ipaddress.IPv6Address("::1")
        host = f"[{host_ip.compressed}]"
    else:
        try:
            host_ip = _whatwg_ipv4(raw_host)
        except ValueError:
            raise InvalidRemoteControlUrlError(base_url, "invalid IPv4 address") from None
        if host_ip is not None:
            loopback = host_ip.is_loopback
            host = str(host_ip)
        else:
            host = raw_host
            loopback = host == "localhost"
    allowed = loopback or (scheme == "https" and host_ip is None and _is_allowed_chatgpt_host(host))
    if not allowed:
        raise InvalidRemoteControlUrlError(base_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def relay_websocket_url(base_url: str) -> str:
    """The relay socket URL: the base joined with `wham/remote/control/server`, `https` → `wss`, `http` → `ws`."""
    url = join_base(normalize_base_url(base_url), RELAY_WEBSOCKET_PATH)
    scheme, rest = url.split(":", 1)
    return ("wss" if scheme == "https" else "ws") + ":" + rest


@dataclass(frozen=True)
class RemoteControlEndpoints:
    """Every URL the daemon derives from one base URL."""

    base_url: str
    enroll_url: str
    refresh_url: str
    pair_url: str
    pair_status_url: str
    websocket_url: str

    @classmethod
    def from_base(cls, base_url: str) -> RemoteControlEndpoints:
        base = normalize_base_url(base_url)
        return cls(
            base_url=base,
            enroll_url=join_base(base, ENROLL_PATH),
            refresh_url=join_base(base, REFRESH_PATH),
            pair_url=join_base(base, PAIR_PATH),
            pair_status_url=join_base(base, PAIR_STATUS_PATH),
            websocket_url=relay_websocket_url(base),
        )

    def client_list_url(self, environment_id: str) -> str:
        return join_base(self.base_url, client_list_path(environment_id))

    def client_url(self, environment_id: str, client_id: str) -> str:
        return join_base(self.base_url, client_path(environment_id, client_id))


# --------------------------------------------------------------------------------------------------------------
# Model errors and field helpers
# --------------------------------------------------------------------------------------------------------------


class RemoteControlModelError(ProtocolError):
    """A remote-control HTTP body did not have the expected shape. Messages name fields, never values."""


class MalformedBodyError(RemoteControlModelError):
    pass


class MissingFieldError(RemoteControlModelError):
    def __init__(self, field_name: str) -> None:
        super().__init__(f"missing field `{field_name}`")
        self.field = field_name


class InvalidFieldError(RemoteControlModelError):
    def __init__(self, field_name: str, expected: str) -> None:
        super().__init__(f"invalid value for field `{field_name}`: expected {expected}")
        self.field = field_name


class InvalidTimestampError(RemoteControlModelError):
    pass


class PairStatusRequestError(RemoteControlModelError):
    pass


PAIR_STATUS_BOTH_CODES = (
    "remoteControl/pairing/status accepts either pairingCode or manualPairingCode, not both"
)
PAIR_STATUS_NO_CODE = "remoteControl/pairing/status requires pairingCode or manualPairingCode"
CLIENT_LIST_LIMIT_ERROR = "remote control client list limit must be between 1 and 100"


def parse_body(body: str | bytes) -> Any:
    """Strict JSON for an HTTP body: UTF-8, no NaN/Infinity."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise MalformedBodyError("body is not valid UTF-8 JSON") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _object(obj: object) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise MalformedBodyError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _str(obj: Mapping[str, Any], name: str) -> str:
    if name not in obj:
        raise MissingFieldError(name)
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidFieldError(name, "a string")
    return value


def _opt_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidFieldError(name, "a string or null")
    return value


def _bool(obj: Mapping[str, Any], name: str) -> bool:
    if name not in obj:
        raise MissingFieldError(name)
    value = obj[name]
    if not isinstance(value, bool):
        raise InvalidFieldError(name, "a boolean")
    return value


def _opt_object(obj: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidFieldError(name, "a JSON object or null")
    return value


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
    "str": _str,
    "str?": _opt_str,
    "bool": _bool,
    "object?": _opt_object,
}


def _parse_fields(obj: object, fields: Mapping[str, str]) -> dict[str, Any]:
    """A model's constructor arguments from a JSON body, each field read in `fields` order by its kind's parser,
    so a model's FIELDS table decides both what it parses and what it accepts (`_check_types`)."""
    body = _object(obj)
    return {name: _PARSERS[kind](body, name) for name, kind in fields.items()}


def _check_types(instance: object, fields: Mapping[str, str]) -> None:
    """Constructor-side twin of the parse helpers, so a model can never hold a wrongly typed value."""
    for name, kind in fields.items():
        value = getattr(instance, name)
        optional = kind.endswith("?")
        if value is None and optional:
            continue
        base = kind.rstrip("?")
        ok = (
            isinstance(value, str)
            if base == "str"
            else isinstance(value, bool)
            if base == "bool"
            else isinstance(value, dict)
        )
        if not ok:
            expected = {"str": "a string", "bool": "a boolean", "object": "a JSON object"}[base]
            raise InvalidFieldError(name, expected + (" or null" if optional else ""))


# --------------------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str, *, field_name: str = "timestamp") -> int:
    """RFC 3339 date-time → whole unix seconds (rounded down, like the daemon's `unix_timestamp()`).

    Accepts `Z` or a numeric offset and any fraction; rejects everything else, including leap second 60."""
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidTimestampError(f"`{field_name}` is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = match.group(8)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if offset not in ("Z", "z"):
            offset_hours, offset_minutes = int(offset[1:3]), int(offset[4:6])
            if offset_hours > 23 or offset_minutes > 59:
                raise ValueError("offset out of range")
            delta = timedelta(hours=offset_hours, minutes=offset_minutes)
            moment = moment - delta if offset[0] == "+" else moment + delta
    except (ValueError, OverflowError):
        raise InvalidTimestampError(f"`{field_name}` is not a valid RFC 3339 date-time") from None
    return (moment - _EPOCH) // timedelta(seconds=1)


def format_rfc3339(unix_seconds: int) -> str:
    """Whole unix seconds → `YYYY-MM-DDTHH:MM:SSZ`."""
    if type(unix_seconds) is not int:
        raise InvalidTimestampError("unix time must be whole seconds")
    try:
        moment = _EPOCH + timedelta(seconds=unix_seconds)
    except OverflowError:
        raise InvalidTimestampError("unix time is outside years 1..9999") from None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EnrollRequest:
    """`POST server/enroll`, sent with the user's ChatGPT token, `chatgpt-account-id` and
    `x-codex-installation-id` headers."""

    FIELDS: ClassVar[dict[str, str]] = {
        "name": "str",
        "os": "str",
        "arch": "str",
        "app_server_version": "str",
        "installation_id": "str",
        "apns_registration": "object?",
    }
    name: str
    os: str
    arch: str
    app_server_version: str
    installation_id: str
    apns_registration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_types(self, self.FIELDS)

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(**_parse_fields(obj, cls.FIELDS))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "os": self.os,
            "arch": self.arch,
            "app_server_version": self.app_server_version,
            "installation_id": self.installation_id,
        }
        if self.apns_registration is not None:
            body["apns_registration"] = self.apns_registration
        return body


@dataclass(frozen=True, kw_only=True)
class RefreshRequest:
    """`POST server/refresh`: a new server token for an existing enrollment."""

    FIELDS: ClassVar[dict[str, str]] = {
        "server_id": "str",
        "installation_id": "str",
        "apns_registration": "object?",
    }
    server_id: str
    installation_id: str
    apns_registration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_types(self, self.FIELDS)

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(**_parse_fields(obj, cls.FIELDS))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"server_id": self.server_id, "installation_id": self.installation_id}
        if self.apns_registration is not None:
            body["apns_registration"] = self.apns_registration
        return body


@dataclass(frozen=True, kw_only=True)
class EnrollResponse:
    """Answer to enroll (and, same shape, refresh). The token and `expires_at` are required by the current
    daemon; `expires_at` is kept as the RFC 3339 text it came as so `to_json` gives it back unchanged."""

    FIELDS: ClassVar[dict[str, str]] = {
        "server_id": "str",
        "environment_id": "str",
        "remote_control_token": "str",
        "expires_at": "str",
    }
    server_id: str
    environment_id: str
    remote_control_token: str = field(repr=False)
    expires_at: str

    def __post_init__(self) -> None:
        _check_types(self, self.FIELDS)
        parse_rfc3339(self.expires_at, field_name="expires_at")

    @property
    def expires_at_unix(self) -> int:
        return parse_rfc3339(self.expires_at, field_name="expires_at")

    def needs_refresh(self, now_unix: float) -> bool:
        """The daemon refreshes a server token with 30 s or less left."""
        return self.expires_at_unix <= now_unix + SERVER_TOKEN_REFRESH_SKEW_SECONDS

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(**_parse_fields(obj, cls.FIELDS))

    def to_json(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "environment_id": self.environment_id,
            "remote_control_token": self.remote_control_token,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, kw_only=True)
class RefreshResponse(EnrollResponse):
    """Same wire shape as `EnrollResponse`; the daemon also insists `server_id` and `environment_id` are unchanged
    (see `mismatched_enrollment_message`)."""


@dataclass(frozen=True, kw_only=True)
class PairRequest:
    """`POST server/pair`, sent with `Authorization: Bearer <remote_control_token>`."""

    manual_code: bool

    def __post_init__(self) -> None:
        _check_types(self, {"manual_code": "bool"})

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(manual_code=_bool(_object(obj), "manual_code"))

    def to_json(self) -> dict[str, Any]:
        return {"manual_code": self.manual_code}


@dataclass(frozen=True, kw_only=True)
class PairResponse:
    """A fresh pairing code (for the QR) and, when asked for, the short manual code (`ABCD-1234`)."""

    FIELDS: ClassVar[dict[str, str]] = {
        "pairing_code": "str",
        "manual_pairing_code": "str?",
        "server_id": "str",
        "environment_id": "str",
        "expires_at": "str",
    }
    pairing_code: str = field(repr=False)
    server_id: str
    environment_id: str
    expires_at: str
    manual_pairing_code: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_types(self, self.FIELDS)
        parse_rfc3339(self.expires_at, field_name="expires_at")

    @property
    def expires_at_unix(self) -> int:
        """What the daemon hands its JSON-RPC client as `expiresAt`."""
        return parse_rfc3339(self.expires_at, field_name="expires_at")

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(**_parse_fields(obj, cls.FIELDS))

    def to_json(self) -> dict[str, Any]:
        return {
            "pairing_code": self.pairing_code,
            "manual_pairing_code": self.manual_pairing_code,
            "server_id": self.server_id,
            "environment_id": self.environment_id,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, kw_only=True)
class PairStatusRequest:
    """`POST server/pair/status` with exactly one of the two codes; the errors are the daemon's RPC texts."""

    pairing_code: str | None = field(default=None, repr=False)
    manual_pairing_code: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_types(self, {"pairing_code": "str?", "manual_pairing_code": "str?"})
        if self.pairing_code is not None and self.manual_pairing_code is not None:
            raise PairStatusRequestError(PAIR_STATUS_BOTH_CODES)
        if self.pairing_code is None and self.manual_pairing_code is None:
            raise PairStatusRequestError(PAIR_STATUS_NO_CODE)

    @classmethod
    def from_json(cls, obj: object) -> Self:
        body = _object(obj)
        return cls(
            pairing_code=_opt_str(body, "pairing_code"),
            manual_pairing_code=_opt_str(body, "manual_pairing_code"),
        )

    def to_json(self) -> dict[str, Any]:
        if self.pairing_code is not None:
            return {"pairing_code": self.pairing_code}
        return {"manual_pairing_code": self.manual_pairing_code}


@dataclass(frozen=True, kw_only=True)
class PairStatusResponse:
    claimed: bool

    def __post_init__(self) -> None:
        _check_types(self, {"claimed": "bool"})

    @classmethod
    def from_json(cls, obj: object) -> Self:
        return cls(claimed=_bool(_object(obj), "claimed"))

    def to_json(self) -> dict[str, Any]:
        return {"claimed": self.claimed}


_CLIENT_ITEM_OPTIONAL = (
    "account_user_id",
    "enrollment_status",
    "display_name",
    "device_type",
    "platform",
    "os_version",
    "device_model",
    "app_version",
    "last_seen_at",
    "last_seen_city",
)


@dataclass(frozen=True, kw_only=True)
class ClientListItem:
    """One paired phone as the backend lists it. Only `client_id` is required (the daemon defaults the rest);
    `last_seen_at`, when present, must be RFC 3339."""

    client_id: str
    account_user_id: str | None = None
    enrollment_status: str | None = None
    display_name: str | None = None
    device_type: str | None = None
    platform: str | None = None
    os_version: str | None = None
    device_model: str | None = None
    app_version: str | None = None
    last_seen_at: str | None = None
    last_seen_city: str | None = None

    def __post_init__(self) -> None:
        _check_types(self, {"client_id": "str", **{name: "str?" for name in _CLIENT_ITEM_OPTIONAL}})
        if self.last_seen_at is not None:
            parse_rfc3339(self.last_seen_at, field_name="last_seen_at")

    @property
    def last_seen_at_unix(self) -> int | None:
        return (
            None if self.last_seen_at is None else parse_rfc3339(self.last_seen_at, field_name="last_seen_at")
        )

    @classmethod
    def from_json(cls, obj: object) -> Self:
        body = _object(obj)
        return cls(
            client_id=_str(body, "client_id"),
            **{name: _opt_str(body, name) for name in _CLIENT_ITEM_OPTIONAL},
        )

    def to_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, **{name: getattr(self, name) for name in _CLIENT_ITEM_OPTIONAL}}


@dataclass(frozen=True, kw_only=True)
class ClientListPage:
    items: tuple[ClientListItem, ...]
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple) or not all(
            isinstance(item, ClientListItem) for item in self.items
        ):
            raise InvalidFieldError("items", "a tuple of ClientListItem")
        _check_types(self, {"cursor": "str?"})

    @classmethod
    def from_json(cls, obj: object) -> Self:
        body = _object(obj)
        if "items" not in body:
            raise MissingFieldError("items")
        items = body["items"]
        if not isinstance(items, list):
            raise InvalidFieldError("items", "an array")
        return cls(
            items=tuple(ClientListItem.from_json(item) for item in items), cursor=_opt_str(body, "cursor")
        )

    def to_json(self) -> dict[str, Any]:
        return {"items": [item.to_json() for item in self.items], "cursor": self.cursor}


class ClientListOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, kw_only=True)
class ClientListQuery:
    """The query of `GET environments/{env}/clients`: optional cursor, limit (1..100) and order."""

    cursor: str | None = None
    limit: int | None = None
    order: ClientListOrder | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and (
            type(self.limit) is not int or not 1 <= self.limit <= CLIENT_LIST_LIMIT_MAX
        ):
            raise InvalidFieldError("limit", "an integer between 1 and 100")
        if self.order is not None and not isinstance(self.order, ClientListOrder):
            try:
                object.__setattr__(self, "order", ClientListOrder(self.order))
            except ValueError:
                raise InvalidFieldError("order", '"asc" or "desc"') from None
        _check_types(self, {"cursor": "str?"})

    def to_query(self) -> str:
        pairs = []
        if self.cursor is not None:
            pairs.append(("cursor", self.cursor))
        if self.limit is not None:
            pairs.append(("limit", str(self.limit)))
        if self.order is not None:
            pairs.append(("order", self.order.value))
        return encode_query(pairs)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Self:
        """From already-decoded query parameters (as a web framework hands them over)."""
        raw_limit = params.get("limit")
        limit = None
        if raw_limit is not None:
            if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4):
                raise InvalidFieldError("limit", "an integer between 1 and 100")
            limit = int(raw_limit)
        return cls(cursor=params.get("cursor"), limit=limit, order=params.get("order"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------
# HTTP failures as the daemon reports them
# --------------------------------------------------------------------------------------------------------------


class RemoteControlOperation(Enum):
    """Each value is the noun phrase the daemon puts in its messages."""

    ENROLL = "server enrollment"
    REFRESH = "server refresh"
    PAIR = "pairing"
    PAIR_STATUS = "pairing status"
    CLIENT_LIST = "client list"
    CLIENT_REVOKE = "client revoke"


class HttpFailureKind(StrEnum):
    PERMISSION_DENIED = "permission_denied"  # the daemon then tries ChatGPT auth recovery
    NOT_FOUND = "not_found"  # enroll/refresh: the enrollment is stale; clear it and enroll again
    INVALID_INPUT = "invalid_input"
    OTHER = "other"


def classify_http_failure(
    status: int, operation: RemoteControlOperation = RemoteControlOperation.ENROLL
) -> HttpFailureKind:
    """401/403 → permission denied; 404 → not found; else other. Pairing status reads 404/410 as a bad code and
    the client endpoints read 400 as bad input, as the daemon does."""
    if status in (401, 403):
        return HttpFailureKind.PERMISSION_DENIED
    if operation is RemoteControlOperation.PAIR_STATUS:
        return HttpFailureKind.INVALID_INPUT if status in (404, 410) else HttpFailureKind.OTHER
    if status == 400 and operation in (
        RemoteControlOperation.CLIENT_LIST,
        RemoteControlOperation.CLIENT_REVOKE,
    ):
        return HttpFailureKind.INVALID_INPUT
    if status == 404:
        return HttpFailureKind.NOT_FOUND
    return HttpFailureKind.OTHER


# Reason phrases as the daemon's HTTP library prints them (they differ from Python's in a few places, e.g.
# 413 "Payload Too Large", 422 "Unprocessable Entity").
_REASONS = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Entity",
    423: "Locked", 424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip


def status_text(status: int) -> str:
    """`403 Forbidden`; unknown codes read `<code> <unknown status code>`."""
    return f"{status} {_REASONS.get(status, '<unknown status code>')}"


def _header(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def format_request_ids(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """`request-id: <x-request-id, else x-oai-request-id, else <none>>, cf-ray: <cf-ray or <none>>`."""
    pairs = list(header_pairs(headers))
    request_id = _header(pairs, REQUEST_ID_HEADER)
    if request_id is None:
        request_id = _header(pairs, OAI_REQUEST_ID_HEADER)
    cf_ray = _header(pairs, CF_RAY_HEADER)
    return f"request-id: {request_id if request_id is not None else '<none>'}, cf-ray: {cf_ray if cf_ray is not None else '<none>'}"


AUTH_RECOVERY_SUFFIX = "; retrying after auth recovery"


def http_failure_message(
    operation: RemoteControlOperation,
    url: str,
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: str | bytes,
) -> str:
    """e.g. remote control server enrollment failed at `https://chatgpt.com/backend-api/wham/remote/control/
    server/enroll`: HTTP 403 Forbidden, request-id: ..., cf-ray: ..., body: {"detail":"..."}"""
    return (
        f"remote control {operation.value} failed at `{url}`: HTTP {status_text(status)}, "
        f"{format_request_ids(headers)}, body: {redact_body(body)}"
    )


def decode_failure_message(
    operation: RemoteControlOperation,
    url: str,
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: str | bytes,
    decode_error: str,
) -> str:
    return (
        f"failed to parse remote control {operation.value} response from `{url}`: HTTP {status_text(status)}, "
        f"{format_request_ids(headers)}, body: {redact_body(body)}, decode error: {decode_error}"
    )


def mismatched_enrollment_message(
    operation: RemoteControlOperation,
    *,
    expected_server_id: str,
    expected_environment_id: str,
    got_server_id: str,
    got_environment_id: str,
) -> str:
    """Refresh and pair answers must name the enrollment the daemon holds."""
    return (
        f"remote control {operation.value} returned mismatched enrollment: expected server_id={expected_server_id}, "
        f"environment_id={expected_environment_id}; got server_id={got_server_id}, "
        f"environment_id={got_environment_id}"
    )


def websocket_connect_failure_message(
    url: str, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: str | bytes
) -> str:
    """The relay upgrade was answered with a non-101 status other than 401/403. An empty body is left out."""
    message = (
        f"failed to connect app-server remote control websocket `{url}`: HTTP error: {status_text(status)}, "
        f"{format_request_ids(headers)}"
    )
    if body:
        message += f", body: {redact_body(body)}"
    return message


def websocket_auth_failure_message(status: int) -> str:
    return (
        f"remote control websocket auth failed with HTTP {status_text(status)}; "
        "refreshing server token before reconnect"
    )


class RemoteControlHttpError(PairsimError):
    """A non-2xx answer from a remote-control endpoint, carrying the daemon's message and classification. The
    body in the message is the redacted preview, so the message is safe to log."""

    def __init__(
        self, operation: RemoteControlOperation, url: str, status: int, message: str, kind: HttpFailureKind
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.url = url
        self.status = status
        self.kind = kind


def http_failure(
    operation: RemoteControlOperation,
    url: str,
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: str | bytes,
) -> RemoteControlHttpError:
    return RemoteControlHttpError(
        operation,
        url,
        status,
        http_failure_message(operation, url, status, headers, body),
        classify_http_failure(status, operation),
    )
