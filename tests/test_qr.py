"""QR images drawn by the desktop and read from their pixels by the phone, and every way reading can fail."""

from __future__ import annotations

import io
import random
import string
from collections.abc import Callable
from pathlib import Path

import pytest
import zxingcpp
from faker import Faker
from PIL import Image, ImageFilter

from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.pairing_link import NotAPairingLink, PairingLink, UnsupportedLinkVersion
from simulators.qr import (
    QUIET_ZONE,
    ImageFileMissing,
    NoQrCode,
    QrPayloadTooLarge,
    SeveralQrCodes,
    UnreadableImage,
    decode_pairing_link,
    decode_png,
    render_png,
    render_terminal,
)

LINK = PairingLink(
    origin="http://127.0.0.1:41234",
    pairing_code="qrTestPairingCode_0123456789",
    environment_id="env_qr_1",
    server_name="Dana's MacBook Pro",
    expires_at=1_800_000_600,
)


def png_bytes(text: str, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    render_png(text, buffer, scale=scale)
    return buffer.getvalue()


def image_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def blank_png() -> bytes:
    return image_bytes(Image.new("L", (240, 240), 255))


def noise_png(seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return image_bytes(Image.frombytes("L", (240, 240), rng.randbytes(240 * 240)))


def side_by_side(*images: bytes) -> bytes:
    opened = [Image.open(io.BytesIO(data)).convert("L") for data in images]
    canvas = Image.new("L", (sum(i.width for i in opened), max(i.height for i in opened)), 255)
    x = 0
    for image in opened:
        canvas.paste(image, (x, 0))
        x += image.width
    return image_bytes(canvas)


def test_a_link_drawn_to_a_file_reads_back_from_its_pixels(tmp_path: Path) -> None:
    path = tmp_path / "pair.png"
    render_png(LINK.to_url(), path)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert decode_png(path) == LINK.to_url()
    assert decode_pairing_link(path) == LINK
    assert decode_pairing_link(str(path)) == LINK


def test_a_link_drawn_to_a_stream_reads_back_from_bytes() -> None:
    assert decode_pairing_link(png_bytes(LINK.to_url(), scale=3)) == LINK


def test_the_code_uses_level_m_and_a_four_module_quiet_zone() -> None:
    scale = 5
    image = Image.open(io.BytesIO(png_bytes(LINK.to_url(), scale=scale))).convert("L")
    (barcode,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert barcode.ec_level == "M"
    # The quiet zone is white all round, and the first dark pixel is the finder pattern right after it.
    border = QUIET_ZONE * scale
    pixels = image.load()
    assert pixels is not None
    for i in range(image.width):
        for j in range(border):
            assert pixels[i, j] == 255 and pixels[j, i] == 255
            assert pixels[i, image.height - 1 - j] == 255 and pixels[image.width - 1 - j, i] == 255
    assert pixels[border, border] == 0


def test_a_transparent_background_does_not_hide_the_code() -> None:
    source = Image.open(io.BytesIO(png_bytes(LINK.to_url()))).convert("L")
    clear = Image.new("RGBA", source.size, (0, 0, 0, 0))
    clear.paste((0, 0, 0, 255), mask=Image.eval(source, lambda v: 255 - v))
    assert decode_pairing_link(image_bytes(clear)) == LINK


def test_a_blurred_rotated_jpeg_photo_of_the_code_still_reads() -> None:
    source = Image.open(io.BytesIO(png_bytes(LINK.to_url(), scale=6))).convert("L")
    photo = source.rotate(7, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(1.2))
    assert decode_pairing_link(image_bytes(photo.convert("RGB"), "JPEG")) == LINK


def test_the_terminal_drawing_has_no_escape_codes_and_reads_back() -> None:
    art = render_terminal(LINK.to_url())
    assert "\x1b" not in art
    assert set(art) <= {"█", "▀", "▄", " ", "\n"}
    # Rebuild the pixels from the half blocks (a block is light, as on a dark terminal) and read them.
    rows = art.rstrip("\n").split("\n")
    top = {"█": 255, "▀": 255, "▄": 0, " ": 0}
    bottom = {"█": 255, "▀": 0, "▄": 255, " ": 0}
    image = Image.new("L", (len(rows[0]), 2 * len(rows)))
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            image.putpixel((x, 2 * y), top[char])
            image.putpixel((x, 2 * y + 1), bottom[char])
    assert decode_pairing_link(image_bytes(image.resize((image.width * 4, image.height * 4)))) == LINK


@pytest.mark.parametrize(
    ("make_input", "error", "code"),
    [
        (blank_png, NoQrCode, ErrorCode.QR_NOT_FOUND),
        (noise_png, NoQrCode, ErrorCode.QR_NOT_FOUND),
        (lambda: noise_png(99), NoQrCode, ErrorCode.QR_NOT_FOUND),
        (lambda: png_bytes(LINK.to_url())[:300], UnreadableImage, ErrorCode.QR_UNREADABLE),
        (lambda: png_bytes(LINK.to_url())[:8], UnreadableImage, ErrorCode.QR_UNREADABLE),
        (lambda: b"", UnreadableImage, ErrorCode.QR_UNREADABLE),
        (lambda: b"not an image at all", UnreadableImage, ErrorCode.QR_UNREADABLE),
        (lambda: b"\x89PNG\r\n\x1a\n" + bytes(200), UnreadableImage, ErrorCode.QR_UNREADABLE),
        (lambda: png_bytes("https://example.com"), NotAPairingLink, ErrorCode.NOT_A_PAIRING_CODE),
        (lambda: png_bytes("WIFI:S:home;T:WPA;P:secret;;"), NotAPairingLink, ErrorCode.NOT_A_PAIRING_CODE),
        (
            lambda: png_bytes(LINK.to_url().replace("v=1", "v=2")),
            UnsupportedLinkVersion,
            ErrorCode.UNSUPPORTED_VERSION,
        ),
        (
            lambda: side_by_side(png_bytes(LINK.to_url()), png_bytes("https://example.com")),
            SeveralQrCodes,
            ErrorCode.QR_UNREADABLE,
        ),
    ],
    ids=[
        "blank",
        "noise",
        "other-noise",
        "truncated-png",
        "png-signature-only",
        "empty",
        "text-bytes",
        "zeroed-png",
        "other-url",
        "wifi-qr",
        "version-2",
        "two-codes",
    ],
)
def test_each_way_of_failing_has_its_own_typed_error(
    make_input: Callable[[], bytes], error: type[PairsimError], code: ErrorCode
) -> None:
    with pytest.raises(error) as raised:
        decode_pairing_link(make_input())
    assert type(raised.value) is error
    assert raised.value.code is code
    assert LINK.pairing_code not in str(raised.value)


def test_a_damaged_code_is_unreadable_rather_than_missing() -> None:
    image = Image.open(io.BytesIO(png_bytes(LINK.to_url(), scale=4))).convert("L")
    # Invert a patch in the data area: the finder patterns still show a QR code is there, the data no longer checks.
    box = (image.width // 3, image.height // 3, 2 * image.width // 3, 2 * image.height // 3)
    image.paste(Image.eval(image.crop(box), lambda v: 255 - v), box)
    with pytest.raises(UnreadableImage, match="found but could not be decoded"):
        decode_png(image_bytes(image))


def test_the_same_code_twice_in_one_image_is_one_code() -> None:
    url = LINK.to_url()
    assert decode_pairing_link(side_by_side(png_bytes(url), png_bytes(url))) == LINK


def test_files_that_are_missing_empty_or_not_images(tmp_path: Path) -> None:
    with pytest.raises(ImageFileMissing, match="no such image file"):
        decode_png(tmp_path / "absent.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UnreadableImage, match="empty"):
        decode_png(tmp_path / "empty.png")
    with pytest.raises(UnreadableImage, match="cannot read"):
        decode_png(tmp_path)
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UnreadableImage, match="not a readable image"):
        decode_png(tmp_path / "notes.png")


def test_a_text_too_long_for_one_code_is_refused() -> None:
    with pytest.raises(QrPayloadTooLarge):
        render_png("x" * 3000, io.BytesIO())
    with pytest.raises(QrPayloadTooLarge):
        render_terminal("x" * 3000)


def random_link(rng: random.Random, fake: Faker) -> PairingLink:
    origin = rng.choice(
        [
            "https://chatgpt.com",
            "https://chatgpt-staging.com",
            f"https://{fake.domain_word()}.chatgpt.com",
            f"http://127.0.0.1:{rng.randint(1024, 65535)}",
            f"http://localhost:{rng.randint(1024, 65535)}",
            f"http://[::1]:{rng.randint(1024, 65535)}",
        ]
    )
    return PairingLink(
        origin=origin,
        pairing_code="".join(rng.choices(string.ascii_letters + string.digits + "_-", k=rng.randint(16, 64))),
        environment_id="".join(
            rng.choices(string.ascii_letters + string.digits + "_.:-", k=rng.randint(1, 40))
        ),
        server_name=f"{fake.first_name()}'s {fake.word()} {fake.city()}"[:255],
        expires_at=rng.randint(0, 10**12 - 1),
    )


def test_a_hundred_random_links_survive_render_and_decode_from_pixels() -> None:
    rng = random.Random(20240601)
    fake = Faker(["en_US", "de_DE", "ja_JP", "ru_RU", "fr_FR"])
    fake.seed_instance(20240601)
    links = [random_link(rng, fake) for _ in range(100)]
    assert len({link.to_url() for link in links}) == 100
    for index, link in enumerate(links):
        assert decode_pairing_link(png_bytes(link.to_url(), scale=rng.choice([2, 3, 4]))) == link, index
