"""Print export: physical units, an sRGB ICC profile, and fitting an image to an exact pixel size.

A print size in inches, centimetres or millimetres at a DPI is a pixel count
(`print_pixels`). An image reaches it in one of three ways: `cover` (scaled to
fill, the overflow cropped evenly: photos and art), `contain` (scaled to fit,
the rest transparent: cut-outs and stickers) or `fit_tile` (a repeating tile
resized with periodic padding that follows its repeat, so it still repeats
with no seam). Bleed is art past the trim: covered images are scaled to the
bleed box, tiles continue periodically into it, transparent images get
transparent margin.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from PIL import Image, ImageCms

from craftgen.errors import InvalidRequest
from craftgen.imaging.tiling import check_repeat, rgb_or_rgba

MM_PER_UNIT = {"in": 25.4, "cm": 10.0, "mm": 1.0}
_LANCZOS_SUPPORT = 3.0


def to_mm(value: float, unit: str) -> float:
    if unit not in MM_PER_UNIT:
        raise InvalidRequest(f"print_unit must be one of {', '.join(MM_PER_UNIT)}, got {unit!r}", field="print_unit")
    return value * MM_PER_UNIT[unit]


def from_mm(value: float, unit: str) -> float:
    return value / MM_PER_UNIT[unit]


def print_pixels(value: float, unit: str, dpi: int) -> int:
    """round(value x dpi) pixels for a length in `unit` (inches times DPI)."""
    return round(to_mm(value, unit) / 25.4 * dpi)


def px_per_mm(dpi: float) -> float:
    return dpi / 25.4


@cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (Little CMS's built-in), to embed so printers read the colours as sRGB."""
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to fill `size` (width, height), cropping the overflow evenly; aspect kept."""
    image = rgb_or_rgba(image)
    width, height = size
    scale = max(width / image.width, height / image.height)
    box_w, box_h = min(image.width, width / scale), min(image.height, height / scale)
    x0, y0 = max(0.0, (image.width - box_w) / 2), max(0.0, (image.height - box_h) / 2)
    return image.resize(size, Image.Resampling.LANCZOS, box=(x0, y0, x0 + box_w, y0 + box_h))


def contain(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to fit inside `size`, centred on transparency (RGBA); aspect kept."""
    rgba = image.convert("RGBA")
    width, height = size
    scale = min(width / rgba.width, height / rgba.height)
    inner = (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale)))
    # Resize premultiplied, so transparent pixels' colours do not bleed into the edge.
    resized = rgba.convert("RGBa").resize(inner, Image.Resampling.LANCZOS).convert("RGBA")
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    canvas.paste(resized, ((width - inner[0]) // 2, (height - inner[1]) // 2))
    return canvas


def _pad_columns(arr: np.ndarray, pad: int, *, shift: int, mirror: bool, wrap: bool) -> np.ndarray:
    """Pad the left and right of (H, W, C) with the neighbouring tiles' columns: periodic,
    rolled by `shift` rows (the right neighbour sits lower by `shift`), mirrored, or (no wrap)
    edge pixels."""
    w = arr.shape[1]
    if not wrap:
        return np.pad(arr, ((0, 0), (pad, pad), (0, 0)), mode="edge")
    if mirror:
        return np.concatenate([arr[:, :pad][:, ::-1], arr, arr[:, w - pad :][:, ::-1]], axis=1)
    left = np.roll(arr, -shift, axis=0)[:, w - pad :]
    right = np.roll(arr, shift, axis=0)[:, :pad]
    return np.concatenate([left, arr, right], axis=1)


def _tile_pad(arr: np.ndarray, *, pad_x: int, pad_y: int, repeat: str, wrap_x: bool, wrap_y: bool) -> np.ndarray:
    """Pad an (H, W, C) tile with what its neighbours put there under `repeat`.

    grid: plain periodic; half-drop: the left/right neighbours are shifted by half the height;
    brick: the upper/lower ones by half the width; mirror: neighbours are reflections. The
    shifted axis is padded first, on the bare tile, so its roll is one period; the other axis
    then pads plainly (corners come along). An axis that does not wrap is edge-padded.
    """
    h, w = arr.shape[:2]
    if pad_x > w or pad_y > h:
        raise ValueError(f"pad {pad_x}x{pad_y} is larger than the tile {w}x{h}")
    mirror = repeat == "mirror"

    def columns(a: np.ndarray) -> np.ndarray:
        shift = a.shape[0] // 2 if repeat == "half-drop" else 0
        return _pad_columns(a, pad_x, shift=shift, mirror=mirror, wrap=wrap_x)

    def rows(a: np.ndarray) -> np.ndarray:
        shift = a.shape[1] // 2 if repeat == "brick" else 0
        return _pad_columns(a.transpose(1, 0, 2), pad_y, shift=shift, mirror=mirror, wrap=wrap_y).transpose(1, 0, 2)

    return columns(rows(arr)) if repeat == "brick" else rows(columns(arr))


def fit_tile(
    tile: Image.Image,
    size: tuple[int, int],
    *,
    repeat: str = "grid",
    wrap_x: bool = True,
    wrap_y: bool = True,
    bleed: int = 0,
) -> Image.Image:
    """A repeating tile Lanczos-resized to exactly `size`, reading across its seams the way it
    repeats, so the resized tile repeats with no seam; then `bleed` pixels of the repeat on
    each side (the trim box is still one period)."""
    check_repeat(repeat)
    width, height = size
    if width < 2 or height < 2:
        raise InvalidRequest(f"a tile must be at least 2x2 pixels, got {width}x{height}", field="print_width")
    image = rgb_or_rgba(tile)
    arr = np.asarray(image)
    squeeze = arr.ndim == 2
    if squeeze:
        arr = arr[..., None]
    h, w = arr.shape[:2]
    # 1. Resize the tile alone, padded with its neighbours' pixels for the filter.
    pad_x = min(w, math.ceil(_LANCZOS_SUPPORT * max(w / width, 1.0)) + 2)
    pad_y = min(h, math.ceil(_LANCZOS_SUPPORT * max(h / height, 1.0)) + 2)
    padded = _tile_pad(arr, pad_x=pad_x, pad_y=pad_y, repeat=repeat, wrap_x=wrap_x, wrap_y=wrap_y)
    mode = image.mode
    source = Image.fromarray(padded[..., 0] if squeeze else padded, mode=mode)
    resized = np.asarray(source.resize(size, Image.Resampling.LANCZOS, box=(pad_x, pad_y, pad_x + w, pad_y + h)))
    if not bleed:
        return Image.fromarray(resized, mode=mode)
    # 2. Bleed: the repeat continues past the trim (periodic again, at the new size).
    if resized.ndim == 2:
        resized = resized[..., None]
    if bleed > min(width, height):
        raise InvalidRequest(f"the bleed ({bleed} px) is wider than the tile ({width}x{height} px)", field="bleed")
    out = _tile_pad(resized, pad_x=bleed, pad_y=bleed, repeat=repeat, wrap_x=True, wrap_y=True)
    return Image.fromarray(out[..., 0] if squeeze else out, mode=mode)


def add_margin(image: Image.Image, margin: int) -> Image.Image:
    """Transparent margin of `margin` pixels on each side (bleed for a transparent image)."""
    if margin <= 0:
        return image
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", (rgba.width + 2 * margin, rgba.height + 2 * margin), (0, 0, 0, 0))
    canvas.paste(rgba, (margin, margin))
    return canvas
