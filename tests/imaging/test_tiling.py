"""Repeat previews, the wrapping tile grid the upscaler walks, and periodic resizing."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

from craftgen.errors import InvalidRequest
from craftgen.imaging.seams import seam_scores
from craftgen.imaging.tiling import (
    accumulate_tile,
    feather_weights,
    read_tile,
    repeat_preview,
    resize_wrapped,
    tile_boxes,
)


def _tile(h: int = 40, w: int = 60, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, channels), dtype=np.uint8)


def _periodic(size: int = 64) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    f = np.sin(2 * np.pi * (3 * x / size + 2 * y / size)) + 0.5 * np.sin(2 * np.pi * x / size) * np.cos(
        6 * np.pi * y / size
    )
    rgb = np.stack([f, np.roll(f, 5, axis=1), -f], axis=-1)
    return Image.fromarray(((rgb - rgb.min()) / (rgb.max() - rgb.min()) * 255).round().astype(np.uint8))


def _cells(preview: Image.Image, h: int, w: int, count: int = 3) -> list[list[np.ndarray]]:
    arr = np.asarray(preview)
    return [[arr[r * h : (r + 1) * h, c * w : (c + 1) * w] for c in range(count)] for r in range(count)]


def test_grid_preview_repeats_the_tile_unchanged() -> None:
    tile = _tile(channels=4)
    preview = repeat_preview(Image.fromarray(tile), count=3)
    assert preview.size == (180, 120) and preview.mode == "RGBA"
    assert all(np.array_equal(cell, tile) for row in _cells(preview, 40, 60) for cell in row)


def test_half_drop_preview_drops_each_column_by_half_a_tile() -> None:
    tile = _tile()
    cells = _cells(repeat_preview(Image.fromarray(tile), repeat="half-drop"), 40, 60)
    for r in range(3):
        for c in range(3):
            assert np.array_equal(cells[r][c], np.roll(tile, c * 20, axis=0))


def test_brick_preview_shifts_each_row_by_half_a_tile() -> None:
    tile = _tile()
    cells = _cells(repeat_preview(Image.fromarray(tile), repeat="brick"), 40, 60)
    for r in range(3):
        assert all(np.array_equal(cells[r][c], np.roll(tile, r * 30, axis=1)) for c in range(3))


def test_mirror_preview_flips_odd_columns_and_rows() -> None:
    tile = _tile()
    cells = _cells(repeat_preview(Image.fromarray(tile), repeat="mirror"), 40, 60)
    assert np.array_equal(cells[0][0], tile)
    assert np.array_equal(cells[0][1], tile[:, ::-1])
    assert np.array_equal(cells[1][0], tile[::-1])
    assert np.array_equal(cells[1][1], tile[::-1, ::-1])


@pytest.mark.parametrize("count", [0, 9])
def test_preview_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(InvalidRequest, match=str(count)):
        repeat_preview(Image.fromarray(_tile()), count=count)


@pytest.mark.parametrize(
    ("width", "height", "tile", "wrap_x", "wrap_y"),
    [
        (100, 70, 32, True, True),
        (100, 70, 32, False, False),
        (100, 70, 32, True, False),
        (20, 70, 32, True, False),  # narrower than a tile on a wrapping axis
        (64, 64, 64, False, False),
    ],
)
def test_identity_tiles_rebuild_the_image_exactly(
    width: int, height: int, tile: int, wrap_x: bool, wrap_y: bool
) -> None:
    image = np.random.default_rng(1).random((height, width, 3)).astype(np.float32)
    acc = np.zeros_like(image)
    weight_acc = np.zeros((height, width), np.float32)
    weights = feather_weights(tile, 8)
    for x, y in tile_boxes(width=width, height=height, tile=tile, overlap=8, wrap_x=wrap_x, wrap_y=wrap_y):
        accumulate_tile(acc, weight_acc, read_tile(image, x=x, y=y, tile=tile), weights, x=x, y=y)
    assert weight_acc.min() > 0
    np.testing.assert_allclose(acc / weight_acc[..., None], image, atol=1e-5)


def test_tiles_overlap_and_the_last_is_flush_without_wrap() -> None:
    boxes = tile_boxes(width=100, height=70, tile=32, overlap=8, wrap_x=False, wrap_y=False)
    xs = sorted({x for x, _ in boxes})
    ys = sorted({y for _, y in boxes})
    assert xs[0] == 0 and xs[-1] == 100 - 32 and ys[-1] == 70 - 32
    assert all(b - a <= 32 - 8 for a, b in pairwise(xs))


def test_wrapped_tiles_overlap_across_the_edge_too() -> None:
    boxes = tile_boxes(width=100, height=70, tile=32, overlap=8, wrap_x=True, wrap_y=True)
    xs = sorted({x for x, _ in boxes})
    gaps = [b - a for a, b in pairwise(xs)] + [xs[0] + 100 - xs[-1]]
    assert max(gaps) <= 32 - 8


def test_image_smaller_than_a_tile_without_wrap_is_refused() -> None:
    with pytest.raises(ValueError, match="smaller than the tile"):
        tile_boxes(width=20, height=70, tile=32, overlap=8, wrap_x=False, wrap_y=True)


def test_feather_weights_ramp_at_the_edges_and_never_reach_zero() -> None:
    weights = feather_weights(32, 8)
    assert weights.shape == (32, 32) and weights.dtype == np.float32
    assert weights.min() > 0 and weights[16, 16] == 1.0
    assert weights[0, 16] < weights[4, 16] < weights[8, 16] == 1.0


@pytest.mark.parametrize("size", [(96, 96), (100, 80), (40, 40)])
def test_wrapped_resize_matches_resizing_the_endless_pattern(size: tuple[int, int]) -> None:
    tile = _periodic()
    width, height = size
    # The ideal: resize a 3x3 repeat and keep the middle tile.
    big = repeat_preview(tile).resize((3 * width, 3 * height), Image.Resampling.LANCZOS)
    ideal = np.asarray(big)[height : 2 * height, width : 2 * width].astype(int)
    wrapped = np.asarray(resize_wrapped(tile, size=size, wrap_x=True, wrap_y=True)).astype(int)
    plain = np.asarray(tile.resize(size, Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(wrapped - ideal).max() <= 1
    assert np.abs(plain - ideal).max() > np.abs(wrapped - ideal).max()
    scores = seam_scores(Image.fromarray(wrapped.astype(np.uint8)))
    assert scores["seam_score_x"] > 0.95 and scores["seam_score_y"] > 0.95


def test_wrapped_resize_keeps_rgba() -> None:
    out = resize_wrapped(Image.fromarray(_tile(channels=4)), size=(30, 20), wrap_x=True, wrap_y=False)
    assert out.mode == "RGBA" and out.size == (30, 20)
