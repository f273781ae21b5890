"""Everything the phone put on or took off the wire, redacted, for reports.

Each entry is one HTTP request, one HTTP response or one WebSocket frame, with the direction seen from the phone
and the time from the phone's clock. Redaction happens when the entry is recorded, so no unredacted secret is ever
held here (tokens, pairing codes, passwords, TOTP codes, session tokens).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.clock import Clock
from simulators.protocol.redaction import redact_headers, redact_secrets, redact_url

SENT = "sent"
RECEIVED = "received"

MAX_TEXT_BODY = 2048


@dataclass
class Trace:
    clock: Clock
    entries: list[dict[str, Any]] = field(default_factory=list)

    def http_request(self, method: str, url: str, *, headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
                     body: Any = None, party: str = "phone") -> None:
        self._add({"kind": "http_request", "direction": SENT, "party": party, "method": method,
                   "url": redact_url(url), "headers": redact_headers(headers), "body": redact_body(body)})

    def http_response(self, method: str, url: str, status: int, *, body: Any = None,
                      headers: Mapping[str, str] | Iterable[tuple[str, str]] = (), party: str = "phone") -> None:
        self._add({"kind": "http_response", "direction": RECEIVED, "party": party, "method": method,
                   "url": redact_url(url), "status": status, "headers": redact_headers(headers),
                   "body": redact_body(body)})

    def ws_open(self, url: str, *, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._add({"kind": "ws_open", "direction": SENT, "party": "phone", "url": redact_url(url),
                   "headers": redact_headers(headers)})

    def ws_frame(self, direction: str, frame: Any) -> None:
        self._add({"kind": "ws_frame", "direction": direction, "party": "phone", "frame": redact_body(frame)})

    def ws_close(self, code: int | None, reason: str = "") -> None:
        self._add({"kind": "ws_close", "direction": RECEIVED, "party": "phone", "close_code": code,
                   "reason": reason})

    def note(self, text: str) -> None:
        self._add({"kind": "note", "text": text})

    def _add(self, entry: dict[str, Any]) -> None:
        self.entries.append({"at": self.clock.now(), **entry})

    def to_json(self) -> str:
        return json.dumps(self.entries, ensure_ascii=False, indent=2)


def redact_body(body: Any) -> Any:
    """A JSON-like body with secrets masked; text that parses as JSON is treated as JSON."""
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            # HTML pages and form bodies: keep them short; forms are masked field by field by the caller.
            return body if len(body) <= MAX_TEXT_BODY else body[:MAX_TEXT_BODY] + "..."
        body = parsed
    return redact_secrets(body)
