"""`pairsim qr render|decode` and `pairsim demo`, driven as a user would drive them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from simulators.cli import EXIT_BAD_INPUT, main
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import decode_pairing_link, render_png

REPO = Path(__file__).resolve().parents[1]
LINK = PairingLink(
    origin="http://127.0.0.1:41234",
    pairing_code="cliTestPairingCode_0123456789",
    environment_id="env_cli_1",
    server_name="Sam's Mac mini",
    expires_at=4_000_000_000,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *words: str) -> None:
    assert err.count("\n") == 1 and err.startswith("pairsim: error: "), err
    for word in words:
        assert word in err
    assert LINK.pairing_code not in err


def test_render_then_decode_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "pair.png"
    code, out, _ = run(capsys, "qr", "render", LINK.to_url(), "-o", str(image))
    assert code == 0 and str(image) in out
    assert decode_pairing_link(image) == LINK

    code, out, _ = run(capsys, "qr", "decode", str(image), "--json")
    assert code == 0
    assert json.loads(out) == {
        "version": 1,
        "pairing_code": LINK.pairing_code,
        "environment_id": "env_cli_1",
        "server_name": "Sam's Mac mini",
        "expires_at": 4_000_000_000,
        "backend_base_url": "http://127.0.0.1:41234/backend-api/",
    }


def test_human_decode_summarises_the_link_without_the_pairing_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "pair.png"
    render_png(LINK.to_url(), image)
    code, out, _ = run(capsys, "qr", "decode", str(image))
    assert code == 0
    assert "Sam's Mac mini" in out and "env_cli_1" in out and "http://127.0.0.1:41234/backend-api/" in out
    assert "2096-10-02 07:06:40 UTC" in out
    assert LINK.pairing_code not in out
    assert 3 <= len(out.strip().splitlines()) <= 8


def test_decode_says_when_the_link_has_expired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "old.png"
    render_png(PairingLink(LINK.origin, LINK.pairing_code, "env", "Old Mac", 1_000).to_url(), image)
    _, out, _ = run(capsys, "qr", "decode", str(image))
    assert "(expired)" in out


def test_render_can_also_draw_in_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "qr", "render", LINK.to_url(), "-o", str(tmp_path / "a.png"), "--terminal")
    assert code == 0
    assert "▄" in out and "█" in out and "\x1b" not in out


def test_render_writes_the_canonical_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spelled_differently = LINK.to_url().replace("http://127.0.0.1", "HTTP://127.0.0.1").replace("+", "%20")
    image = tmp_path / "pair.png"
    assert run(capsys, "qr", "render", spelled_differently, "-o", str(image))[0] == 0
    assert decode_pairing_link(image).to_url() == LINK.to_url()


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ("https://example.com", ["not a backend origin"]),
        ("not a link", ["cannot appear in a URL"]),
        (LINK.to_url().replace("v=1", "v=2"), ["version 2 is not supported"]),
        (LINK.to_url().replace("Sam%27s", "%0A"), ["'name'"]),
        (LINK.to_url() + "&extra=1", ["unexpected field"]),
    ],
)
def test_render_refuses_an_invalid_link(
    link: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "bad.png"
    code, out, err = run(capsys, "qr", "render", link, "-o", str(image))
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert_one_line_error(err, *words)
    assert not image.exists()


def test_render_into_an_unwritable_place_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "qr", "render", LINK.to_url(), "-o", str(blocker / "pair.png"))
    assert code == EXIT_BAD_INPUT
    assert_one_line_error(err, "cannot write")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["no such image file"]),
        (b"", ["empty"]),
        (b"GIF89a-but-not-really", ["not a readable image"]),
        ("blank", ["no QR code found"]),
        ("other-qr", ["not a backend origin"]),
        ("v2-qr", ["version 2 is not supported"]),
    ],
)
def test_decode_bad_input_is_a_one_line_error(
    content: bytes | str | None, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "input.png"
    if content == "blank":
        Image.new("L", (200, 200), 255).save(image)
    elif content == "other-qr":
        render_png("https://example.com", image)
    elif content == "v2-qr":
        render_png(LINK.to_url().replace("v=1", "v=2"), image)
    elif isinstance(content, bytes):
        image.write_bytes(content)
    code, out, err = run(capsys, "qr", "decode", str(image), "--json")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert_one_line_error(err, *words)


def test_a_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["qr"])
    assert raised.value.code == EXIT_BAD_INPUT
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_demo_draws_and_reads_back_the_same_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "reports" / "demo-pairing-qr.png"
    code, out, _ = run(capsys, "demo", "-o", str(image), "--seed", "7")
    assert code == 0
    assert "Match" in out
    decoded = decode_pairing_link(image)
    assert decoded.server_name in out
    assert decoded.pairing_code not in out
    # Seeded: the same seed draws the same pairing code.
    run(capsys, "demo", "-o", str(tmp_path / "again.png"), "--seed", "7")
    assert decode_pairing_link(tmp_path / "again.png").pairing_code == decoded.pairing_code


def test_demo_defaults_to_the_reports_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "demo")[0] == 0
    assert decode_pairing_link(tmp_path / "reports" / "demo-pairing-qr.png").origin == "https://chatgpt.com"


def test_the_real_command_line_in_a_subprocess(tmp_path: Path) -> None:
    image = tmp_path / "pair.png"
    render_png(LINK.to_url(), image)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "simulators.cli", "qr", "decode"]
    ok = subprocess.run([*command, str(image), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["pairing_code"] == LINK.pairing_code

    missing = subprocess.run(
        [*command, str(tmp_path / "absent.png")], capture_output=True, text=True, env=env, timeout=60
    )
    assert missing.returncode == EXIT_BAD_INPUT
    assert missing.stdout == ""
    assert missing.stderr.splitlines() == [f"pairsim: error: no such image file: {tmp_path / 'absent.png'}"]
