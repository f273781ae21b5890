"""What a phone's camera may be pointed at besides a good view of the Mac's pairing code: real images, drawn with
Pillow and the same QR renderer as the Mac, so the phone reads each one from its pixels exactly as it reads the
Mac's code and meets the failure a person would.

- `MENU_QR`: a QR code of an ordinary web address (a restaurant's menu): a QR code, but not a pairing link;
- `GLARE`: a photo of the Mac's screen with a reflection across the middle of its pairing code: the finder patterns
  are there, so the reader finds a code, but too much of it is washed out to decode;
- `NO_CODE`: a photo with no QR code in it (the camera was pointed at the desk);
- `NEWER_VERSION`: the Mac's own pairing link as a newer Codex draws it (a later link version, with a field this
  app does not know), which this phone's app is too old to read.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PIL import Image, ImageDraw

from simulators.protocol.pairing_link import SUPPORTED_VERSION
from simulators.qr import render_png

MENU_ADDRESS = "https://menu.example.com/table/12"
# The share of the code's width a glare washes out, centred: well past what level-M error correction restores,
# and clear of the three finder patterns in the corners.
GLARE_SPAN = 0.4
PHOTO_SIZE = (640, 480)


class Picture(StrEnum):
    MENU_QR = "menu_qr"
    GLARE = "glare"
    NO_CODE = "no_code"
    NEWER_VERSION = "newer_version"


def take(picture: Picture, path: Path, *, pairing_qr: Path | None = None, pairing_link: str | None = None) -> Path:
    """Write the picture to `path` as a PNG. `GLARE` needs the Mac's QR image, `NEWER_VERSION` its link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if picture is Picture.MENU_QR:
        render_png(MENU_ADDRESS, path)
    elif picture is Picture.GLARE:
        if pairing_qr is None:
            raise ValueError("a glare over the Mac's pairing code needs the code the Mac showed")
        glare_over(pairing_qr, path)
    elif picture is Picture.NO_CODE:
        desk_photo(path)
    else:
        if pairing_link is None:
            raise ValueError("a newer Codex's pairing code needs the link the Mac showed")
        render_png(newer_version_of(pairing_link), path)
    return path


def glare_over(qr_png: Path, path: Path) -> None:
    with Image.open(qr_png) as opened:
        image = opened.convert("L")
    width, height = image.size
    low, high = (1 - GLARE_SPAN) / 2, (1 + GLARE_SPAN) / 2
    ImageDraw.Draw(image).ellipse((width * low, height * low, width * high, height * high), fill=255)
    image.save(path, "PNG")


def desk_photo(path: Path) -> None:
    """A plain scene: a wooden desk, a closed notebook and a mug. Large smooth shapes, nothing a reader could take
    for a code."""
    image = Image.new("RGB", PHOTO_SIZE, (176, 132, 92))
    draw = ImageDraw.Draw(image)
    for y in range(0, PHOTO_SIZE[1], 24):
        draw.line((0, y, PHOTO_SIZE[0], y + 6), fill=(160, 118, 80), width=3)
    draw.rectangle((80, 140, 360, 340), fill=(40, 62, 96))
    draw.ellipse((440, 180, 560, 300), fill=(236, 236, 228))
    draw.ellipse((470, 210, 530, 270), fill=(92, 60, 36))
    image.save(path, "PNG")


def newer_version_of(link: str) -> str:
    """The same pairing link, as a Codex with the next link version would write it."""
    parts = urlsplit(link)
    fields = [(name, value) for name, value in parse_qsl(parts.query) if name != "v"]
    query = urlencode([("v", str(SUPPORTED_VERSION + 1)), *fields, ("kex", "x25519")])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


__all__ = ["Picture", "desk_photo", "glare_over", "newer_version_of", "take"]
