"""Everything one backend knows, typed: accounts, the issuer, faults, the remote-control service (API, relay,
store), the device-code registry, and the record of the traffic it served. Route modules receive the service they
serve, not this state, so no route module imports it (`server.py` assembles the app).
"""

from __future__ import annotations

import collections
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulators.backend.accounts import AccountFactory, AccountStore
from simulators.backend.device_auth import DeviceAuthRegistry
from simulators.backend.faults import FaultRegistry
from simulators.backend.issuer import Issuer, IssuerSettings
from simulators.backend.model import ModelService
from simulators.backend.remote_control import CREDENTIALS_POLL_INTERVAL, RemoteControlService
from simulators.clock import Clock
from simulators.protocol.oauth import RandomBytes, b64url_encode, system_random_bytes
from simulators.protocol.redaction import redact_headers, redact_secrets, redact_url


class TrafficLog:
    """A bounded, redacted record of the HTTP exchanges the backend served (newest last)."""

    def __init__(self, limit: int = 2000) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)

    def record(self, request: web.Request, response: web.StreamResponse) -> None:
        route = request.match_info.route.resource
        self.entries.append(
            {
                "kind": "backend_http",
                "route": route.name if route is not None else None,
                "path": request.path,
                "method": request.method,
                "url": redact_url(str(request.rel_url)),
                "request_headers": redact_headers(
                    {k: v for k, v in request.headers.items() if k.lower() in _TRACED_HEADERS}
                ),
                "status": response.status,
                # The id the backend gave this answer (what a phone quotes back in its error text).
                "request_id": response.headers.get("x-request-id"),
                "response_body": _redacted_json_body(response),
            }
        )


def _redacted_json_body(response: web.StreamResponse) -> Any:
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or response.content_type != "application/json":
        return None
    try:
        return redact_secrets(json.loads(body))
    except ValueError:
        return None


_TRACED_HEADERS = frozenset(
    {"authorization", "chatgpt-account-id", "x-codex-installation-id", "x-codex-protocol-version",
     "x-codex-server-id", "x-codex-name", "x-codex-client-id", "x-codex-client-session-token", "content-type"}
)


@dataclass
class BackendState:
    """Everything the backend knows. `server.py` hands each route module its part; scenarios reach it through
    `admin.BackendControl` (or `BackendServer.control`)."""

    clock: Clock
    accounts: AccountStore
    issuer: Issuer
    faults: FaultRegistry
    remote_control: RemoteControlService
    device_auth: DeviceAuthRegistry
    model: ModelService
    admin_token: str = field(repr=False)
    base_url: str | None = None
    traffic: TrafficLog = field(default_factory=lambda: TrafficLog())

    @classmethod
    def create(
        cls,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        random_bytes: RandomBytes = system_random_bytes,
        settings: IssuerSettings | None = None,
        typed_errors: bool = True,
        device_proof_timeout: float = 10.0,
        credentials_poll_interval: float = CREDENTIALS_POLL_INTERVAL,
    ) -> BackendState:
        """A backend's state. `typed_errors=False` is today's backend: refusals carry `detail` only."""
        clock = clock or Clock()
        accounts = AccountStore(clock, AccountFactory(seed), random_bytes=random_bytes)
        issuer = Issuer(accounts, clock, settings=settings, random_bytes=random_bytes, typed_errors=typed_errors)
        return cls(
            clock=clock,
            accounts=accounts,
            issuer=issuer,
            faults=FaultRegistry(clock),
            remote_control=RemoteControlService(
                accounts=accounts,
                verify_access_token=issuer.verify_access_token,
                clock=clock,
                typed_errors=typed_errors,
                device_proof_timeout=device_proof_timeout,
                credentials_poll_interval=credentials_poll_interval,
            ),
            device_auth=DeviceAuthRegistry(clock, accounts, issuer, random_bytes=random_bytes),
            model=ModelService(accounts=accounts, verify_access_token=issuer.verify_access_token),
            admin_token=b64url_encode(random_bytes(32)),
        )

    def admin_token_matches(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("utf-8", "replace"), self.admin_token.encode("ascii")
        )


