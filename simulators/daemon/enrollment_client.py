"""The daemon's HTTP client for the remote-control API (enroll, refresh, pair, pair status, client
list/revoke).

Thin I/O over `simulators.protocol.remote_control`: bodies, URLs and error texts come from there; this module
sends the real headers and turns every non-2xx answer into a `RemoteControlRefusal` whose message is the
daemon's own (redacted) log line. A typed cause in the body (`"code":"mfa_required"`, sent by the fixed
backend) is kept as `cause`; the legacy backend sends only `detail`, so `cause` is None and nothing downstream
can tell why.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulators.browser import shared_ssl_context
from simulators.daemon.app_server import APP_SERVER_VERSION
from simulators.protocol import remote_control as rc
from simulators.protocol.errors import ErrorCode, PairsimError

ORIGINATOR = "codex_cli_rs"
HTTP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ChatGptCredentials:
    """What the desktop's sign-in gives the daemon: the ChatGPT access token and the chosen workspace."""

    access_token: str = field(repr=False)
    account_id: str


@dataclass(frozen=True)
class HostDescription:
    """The enroll body's machine fields, as the real daemon fills them (Rust's OS and arch names)."""

    name: str
    os: str
    arch: str

    @classmethod
    def detect(cls, name: str) -> HostDescription:
        system = platform.system().lower()
        machine = platform.machine().lower()
        return cls(
            name=name,
            os={"darwin": "macos"}.get(system, system or "linux"),
            arch={"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine or "x86_64"),
        )


class RemoteControlRefusal(PairsimError):
    """A non-2xx answer. `message` is the daemon's log line (body redacted); `cause` the body's typed code."""

    def __init__(self, failure: rc.RemoteControlHttpError, cause: ErrorCode | None) -> None:
        super().__init__(failure.message, code=cause or ErrorCode.UNKNOWN)
        self.failure = failure
        self.cause = cause

    @property
    def status(self) -> int:
        return self.failure.status

    @property
    def kind(self) -> rc.HttpFailureKind:
        return self.failure.kind

    @property
    def url(self) -> str:
        return self.failure.url


class RemoteControlUnreachable(PairsimError):
    """The request never got an HTTP answer (connection refused, reset, timeout)."""

    code = ErrorCode.RELAY_UNREACHABLE

    def __init__(self, operation: rc.RemoteControlOperation, url: str, reason: str) -> None:
        verb = {rc.RemoteControlOperation.ENROLL: "enroll remote control server"}.get(
            operation, f"complete remote control {operation.value}"
        )
        super().__init__(f"failed to {verb} at `{url}`: error sending request ({reason})")
        self.url = url


class RemoteControlBadResponse(PairsimError):
    """A 2xx answer whose body does not parse; the message is the daemon's `failed to parse …` line."""

    code = ErrorCode.PROTOCOL_VIOLATION


def typed_cause(body: bytes | str) -> ErrorCode | None:
    """The `code` field of a JSON error body, when it names a known cause."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if not isinstance(code, str):
        return None
    try:
        return ErrorCode(code)
    except ValueError:
        return None


class EnrollmentClient:
    def __init__(
        self,
        base_url: str,
        installation_id: str,
        host: HostDescription,
        *,
        http: httpx.AsyncClient | None = None,
        proxy: str | None = None,
    ) -> None:
        self.endpoints = rc.RemoteControlEndpoints.from_base(base_url)
        self.installation_id = installation_id
        self.host = host
        # What the daemon says it is when it enrolls: its own version, unless a scenario makes this Mac run another.
        self.app_server_version = APP_SERVER_VERSION
        # The proxy comes from the daemon's own environment (`simulators.daemon.proxies`), never from this process's.
        self._http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, verify=shared_ssl_context(),
                                               proxy=proxy, trust_env=False)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def _chatgpt_headers(self, credentials: ChatGptCredentials) -> dict[str, str]:
        return {
            "originator": ORIGINATOR,
            "User-Agent": f"{ORIGINATOR}/{APP_SERVER_VERSION}",
            "Authorization": f"Bearer {credentials.access_token}",
            rc.ACCOUNT_ID_HEADER: credentials.account_id,
            rc.INSTALLATION_ID_HEADER: self.installation_id,
        }

    def _server_headers(self, server_token: str) -> dict[str, str]:
        return {
            "originator": ORIGINATOR,
            "User-Agent": f"{ORIGINATOR}/{APP_SERVER_VERSION}",
            "Authorization": f"Bearer {server_token}",
            rc.INSTALLATION_ID_HEADER: self.installation_id,
        }

    async def _request(
        self,
        operation: rc.RemoteControlOperation,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, url, headers=dict(headers), json=body)
        except httpx.TransportError as exc:
            raise RemoteControlUnreachable(operation, url, type(exc).__name__) from None
        if not 200 <= response.status_code < 300:
            failure = rc.http_failure(
                operation, url, response.status_code, response.headers.items(), response.content
            )
            raise RemoteControlRefusal(failure, typed_cause(response.content))
        return response

    def _parse(
        self, operation: rc.RemoteControlOperation, url: str, response: httpx.Response, model: Any
    ) -> Any:
        try:
            return model.from_json(rc.parse_body(response.content))
        except rc.RemoteControlModelError as exc:
            raise RemoteControlBadResponse(
                rc.decode_failure_message(
                    operation,
                    url,
                    response.status_code,
                    response.headers.items(),
                    response.content,
                    exc.message,
                )
            ) from None

    async def enroll(self, credentials: ChatGptCredentials) -> rc.EnrollResponse:
        op, url = rc.RemoteControlOperation.ENROLL, self.endpoints.enroll_url
        request = rc.EnrollRequest(
            name=self.host.name,
            os=self.host.os,
            arch=self.host.arch,
            app_server_version=self.app_server_version,
            installation_id=self.installation_id,
        )
        response = await self._request(op, "POST", url, self._chatgpt_headers(credentials), request.to_json())
        return self._parse(op, url, response, rc.EnrollResponse)  # type: ignore[no-any-return]

    async def refresh(self, credentials: ChatGptCredentials, server_id: str) -> rc.RefreshResponse:
        op, url = rc.RemoteControlOperation.REFRESH, self.endpoints.refresh_url
        request = rc.RefreshRequest(server_id=server_id, installation_id=self.installation_id)
        response = await self._request(op, "POST", url, self._chatgpt_headers(credentials), request.to_json())
        return self._parse(op, url, response, rc.RefreshResponse)  # type: ignore[no-any-return]

    async def pair(self, server_token: str, *, manual_code: bool) -> rc.PairResponse:
        op, url = rc.RemoteControlOperation.PAIR, self.endpoints.pair_url
        body = rc.PairRequest(manual_code=manual_code).to_json()
        response = await self._request(op, "POST", url, self._server_headers(server_token), body)
        return self._parse(op, url, response, rc.PairResponse)  # type: ignore[no-any-return]

    async def pair_status(self, server_token: str, request: rc.PairStatusRequest) -> bool:
        op, url = rc.RemoteControlOperation.PAIR_STATUS, self.endpoints.pair_status_url
        response = await self._request(op, "POST", url, self._server_headers(server_token), request.to_json())
        parsed: rc.PairStatusResponse = self._parse(op, url, response, rc.PairStatusResponse)
        return parsed.claimed

    async def list_clients(
        self, server_token: str, environment_id: str, query: rc.ClientListQuery
    ) -> rc.ClientListPage:
        op = rc.RemoteControlOperation.CLIENT_LIST
        url = self.endpoints.client_list_url(environment_id)
        query_string = query.to_query()
        if query_string:
            url = f"{url}?{query_string}"
        response = await self._request(op, "GET", url, self._server_headers(server_token))
        return self._parse(op, url, response, rc.ClientListPage)  # type: ignore[no-any-return]

    async def revoke_client(self, server_token: str, environment_id: str, client_id: str) -> None:
        op = rc.RemoteControlOperation.CLIENT_REVOKE
        url = self.endpoints.client_url(environment_id, client_id)
        await self._request(op, "DELETE", url, self._server_headers(server_token))
