"""Real QR images: the desktop draws the pairing link with segno, the phone reads it back from pixels with zxing-cpp.

Reading goes through Pillow and zxing-cpp's detector on the actual pixels (never a shortcut through the text that
was encoded), so a scenario can hand the phone a blank photo, noise, a damaged code or someone else's QR code and
see the same typed error the phone would show.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import segno
import zxingcpp
from PIL import Image

from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.pairing_link import PairingLink, parse_pairing_link

ERROR_CORRECTION = "m"
# Module widths of white border; 4 is the quiet zone the QR standard asks for.
QUIET_ZONE = 4
DEFAULT_SCALE = 8

ImageSource = str | os.PathLike[str] | bytes


class UnreadableImage(PairsimError):
    """The input is not a readable image (not an image, corrupt, truncated, empty), or holds a QR code too damaged
    to decode."""

    code = ErrorCode.QR_UNREADABLE


class ImageFileMissing(UnreadableImage):
    """The image file named does not exist."""


class NoQrCode(PairsimError):
    """A readable image with no QR code in it."""

    code = ErrorCode.QR_NOT_FOUND


class SeveralQrCodes(PairsimError):
    """An image holding QR codes with different contents: guessing which one the user meant could pair the wrong
    machine, so the reader refuses."""

    code = ErrorCode.QR_UNREADABLE

    def __init__(self, count: int) -> None:
        super().__init__(f"the image holds {count} different QR codes; show one at a time")
        self.count = count


class QrPayloadTooLarge(PairsimError):
    """The text does not fit in one QR code at error-correction level M."""


def _qr_code(text: str) -> segno.QRCode:
    try:
        # boost_error=False keeps the level at M even when a higher one would fit, so every code is drawn alike.
        return segno.make(text, error=ERROR_CORRECTION, micro=False, boost_error=False)
    except segno.DataOverflowError:
        raise QrPayloadTooLarge(f"{len(text)} characters do not fit in one QR code at level M") from None


def render_png(text: str, path_or_stream: str | os.PathLike[str] | BinaryIO, *, scale: int = DEFAULT_SCALE) -> None:
    """Draw `text` as a black-on-white QR code PNG, `scale` pixels per module, with the standard quiet zone."""
    target = os.fspath(path_or_stream) if isinstance(path_or_stream, str | os.PathLike) else path_or_stream
    _qr_code(text).save(target, kind="png", scale=scale, border=QUIET_ZONE)


def render_terminal(text: str) -> str:
    """The QR code as lines of Unicode half blocks (two modules per character row), no ANSI escapes.

    Light modules are drawn as blocks, which reads correctly on the usual dark terminal background.
    """
    out = io.StringIO()
    _qr_code(text).terminal(out=out, compact=True, border=QUIET_ZONE)
    return out.getvalue()


def decode_png(path_or_bytes: ImageSource) -> str:
    """The text of the one QR code in an image (PNG or any format Pillow reads), decoded from its pixels.

    The same code appearing twice counts as one; codes with different texts raise `SeveralQrCodes`.
    """
    image = _load_image(path_or_bytes)
    try:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, return_errors=True)
    except (ValueError, RuntimeError) as exc:
        raise UnreadableImage(f"the QR reader could not process the image ({type(exc).__name__})") from None
    texts = list(dict.fromkeys(barcode.text for barcode in found if barcode.valid))
    if len(texts) > 1:
        raise SeveralQrCodes(len(texts))
    if texts:
        return texts[0]
    if found:
        raise UnreadableImage("a QR code was found but could not be decoded (damaged, blurred or cut off)")
    raise NoQrCode("no QR code found in the image")


def decode_pairing_link(path_or_bytes: ImageSource) -> PairingLink:
    """Read a pairing link from a QR image: image errors first, then the link's own errors."""
    return parse_pairing_link(decode_png(path_or_bytes))


def _load_image(source: ImageSource) -> Image.Image:
    if isinstance(source, bytes):
        data = source
        name = "image data"
    else:
        path = Path(source)
        name = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageFileMissing(f"no such image file: {name}") from None
        except OSError as exc:
            raise UnreadableImage(f"cannot read {name}: {exc.strerror or type(exc).__name__}") from None
    if not data:
        raise UnreadableImage(f"{name} is empty")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return _flatten(opened)
    except Exception as exc:
        # Pillow's decoders signal corrupt input with many exception types (OSError, SyntaxError, ValueError,
        # EOFError, struct.error, DecompressionBombError, ...); to a reader they all mean the same thing.
        raise UnreadableImage(f"{name} is not a readable image ({type(exc).__name__})") from None


def _flatten(image: Image.Image) -> Image.Image:
    """Greyscale on white: transparent pixels would otherwise turn black and hide a dark-on-clear code."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image.convert("L")
