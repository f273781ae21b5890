"""The login callback server: binding with /cancel, retries and fallback (injected timing), and its routes over a
real socket; pairsim's `login` as a process, as a colleague drives it inside a network namespace."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulators.login.callback_server import (
    BindPolicy,
    CallbackServer,
    CallbackSuccess,
    LoginCancelled,
    LoginFailed,
    PortInUse,
    bind_callback_port,
)

REPO = Path(__file__).resolve().parents[1]


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.cancels: list[int] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def cancel(self, host: str, port: int) -> bool:
        self.cancels.append(port)
        return True


def test_fallback_rule() -> None:
    assert BindPolicy(port=1455).effective_fallback == 1457
    assert BindPolicy(port=1456).effective_fallback is None
    assert BindPolicy(port=5000, fallback_port=5001).effective_fallback == 5001
    assert BindPolicy(port=5000, fallback_port=5000).effective_fallback is None


def test_busy_port_is_cancelled_retried_ten_times_then_falls_back() -> None:
    busy = _listener()
    free = _listener()
    fallback = free.getsockname()[1]
    free.close()
    rec = Recorder()
    policy = BindPolicy(port=busy.getsockname()[1], fallback_port=fallback)
    try:
        bound = asyncio.run(bind_callback_port(policy, sleep=rec.sleep, cancel=rec.cancel))
    finally:
        busy.close()
    bound.sock.close()
    assert (bound.port, bound.fell_back, bound.cancel_sent) == (fallback, True, True)
    assert rec.cancels == [policy.port]  # once, and only to the preferred port
    assert rec.sleeps == [0.2] * 9  # ten tries, 200 ms apart: the real CLI's ~2 s


def test_both_busy_fails_with_the_real_text() -> None:
    busy, other = _listener(), _listener()
    rec = Recorder()
    policy = BindPolicy(port=busy.getsockname()[1], fallback_port=other.getsockname()[1])
    try:
        with pytest.raises(PortInUse) as failed:
            asyncio.run(bind_callback_port(policy, sleep=rec.sleep, cancel=rec.cancel))
    finally:
        busy.close()
        other.close()
    assert failed.value.message == f"Port 127.0.0.1:{policy.fallback_port} is already in use"
    assert rec.cancels == [policy.port]
    assert len(rec.sleeps) == 18


def test_busy_port_without_fallback_names_the_port() -> None:
    busy = _listener()
    rec = Recorder()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(PortInUse, match=rf"^Port 127\.0\.0\.1:{port} is already in use$"):
            asyncio.run(bind_callback_port(BindPolicy(port=port), sleep=rec.sleep, cancel=rec.cancel))
    finally:
        busy.close()


async def _serve(exchange_result: CallbackSuccess | LoginFailed) -> tuple[CallbackServer, httpx.AsyncClient]:
    async def exchange(code: str) -> CallbackSuccess:
        assert code == "the-code"
        if isinstance(exchange_result, LoginFailed):
            raise exchange_result
        return exchange_result

    bound = await bind_callback_port(BindPolicy(port=0))
    server = CallbackServer(bound, state="right-state", exchange_code=exchange)
    await server.start()
    return server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", trust_env=False)


def test_routes_and_outcomes() -> None:
    async def scenario() -> None:
        server, http = await _serve(CallbackSuccess(id_token="tok", plan_type="plus"))
        try:
            wrong = await http.get("/auth/callback", params={"state": "nope", "code": "the-code"})
            assert (wrong.status_code, wrong.text) == (400, "State mismatch")
            missing = await http.get("/elsewhere")
            assert (missing.status_code, missing.text) == (404, "Not Found")
            assert not server.outcome.done()
            ok = await http.get("/auth/callback", params={"state": "right-state", "code": "the-code"})
            assert ok.status_code == 302
            assert ok.headers["location"].startswith(f"http://localhost:{server.port}/success?id_token=tok&")
            success = await http.get("/success")
            assert success.headers["connection"] == "close" and "Signed in to Codex" in success.text
            assert (await server.outcome).plan_type == "plus"
            assert "the-code" not in " ".join(server.requests)
        finally:
            await http.aclose()
            await server.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("query", "message", "kind"),
    [
        ({"state": "right-state"}, "Missing authorization code. Sign-in could not be completed.", LoginFailed),
        ({"state": "right-state", "error": "server_error", "error_description": "nope"}, "Sign-in failed: nope",
         LoginFailed),
        ({"state": "right-state", "error": "access_denied"}, "Sign-in failed: access_denied", LoginFailed),
        ({"state": "right-state", "code": "the-code"}, "token endpoint returned status 400 Bad Request: bad",
         LoginFailed),
    ],
)
def test_failing_callbacks(query: dict[str, str], message: str, kind: type[LoginFailed]) -> None:
    async def scenario() -> None:
        server, http = await _serve(LoginFailed("token endpoint returned status 400 Bad Request: bad"))
        try:
            page = await http.get("/auth/callback", params=query)
            assert page.status_code == 200 and "Codex Sign-in Error" in page.text and message in page.text
            with pytest.raises(kind) as failed:
                await server.outcome
            assert failed.value.message == message
        finally:
            await http.aclose()
            await server.stop()

    asyncio.run(scenario())


def test_cancel() -> None:
    async def scenario() -> None:
        server, http = await _serve(CallbackSuccess(id_token="tok"))
        try:
            answer = await http.get("/cancel")
            assert (answer.status_code, answer.text) == (200, "Login cancelled")
            with pytest.raises(LoginCancelled, match=r"^Login cancelled$"):
                await server.outcome
        finally:
            await http.aclose()
            await server.stop()

    asyncio.run(scenario())


def test_pairsim_login_as_a_process_prints_the_banner_and_obeys_cancel(tmp_path: Path) -> None:
    port_probe = _listener()
    port = port_probe.getsockname()[1]
    port_probe.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.cli", "login", "--issuer", "http://10.9.8.7:1234", "--host", "127.0.0.1",
         "--port", str(port), "--no-browser", "--home", str(tmp_path), "--timeout", "30"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first == f"Starting local login server on http://localhost:{port}.\n"
        lines = [proc.stderr.readline() for _ in range(3)]
        assert lines[2].startswith("http://10.9.8.7:1234/oauth/authorize?response_type=code&client_id=")
        assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fauth%2Fcallback" in lines[2]
        assert httpx.get(f"http://127.0.0.1:{port}/cancel", trust_env=False).text == "Login cancelled"
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert rest.strip().endswith("Error logging in: Login cancelled")
