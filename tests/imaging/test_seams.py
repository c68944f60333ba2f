"""Seam scores: about 1 for a true tile under its repeat mode, clearly lower for a cut."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from craftgen.errors import InvalidRequest
from craftgen.imaging.seams import seam_scores

H, W = 96, 128


def _image(values: np.ndarray) -> Image.Image:
    scaled = (values - values.min()) / (values.max() - values.min()) * 255
    return Image.fromarray(scaled.round().astype(np.uint8)).convert("RGB")


def _waves(fx: float, fy: float) -> np.ndarray:
    """A diagonal wave with fx periods across and fy down, plus a grid-periodic second wave."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    return np.sin(2 * np.pi * (fx * x / W + fy * y / H)) + 0.5 * np.sin(2 * np.pi * (2 * x / W + 2 * y / H))


def test_periodic_image_scores_about_one() -> None:
    scores = seam_scores(_image(_waves(3, 1)))
    assert 0.9 < scores["seam_score_x"] < 1.1
    assert 0.9 < scores["seam_score_y"] < 1.1


def test_a_cut_scores_clearly_lower_on_its_axis_only() -> None:
    tile = _waves(3, 1)
    cut_x = seam_scores(_image(tile[:, :112]))  # the ends no longer meet in phase
    cut_y = seam_scores(_image(tile[:80, :]))
    assert cut_x["seam_score_x"] < 0.5 and cut_x["seam_score_y"] > 0.9
    assert cut_y["seam_score_y"] < 0.5 and cut_y["seam_score_x"] > 0.9


def test_half_drop_tile_is_seamless_only_under_half_drop() -> None:
    # 1.5 periods across: the next tile continues the wave only when dropped by half a tile.
    tile = _image(_waves(1.5, 1))
    half_drop = seam_scores(tile, repeat="half-drop")
    grid = seam_scores(tile, repeat="grid")
    assert half_drop["seam_score_x"] > 0.9 and half_drop["seam_score_y"] > 0.9
    assert grid["seam_score_x"] < 0.5


def test_brick_tile_is_seamless_only_under_brick() -> None:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    # 1.5 periods down: the row below continues the wave only when shifted by half a tile.
    wave = np.sin(2 * np.pi * (x / W + 1.5 * y / H)) + 0.5 * np.sin(2 * np.pi * (2 * x / W + 2 * y / H))
    tile = _image(wave)
    brick = seam_scores(tile, repeat="brick")
    assert brick["seam_score_x"] > 0.9 and brick["seam_score_y"] > 0.9
    assert seam_scores(tile, repeat="grid")["seam_score_y"] < 0.5


def test_mirror_repeat_meets_each_edge_with_itself() -> None:
    # A reflected repeat is continuous even where a grid repeat is cut.
    cut = _image(_waves(3, 1)[:80, :112])
    scores = seam_scores(cut, repeat="mirror")
    assert scores["seam_score_x"] > 0.9 and scores["seam_score_y"] > 0.9


def test_constant_image_counts_as_seamless() -> None:
    scores = seam_scores(Image.new("RGB", (32, 32), (200, 10, 10)))
    assert scores == {"seam_score_x": 1.0, "seam_score_y": 1.0}


def test_scores_are_rounded_to_four_decimals() -> None:
    scores = seam_scores(_image(_waves(3, 1)[:80, :112]))
    assert all(round(v, 4) == v for v in scores.values())


def test_unknown_repeat_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="diagonal") as info:
        seam_scores(_image(_waves(3, 1)), repeat="diagonal")
    assert info.value.field == "repeat"
