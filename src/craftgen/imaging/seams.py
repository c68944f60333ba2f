"""The seam score: how well a tile's edges continue into its neighbours when it repeats.

On the grayscale image, seam_score_x is the Pearson correlation of the two
pixel columns that meet at the horizontal wrap, divided by the median
correlation of adjacent interior column pairs; seam_score_y does the same with
rows. A true tile scores about 1, a cut near 0 (or below). The repeat mode
decides which column meets which: half-drop rolls the first column by half the
height, brick rolls the first row by half the width, and mirror meets each edge
with itself.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from craftgen.errors import InvalidRequest
from craftgen.imaging.tiling import check_repeat, rgb_or_rgba

_FLAT = 1e-12  # variance below this counts as a constant line


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns of a and b (H, N).

    Two equal constant columns correlate 1; constant against anything else 0.
    """
    ca = a - a.mean(axis=0)
    cb = b - b.mean(axis=0)
    va = (ca * ca).sum(axis=0)
    vb = (cb * cb).sum(axis=0)
    flat_a = va <= _FLAT
    flat_b = vb <= _FLAT
    denom = np.sqrt(np.where(flat_a | flat_b, 1.0, va * vb))
    corr = (ca * cb).sum(axis=0) / denom
    same = flat_a & flat_b & np.isclose(a[0], b[0])
    return np.where(flat_a | flat_b, np.where(same, 1.0, 0.0), corr)


def _wrap_pairs(gray: np.ndarray, *, repeat: str, shift: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The column pairs that meet at the wrap of `gray` (H, W) along its second axis.

    `shift` says which repeat mode offsets the neighbour along this axis.
    """
    last, first = gray[:, -1], gray[:, 0]
    if repeat == "mirror":
        return [(last, last), (first, first)]
    if repeat == shift:
        # The neighbour of pixel (y, W-1) is (y - H//2 mod H, 0).
        return [(last, np.roll(first, gray.shape[0] // 2))]
    return [(last, first)]


def _axis_score(gray: np.ndarray, *, repeat: str, shift: str) -> float:
    median = float(np.median(_correlations(gray[:, :-1], gray[:, 1:])))
    pairs = _wrap_pairs(gray, repeat=repeat, shift=shift)
    wraps = _correlations(np.stack([a for a, _ in pairs], axis=1), np.stack([b for _, b in pairs], axis=1))
    if median <= 1e-6:
        # No interior structure to compare against (noise, or stripes across
        # the axis): the raw wrap correlation is the honest answer.
        return float(wraps.mean())
    return float((wraps / median).mean())


def seam_scores(image: Image.Image, *, repeat: str = "grid") -> dict[str, float]:
    """{"seam_score_x": ..., "seam_score_y": ...} for `image` repeated under `repeat`, to 4 decimals."""
    check_repeat(repeat)
    rgb = np.asarray(rgb_or_rgba(image).convert("RGB"), dtype=np.float64)
    if rgb.shape[0] < 3 or rgb.shape[1] < 3:
        raise InvalidRequest(
            f"a seam score needs at least 3x3 pixels, got {rgb.shape[1]}x{rgb.shape[0]}", field="image"
        )
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    # half-drop offsets the neighbour across the vertical seam, brick across the
    # horizontal one; rows are scored as the columns of the transposed image.
    x = _axis_score(gray, repeat=repeat, shift="half-drop")
    y = _axis_score(gray.T, repeat=repeat, shift="brick")
    return {"seam_score_x": round(x, 4), "seam_score_y": round(y, 4)}
