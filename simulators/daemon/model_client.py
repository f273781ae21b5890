"""The mock daemon's way to the model, as the real daemon goes: workspace routing discovery, then one Responses
socket per thread on the HTTPS origin discovery names (docs/protocol.md §9).

`ModelClient.respond` sends one `response.create` and returns the response's output items, or `Interrupted` when a
follow-up made the agent interrupt it (`interrupt()` sends `response.interrupt`; the model ends the response
`response.incomplete`). Failures are `ModelUnavailable`, with the words the real daemon uses where it has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulators.daemon.enrollment_client import ChatGptCredentials
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.responses import RESPONSES_BETA

MODEL = "gpt-6.1-sol"
ORIGINATOR = "pairsim_daemon"
TIMEOUT_SECONDS = 30.0


class ModelUnavailable(PairsimError):
    """The model could not be reached or answered with an error; the turn fails with this message."""

    code = ErrorCode.RELAY_UNREACHABLE


@dataclass(frozen=True)
class ModelAccess:
    """How a Mac reaches the model: its ChatGPT backend, its sign-in, and the CA its HTTPS origin is under."""

    chatgpt_base_url: str
    credentials: Callable[[], ChatGptCredentials | None]
    ca_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()


class Interrupted:
    """The response was interrupted for a follow-up; the turn goes on with a new request."""


INTERRUPTED = Interrupted()


class ModelClient:
    """One thread's conversation with the model. Methods run on the daemon's loop, one request at a time."""

    def __init__(self, access: ModelAccess, thread_id: str) -> None:
        self.access = access
        self.thread_id = thread_id
        self._socket: ClientConnection | None = None
        self._previous: str | None = None
        self._in_flight: str | None = None
        self._requesting = False
        self._interrupt_wanted = False
        self.last_usage: tuple[int, int] = (0, 0)  # input and output tokens of the last completed response

    async def _open(self) -> ClientConnection:
        if self._socket is not None:
            return self._socket
        credentials = self.access.credentials()
        if credentials is None:
            raise ModelUnavailable("Codex is not signed in to ChatGPT")
        headers = {"Authorization": f"Bearer {credentials.access_token}",
                   "chatgpt-account-id": credentials.account_id}
        origin = await self._discover(headers, credentials.account_id)
        url = origin.replace("https://", "wss://", 1) + "/backend-api/codex/responses"
        try:
            self._socket = await connect(
                url, additional_headers={**headers, "openai-beta": RESPONSES_BETA, "originator": ORIGINATOR,
                                         "session-id": self.thread_id},
                ssl=self.access.ssl_context(), open_timeout=TIMEOUT_SECONDS, max_size=None, compression=None)
        except InvalidStatus as exc:
            raise ModelUnavailable(f"unexpected status {exc.response.status_code}, url: {url}") from None
        except (OSError, TimeoutError) as exc:
            raise ModelUnavailable(f"stream disconnected before completion: {exc}") from None
        return self._socket

    async def _discover(self, headers: dict[str, str], account_id: str) -> str:
        url = self.access.chatgpt_base_url.rstrip("/") + "/wham/accounts/check"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError:
            raise ModelUnavailable("workspace routing discovery failed") from None
        if response.status_code == 401:
            raise ModelUnavailable("workspace routing discovery unauthorized (401)")
        try:
            accounts = response.json().get("accounts") if response.status_code == 200 else None
        except ValueError:
            accounts = None
        if not isinstance(accounts, list):
            raise ModelUnavailable("workspace routing discovery failed")
        entry = next((a for a in accounts if isinstance(a, dict) and a.get("id") == account_id), None)
        if entry is None:
            raise ModelUnavailable("selected workspace missing from routing discovery")
        origin = entry.get("workspace_backend_origin")
        if not isinstance(origin, str):
            raise ModelUnavailable("workspace routing discovery missing backend origin")
        # The real daemon's rule: the model's origin is HTTPS, and carries no credentials.
        if not origin.startswith("https://") or "@" in origin:
            raise ModelUnavailable("workspace backend must use an HTTPS origin without credentials")
        return origin.rstrip("/")

    async def respond(self, turn_id: str, items: list[dict[str, Any]],
                      tools: list[dict[str, Any]]) -> list[dict[str, Any]] | Interrupted:
        socket = await self._open()
        body: dict[str, Any] = {"type": "response.create", "model": MODEL, "stream": True, "store": False,
                                "input": items, "tools": tools, "tool_choice": "auto", "parallel_tool_calls": False,
                                "client_metadata": {"thread_id": self.thread_id, "root_turn_id": turn_id}}
        if self._previous is not None:
            body["previous_response_id"] = self._previous
        output: list[dict[str, Any]] = []
        try:
            await socket.send(json.dumps(body))
            self._requesting = True
            while True:
                event = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS))
                kind = event.get("type") if isinstance(event, dict) else None
                response = event.get("response") if isinstance(event, dict) else None
                if kind == "response.created" and isinstance(response, dict):
                    self._in_flight = str(response.get("id"))
                    if self._interrupt_wanted:
                        await self._send_interrupt()
                elif kind == "response.output_item.done" and isinstance(event.get("item"), dict):
                    output.append(event["item"])
                elif kind == "response.completed":
                    self._previous, self._in_flight = self._in_flight, None
                    self.last_usage = _usage(response)
                    return output
                elif kind == "response.incomplete":
                    self._previous, self._in_flight = self._in_flight, None
                    return INTERRUPTED
                elif kind in ("response.failed", "error"):
                    raise ModelUnavailable(json.dumps(event.get("error") or event))
        except (ConnectionClosed, TimeoutError) as exc:
            await self.close()
            raise ModelUnavailable(f"stream disconnected before completion: {type(exc).__name__}") from None
        finally:
            self._in_flight, self._requesting, self._interrupt_wanted = None, False, False

    async def interrupt(self) -> None:
        """A follow-up arrived: end the response being produced, as soon as its id is known. Between requests there
        is nothing to interrupt: the follow-up goes with the next request."""
        if self._in_flight is not None:
            await self._send_interrupt()
        elif self._requesting:
            self._interrupt_wanted = True

    async def _send_interrupt(self) -> None:
        socket, response_id = self._socket, self._in_flight
        if socket is None or response_id is None:
            return
        self._interrupt_wanted = False
        with contextlib.suppress(ConnectionClosed):
            await socket.send(json.dumps({"type": "response.interrupt", "response_id": response_id,
                                          "mode": "discard_partial_items"}))

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()


def _usage(response: object) -> tuple[int, int]:
    """Input and output tokens a completed response reports (0 for what it leaves out)."""
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return (0, 0)
    inputs, outputs = usage.get("input_tokens"), usage.get("output_tokens")
    return (inputs if isinstance(inputs, int) else 0, outputs if isinstance(outputs, int) else 0)
