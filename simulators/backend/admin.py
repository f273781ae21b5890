"""The backend's test-control surface: an in-process handle (`BackendControl`) and the same over HTTP.

A scenario drives the world through it: create accounts, turn MFA on or off, change a password, move an
account to another region, forbid remote control in a workspace, move the clock, and inject faults into any
endpoint.

Faults (`simulators/backend/faults.py`) are armed here, in process or over HTTP.

The admin HTTP API lives under `/_pairsim/admin/` and requires `Authorization: Bearer <admin token>`. It
returns secrets (passwords, TOTP secrets, tokens) to that caller only; neither API logs them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import Any

from aiohttp import web

from simulators.backend.accounts import (
    Account,
    AccountError,
    AccountSpec,
    CreatedAccount,
    Plan,
    Region,
    Session,
    TeamWorkspaceSpec,
    UnknownAccount,
    UnknownWorkspace,
    Workspace,
)
from simulators.backend.faults import AdminRequestError, Fault
from simulators.backend.issuer import BodyTooLarge, read_body
from simulators.backend.state import BackendState
from simulators.protocol.errors import PairsimError
from simulators.protocol.oauth import CLIENT_ID, CODEX_SCOPES, TokenResponse

ADMIN_PREFIX = "/_pairsim/admin"
MAX_ADMIN_BODY = 64 * 1024


# ------------------------------------------------------------------------------------------------------------
# In-process control


def account_view(account: Account) -> dict[str, Any]:
    """An account as JSON; it never holds a secret because `Account` holds none."""
    view = asdict(account)
    view["workspaces"] = [workspace_view(w) for w in account.workspaces]
    return view


def workspace_view(workspace: Workspace) -> dict[str, Any]:
    return asdict(workspace)


def session_view(session: Session) -> dict[str, Any]:
    return {
        "sid": session.sid,
        "user_id": session.user_id,
        "amr": list(session.amr),
        "mfa_assured": session.mfa_assured,
        "auth_time": session.auth_time,
        "credentials_generation": session.credentials_generation,
        "revoked": session.revoked,
    }


class BackendControl:
    """What a scenario may do to the backend, in process. Thread-safe; every call is synchronous."""

    def __init__(self, state: BackendState) -> None:
        self._state = state

    # accounts
    def create_account(self, spec: AccountSpec | None = None, **fields: Any) -> CreatedAccount:
        """Create an account; the result carries its password and TOTP secret, shown this once."""
        if spec is not None and fields:
            raise TypeError("pass either an AccountSpec or keyword fields, not both")
        return self._state.accounts.create(spec or AccountSpec(**fields))

    def account(self, account_id: str) -> Account:
        return self._state.accounts.get(account_id)

    def accounts(self) -> list[Account]:
        return self._state.accounts.all()

    def enable_mfa(self, account_id: str) -> str:
        return self._state.accounts.enable_mfa(account_id)

    def disable_mfa(self, account_id: str) -> Account:
        return self._state.accounts.disable_mfa(account_id)

    def forget_trusted_devices(self, account_id: str) -> int:
        return self._state.accounts.forget_trusted_devices(account_id)

    def set_mfa_enforced(self, account_id: str, enforced: bool) -> Account:
        return self._state.accounts.set_mfa_enforced(account_id, enforced)

    def change_password(self, account_id: str, new_password: str | None = None) -> str:
        return self._state.accounts.change_password(account_id, new_password)

    def enable_device_code(self, account_id: str, enabled: bool = True) -> Account:
        return self._state.accounts.set_device_code_enabled(account_id, enabled)

    def set_region(self, account_id: str, region: Region | str) -> Account:
        return self._state.accounts.set_region(account_id, Region(region))

    def set_workspace_policy(self, workspace_id: str, *, remote_control_allowed: bool) -> Workspace:
        return self._state.accounts.set_workspace_policy(
            workspace_id, remote_control_allowed=remote_control_allowed
        )

    def sessions(self, account_id: str) -> list[Session]:
        return self._state.accounts.sessions_of(account_id)

    def revoke_sessions(self, account_id: str) -> int:
        return self._state.accounts.revoke_sessions(account_id)

    async def remove_paired_device(self, account_id: str, display_name: str) -> int:
        """The person removes a paired phone (by the name it paired with) in her account's settings on the web.
        A coroutine, unlike the rest: run it on the backend's event loop, where the phone's sockets are closed."""
        user_id = self._state.accounts.get(account_id).user_id
        return await self._state.remote_control.remove_devices_named(user_id, display_name)

    def issue_tokens(
        self,
        account_id: str,
        *,
        workspace_id: str | None = None,
        mfa_completed: bool | None = None,
        client_id: str = CLIENT_ID,
    ) -> TokenResponse:
        """Tokens as if the account had just signed in (a precondition shortcut; the sign-in itself is the
        browser walk). `mfa_completed` defaults to whether the account has MFA."""
        account = self._state.accounts.get(account_id)
        completed = account.mfa_enabled if mfa_completed is None else mfa_completed
        session = self._state.accounts.open_session(account.user_id, mfa_completed=completed)
        workspace = workspace_id or account.account_id
        return self._state.issuer.mint(session, workspace, client_id=client_id, scopes=CODEX_SCOPES)

    # clock
    def now(self) -> float:
        return self._state.clock.now()

    def set_clock_offset(self, seconds: float) -> None:
        self._state.clock.offset = float(seconds)

    def advance_clock(self, seconds: float) -> None:
        self._state.clock.advance(seconds)

    # faults
    def inject_fault(self, endpoint_key: str, fault: Fault) -> None:
        self._state.faults.inject(endpoint_key, fault)

    def clear_faults(self, endpoint_key: str | None = None) -> int:
        return self._state.faults.clear(endpoint_key)

    def faults(self) -> dict[str, list[Fault]]:
        return self._state.faults.pending()

    def release_held(self, endpoint_key: str | None = None) -> int:
        """Let the requests hold faults are holding (of one key, or all) go on; call it on the server's loop."""
        return self._state.faults.release_held(endpoint_key)


