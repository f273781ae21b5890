"""The test-control surface: `BackendControl` in process, the fault registry, the admin HTTP API over a real
socket, and the server's extension point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
import pytest
from aiohttp import web

from simulators.backend import server as backend_server
from simulators.backend.accounts import AccountSpec, Plan, Region
from simulators.backend.admin import BackendControl
from simulators.backend.faults import AdminRequestError, Fault, FaultRegistry
from simulators.backend.server import STATE_KEY, BackendServer
from simulators.backend.state import BackendState
from simulators.browser import shared_ssl_context
from simulators.clock import Clock, FrozenClock
from simulators.protocol import oauth
from simulators.protocol.errors import PairsimError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[BackendServer]:
    async with BackendServer(BackendState.create(Clock(), seed=5)) as backend:
        yield backend


@pytest.fixture
async def admin(server: BackendServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.issuer_url + "/_pairsim/admin",
        headers={"Authorization": f"Bearer {server.state.admin_token}"},
        timeout=10,
        verify=shared_ssl_context(),
    ) as client:
        yield client


# -- in process ----------------------------------------------------------------------------------------------


def test_control_creates_accounts_from_a_spec_or_fields() -> None:
    control = BackendControl(BackendState.create(FrozenClock(), seed=1))
    by_fields = control.create_account(plan=Plan.PRO, mfa=True)
    assert by_fields.account.plan is Plan.PRO and by_fields.totp_secret
    by_spec = control.create_account(AccountSpec(email="dana@example.com"))
    assert by_spec.account.email == "dana@example.com"
    with pytest.raises(TypeError):
        control.create_account(AccountSpec(), mfa=True)
    assert control.accounts() == [by_fields.account, by_spec.account]


def test_control_security_operations() -> None:
    state = BackendState.create(FrozenClock(), seed=1)
    control = BackendControl(state)
    created = control.create_account()
    account_id = created.account.account_id
    secret = control.enable_mfa(account_id)
    assert pyotp.TOTP(secret).now()
    assert not control.set_mfa_enforced(account_id, False).mfa_enforced
    assert not control.disable_mfa(account_id).mfa_enabled
    assert control.enable_device_code(account_id).device_code_enabled
    assert control.set_region(account_id, "eu").region is Region.EU
    with pytest.raises(ValueError):
        control.set_region(account_id, "mars")
    assert not control.set_workspace_policy(account_id, remote_control_allowed=False).remote_control_allowed
    state.issuer.bind("http://127.0.0.1:1")
    tokens = control.issue_tokens(account_id, mfa_completed=True)
    assert control.sessions(account_id)[0].mfa_assured
    password = control.change_password(account_id)
    assert password != created.password
    assert all(s.revoked for s in control.sessions(account_id))
    assert tokens.refresh_token is not None


def test_control_moves_the_shared_clock() -> None:
    clock = FrozenClock(instant=1_000.0)
    state = BackendState.create(clock)
    BackendControl(state).advance_clock(60)
    assert clock.now() == 1_060.0
    BackendControl(state).set_clock_offset(-10)
    assert BackendControl(state).now() == 990.0


def test_issue_tokens_defaults_mfa_to_the_account() -> None:
    state = BackendState.create(Clock(), seed=2)
    state.issuer.bind("http://127.0.0.1:1")
    with_mfa = BackendControl(state).create_account(mfa=True).account.account_id
    without = BackendControl(state).create_account().account.account_id
    assert oauth.is_mfa_assured(
        state.issuer.verify_access_token(BackendControl(state).issue_tokens(with_mfa).access_token)
    )
    skipped = BackendControl(state).issue_tokens(with_mfa, mfa_completed=False).access_token
    assert not oauth.is_mfa_assured(state.issuer.verify_access_token(skipped))
    assert not oauth.is_mfa_assured(
        state.issuer.verify_access_token(BackendControl(state).issue_tokens(without).access_token)
    )


def test_fault_queue_semantics() -> None:
    registry = FaultRegistry()
    registry.inject("k", Fault(status=500, times=2))
    registry.inject("k", Fault(status=404))
    assert [f.status if f else None for f in (registry.take("k") for _ in range(4))] == [500, 500, 404, None]
    registry.inject("always", Fault(status=429, times=None))
    assert all(registry.take("always") for _ in range(10))
    assert registry.clear("always") == 1 and registry.take("always") is None
    assert registry.applied == {"k": 3, "always": 10}


@pytest.mark.parametrize(
    "raw",
    [
        {"status": 42},
        {"status": "500"},
        {"delay_s": -1},
        {"delay_s": 10**6},
        {"content_type": "text/html\r\nX-Injected: 1"},
        {"hold": "yes"},
        {"times": 0},
        {"headers": {"a": 1}},
    ],
)
def test_bad_faults_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(AdminRequestError):
        Fault.from_dict(raw)


async def test_a_delay_only_fault_lets_the_request_through_once_the_clock_has_moved(server: BackendServer) -> None:
    # The delay is the backend's clock's, not real seconds: each answer waits for the clock to be moved on by its own
    # delay. The one due at 29 s coming back proves the clock moved; the one due at 30 s must still be waiting.
    server.control.inject_fault("oauth.discovery", Fault(delay_s=30))
    server.control.inject_fault("oauth.jwks", Fault(delay_s=29))
    async with httpx.AsyncClient(verify=shared_ssl_context()) as http:
        later = asyncio.ensure_future(http.get(server.issuer_url + "/.well-known/openid-configuration"))
        sooner = asyncio.ensure_future(http.get(server.issuer_url + "/.well-known/jwks.json"))
        await server.state.faults.wait_held("oauth.discovery")
        await server.state.faults.wait_held("oauth.jwks")
        server.control.advance_clock(29)
        assert (await sooner).status_code == 200
        assert not later.done() and server.state.faults.held() == 1
        server.control.advance_clock(1)
        assert (await later).status_code == 200
    assert server.state.faults.held() == 0


def test_the_server_and_the_state_share_one_clock() -> None:
    state = BackendState.create(Clock())
    assert BackendServer(state, state.clock).clock is state.clock
    with pytest.raises(ValueError):
        BackendServer(state, Clock())


# -- the extension point -------------------------------------------------------------------------------------


async def test_other_areas_add_route_groups_that_see_the_state_and_faults() -> None:
    def add_routes(app: web.Application, state: BackendState) -> None:
        async def whoami(request: web.Request) -> web.Response:
            from simulators.backend.issuer import AccessTokenRejected, bearer_claims

            try:
                claims = bearer_claims(request, state.issuer)
            except AccessTokenRejected as exc:
                return web.json_response({"detail": exc.reason.value}, status=401)
            assert request.app[STATE_KEY] is state
            return web.json_response({"sub": claims.sub, "mfa": oauth.is_mfa_assured(claims)})

        app.router.add_resource("/backend-api/whoami", name="test.whoami").add_route("GET", whoami)

    state = BackendState.create(Clock(), seed=3)
    server = BackendServer(state, route_groups=[add_routes])
    await server.start()
    try:
        created = server.control.create_account(mfa=True)
        token = server.control.issue_tokens(created.account.account_id).access_token
        async with httpx.AsyncClient(base_url=server.chatgpt_base_url, verify=shared_ssl_context()) as http:
            ok = await http.get("whoami", headers={"Authorization": f"Bearer {token}"})
            assert ok.json() == {"sub": created.account.user_id, "mfa": True}
            assert (await http.get("whoami")).status_code == 401
            server.control.inject_fault("test.whoami", Fault(status=403, body={"detail": "nope"}))
            assert (await http.get("whoami", headers={"Authorization": f"Bearer {token}"})).status_code == 403
        with pytest.raises(RuntimeError):
            server.add_route_group(add_routes)
    finally:
        await server.stop()


async def test_an_unhandled_error_is_a_500_and_the_server_keeps_serving() -> None:
    def add_routes(app: web.Application, state: BackendState) -> None:
        async def broken(request: web.Request) -> web.Response:
            raise KeyError("password=hunter2")

        app.router.add_get("/broken", broken, name="test.broken")

    server = BackendServer(BackendState.create(), route_groups=[add_routes])
    async with server, httpx.AsyncClient(verify=shared_ssl_context()) as http:
        response = await http.get(server.issuer_url + "/broken")
        assert response.status_code == 500 and response.json() == {"error": "server_error"}
        assert "hunter2" not in response.text
        assert (await http.get(server.issuer_url + "/.well-known/jwks.json")).status_code == 200


# -- the admin HTTP API --------------------------------------------------------------------------------------


async def test_the_admin_api_needs_the_admin_token(server: BackendServer) -> None:
    async with httpx.AsyncClient(verify=shared_ssl_context()) as http:
        url = server.issuer_url + "/_pairsim/admin/accounts"
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.post(url, json={})).status_code == 401
        assert server.control.accounts() == []


async def test_account_round_trip(server: BackendServer, admin: httpx.AsyncClient) -> None:
    created = await admin.post(
        "/accounts",
        json={
            "email": "dana@example.com",
            "plan": "business",
            "mfa": True,
            "mfa_enforced": False,
            "team_workspaces": [{"name": "Acme", "remote_control_allowed": False}],
            "region": "eu",
            "device_code": True,
        },
    )
    assert created.status_code == 201
    body = created.json()
    account = body["account"]
    assert account["email"] == "dana@example.com" and account["plan"] == "business"
    assert account["region"] == "eu" and account["device_code_enabled"] and not account["mfa_enforced"]
    assert [w["name"] for w in account["workspaces"]] == ["Personal", "Acme"]
    assert account["workspaces"][1]["remote_control_allowed"] is False
    assert len(body["password"]) >= 12 and body["totp_secret"]
    assert server.state.accounts.check_password("dana@example.com", body["password"]) is not None

    fetched = await admin.get(f"/accounts/{account['account_id']}")
    assert fetched.json()["account"] == account
    assert body["password"] not in fetched.text and body["totp_secret"] not in fetched.text
    listed = (await admin.get("/accounts")).json()["accounts"]
    assert [a["account_id"] for a in listed] == [account["account_id"]]


async def test_security_operations_over_http(server: BackendServer, admin: httpx.AsyncClient) -> None:
    account_id = (await admin.post("/accounts", json={})).json()["account"]["account_id"]
    base = f"/accounts/{account_id}"

    enabled = (await admin.post(base + "/mfa", json={"enabled": True})).json()
    assert enabled["account"]["mfa_enabled"] and len(pyotp.TOTP(enabled["totp_secret"]).now()) == 6
    enforced = (await admin.post(base + "/mfa-enforced", json={"enforced": False})).json()
    assert enforced["account"]["mfa_enforced"] is False

    tokens = (await admin.post(base + "/tokens", json={"mfa_completed": False})).json()
    claims = server.state.issuer.verify_access_token(tokens["access_token"])
    assert not oauth.is_mfa_assured(claims)
    sessions = (await admin.get(base + "/sessions")).json()["sessions"]
    assert [s["mfa_assured"] for s in sessions] == [False] and not sessions[0]["revoked"]

    changed = (await admin.post(base + "/password", json={"password": "a brand new password"})).json()
    assert changed["password"] == "a brand new password"
    assert changed["account"]["credentials_generation"] == 2
    assert all(s["revoked"] for s in (await admin.get(base + "/sessions")).json()["sessions"])
    generated = (await admin.post(base + "/password", json={})).json()["password"]
    assert len(generated) >= 12 and generated != "a brand new password"

    assert (await admin.post(base + "/mfa", json={"enabled": False})).json()["totp_secret"] is None
    assert (await admin.post(base + "/device-code", json={"enabled": True})).json()["account"][
        "device_code_enabled"
    ]
    assert (await admin.post(base + "/region", json={"region": "unsupported"})).json()["account"][
        "region"
    ] == ("unsupported")
    policy = await admin.post(f"/workspaces/{account_id}/policy", json={"remote_control_allowed": False})
    assert policy.json()["workspace"]["remote_control_allowed"] is False
    tokens = (await admin.post(base + "/tokens", json={})).json()
    assert (await admin.post(base + "/sessions/revoke", json={})).json() == {"revoked": 1}
    assert tokens["refresh_token"]


async def test_clock_over_http(server: BackendServer, admin: httpx.AsyncClient) -> None:
    before = (await admin.get("/clock")).json()
    assert before["offset"] == 0
    advanced = (await admin.post("/clock", json={"advance": 3600})).json()
    assert advanced["offset"] == 3600 and advanced["now"] >= before["now"] + 3600
    assert (await admin.post("/clock", json={"offset": 5})).json()["offset"] == 5
    assert server.clock.offset == 5
    assert (await admin.post("/clock", json={"offset": 1, "advance": 1})).status_code == 400
    assert (await admin.post("/clock", json={})).status_code == 400


async def test_faults_over_http(server: BackendServer, admin: httpx.AsyncClient) -> None:
    listed = (await admin.get("/faults")).json()
    assert {"oauth.token", "oauth.authorize", "oauth.jwks", "signin.mfa"} <= set(listed["endpoints"])
    assert not any(name.startswith("admin.") for name in listed["endpoints"])
    injected = await admin.post(
        "/faults",
        json={"endpoint": "oauth.discovery", "status": 429, "body": {"detail": "slow down"}, "times": None},
    )
    assert injected.status_code == 201
    async with httpx.AsyncClient(verify=shared_ssl_context()) as http:
        url = server.issuer_url + "/.well-known/openid-configuration"
        assert (await http.get(url)).json() == {"detail": "slow down"}
        assert (await http.get(url)).status_code == 429
        pending = (await admin.get("/faults")).json()
        assert (
            pending["faults"]["oauth.discovery"][0]["status"] == 429
            and pending["applied"]["oauth.discovery"] == 2
        )
        assert (await admin.delete("/faults", params={"endpoint": "oauth.discovery"})).json() == {
            "cleared": 1
        }
        assert (await http.get(url)).status_code == 200
    await admin.post("/faults", json={"endpoint": "a", "status": 500})
    await admin.post("/faults", json={"endpoint": "b", "status": 500})
    assert (await admin.delete("/faults")).json() == {"cleared": 2}


async def test_admin_routes_cannot_be_faulted(server: BackendServer, admin: httpx.AsyncClient) -> None:
    await admin.post("/faults", json={"endpoint": "admin.faults", "status": 500, "times": None})
    assert (await admin.get("/faults")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("GET", "/accounts/acct-missing", {}, 404, "not_found"),
        ("POST", "/accounts/acct-missing/mfa", {"json": {"enabled": True}}, 404, "not_found"),
        (
            "POST",
            "/workspaces/acct-missing/policy",
            {"json": {"remote_control_allowed": True}},
            404,
            "not_found",
        ),
        ("POST", "/accounts", {"json": {"plan": "platinum"}}, 400, "bad_request"),
        ("POST", "/accounts", {"json": {"region": "mars"}}, 400, "bad_request"),
        ("POST", "/accounts", {"json": {"colour": "blue"}}, 400, "bad_request"),
        ("POST", "/accounts", {"json": {"mfa": "yes"}}, 400, "bad_request"),
        ("POST", "/accounts", {"json": {"password": "short"}}, 409, "conflict"),
        ("POST", "/accounts", {"json": [1, 2]}, 400, "bad_request"),
        (
            "POST",
            "/accounts",
            {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
            400,
            "bad_request",
        ),
        (
            "POST",
            "/accounts",
            {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
            400,
            "bad_request",
        ),
        ("POST", "/accounts", {"data": {"email": "a@b.c"}}, 400, "bad_request"),
        (
            "POST",
            "/accounts",
            {"content": b"{" + b" " * 70_000 + b"}", "headers": {"Content-Type": "application/json"}},
            413,
            "bad_request",
        ),
        ("POST", "/faults", {"json": {"status": 500}}, 400, "bad_request"),
        ("POST", "/faults", {"json": {"endpoint": "x", "delay_s": "soon"}}, 400, "bad_request"),
    ],
)
async def test_bad_admin_requests_get_documented_errors(
    server: BackendServer,
    admin: httpx.AsyncClient,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    error: str,
) -> None:
    response = await admin.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["message"]
    assert (await admin.get("/accounts")).status_code == 200


async def test_secrets_from_the_admin_api_stay_out_of_the_logs(
    server: BackendServer, admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = (await admin.post("/accounts", json={"mfa": True})).json()
    account_id = body["account"]["account_id"]
    new_password = (await admin.post(f"/accounts/{account_id}/password", json={})).json()["password"]
    tokens = (await admin.post(f"/accounts/{account_id}/tokens", json={})).json()
    await asyncio.sleep(0)
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "POST /_pairsim/admin/accounts 201" in server_log
    for secret in (
        body["password"],
        body["totp_secret"],
        new_password,
        tokens["access_token"],
        server.state.admin_token,
    ):
        assert secret not in server_log


# -- the backend as its own process ------------------------------------------------------------------------

_RUN_BACKEND = """
import argparse, sys
from simulators.backend import server
parser = argparse.ArgumentParser()
server.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_the_backend_runs_as_its_own_process(tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_BACKEND, "backend", "--port", "0", "--admin-token-file", str(token_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("backend: http://127.0.0.1:"), first
        base_url = first.split(": ", 1)[1].strip()
        assert process.stdout.readline().strip() == f"chatgpt_base_url: {base_url}/backend-api/"
        assert os.stat(token_file).st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        with httpx.Client(verify=shared_ssl_context(), timeout=10) as http:
            assert http.get(base_url + "/.well-known/openid-configuration").json()["issuer"] == base_url
            admin = http.get(
                base_url + "/_pairsim/admin/accounts", headers={"Authorization": f"Bearer {token}"}
            )
            assert admin.json() == {"accounts": []}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_bad_port_is_a_typed_error() -> None:
    parser = argparse.ArgumentParser()
    backend_server.register(parser.add_subparsers())
    args = parser.parse_args(["backend", "--port", "70000"])
    with pytest.raises(PairsimError, match="--port must be between 0 and 65535"):
        args.func(args)
