"""Keeping secrets out of logs, error messages, traces and reports.

`redact_body` is the daemon's preview of an HTTP response body as it appears in its error messages (trimmed, cut
at 4096 bytes, remote-control secrets masked). `redact_secrets` and `redact_headers` are pairsim's own guards for
the traces and reports it writes: every value under a key that names a credential is replaced by `MASK`.

Reports also hold text nobody keyed: a step's arguments as `repr`, an assertion message, captured output. There
`SecretMask` masks known secret *values* (in every spelling a report writes them: raw, JSON, `repr`, URL or HTML
escaped) and anything shaped like a credential (`TOKEN_SHAPES`), whoever issued it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from simulators.protocol.errors import ErrorCode

MASK = "<redacted>"
EMPTY_BODY = "<empty>"
BODY_PREVIEW_MAX_BYTES = 4096
TRUNCATION_MARK = "..."

_ERROR_CODE_VALUES = frozenset(code.value for code in ErrorCode)

# The fields the real daemon masks in response previews.
BODY_SECRET_KEYS = frozenset({"remote_control_token", "pairing_code", "manual_pairing_code"})

# Keys are compared after normalising: camelCase → snake_case, '-' → '_', lower case.
SECRET_KEYS = frozenset(
    {
        *BODY_SECRET_KEYS,
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "new_password",
        "current_password",
        "code",
        "code_verifier",
        "device_code",
        "user_code",
        "totp_secret",
        "totp_code",
        "mfa_code",
        "otp",
        "secret",
        "client_secret",
        "shared_secret",
        "api_key",
        "openai_api_key",
        "client_session_token",
        "x_codex_client_session_token",
        "ws_token",
        "capability_token",
    }
)

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-codex-client-session-token", "cookie", "set-cookie"}
)

# Rust's `str::trim` strips Unicode White_Space, which is not quite Python's `str.isspace` (that one also takes
# the ASCII separators U+001C..U+001F).
_RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_key(key: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", key).replace("-", "_").lower()


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and normalise_key(key) in SECRET_KEYS


def _mask_body_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: MASK if key in BODY_SECRET_KEYS else _mask_body_fields(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_body_fields(item) for item in value]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def cap_utf8(text: str, max_bytes: int, mark: str = TRUNCATION_MARK) -> str:
    """Cut `text` to at most `max_bytes` UTF-8 bytes on a character boundary, then append `mark` if it was cut."""
    raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore") + mark


def redact_body(body: str | bytes) -> str:
    """The daemon's response-body preview: lossy UTF-8, trimmed, `<empty>` when nothing is left; a JSON object or
    array is re-serialised compactly with `remote_control_token`, `pairing_code` and `manual_pairing_code`
    masked at any depth; the result is cut at 4096 bytes on a character boundary and marked with `...`."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.strip(_RUST_WHITESPACE)
    if not text:
        return EMPTY_BODY
    if text[0] in "{[":
        try:
            parsed = json.loads(text, parse_constant=_reject_constant)
            text = json.dumps(_mask_body_fields(parsed), ensure_ascii=False, separators=(",", ":"))
        except (ValueError, RecursionError):
            pass  # not JSON: shown as it came, like the daemon does
    return cap_utf8(text, BODY_PREVIEW_MAX_BYTES)


def _is_error_code(key: object, item: object) -> bool:
    # `code` is an OAuth authorization code in a callback but a typed error code in a failure body; the latter is
    # exactly what a failure report exists to show, and it is one of a fixed set of public strings.
    return isinstance(key, str) and normalise_key(key) == "code" and item in _ERROR_CODE_VALUES


def redact_secrets(value: Any) -> Any:
    """A copy of a JSON-like value where every non-null value under a secret-named key is `MASK`, at any depth
    (a `code` holding a typed error code is kept). Tuples come back as lists; other values are returned as is."""
    if isinstance(value, Mapping):
        return {
            key: MASK
            if is_secret_key(key) and item is not None and not _is_error_code(key, item)
            else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    return value


def redact_header_value(name: str, value: str) -> str:
    """Mask a credential header's value. An auth scheme word (`Bearer`, `Basic`) is kept: it says which kind of
    credential was sent, which is what a reader debugging auth needs, without the credential itself."""
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, credential = value.strip().partition(" ")
    if sep and credential.strip() and scheme.isascii() and scheme.isalpha():
        return f"{scheme} {MASK}"
    return MASK


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names keep their spelling; credential values are masked. With repeated names the last one wins."""
    raw_items = getattr(headers, "raw_items", None)  # `websockets` Headers raise on .items() for repeats
    items = (
        raw_items() if callable(raw_items) else headers.items() if isinstance(headers, Mapping) else headers
    )
    return {name: redact_header_value(name, value) for name, value in items}


def redact_url(url: str) -> str:
    """Mask secret query parameters (`code`, `access_token`, ...) in a URL, e.g. an OAuth callback in a trace."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(is_secret_key(key) for key, _ in pairs):
        return url
    masked = [(key, MASK if is_secret_key(key) else value) for key, value in pairs]
    return urlunsplit(parts._replace(query=urlencode(masked, safe="<>")))


def secret_values(value: Any) -> Iterator[str]:
    """Every string `redact_secrets` would mask in `value`: what a document (an auth.json, a token response)
    holds under secret-named keys, at any depth."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str) and is_secret_key(key) and not _is_error_code(key, item):
                yield item
            else:
                yield from secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_values(item)


# Credentials recognisable by shape alone, whoever issued them: a JWT (header and claims are base64url JSON objects,
# so both start `eyJ`; the signature may be empty), a ChatGPT refresh token (`rt_`), an API key (`sk-`, `sk-proj-`).
TOKEN_SHAPES = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    r"|\brt_[A-Za-z0-9_-]{20,}"
    r"|\bsk-[A-Za-z0-9_-]{20,}"
)
TOKEN_SHAPES_BYTES = re.compile(TOKEN_SHAPES.pattern.encode("ascii"))

# Shorter values are not treated as secrets: masking every six-digit number or short word would blank out reports,
# and nothing pairsim issues is shorter (passwords 16, TOTP secrets 32, pairing codes 8, tokens 43 and more).
MIN_SECRET_LENGTH = 8

_ESCAPES = (
    lambda text: json.dumps(text)[1:-1],
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1],
    lambda text: repr(text)[1:-1],
    lambda text: quote(text, safe=""),
    lambda text: quote_plus(text, safe=""),
    html.escape,
)


def spellings(secret: str) -> set[str]:
    """How `secret` can appear in a report: as is, or escaped once or twice (a `repr` inside JSON, JSON inside an
    XML attribute) by JSON, `repr`, URL quoting or HTML."""
    once = {secret} | {escape(secret) for escape in _ESCAPES}
    return once | {escape(spelled) for spelled in once for escape in _ESCAPES}


class SecretMask:
    """Masks known secret values, in every spelling, and every token-shaped string, in text or bytes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        kept = {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}
        # Longest first, so that a secret containing another is masked whole.
        self._text = sorted({spelled for secret in kept for spelled in spellings(secret)}, key=len, reverse=True)
        self._data = [spelled.encode("utf-8") for spelled in self._text]

    def text(self, text: str) -> str:
        for spelled in self._text:
            if spelled in text:
                text = text.replace(spelled, MASK)
        return TOKEN_SHAPES.sub(MASK, text)

    def data(self, data: bytes) -> bytes:
        mask = MASK.encode("ascii")
        for spelled in self._data:
            if spelled in data:
                data = data.replace(spelled, mask)
        return TOKEN_SHAPES_BYTES.sub(mask, data)

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string masked (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