# ------------------------------------------------------------------------------------------------------------
# Admin HTTP API


def admin_error(status: int, error: str, message: str) -> web.Response:
    """The JSON error body of every admin route: `{"error": <code>, "message": <text>}`, never cached."""
    return web.json_response(
        {"error": error, "message": message}, status=status, headers={"Cache-Control": "no-store"}
    )


def admin_ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise AdminRequestError("admin requests carry JSON (Content-Type: application/json)")
    raw = await read_body(request, MAX_ADMIN_BODY)
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AdminRequestError("body is not valid JSON") from exc
    if not isinstance(decoded, dict):
        raise AdminRequestError("body must be a JSON object")
    return decoded


def _bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise AdminRequestError(f"{name} must be true or false")
    return value


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise AdminRequestError(f"{name} must be a string")
    return value


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdminRequestError(f"{name} must be a number")
    return float(value)


def _spec_from_json(body: Mapping[str, Any]) -> AccountSpec:
    allowed = {
        "email",
        "name",
        "password",
        "plan",
        "mfa",
        "mfa_enforced",
        "team_workspaces",
        "region",
        "device_code",
    }
    unknown = set(body) - allowed
    if unknown:
        raise AdminRequestError(f"unknown field: {sorted(unknown)[0]}")
    teams_raw = body.get("team_workspaces", [])
    if not isinstance(teams_raw, list):
        raise AdminRequestError("team_workspaces must be a list")
    teams = []
    for team in teams_raw:
        if not isinstance(team, dict):
            raise AdminRequestError("each team workspace is an object")
        allowed_rc = team.get("remote_control_allowed", True)
        if not isinstance(allowed_rc, bool):
            raise AdminRequestError("remote_control_allowed must be true or false")
        teams.append(
            TeamWorkspaceSpec(
                name=_optional_str(team, "name"),
                plan=Plan(team.get("plan", Plan.BUSINESS.value)),
                remote_control_allowed=allowed_rc,
            )
        )
    flags = {}
    for name, key in (
        ("mfa", "mfa"),
        ("mfa_enforced", "mfa_enforced"),
        ("device_code", "device_code_enabled"),
    ):
        if name in body:
            flags[key] = _bool(body, name)
    return AccountSpec(
        email=_optional_str(body, "email"),
        name=_optional_str(body, "name"),
        password=_optional_str(body, "password"),
        plan=Plan(body.get("plan", Plan.PLUS.value)),
        region=Region(body.get("region", Region.US.value)),
        team_workspaces=tuple(teams),
        **flags,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorMapper = Callable[[Exception], web.Response | None]


def admin_guarded(state: BackendState, handler: Handler, map_error: ErrorMapper) -> Handler:
    """`handler` behind the admin token, answering the exceptions `map_error` knows with a JSON error.

    Every admin route group (this module's, rc_admin's) goes through here, so the token check and the error
    body have one source. An exception for which `map_error` returns None propagates unchanged.
    """

    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not state.admin_token_matches(request.headers.get("Authorization", "")):
            return admin_error(401, "unauthorized", "admin token required")
        try:
            return await handler(request)
        except Exception as exc:
            response = map_error(exc)
            if response is None:
                raise
            return response

    return wrapper


def _map_admin_error(exc: Exception) -> web.Response | None:
    match exc:
        case AdminRequestError():
            return admin_error(400, "bad_request", exc.message)
        case BodyTooLarge():
            return admin_error(413, "bad_request", "request body too large")
        case UnknownAccount() | UnknownWorkspace():
            return admin_error(404, "not_found", exc.message)
        case AccountError():
            return admin_error(409, "conflict", exc.message)
        case ValueError() | TypeError():
            # Enum conversions (plan, region) land here; their messages name the bad value, never a secret.
            return admin_error(400, "bad_request", str(exc))
        case PairsimError():
            return admin_error(400, "bad_request", exc.message)
    return None


def add_routes(app: web.Application, state: BackendState) -> None:
    """The admin route group under `/_pairsim/admin/` (see docs/protocol.md §5.8)."""
    control = BackendControl(state)

    def guarded(handler: Handler) -> Handler:
        return admin_guarded(state, handler, _map_admin_error)

    def account_id(request: web.Request) -> str:
        return request.match_info["account_id"]

    async def list_accounts(request: web.Request) -> web.Response:
        return admin_ok({"accounts": [account_view(a) for a in control.accounts()]})

    async def create_account(request: web.Request) -> web.Response:
        created = control.create_account(_spec_from_json(await _json_body(request)))
        return admin_ok(
            {
                "account": account_view(created.account),
                "password": created.password,
                "totp_secret": created.totp_secret,
            },
            status=201,
        )

    async def get_account(request: web.Request) -> web.Response:
        return admin_ok({"account": account_view(control.account(account_id(request)))})

    async def set_mfa(request: web.Request) -> web.Response:
        enabled = _bool(await _json_body(request), "enabled")
        if enabled:
            secret = control.enable_mfa(account_id(request))
            return admin_ok({"account": account_view(control.account(account_id(request))), "totp_secret": secret})
        return admin_ok({"account": account_view(control.disable_mfa(account_id(request))), "totp_secret": None})

    async def set_mfa_enforced(request: web.Request) -> web.Response:
        enforced = _bool(await _json_body(request), "enforced")
        return admin_ok({"account": account_view(control.set_mfa_enforced(account_id(request), enforced))})

    async def change_password(request: web.Request) -> web.Response:
        new_password = _optional_str(await _json_body(request), "password")
        password = control.change_password(account_id(request), new_password)
        return admin_ok({"account": account_view(control.account(account_id(request))), "password": password})

    async def set_device_code(request: web.Request) -> web.Response:
        enabled = _bool(await _json_body(request), "enabled")
        return admin_ok({"account": account_view(control.enable_device_code(account_id(request), enabled))})

    async def set_region(request: web.Request) -> web.Response:
        region = _optional_str(await _json_body(request), "region")
        if region is None:
            raise AdminRequestError("region is required")
        return admin_ok({"account": account_view(control.set_region(account_id(request), region))})

    async def list_sessions(request: web.Request) -> web.Response:
        return admin_ok({"sessions": [session_view(s) for s in control.sessions(account_id(request))]})

    async def revoke_sessions(request: web.Request) -> web.Response:
        return admin_ok({"revoked": control.revoke_sessions(account_id(request))})

    async def issue_tokens(request: web.Request) -> web.Response:
        body = await _json_body(request)
        mfa = body.get("mfa_completed")
        if mfa is not None and not isinstance(mfa, bool):
            raise AdminRequestError("mfa_completed must be true, false or null")
        tokens = control.issue_tokens(
            account_id(request), workspace_id=_optional_str(body, "workspace_id"), mfa_completed=mfa
        )
        return admin_ok(tokens.to_body())

    async def set_policy(request: web.Request) -> web.Response:
        allowed = _bool(await _json_body(request), "remote_control_allowed")
        workspace = control.set_workspace_policy(
            request.match_info["workspace_id"], remote_control_allowed=allowed
        )
        return admin_ok({"workspace": workspace_view(workspace)})

    async def get_clock(request: web.Request) -> web.Response:
        return admin_ok({"now": control.now(), "offset": state.clock.offset})

    async def set_clock(request: web.Request) -> web.Response:
        body = await _json_body(request)
        offset, advance = _number(body, "offset"), _number(body, "advance")
        if (offset is None) == (advance is None):
            raise AdminRequestError("give exactly one of offset or advance")
        if offset is not None:
            control.set_clock_offset(offset)
        else:
            assert advance is not None
            control.advance_clock(advance)
        return admin_ok({"now": control.now(), "offset": state.clock.offset})

    async def list_faults(request: web.Request) -> web.Response:
        pending = {key: [f.to_dict() for f in faults] for key, faults in control.faults().items()}
        routes = sorted(
            {r.name for r in request.app.router.resources() if r.name and not r.name.startswith("admin.")}
        )
        return admin_ok({"faults": pending, "applied": dict(state.faults.applied), "held": state.faults.held(),
                         "endpoints": routes})

    async def inject_fault(request: web.Request) -> web.Response:
        body = await _json_body(request)
        endpoint = _optional_str(body, "endpoint")
        if not endpoint:
            raise AdminRequestError("endpoint is required")
        fault = Fault.from_dict({k: v for k, v in body.items() if k != "endpoint"})
        control.inject_fault(endpoint, fault)
        return admin_ok({"endpoint": endpoint, "fault": fault.to_dict()}, status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        return admin_ok({"cleared": control.clear_faults(request.query.get("endpoint") or None)})

    async def release_held(request: web.Request) -> web.Response:
        endpoint = _optional_str(await _json_body(request), "endpoint")
        return admin_ok({"released": control.release_held(endpoint or None)})

    routes: list[tuple[str, str, str, Handler]] = [
        ("GET", "/accounts", "admin.accounts", list_accounts),
        ("POST", "/accounts", "admin.accounts", create_account),
        ("GET", "/accounts/{account_id}", "admin.account", get_account),
        ("POST", "/accounts/{account_id}/mfa", "admin.account.mfa", set_mfa),
        ("POST", "/accounts/{account_id}/mfa-enforced", "admin.account.mfa_enforced", set_mfa_enforced),
        ("POST", "/accounts/{account_id}/password", "admin.account.password", change_password),
        ("POST", "/accounts/{account_id}/device-code", "admin.account.device_code", set_device_code),
        ("POST", "/accounts/{account_id}/region", "admin.account.region", set_region),
        ("GET", "/accounts/{account_id}/sessions", "admin.account.sessions", list_sessions),
        ("POST", "/accounts/{account_id}/sessions/revoke", "admin.account.sessions_revoke", revoke_sessions),
        ("POST", "/accounts/{account_id}/tokens", "admin.account.tokens", issue_tokens),
        ("POST", "/workspaces/{workspace_id}/policy", "admin.workspace.policy", set_policy),
        ("GET", "/clock", "admin.clock", get_clock),
        ("POST", "/clock", "admin.clock", set_clock),
        ("GET", "/faults", "admin.faults", list_faults),
        ("POST", "/faults", "admin.faults", inject_fault),
        ("DELETE", "/faults", "admin.faults", clear_faults),
        ("POST", "/faults/release", "admin.faults.release", release_held),
    ]
    resources: dict[str, web.Resource] = {}
    for method, path, name, handler in routes:
        resource = resources.get(name)
        if resource is None:
            resource = resources[name] = app.router.add_resource(ADMIN_PREFIX + path, name=name)
        resource.add_route(method, guarded(handler))
