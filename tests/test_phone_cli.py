"""`pairsim phone pair`: exit codes, the JSON report, the trace file, and no secrets on the terminal."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from test_phone_app import Host, MiniWorld, mini_world

from simulators import messages
from simulators.backend.accounts import CreatedAccount
from simulators.cli import main
from simulators.protocol.errors import ErrorCode
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import render_png
from simulators.runtime import LoopThread

SECRET_CODE = "cliTestPairingCode_0123456789"
PASSWORD = "correct-horse-battery-staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def closed_origin() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def write_qr(path: Path, origin: str, *, expires_at: int = 4_000_000_000) -> Path:
    link = PairingLink(
        origin=origin,
        pairing_code=SECRET_CODE,
        environment_id="env_cli",
        server_name="Dana's Mac mini",
        expires_at=expires_at,
    )
    render_png(link.to_url(), path, scale=4)
    return path


def pair_argv(qr: Path, email: str, password: str, totp_secret: str, *extra: str) -> list[str]:
    return [
        "phone",
        "pair",
        "--qr",
        str(qr),
        "--email",
        email,
        "--password",
        password,
        "--totp-secret",
        totp_secret,
        *extra,
    ]


def args(qr: Path, *extra: str) -> list[str]:
    return pair_argv(qr, "dana@example.com", PASSWORD, TOTP_SECRET, "--timeout", "5", *extra)


def account_args(qr: Path, account: CreatedAccount, *extra: str) -> list[str]:
    """The command line that pairs as `account` (an account created in a world)."""
    return pair_argv(qr, account.account.email, account.password, account.totp_secret or "", *extra)


def test_a_missing_qr_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(tmp_path / "nope.png")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such QR image" in err


def test_missing_arguments_are_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["phone", "pair", "--qr", "x.png"])
    assert caught.value.code == 2


def test_a_blank_image_is_a_product_failure_with_its_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qr = tmp_path / "blank.png"
    buffer = io.BytesIO()
    Image.new("L", (120, 120), 255).save(buffer, format="PNG")
    qr.write_bytes(buffer.getvalue())
    assert main(args(qr, "--json")) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "qr_not_found"
    assert report["phone"]["message"] == messages.PHONE_ERRORS[ErrorCode.QR_NOT_FOUND].body
    assert report["phone"]["screens"][-1]["title"] == "No QR code found"
    trace = Path(report["trace"])
    assert trace == tmp_path / "blank.phone-trace.json" and trace.is_file()


def test_an_unreachable_world_reports_relay_unreachable_and_writes_the_trace_where_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qr = write_qr(tmp_path / "qr.png", closed_origin())
    trace = tmp_path / "out" / "trace.json"
    assert main(args(qr, "--trace", str(trace))) == 1
    out = capsys.readouterr().out
    assert "Outcome: relay_unreachable" in out
    assert "Connect to Dana's Mac mini?" in out
    assert f"Trace: {trace}" in out
    entries = json.loads(trace.read_text())
    assert entries and entries[0]["kind"] == "note" and "could not load" in entries[0]["text"]
    for text in (out, trace.read_text()):
        assert PASSWORD not in text and TOTP_SECRET not in text and SECRET_CODE not in text


# ------------------------------------------------------------------------------------------------ against a world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[LoopThread, MiniWorld]]:
    """A backend and daemons on a background loop, so the command runs its own loop in this thread."""
    with LoopThread() as loop:
        manager = mini_world(tmp_path / "world")
        started = loop.run(manager.__aenter__())
        try:
            yield loop, started
        finally:
            loop.run(manager.__aexit__(None, None, None))


def show_qr(loop: LoopThread, world: MiniWorld, host: Host, path: Path) -> Path:
    path.write_bytes(loop.run(host.show_pairing_qr(world.origin)))
    return path


def test_the_command_pairs_with_the_world_the_qr_points_at(
    world: tuple[LoopThread, MiniWorld], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop, w = world
    dana = w.account()
    host = loop.run(w.desktop(dana, "Dana's Mac mini"))
    qr = show_qr(loop, w, host, tmp_path / "pair.png")
    code = main(account_args(qr, dana, "--json"))
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 0, report
    assert report["outcome"] == "paired" and report["host_name"] == "Dana's Mac mini"
    assert report["thread_count"] == 3
    assert report["phone"]["message"] == messages.PHONE_SCREENS["paired"].body
    assert [s["name"] for s in report["phone"]["screens"]][-2:] == ["paired", "threads"]
    trace_text = Path(report["trace"]).read_text()
    assert "device_key_proof" in trace_text
    for text in (out, trace_text):
        assert dana.password not in text and (dana.totp_secret or "") not in text


def test_the_command_exits_1_with_the_code_when_pairing_fails(
    world: tuple[LoopThread, MiniWorld], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop, w = world
    dana = w.account()
    host = loop.run(w.desktop(dana))
    qr = show_qr(loop, w, host, tmp_path / "pair.png")
    w.remote_control.expire_pairing_codes_now()
    code = main(account_args(qr, dana))
    out = capsys.readouterr().out
    assert code == 1
    assert "Outcome: pairing_code_expired" in out
    assert messages.PHONE_ERRORS[ErrorCode.PAIRING_CODE_EXPIRED].body in out
