"""Cutouts of synthetic subjects with known masks: the right alpha, holes, and no halo."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from craftgen.errors import InvalidRequest
from craftgen.imaging.cutout import cut_out, require_plain_background

RED = (220, 30, 30)
WHITE = (255, 255, 255)
LIGHT_BLUE = (170, 200, 240)
SS = 4  # supersampling for anti-aliased edges


def _disk(canvas: np.ndarray) -> None:
    h, w = canvas.shape
    cv2.circle(canvas, (w // 2, h // 2), int(w * 0.3), 255, -1)


def _ring(canvas: np.ndarray) -> None:
    h, w = canvas.shape
    cv2.circle(canvas, (w // 2, h // 2), int(w * 0.35), 255, -1)
    cv2.circle(canvas, (w // 2, h // 2), int(w * 0.12), 0, -1)


def _render(
    draw: Callable[[np.ndarray], None],
    *,
    size: int = 256,
    colour: tuple[int, int, int] = RED,
    background: tuple[int, int, int] = WHITE,
    noise: float = 3.0,
) -> tuple[Image.Image, np.ndarray]:
    """An anti-aliased subject on a plain, mildly noisy background, and its true coverage."""
    canvas = np.zeros((size * SS, size * SS), np.uint8)
    draw(canvas)
    mask = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rgb = mask[..., None] * np.float32(colour) + (1 - mask[..., None]) * np.float32(background)
    rgb += np.random.default_rng(0).normal(0, noise, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8)), mask


def _iou(alpha: np.ndarray, mask: np.ndarray) -> float:
    a, m = alpha >= 0.5, mask >= 0.5
    return float((a & m).sum() / (a | m).sum())


def _far_from(mask: np.ndarray, margin: int) -> np.ndarray:
    return cv2.dilate((mask > 0).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) == 0


def _deep_inside(mask: np.ndarray, margin: int) -> np.ndarray:
    return cv2.erode((mask >= 1).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0


@pytest.mark.parametrize("background", [WHITE, LIGHT_BLUE])
def test_disk_on_a_plain_background_is_cut_cleanly(background: tuple[int, int, int]) -> None:
    image, mask = _render(_disk, background=background)
    cutout = cut_out(image)
    alpha = cutout.alpha
    assert cutout.image.mode == "RGBA" and cutout.image.size == image.size
    assert alpha.dtype == np.float32 and alpha.shape == mask.shape
    assert cutout.is_plain and np.abs(np.subtract(cutout.background, background)).max() <= 3
    assert _iou(alpha, mask) > 0.97
    assert alpha[_far_from(mask, 6)].max() < 0.02
    assert alpha[_deep_inside(mask, 3)].min() > 0.98
    # Edge pixels carry the subject's colour, not a halo of the background's.
    rgba = np.asarray(cutout.image).astype(np.float64)
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert edge.sum() > 50
    assert rgba[edge][:, 1:3].mean() < 60
    assert rgba[edge][:, 0].mean() > 180
    np.testing.assert_array_equal(rgba[..., 3], np.round(alpha * 255))


def test_a_donut_hole_becomes_transparent() -> None:
    image, mask = _render(_ring)
    alpha = cut_out(image).alpha
    assert alpha[128, 128] == 0.0
    assert _iou(alpha, mask) > 0.97


def test_a_small_background_coloured_speck_inside_stays_opaque() -> None:
    image, _ = _render(_disk)
    pixels = np.asarray(image).copy()
    pixels[100:103, 100:103] = WHITE  # an eye highlight, not a hole
    cutout = cut_out(Image.fromarray(pixels))
    assert cutout.alpha[100:103, 100:103].min() == 1.0
    assert np.asarray(cutout.image)[101, 101, :3].min() > 240  # and keeps its colour


def test_large_images_are_matted_on_a_downscaled_copy() -> None:
    image, mask = _render(_ring, size=512)
    cutout = cut_out(image, matting_max_side=256)
    alpha = cutout.alpha
    assert alpha.shape == mask.shape
    assert _iou(alpha, mask) > 0.97
    assert alpha[256, 256] == 0.0 and alpha[_far_from(mask, 8)].max() < 0.02
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert np.asarray(cutout.image).astype(np.float64)[edge][:, 1:3].mean() < 60


def test_thin_lines_survive() -> None:
    def lines(canvas: np.ndarray) -> None:
        for i, width in enumerate([1, 2, 3]):
            cv2.line(canvas, (40 * SS, (60 + 50 * i) * SS), (220 * SS, (80 + 50 * i) * SS), 255, width * SS)

    image, mask = _render(lines, colour=(20, 20, 20))
    alpha = cut_out(image).alpha
    assert np.abs(alpha - mask).mean() < 0.01
    assert alpha[mask >= 0.9].min() > 0.8


def test_a_busy_border_is_not_plain() -> None:
    busy = Image.fromarray(np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    cutout = cut_out(busy)
    assert not cutout.is_plain and cutout.background_spread > 12
    with pytest.raises(InvalidRequest, match="no plain background") as info:
        require_plain_background(cutout)
    assert info.value.field == "image"
    with pytest.raises(InvalidRequest, match="vary by"):
        cut_out(busy, strict=True)


def test_a_plain_image_passes_the_strict_check() -> None:
    image, _ = _render(_disk, size=96)
    assert require_plain_background(cut_out(image, strict=True)).is_plain


def test_existing_transparency_is_kept_as_is() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[16:48, 16:48, 3] = 255
    rgba[20:24, 20:24, 3] = 128
    cutout = cut_out(Image.fromarray(rgba))
    np.testing.assert_array_equal(cutout.alpha, rgba[..., 3] / np.float32(255))
    np.testing.assert_array_equal(np.asarray(cutout.image), rgba)
