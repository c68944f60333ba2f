"""Masks: which pixels of an image a tool may repaint, and how new pixels blend into old ones.

craftgen's convention: **white and opaque = repaint, black or transparent = keep** (a pixel is
repainted where its luminance times its alpha is at least half). OpenAI's image edits use the
opposite (transparent = edit here); `mask_from_transparency` converts such a mask.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

THRESHOLD = 128  # luminance x alpha, 0..255: at or above it a pixel is repainted


def selected(mask: Image.Image) -> np.ndarray:
    """A bool (H, W) array: True where the mask says repaint (white and opaque)."""
    luminance = np.asarray(mask.convert("L"), np.float32)
    if mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info:
        alpha = np.asarray(mask.convert("RGBA"), np.float32)[..., 3]
        luminance = luminance * alpha / 255.0
    return np.asarray(luminance >= THRESHOLD)


def mask_from_transparency(image: Image.Image) -> Image.Image:
    """An OpenAI-style mask (transparent = edit here) as a craftgen mask (white = repaint)."""
    alpha = np.asarray(image.convert("RGBA"), np.uint8)[..., 3]
    return Image.fromarray(np.where(alpha < THRESHOLD, 255, 0).astype(np.uint8), mode="L")


def feather(chosen: np.ndarray, blend: int) -> np.ndarray:
    """Weights of the new pixels, float32 (H, W): 1 on the chosen pixels, falling linearly to 0
    over `blend` px outside them (Euclidean distance), exactly 0 beyond."""
    if not blend:
        return chosen.astype(np.float32)
    outside = np.where(chosen, 0, 255).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    weights = 1.0 - distance / (blend + 1)
    return np.where(distance <= blend, np.clip(weights, 0.0, 1.0), 0.0).astype(np.float32)


def bounding_box(chosen: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the True pixels, or None when there are none."""
    rows, cols = np.any(chosen, axis=1), np.any(chosen, axis=0)
    if not rows.any():
        return None
    y0, y1 = np.flatnonzero(rows)[[0, -1]]
    x0, x1 = np.flatnonzero(cols)[[0, -1]]
    return int(x0), int(y0), int(x1) + 1, int(y1) + 1


def pad_to_8(array: np.ndarray) -> np.ndarray:
    """Edge-replicate an (H, W, ...) array up to multiples of 8 (the VAE's stride)."""
    pad_h, pad_w = -array.shape[0] % 8, -array.shape[1] % 8
    if not pad_h and not pad_w:
        return array
    return np.asarray(cv2.copyMakeBorder(array, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE))
