"""simulators.real: the daemon launcher for both targets, CODEX_HOME files, and the real binary pointed at us.

Process tests run on the target chosen with `--daemon mock|codex` (mock by default); `real_daemon` tests need the
real binary and run only with `--daemon codex` (simulators.real.pytest_plugin deselects them otherwise).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from simulators.real.codex import (
    CODEX_HOME_BASE_ENV,
    ChatGptTokens,
    RealDaemonUnavailable,
    codex_home_base,
    locate_real_daemon,
    make_codex_home,
    native_package,
    pinned_version,
    write_auth_json,
    write_config_toml,
)
from simulators.real.target import (
    DaemonDidNotExit,
    DaemonKind,
    DaemonStartFailed,
    DaemonTarget,
    find_banner,
    processes_with_environment,
    strip_ansi,
)
from simulators.runtime import LoopThread

BANNER = [
    "codex app-server (WebSockets)",
    "  listening on: ws://127.0.0.1:45010",
    "  readyz: http://127.0.0.1:45010/readyz",
    "  healthz: http://127.0.0.1:45010/healthz",
    "  note: binds localhost only (use SSH port-forwarding for remote access)",
]


@pytest.fixture
def target(daemon_target: DaemonTarget) -> DaemonTarget:
    """The daemons of the target `--daemon` names; through `daemon_target`, so `--daemon codex` selects the test."""
    return daemon_target


def _get(host: str, port: int, path: str) -> bytes:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# -- banner --------------------------------------------------------------------------------------------------------


def test_banner_is_found_after_log_lines_and_names_the_port() -> None:
    banner = find_banner(["2026-11-21T14:47:01Z ERROR codex_app_server: bubblewrap", *BANNER])
    assert banner is not None
    assert (banner.listen_url, banner.host, banner.port) == ("ws://127.0.0.1:45010", "127.0.0.1", 45010)
    assert banner.note == "binds localhost only (use SSH port-forwarding for remote access)"
    assert banner.text == "\n".join(BANNER) + "\n"


def test_banner_needs_all_five_lines_and_a_real_listening_line() -> None:
    assert find_banner(BANNER[:4]) is None
    assert find_banner([BANNER[0], "  listening on: ws://localhost:1", *BANNER[2:]]) is None


def test_ipv6_banner() -> None:
    lines = [line.replace("127.0.0.1", "[::1]") for line in BANNER]
    banner = find_banner(lines)
    assert banner is not None and (banner.host, banner.port) == ("[::1]", 45010)


def test_ansi_colours_are_stripped() -> None:
    assert strip_ansi("\x1b[2m2026\x1b[0m \x1b[31mERROR\x1b[0m x") == "2026 ERROR x"


# -- CODEX_HOME files ----------------------------------------------------------------------------------------------


def test_config_toml_keeps_every_key_at_the_top_level(tmp_path: Path) -> None:
    path = write_config_toml(
        tmp_path,
        chatgpt_base_url="http://127.0.0.1:45050/backend-api/",
        settings={"forced_login_method": "chatgpt", "analytics_enabled": False, "retries": 3},
    )
    parsed = tomllib.loads(path.read_text())
    assert parsed == {
        "forced_login_method": "chatgpt",
        "analytics_enabled": False,
        "retries": 3,
        "chatgpt_base_url": "http://127.0.0.1:45050/backend-api/",
    }
    assert "[" not in path.read_text().split("\n", 1)[1]  # no table header anywhere


@given(st.text())
def test_any_string_survives_the_toml_writer(value: str) -> None:
    home = make_codex_home()
    try:
        path = write_config_toml(home, settings={"value": value})
        assert tomllib.loads(path.read_text(encoding="utf-8")) == {"value": value}
    finally:
        for child in home.iterdir():
            child.unlink()
        home.rmdir()


def test_config_toml_refuses_a_key_that_would_need_quoting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bare TOML key"):
        write_config_toml(tmp_path, settings={"tui.theme": "dark"})


TOKENS = ChatGptTokens(
    id_token="header.id-claims.sig", access_token="header.access-claims.sig", refresh_token="rt-1", account_id="acct-1"
)


def test_auth_json_is_private_and_shaped_like_a_chatgpt_sign_in(tmp_path: Path) -> None:
    path = write_auth_json(tmp_path, TOKENS, last_refresh=datetime(2026, 11, 21, 14, 0, tzinfo=UTC))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": "header.id-claims.sig",
            "access_token": "header.access-claims.sig",
            "refresh_token": "rt-1",
            "account_id": "acct-1",
        },
        "last_refresh": "2026-11-21T14:00:00Z",
    }


def test_auth_json_needs_an_aware_time_and_tokens_never_print(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_auth_json(tmp_path, TOKENS, last_refresh=datetime(2026, 11, 21))
    assert "access-claims" not in repr(TOKENS) and "rt-1" not in repr(TOKENS)


def test_codex_homes_are_fresh_private_and_not_under_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CODEX_HOME_BASE_ENV, raising=False)
    first, second = make_codex_home(), make_codex_home()
    try:
        assert first != second and first.parent == second.parent == codex_home_base().resolve()
        assert not str(first).startswith("/tmp/")
        assert stat.S_IMODE(first.stat().st_mode) == 0o700 and list(first.iterdir()) == []
    finally:
        first.rmdir()
        second.rmdir()


# -- the pin -------------------------------------------------------------------------------------------------------


def test_the_pin_is_an_exact_version() -> None:
    assert pinned_version() == "0.169.0"


def test_a_range_is_not_a_pin(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@openai/codex": "^0.169.0"}}))
    with pytest.raises(RealDaemonUnavailable, match="exact version"):
        pinned_version(tmp_path)


def test_a_missing_install_names_the_install_command(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@openai/codex": "0.169.0"}}))
    with pytest.raises(RealDaemonUnavailable, match="scripts/install-real-daemon"):
        locate_real_daemon(tmp_path)


def test_an_install_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@openai/codex": "0.169.0"}}))
    package, triple = native_package()
    vendor = tmp_path / "node_modules" / package / "vendor" / triple
    (vendor / "bin").mkdir(parents=True)
    (vendor / "bin/codex").write_text("#!/bin/sh\n")
    (vendor / "bin/codex").chmod(0o755)
    (vendor / "codex-package.json").write_text(json.dumps({"version": "0.170.0"}))
    with pytest.raises(RealDaemonUnavailable, match=r"installed @openai/codex is 0\.170\.0, the pin is 0\.169\.0"):
        locate_real_daemon(tmp_path)


# -- processes -----------------------------------------------------------------------------------------------------


def test_a_started_daemon_serves_on_the_port_its_banner_names(target: DaemonTarget) -> None:
    daemon = target.start_app_server()
    assert daemon.url == f"ws://127.0.0.1:{daemon.port}" and daemon.port > 0
    assert daemon.banner.lines[0] == "codex app-server (WebSockets)"
    assert daemon.banner.lines == find_banner(daemon.stderr_lines).lines  # type: ignore[union-attr]
    assert _get(daemon.host, daemon.port, "/readyz").startswith(b"HTTP/1.1 200 OK\r\n")
    assert _alive(daemon.pid)
    assert (daemon.home / "installation_id").is_file()  # the daemon used the home it was given


def test_each_start_gets_its_own_home_and_stop_removes_it(target: DaemonTarget) -> None:
    first, second = target.start_app_server(), target.start_app_server()
    assert first.home != second.home and first.port != second.port
    target.stop()
    assert not _alive(first.pid) and not _alive(second.pid)
    assert not first.home.exists() and not second.home.exists()


def test_a_home_the_caller_made_is_used_and_config_files_stay(target: DaemonTarget) -> None:
    home = target.new_home()
    write_config_toml(home, chatgpt_base_url="http://127.0.0.1:9/backend-api/")
    daemon = target.start_app_server(home=home)
    assert daemon.home == home and (home / "config.toml").is_file()


def test_stop_kills_a_helper_that_left_the_process_group(target: DaemonTarget) -> None:
    # What `codex remote-control stop` leaves behind: a helper in its own session, still carrying CODEX_HOME.
    home = target.new_home()
    # Popen returns once the child's exec has begun, which can be before /proc shows the new image's environment
    # (then it reads empty). The helper says "ready" once it runs, then waits on its stdin until it is killed.
    with subprocess.Popen(
        ["sh", "-c", "echo ready; read -r _"],
        env={**os.environ, "CODEX_HOME": str(home)},
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as helper:
        try:
            assert helper.stdout is not None and helper.stdout.readline() == b"ready\n"
            assert helper.pid in processes_with_environment("CODEX_HOME", {str(home)})
            target.stop()
            assert helper.wait(timeout=10) == -9
        finally:
            if helper.poll() is None:
                helper.kill()


def test_stop_kills_what_is_left_of_the_group_after_the_daemon_exited(tmp_path: Path) -> None:
    # A stand-in daemon: prints the banner, leaves a child in its process group without CODEX_HOME, and exits.
    fake = tmp_path / "fake-daemon"
    fake.write_text(
        "#!/bin/sh\n"
        "env -u CODEX_HOME sleep 300 &\n"
        'echo $! > "$CODEX_HOME/child.pid"\n'
        + "".join(f"echo '{line}' >&2\n" for line in BANNER)
        + "exit 0\n"
    )
    fake.chmod(0o755)
    target = DaemonTarget(DaemonKind.MOCK, python=str(fake))
    try:
        daemon = target.start_app_server()
        child = int((daemon.home / "child.pid").read_text())
        assert _alive(child)
    finally:
        target.stop()
    assert not _alive(child)


def test_graceful_stop_ends_the_daemon(target: DaemonTarget) -> None:
    daemon = target.start_app_server()
    returncode = target.stop_daemon(daemon, grace=5.0)
    assert returncode is not None and not _alive(daemon.pid)


def test_a_refusal_gives_the_exit_code_and_stderr(target: DaemonTarget) -> None:
    returncode, stderr = target.run_app_server_expecting_exit("--listen", "ws://0.0.0.0:0")
    assert returncode == 1
    assert "Error: refusing to start non-loopback websocket listener 0.0.0.0:0 without auth" in stderr


def test_a_daemon_that_keeps_running_is_killed_and_reported(target: DaemonTarget) -> None:
    with pytest.raises(DaemonDidNotExit):
        target.run_app_server_expecting_exit("--listen", "ws://127.0.0.1:0", timeout=1.5)
    assert processes_with_environment("CODEX_HOME", {str(h) for h in target._homes}) == []


def test_a_daemon_that_exits_instead_of_serving_is_reported_with_its_stderr(target: DaemonTarget) -> None:
    with pytest.raises(DaemonStartFailed) as failure:
        target.start_app_server("ws://0.0.0.0:0")
    assert failure.value.returncode == 1
    assert "refusing to start non-loopback websocket listener" in failure.value.stderr


# -- the real binary pointed at our backend ------------------------------------------------------------------------


def _unsigned_jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 1})}"


def _chatgpt_tokens(account_id: str) -> ChatGptTokens:
    auth = {"chatgpt_account_id": account_id, "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-1"}
    claims = {"email": "dana@example.com", "https://api.openai.com/auth": auth, "exp": 4_000_000_000}
    return ChatGptTokens(
        id_token=_unsigned_jwt(claims),
        access_token=_unsigned_jwt({"https://api.openai.com/auth": auth, "exp": 4_000_000_000}),
        refresh_token="refresh-1",
        account_id=account_id,
    )


@pytest.mark.real_daemon
def test_the_real_cli_reads_our_auth_json(target: DaemonTarget) -> None:
    home = target.new_home()
    write_auth_json(home, _chatgpt_tokens("acct-1"), last_refresh=datetime.now(UTC))
    assert target.install is not None
    status = subprocess.run(
        [str(target.install.binary), "login", "status"],
        env=target.install.environment(home),
        capture_output=True,
        text=True,
        timeout=30,
    )
    # The real CLI prints its status on stderr.
    assert (status.returncode, status.stdout, status.stderr.strip()) == (0, "", "Logged in using ChatGPT")
    assert "Refusing to create helper binaries under temporary dir" not in status.stderr


@pytest.mark.real_daemon
def test_the_real_daemon_calls_the_backend_named_in_config_toml(target: DaemonTarget) -> None:
    """The base for later remote-control scenarios: config.toml + auth.json send the daemon to our loopback."""
    seen: list[tuple[str, str, str]] = []
    arrived = threading.Event()

    async def record(request: web.Request) -> web.Response:
        headers = request.headers
        seen.append((request.path, headers.get("Authorization", ""), headers.get("chatgpt-account-id", "")))
        if request.path == "/backend-api/wham/accounts/check":
            arrived.set()
        return web.json_response({}, status=404)

    async def serve() -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    tokens = _chatgpt_tokens("acct-probe-0001")
    with LoopThread() as loop:
        runner, port = loop.run(serve())
        try:
            home = target.new_home()
            write_config_toml(home, chatgpt_base_url=f"http://127.0.0.1:{port}/backend-api/")
            write_auth_json(home, tokens, last_refresh=datetime.now(UTC))
            target.start_app_server(home=home)
            assert arrived.wait(timeout=30), seen
        finally:
            loop.run(runner.cleanup())
    check = next(s for s in seen if s[0] == "/backend-api/wham/accounts/check")
    assert check == ("/backend-api/wham/accounts/check", f"Bearer {tokens.access_token}", "acct-probe-0001")

