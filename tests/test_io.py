"""Uploads: size and pixel limits checked before decoding, an allow-list of formats."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from craftgen.errors import InvalidRequest
from craftgen.imaging.io import open_image, png_bytes, read_parameters


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _bomb(width: int, height: int) -> bytes:
    """A tiny file whose header claims a huge image (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\0" * 1024)
    idat_chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + body + idat_chunk + end


def test_a_good_png_opens() -> None:
    image = open_image(_png(Image.new("RGB", (40, 30), "red")), max_bytes=10**6, max_pixels=10**6)
    assert image.size == (40, 30) and image.mode == "RGB"


def test_transparency_is_kept() -> None:
    image = open_image(_png(Image.new("RGBA", (8, 8), (0, 0, 0, 0))), max_bytes=10**6, max_pixels=10**6)
    assert image.mode == "RGBA"


def test_a_decompression_bomb_is_refused_before_decoding(monkeypatch) -> None:
    data = _bomb(50_000, 50_000)
    assert len(data) < 2000
    loaded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(1))
    with pytest.raises(InvalidRequest, match="pixels"):
        open_image(data, max_bytes=10**6, max_pixels=4096 * 4096)
    assert not loaded, "no pixel was decoded"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not a readable image"),
        (b"GIF89a" + b"\0" * 100, "not a readable image"),
    ],
)
def test_not_an_image_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words) as error:
        open_image(data, max_bytes=10**6, max_pixels=10**6)
    assert error.value.field == "image"


def test_too_many_bytes_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="bytes; the limit is 100 bytes"):
        open_image(_png(Image.effect_noise((64, 64), 50)), max_bytes=100, max_pixels=10**6)


def test_a_truncated_file_is_refused() -> None:
    data = _png(Image.effect_noise((64, 64), 50).convert("RGB"))
    with pytest.raises(InvalidRequest):
        open_image(data[: len(data) // 2], max_bytes=10**6, max_pixels=10**6)


def test_parameters_and_dpi_round_trip() -> None:
    data = png_bytes(Image.new("RGB", (8, 8)), parameters={"tool": "pattern", "seed": 7}, dpi=300)
    image = Image.open(io.BytesIO(data))
    assert read_parameters(image) == {"tool": "pattern", "seed": 7}
    assert round(image.info["dpi"][0]) == 300
    assert open_image(data, max_bytes=10**6, max_pixels=10**6).info["craftgen_params"]["seed"] == 7


@pytest.mark.parametrize(("orientation", "size", "blue_at"), [(1, (80, 40), (2, 2)), (6, (40, 80), (37, 2))])
def test_the_exif_orientation_is_applied(orientation: int, size: tuple[int, int], blue_at: tuple[int, int]) -> None:
    # A phone stores a portrait photo's pixels sideways, with Orientation 6 ("rotate 90 to view").
    stored = Image.new("RGB", (80, 40), "red")
    stored.paste((0, 0, 255), (0, 0, 10, 10))
    exif = stored.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif, quality=95)

    image = open_image(buffer.getvalue(), max_bytes=10**7, max_pixels=10**7)

    assert image.size == size
    red, _, blue = image.getpixel(blue_at)
    assert blue > 200 and red < 50, image.getpixel(blue_at)
