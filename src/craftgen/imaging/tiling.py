"""How a tile repeats, and how to process an image in overlapping tiles that may wrap.

A pattern tile repeats in one of four ways (grid, half-drop, brick, mirror);
`repeat_preview` shows it. The upscaler walks an image in overlapping tiles
(`tile_boxes`, `read_tile`, `accumulate_tile`, `feather_weights`) whose
indices wrap on periodic axes, so a seamless tile stays seamless: every pixel
is a weighted average of the tiles that cover it, wherever the tile edge falls.
`resize_wrapped` resizes with periodic padding for the same reason.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from craftgen.errors import InvalidRequest

REPEATS = ("grid", "half-drop", "brick", "mirror")
_LANCZOS_SUPPORT = 3.0  # Lanczos-3 reaches 3 source pixels each side at scale 1


def check_repeat(repeat: str) -> str:
    """Return `repeat` if it is a known repeat mode, else raise InvalidRequest."""
    if repeat not in REPEATS:
        raise InvalidRequest(
            f"repeat must be one of {', '.join(REPEATS)}, got {repeat!r}", field="repeat"
        )
    return repeat


def rgb_or_rgba(image: Image.Image) -> Image.Image:
    """The image as RGB, or RGBA when it carries transparency; RGB/RGBA pass through."""
    if image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def repeat_preview(
    tile: Image.Image, *, repeat: str = "grid", count: int = 3, max_count: int = 8
) -> Image.Image:
    """A count x count arrangement of `tile` as it repeats under `repeat`.

    half-drop shifts each successive column down by half the tile height and
    brick each successive row right by half the width; both roll the tile so
    the canvas is fully covered. mirror flips odd columns left-right and odd
    rows top-bottom.
    """
    check_repeat(repeat)
    if not 1 <= count <= max_count:
        raise InvalidRequest(f"count must be between 1 and {max_count}, got {count}", field="count")
    tile = rgb_or_rgba(tile)
    arr = np.asarray(tile)
    h, w = arr.shape[:2]
    rows = []
    for r in range(count):
        row = []
        for c in range(count):
            cell = arr
            if repeat == "half-drop":
                cell = np.roll(arr, c * (h // 2), axis=0)
            elif repeat == "brick":
                cell = np.roll(arr, r * (w // 2), axis=1)
            elif repeat == "mirror":
                cell = arr[:: -1 if r % 2 else 1, :: -1 if c % 2 else 1]
            row.append(cell)
        rows.append(np.concatenate(row, axis=1))
    return Image.fromarray(np.ascontiguousarray(np.concatenate(rows, axis=0)))


def wrap_pad(arr: np.ndarray, *, pad: int, wrap_x: bool, wrap_y: bool) -> np.ndarray:
    """Pad the wrapped axes of an (H, W, ...) array with `pad` pixels of periodic content.

    Axes that do not wrap are left as they are.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    widths = [(pad if wrap_y else 0,) * 2, (pad if wrap_x else 0,) * 2]
    widths += [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths, mode="wrap")


def _axis_origins(size: int, *, tile: int, overlap: int, wrap: bool) -> list[int]:
    stride = tile - overlap
    if wrap:
        # Evenly spaced around the circle: every gap, the one across the edge
        # included, is at most `stride`, so every seam gets at least `overlap`.
        n = math.ceil(size / stride)
        return [i * size // n for i in range(n)]
    if size < tile:
        raise ValueError(f"image side {size} is smaller than the tile {tile}; pad it first")
    n = math.ceil((size - tile) / stride) + 1
    if n == 1:
        return [0]
    # Evenly spaced with the last tile flush with the far edge.
    return [round(i * (size - tile) / (n - 1)) for i in range(n)]


def tile_boxes(
    *, width: int, height: int, tile: int, overlap: int, wrap_x: bool, wrap_y: bool
) -> list[tuple[int, int]]:
    """Top-left (x, y) origins of `tile`-sized tiles covering a width x height image.

    Neighbours overlap by at least `overlap` pixels. On a wrapping axis the
    tiles are spaced around the period and the last may run past the edge
    (read it with `read_tile`); on a non-wrapping axis the last tile is flush
    with the edge and an image smaller than the tile raises ValueError.
    """
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    xs = _axis_origins(width, tile=tile, overlap=overlap, wrap=wrap_x)
    ys = _axis_origins(height, tile=tile, overlap=overlap, wrap=wrap_y)
    return [(x, y) for y in ys for x in xs]


def read_tile(arr: np.ndarray, *, x: int, y: int, tile: int) -> np.ndarray:
    """The tile x tile block of an (H, W, ...) array at (x, y), indices taken modulo the size."""
    rows = np.take(arr, np.arange(y, y + tile), axis=0, mode="wrap")
    return np.take(rows, np.arange(x, x + tile), axis=1, mode="wrap")


def feather_weights(tile: int, overlap: int) -> np.ndarray:
    """A (tile, tile) float32 weight map ramping linearly over `overlap` pixels at each edge.

    The floor of 1e-3 keeps pixels covered by a single tile edge well defined.
    """
    if overlap <= 0:
        return np.ones((tile, tile), np.float32)
    i = np.arange(tile, dtype=np.float32) + 0.5
    ramp = np.minimum(np.minimum(i, tile - i) / overlap, 1.0)
    ramp = np.maximum(ramp, 1e-3).astype(np.float32)
    return np.outer(ramp, ramp)


def accumulate_tile(
    acc: np.ndarray,
    weight_acc: np.ndarray,
    tile_arr: np.ndarray,
    weights: np.ndarray,
    *,
    x: int,
    y: int,
) -> None:
    """Add tile_arr * weights into acc, and weights into weight_acc, at wrapped indices.

    acc is (H, W) or (H, W, C), weight_acc is (H, W); the tile may run past
    the edge (it wraps) and may even be larger than the image.
    """
    h, w = weight_acc.shape
    th, tw = weights.shape
    rows = (y + np.arange(th)) % h
    cols = (x + np.arange(tw)) % w
    index = np.ix_(rows, cols)
    weighted = tile_arr * (weights[..., None] if tile_arr.ndim == 3 else weights)
    if th <= h and tw <= w:
        acc[index] += weighted
        weight_acc[index] += weights
    else:
        # A tile larger than the image hits some pixels twice; only add.at sums repeats.
        np.add.at(acc, index, weighted)
        np.add.at(weight_acc, index, weights)


def resize_wrapped(
    image: Image.Image, *, size: tuple[int, int], wrap_x: bool, wrap_y: bool
) -> Image.Image:
    """Lanczos-resize to size=(width, height), treating wrapped axes as periodic.

    The wrapped axes are padded with periodic content wide enough for the
    filter, and the resize maps the original box only, so the filter reads
    across the seam and a seamless tile stays seamless.
    """
    width, height = size
    if width < 1 or height < 1:
        raise InvalidRequest(f"size must be positive, got {width}x{height}", field="size")
    image = rgb_or_rgba(image)
    w, h = image.size
    # 1. Margin: the filter support in source pixels grows when shrinking.
    scale = max(w / width, h / height, 1.0)
    pad = math.ceil(_LANCZOS_SUPPORT * scale) + 2
    # 2. Pad periodically, then resize only the original box.
    padded = Image.fromarray(wrap_pad(np.asarray(image), pad=pad, wrap_x=wrap_x, wrap_y=wrap_y))
    x0 = pad if wrap_x else 0
    y0 = pad if wrap_y else 0
    return padded.resize((width, height), Image.Resampling.LANCZOS, box=(x0, y0, x0 + w, y0 + h))
