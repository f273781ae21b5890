"""The ChatGPT backend of a world, as scenarios reach it: the running server, what it answered, and the faults a
scenario puts in it. The backend is one real aiohttp server on loopback (`simulators/backend/`); this driver only
starts it, reads it and arms its faults.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from simulators.backend.admin import BackendControl
from simulators.backend.faults import Fault
from simulators.backend.model import ModelService
from simulators.backend.remote_control import EnrollFault, RemoteControlService
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock
from simulators.protocol.redaction import redact_body
from simulators.tls import WorldTls
from simulators.world.runner import Runner


class Operation(StrEnum):
    """What a party asks the backend, by the route that answers it (route names are the backend's fault keys)."""

    ENROLL = "rc.server.enroll"
    REFRESH = "rc.server.refresh"
    PAIR = "rc.server.pair"
    PAIRING_STATUS = "rc.server.pair_status"
    CLAIM = "rc.client.claim"
    TOKEN_EXCHANGE = "oauth.token"


class BackendDriver:
    def __init__(self, runner: Runner, clock: Clock, *, seed: int, typed_errors: bool,
                 tls: WorldTls | None = None) -> None:
        self._runner = runner
        self.state = BackendState.create(clock, seed=seed, typed_errors=typed_errors)
        self.server = BackendServer(self.state, tls=tls)
        self.control = BackendControl(self.state)

    async def start(self) -> str:
        return await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def url(self) -> str:
        """The backend's own address (its admin API). Parties reach it through their network paths instead."""
        assert self.server.base_url is not None, "the backend is not started"
        return self.server.base_url

    @property
    def https_url(self) -> str | None:
        """The backend's TLS listener (the model's workspace origin), when it has one."""
        return self.server.https_url

    @property
    def remote_control(self) -> RemoteControlService:
        return self.state.remote_control

    # -- the model ---------------------------------------------------------------------------------------------------

    @property
    def model(self) -> ModelService:
        return self.state.model

    def route_model_requests(self, reached_on: str, https_origin: str) -> None:
        """Discovery answers a party that reaches the backend on `reached_on` (host:port) with `https_origin`."""
        self._runner.call(self.model.workspace_origins.__setitem__, reached_on, https_origin)

    def hold_model(self) -> None:
        """The model takes its time: each new response waits until `release_model()` (or a follow-up)."""
        self._runner.call(self.model.hold)

    def wait_model_held(self) -> None:
        """Until the model is holding a response (Codex is "thinking")."""
        self._runner.run(self.model.wait_held())

    def release_model(self) -> None:
        self._runner.call(self.model.release)

    def model_interruptions(self) -> int:
        return self._runner.call(lambda: self.model.interrupted)

    def wait_model_interrupted(self, count: int) -> None:
        """Until `count` responses in all have been interrupted by a follow-up."""
        self._runner.run(self.model.wait_interrupted(count))

    def model_frames(self) -> list[dict[str, Any]]:
        """What crossed the model sockets, without content: each frame's type and its input item types."""
        return self._runner.call(lambda: list(self.model.frames))

    # -- what the backend answered -------------------------------------------------------------------------------

    def last_response(self, routes: Iterable[str]) -> tuple[int, str] | None:
        """(status, body) of the newest answer to any of these routes (`rc.server.enroll`, ...), secrets masked."""
        wanted = tuple(routes)
        answered = self._runner.call(lambda: [(n, r) for n, r in self.remote_control.last_responses.items()
                                              if n in wanted])
        if not answered:
            return None
        status, body = answered[-1][1]
        return status, redact_body(body)

    def environments(self) -> list[dict[str, Any]]:
        """The environments the backend knows (a Mac's enrollment, per workspace), secrets masked."""
        return self._runner.call(lambda: self.remote_control.view()["environments"])

    def traffic(self) -> list[dict[str, Any]]:
        """Every HTTP exchange the backend served, redacted as it was recorded."""
        return list(self.state.traffic.entries)

    # -- faults ----------------------------------------------------------------------------------------------------

    def expire_pairing_codes(self) -> None:
        self._runner.call(self.remote_control.expire_pairing_codes_now)

    def fail_next_enrollments(self, kind: EnrollFault | str, times: int = 1) -> None:
        self._runner.call(self.remote_control.fail_next_enrollments, EnrollFault(kind), count=times)

    def answer_next(self, operation: Operation | str, status: int, body: Any, *, times: int = 1) -> None:
        """The next `times` requests of `operation` are answered with `status` and `body` (a string is sent as it
        is, anything else as JSON) instead of being served."""
        self._runner.call(self.control.inject_fault, str(operation), Fault(status=status, body=body, times=times))

    def hold_enrollments(self) -> None:
        """The backend answers the next enrollment only once `release_held_enrollments` says so."""
        self._runner.call(self.remote_control.fail_next_enrollments, EnrollFault.HOLD)

    def release_held_enrollments(self) -> None:
        self._runner.call(self.remote_control.release_held_enrollments)

    def garble_next_relay_message(self) -> None:
        """The relay cuts its next message to a phone short, as a faulty proxy on the way would."""
        self._runner.call(self.remote_control.garble_next_phone_messages)

    def issued_secrets(self) -> Iterator[str]:
        """Every remote-control token, pairing code and client session token the backend handed out, including
        those no party kept (superseded, refused, expired)."""
        yield from self.remote_control.store.issued_secrets()
