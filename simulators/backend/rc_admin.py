"""Admin HTTP routes for the remote-control area, under `/_pairsim/admin/rc/…` (same admin token as admin.py).

The same operations as `RemoteControlService`'s in-process methods, for a scenario or a person driving a backend
that runs as its own process: enrollment faults, dropping the daemon's relay socket, delaying relay delivery,
expiring pairing codes, the backend's view (secrets masked) and long-polling waits for relay events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from simulators.backend.admin import Handler, admin_error, admin_guarded, admin_ok
from simulators.backend.environments import RemoteControlError
from simulators.backend.relay import RelayEvent
from simulators.backend.remote_control import EnrollFault
from simulators.backend.state import BackendState
from simulators.protocol.versions import InvalidVersion

RC_ADMIN_PREFIX = "/_pairsim/admin/rc"
MAX_BODY = 16 * 1024
MAX_WAIT_S = 60.0
MAX_DELAY_S = 120.0


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _BadRequest("request body too large")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("body must be a JSON object")
    return body


def _number(body: Mapping[str, Any], name: str, default: float, maximum: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= maximum:
        raise _BadRequest(f"{name} must be a number between 0 and {maximum:g}")
    return float(value)


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise _BadRequest(f"{name} must be a non-negative integer")
    return int(raw)


def event_view(index: int, event: RelayEvent) -> dict[str, Any]:
    return {"index": index, "kind": event.kind, "environment_id": event.environment_id,
            "client_id": event.client_id, "detail": event.detail}


def _map_rc_admin_error(exc: Exception) -> web.Response | None:
    match exc:
        case _BadRequest():
            return admin_error(400, "bad_request", exc.message)
        case RemoteControlError():
            return admin_error(exc.status, "not_found" if exc.status == 404 else "bad_request", exc.message)
        case TimeoutError():
            return admin_error(408, "timeout", "the awaited state did not happen in time")
    return None


def add_routes(app: web.Application, state: BackendState) -> None:
    """The remote-control admin route group."""
    service = state.remote_control

    def guarded(handler: Handler) -> Handler:
        return admin_guarded(state, handler, _map_rc_admin_error)

    async def view(request: web.Request) -> web.Response:
        return admin_ok(service.view())

    async def enroll_fault(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            kind = EnrollFault(body.get("kind"))
        except ValueError:
            raise _BadRequest("kind must be one of " + ", ".join(k.value for k in EnrollFault)) from None
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise _BadRequest("count must be an integer between 1 and 1000")
        delay = _number(body, "delay_s", 0.0, MAX_DELAY_S)
        service.fail_next_enrollments(kind, count, delay=delay)
        return admin_ok({"kind": kind.value, "count": count, "delay_s": delay}, status=201)

    async def release_enrollments(request: web.Request) -> web.Response:
        held = service.held_enrollments
        service.release_held_enrollments()
        return admin_ok({"released": held})

    async def relay_garble(request: web.Request) -> web.Response:
        count = (await _body(request)).get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise _BadRequest("count must be an integer between 1 and 1000")
        service.garble_next_phone_messages(count)
        return admin_ok({"count": count}, status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        service.clear_faults()
        return admin_ok({"cleared": True})

    async def drop_daemon(request: web.Request) -> web.Response:
        dropped = await service.drop_daemon(request.match_info["environment_id"])
        return admin_ok({"dropped": dropped})

    async def set_disabled(request: web.Request) -> web.Response:
        body = await _body(request)
        disabled = body.get("disabled")
        if not isinstance(disabled, bool):
            raise _BadRequest("disabled must be true or false")
        service.set_remote_control_disabled(request.match_info["environment_id"], disabled)
        return admin_ok({"remote_control_disabled": disabled})

    async def relay_delay(request: web.Request) -> web.Response:
        seconds = _number(await _body(request), "delay_s", 0.0, MAX_DELAY_S)
        service.set_delivery_delay(seconds)
        return admin_ok({"delay_s": seconds})

    async def expire_codes(request: web.Request) -> web.Response:
        body = await _body(request)
        environment_id = body.get("environment_id")
        if environment_id is not None and not isinstance(environment_id, str):
            raise _BadRequest("environment_id must be a string")
        return admin_ok({"expired": service.expire_pairing_codes_now(environment_id)})

    async def wait_daemon(request: web.Request) -> web.Response:
        environment_id = request.match_info["environment_id"]
        connected = request.query.get("connected", "true") != "false"
        timeout = min(_int(request.query.get("timeout"), "timeout", 10), MAX_WAIT_S)
        if connected:
            await service.wait_daemon_connected(environment_id, timeout)
        else:
            await service.wait_daemon_disconnected(environment_id, timeout)
        return admin_ok({"environment_id": environment_id, "daemon_connected": connected})

    async def minimum_version(request: web.Request) -> web.Response:
        version = (await _body(request)).get("version")
        if version is not None and not isinstance(version, str):
            raise _BadRequest("version must be a string such as 0.129.0-alpha.6, or null")
        try:
            service.accept_app_servers_from(version)
        except InvalidVersion as exc:
            raise _BadRequest(exc.message) from None
        return admin_ok({"minimum_app_server_version": version})

    async def events(request: web.Request) -> web.Response:
        since = _int(request.query.get("since"), "since", 0)
        found = service.events.events[since:]
        return admin_ok({"events": [event_view(since + i, e) for i, e in enumerate(found)],
                         "next": since + len(found)})

    async def wait_event(request: web.Request) -> web.Response:
        kind = request.query.get("kind")
        if not kind:
            raise _BadRequest("kind is required")
        since = _int(request.query.get("since"), "since", 0)
        timeout = min(_int(request.query.get("timeout"), "timeout", 10), MAX_WAIT_S)
        match = {k: request.query[k] for k in ("environment_id", "client_id") if k in request.query}
        event = await service.wait_event(kind, since=since, timeout=timeout, **match)
        return admin_ok({"event": event_view(service.events.events.index(event), event)})

    routes: list[tuple[str, str, str, Handler]] = [
        ("GET", "/state", "admin.rc.state", view),
        ("POST", "/faults/enroll", "admin.rc.faults.enroll", enroll_fault),
        ("POST", "/faults/enroll/release", "admin.rc.faults.enroll_release", release_enrollments),
        ("POST", "/relay/garble", "admin.rc.relay_garble", relay_garble),
        ("DELETE", "/faults", "admin.rc.faults", clear_faults),
        ("POST", "/environments/{environment_id}/drop-daemon", "admin.rc.drop_daemon", drop_daemon),
        ("POST", "/environments/{environment_id}/remote-control-disabled", "admin.rc.disabled", set_disabled),
        ("GET", "/environments/{environment_id}/wait-daemon", "admin.rc.wait_daemon", wait_daemon),
        ("POST", "/relay/delay", "admin.rc.relay_delay", relay_delay),
        ("POST", "/pairing-codes/expire", "admin.rc.expire_codes", expire_codes),
        ("POST", "/minimum-app-server-version", "admin.rc.minimum_version", minimum_version),
        ("GET", "/events", "admin.rc.events", events),
        ("GET", "/events/wait", "admin.rc.events_wait", wait_event),
    ]
    for method, path, name, handler in routes:
        app.router.add_route(method, RC_ADMIN_PREFIX + path, guarded(handler), name=name)


__all__ = ["RC_ADMIN_PREFIX", "add_routes"]
