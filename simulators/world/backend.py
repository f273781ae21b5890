"""The ChatGPT backend of a world, as scenarios reach it: the running server, what it answered, and the faults a
scenario puts in it. The backend is one real aiohttp server on loopback (`simulators/backend/`); this driver only
starts it, reads it and arms its faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from simulators.backend.admin import BackendControl
from simulators.backend.faults import PATH_KEY_PREFIX, Fault
from simulators.backend.model import ModelService
from simulators.backend.remote_control import EnrollFault, RemoteControlService
from simulators.backend.server import BackendServer
from simulators.backend.state import BackendState
from simulators.clock import Clock
from simulators.protocol.redaction import redact_body
from simulators.tls import WorldTls
from simulators.world.relay import RelayDriver
from simulators.world.runner import Runner


class Operation(StrEnum):
    """What a party asks the backend, by the route that answers it (route names are the backend's fault keys)."""

    ENROLL = "rc.server.enroll"
    REFRESH = "rc.server.refresh"
    PAIR = "rc.server.pair"
    PAIRING_STATUS = "rc.server.pair_status"
    CLAIM = "rc.client.claim"
    CONTROLLER_PAIR = "rc.client.pair"
    DEVICE_LIST = "rc.environments"
    SECURITY_CHECK = "accounts.mfa_info"
    TOKEN_EXCHANGE = "oauth.token"
    TOKEN_REFRESH = "oauth.token:refresh_token"
    DEVICE_CODE_POLL = "deviceauth.token"

    @classmethod
    def named(cls, words: str) -> Operation:
        """The operation a step names in product language ("the Mac's enrollment")."""
        try:
            return OPERATION_NAMES[words]
        except KeyError:
            known = ", ".join(f'"{name}"' for name in OPERATION_NAMES)
            raise ValueError(f"no backend operation is called {words!r}; the names are {known}") from None


# The one place where the words of the steps meet the backend's routes. A scenario can also name any path
# (`the request to "/backend-api/wham/accounts/check"`): `faults.path_key`.
OPERATION_NAMES: dict[str, Operation] = {
    "the Mac's enrollment": Operation.ENROLL,
    "the Mac's server-token renewal": Operation.REFRESH,
    "the Mac's pairing request": Operation.PAIR,
    "the Mac's pairing status check": Operation.PAIRING_STATUS,
    "the phone's pairing claim": Operation.CLAIM,
    # A Mac that controls another (Settings › Connections › Control other devices).
    "the controlling Mac's pairing request": Operation.CONTROLLER_PAIR,
    "the list of devices": Operation.DEVICE_LIST,
    "the Mac's security check": Operation.SECURITY_CHECK,
    "the sign-in token exchange": Operation.TOKEN_EXCHANGE,
    "the token refresh": Operation.TOKEN_REFRESH,
    "the device-code poll": Operation.DEVICE_CODE_POLL,
}


class BackendDriver:
    def __init__(self, runner: Runner, clock: Clock, *, seed: int, typed_errors: bool,
                 tls: WorldTls | None = None) -> None:
        self._runner = runner
        self.state = BackendState.create(clock, seed=seed, typed_errors=typed_errors)
        self.server = BackendServer(self.state, tls=tls)
        self.control = BackendControl(self.state)
        # The relay's faults against one party's sockets (refused upgrades, closes, drops, delays, pings).
        self.relay = RelayDriver(runner, self.state.remote_control.relay)

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

    def answered(self, operation: Operation | str) -> int | None:
        """The HTTP status of the backend's newest answer to `operation` (or to a `path:` key), None if never asked."""
        key = str(operation)
        if key.startswith(PATH_KEY_PREFIX):
            wanted = key.removeprefix(PATH_KEY_PREFIX)
            matches = [e for e in self.traffic() if e.get("path") == wanted]
        else:
            route = key.partition(":")[0]  # a finer key (`oauth.token:refresh_token`) is one of its route's answers
            matches = [e for e in self.traffic() if e.get("route") == route]
        return int(matches[-1]["status"]) if matches else None

    def traffic(self) -> list[dict[str, Any]]:
        """Every HTTP exchange the backend served, redacted as it was recorded."""
        return list(self.state.traffic.entries)

    # -- faults ----------------------------------------------------------------------------------------------------

    def expire_pairing_codes(self) -> None:
        self._runner.call(self.remote_control.expire_pairing_codes_now)

    def fail_next_enrollments(self, kind: EnrollFault | str, times: int = 1) -> None:
        self._runner.call(self.remote_control.fail_next_enrollments, EnrollFault(kind), count=times)

    def answer_next(self, operation: Operation | str, status: int | None, body: Any = None, *, times: int | None = 1,
                    content_type: str | None = None, after: float = 0.0) -> None:
        """The next `times` requests of `operation` (an `Operation`, or a key such as `faults.path_key(path)`) are
        answered with `status` and `body` (a string is sent as it is, anything else as JSON) as `content_type`
        instead of being served; with `after`, only once the world's clock has moved on by that many seconds (a
        step says time passes). `status=None` serves them as usual, late."""
        fault = Fault(status=status, body=body, times=times, content_type=content_type, delay_s=after)
        self._runner.call(self.control.inject_fault, str(operation), fault)

    def answer_as_usual(self, operation: Operation | str) -> None:
        """Forget the answers armed for `operation` and let any of its held requests through: it is served again."""
        key = str(operation)
        self._runner.call(self.control.clear_faults, key)
        self._runner.call(self.control.release_held, key)

    def hold_next(self, operation: Operation | str, *, times: int | None = 1) -> None:
        """The next `times` requests of `operation` wait, unanswered, until `release_held` (no timer at all)."""
        self._runner.call(self.control.inject_fault, str(operation), Fault(hold=True, times=times))

    def release_held(self, operation: Operation | str | None = None) -> int:
        """Let the held requests (of one operation, or all) be served; returns how many there were."""
        return self._runner.call(self.control.release_held, None if operation is None else str(operation))

    def held(self, operation: Operation | str | None = None) -> int:
        """How many requests (of one operation, or of any, held enrollments included) wait now for the answer a
        hold or a delay keeps from them."""
        if operation is not None:
            return self._runner.call(self.state.faults.held, str(operation))
        return self._runner.call(lambda: self.state.faults.held() + self.remote_control.held_enrollments)

    async def wait_held(self) -> None:
        """Until the backend holds a request (an enrollment or any other), however long that takes. On the loop."""
        waits = [asyncio.ensure_future(self.remote_control.wait_enrollment_held(timeout=None)),
                 asyncio.ensure_future(self.state.faults.wait_held(timeout=None))]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    def accept_codex_from(self, version: str | None) -> None:
        """The oldest Codex a Mac may run for a phone to pair with it (`None`: any). Older Macs still enroll; a
        phone that scans their code is told to have them updated."""
        self._runner.call(self.remote_control.accept_app_servers_from, version)

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
