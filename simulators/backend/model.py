"""The model behind the backend: workspace routing discovery and the Responses socket, answered from scripts.

What the real daemon (0.169.0, signed in with ChatGPT) calls to run a turn, observed against this backend
(docs/protocol.md §9):

1. `GET {chatgpt_base_url}wham/accounts/check` with the ChatGPT token and `chatgpt-account-id`: the accounts the
   sign-in may use, each with `workspace_backend_origin` (where its model requests go) and
   `account_routing_override`. The daemon refuses an origin that is not `https://`, so the backend also listens with
   TLS (`simulators.tls`) and names that listener, as the calling Mac reaches it.
2. A WebSocket `GET {origin}/backend-api/codex/responses` (`openai-beta: responses_websockets=2026-02-06`), one
   per thread, carrying `response.create` and `response.interrupt` frames; answered with `response.created`,
   `response.output_item.added/done`, `response.completed` or `response.incomplete` events. (The daemon falls back
   to `POST .../codex/responses` with server-sent events, its body zstd-compressed, only after five failed socket
   attempts; pairsim serves the socket.)

Answers come from `model_scripts`, through `simulators.protocol.responses`. A scenario can make the model take its
time: `hold()` keeps every new response after `response.created` until `release()`, so what a person does "while
Codex is thinking" (send a follow-up, lose the connection) happens at a known point. Both routes are fault keys
(`model.accounts_check`, `model.responses`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from simulators.backend.accounts import AccountStore
from simulators.backend.model_scripts import script_for
from simulators.protocol.errors import PairsimError
from simulators.protocol.oauth import TokenClaims
from simulators.protocol.responses import (
    ModelConversation,
    ModelProtocolError,
    ModelRequest,
    events_for,
    interrupted,
    parse_frame,
)

log = logging.getLogger("pairsim.backend.model")

ACCOUNTS_CHECK_PATH = "/backend-api/wham/accounts/check"
RESPONSES_PATH = "/backend-api/codex/responses"
NO_CONSTRAINT = "NO_CONSTRAINT"

AccessTokenVerifier = Callable[[str], TokenClaims]


class ModelService:
    """The model area of one backend. Routes run on the backend's loop; so do `hold`/`release`/`wait_held`."""

    def __init__(self, *, accounts: AccountStore, verify_access_token: AccessTokenVerifier) -> None:
        self.accounts = accounts
        self.verify_access_token = verify_access_token
        # The HTTPS listener's origin, and per address a party reaches the backend on (its network path), the
        # HTTPS origin that same party reaches: discovery names the origin the caller can use.
        self.https_origin: str | None = None
        self.workspace_origins: dict[str, str] = {}
        # What crossed the model socket, without content: frame types and the input item types, for traces/tests.
        self.frames: list[dict[str, Any]] = []
        self._holding = False
        self._released = asyncio.Event()
        self._held = 0
        self.interrupted = 0  # responses ended by `response.interrupt`
        self._held_changed = asyncio.Condition()
        self._sockets: set[web.WebSocketResponse] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(ACCOUNTS_CHECK_PATH, self._accounts_check, name="model.accounts_check")
        app.router.add_get(RESPONSES_PATH, self._responses, name="model.responses")
        app.on_shutdown.append(self._close_sockets)

    # -- the model taking its time ---------------------------------------------------------------------------------

    def hold(self) -> None:
        """From now on each response waits after `response.created` until `release()` (or an interrupt)."""
        self._holding = True
        self._released = asyncio.Event()

    def release(self) -> None:
        self._holding = False
        self._released.set()

    async def wait_held(self) -> None:
        """Until some response is being held."""
        async with self._held_changed:
            await self._held_changed.wait_for(lambda: self._held > 0)

    async def wait_interrupted(self, count: int) -> None:
        """Until at least `count` responses have been interrupted (for a follow-up)."""
        async with self._held_changed:
            await self._held_changed.wait_for(lambda: self.interrupted >= count)

    # -- routes ----------------------------------------------------------------------------------------------------

    def _claims(self, request: web.Request) -> TokenClaims | None:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = self.verify_access_token(token.strip())
        except PairsimError:
            return None
        if claims.auth is None or self.accounts.active_session(claims.sid) is None:
            return None
        return claims

    async def _accounts_check(self, request: web.Request) -> web.StreamResponse:
        claims = self._claims(request)
        if claims is None or claims.auth is None:
            return web.json_response({"detail": "Unauthorized"}, status=401)
        account_id = claims.auth.chatgpt_account_id
        origin = self.workspace_origins.get(request.host, self.https_origin) or f"{request.scheme}://{request.host}"
        entry = {
            "id": account_id,
            "name": None,
            "structure": "personal",
            "plan_type": claims.auth.chatgpt_plan_type,
            "workspace_backend_origin": origin,
            "account_routing_override": NO_CONSTRAINT,
        }
        return web.json_response({"accounts": [entry], "account_ordering": [account_id],
                                  "default_account_id": account_id})

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        if self._claims(request) is None:
            return web.json_response({"detail": "Unauthorized"}, status=401)
        socket = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await socket.prepare(request)
        self._sockets.add(socket)
        conversation = ModelConversation(script_for)
        in_flight: dict[str, asyncio.Task[None]] = {}
        try:
            async for message in socket:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = parse_frame(message.data)
                except ModelProtocolError as exc:
                    await socket.send_json({"type": "error", "error": {"type": "invalid_request_error",
                                                                       "message": exc.message}})
                    continue
                self.frames.append(_summary(frame))
                if frame["type"] == "response.interrupt":
                    task = in_flight.get(frame["response_id"])
                    if task is not None and not task.done():
                        task.cancel()
                    continue
                answer = conversation.receive(frame)
                in_flight[answer.response_id] = asyncio.ensure_future(self._answer(socket, conversation, answer))
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
            self._sockets.discard(socket)
        return socket

    async def _answer(self, socket: web.WebSocketResponse, conversation: ModelConversation,
                      request: ModelRequest) -> None:
        events = [{"type": "response.created", "response": {"id": request.response_id, "object": "response",
                                                            "status": "in_progress", "output": []}}]
        with contextlib.suppress(ConnectionResetError):
            await socket.send_json(events[0])
            if request.turn is not None and self._holding:
                try:
                    await self._wait_released()
                except asyncio.CancelledError:
                    # An interrupt: `response.interrupt` (a follow-up arrived; the turn goes on) or the daemon
                    # closing the socket mid-response (codex 0.169.0 does so on `turn/interrupt`). Either way the
                    # model saw it; only the first still has a socket to say `response.incomplete` on.
                    async with self._held_changed:
                        self.interrupted += 1
                        self._held_changed.notify_all()
                    if not socket.closed:
                        await socket.send_json(interrupted(request.response_id))
                    return
            for event in events_for(request.response_id, conversation.answer(request))[1:]:
                await socket.send_json(event)

    async def _wait_released(self) -> None:
        released = self._released
        async with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        try:
            await released.wait()
        finally:
            async with self._held_changed:
                self._held -= 1

    async def _close_sockets(self, app: web.Application) -> None:
        for socket in list(self._sockets):
            await socket.close()


def _summary(frame: dict[str, Any]) -> dict[str, Any]:
    inputs = frame.get("input") if isinstance(frame.get("input"), list) else []
    return {"type": frame.get("type"), "previous_response_id": frame.get("previous_response_id"),
            "generate": frame.get("generate"),
            "input": [str(item.get("type")) for item in inputs if isinstance(item, dict)]}
