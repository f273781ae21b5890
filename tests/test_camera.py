"""Each picture the camera may see reads, from its pixels, as the failure a person meets with it."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from simulators.camera import Picture, take
from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.pairing_link import PairingLink
from simulators.qr import decode_pairing_link, decode_png, render_png


def _pairing_code(tmp_path: Path, n: int) -> tuple[Path, str]:
    link = PairingLink(
        origin=f"http://127.0.0.1:{40000 + n}",
        pairing_code=secrets.token_urlsafe(32),
        environment_id=f"env_{secrets.token_hex(16)}",
        server_name="Dana's MacBook Pro",
        expires_at=1_800_000_000 + n,
    ).to_url()
    path = tmp_path / f"pairing-{n}.png"
    render_png(link, path)
    return path, link


@pytest.mark.parametrize(
    ("picture", "cause"),
    [
        (Picture.MENU_QR, ErrorCode.NOT_A_PAIRING_CODE),
        (Picture.NO_CODE, ErrorCode.QR_NOT_FOUND),
        (Picture.NEWER_VERSION, ErrorCode.UNSUPPORTED_VERSION),
        (Picture.GLARE, ErrorCode.QR_UNREADABLE),
    ],
)
def test_each_picture_reads_as_its_cause(tmp_path: Path, picture: Picture, cause: ErrorCode) -> None:
    qr, link = _pairing_code(tmp_path, 0)
    taken = take(picture, tmp_path / "picture.png", pairing_qr=qr, pairing_link=link)
    with pytest.raises(PairsimError) as read:
        decode_pairing_link(taken)
    assert read.value.code is cause


def test_the_glare_defeats_every_pairing_code_yet_the_reader_still_finds_one(tmp_path: Path) -> None:
    # Pairing codes are random, so the glare must wash out any of them: "found but unreadable", never "no code".
    for n in range(12):
        qr, _ = _pairing_code(tmp_path, n)
        glared = take(Picture.GLARE, tmp_path / f"glare-{n}.png", pairing_qr=qr)
        with pytest.raises(PairsimError, match="found but could not be decoded"):
            decode_png(glared)


def test_the_newer_link_keeps_the_macs_fields(tmp_path: Path) -> None:
    qr, link = _pairing_code(tmp_path, 1)
    newer = take(Picture.NEWER_VERSION, tmp_path / "newer.png", pairing_link=link)
    text = decode_png(newer)
    assert text.startswith(link.split("?")[0] + "?v=2&") and text.endswith("&kex=x25519")
    assert link.split("v=1&", 1)[1] in text
    assert decode_pairing_link(qr).to_url() == link  # the Mac's own code is untouched


def test_pictures_of_the_pairing_code_need_the_code(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the code"):
        take(Picture.GLARE, tmp_path / "x.png")
    with pytest.raises(ValueError, match="needs the link"):
        take(Picture.NEWER_VERSION, tmp_path / "y.png")
