"""imaging/cutlines.py: measuring the thinnest part, cleaning to a minimum feature, the
sticker's one-piece shape with rounded inward corners, and drawing path data back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from craftgen.imaging.cutlines import clean_for_cutting, outline_path, rasterize_path, sticker_shape, thinnest


def _bar_on_blob(width: int) -> np.ndarray:
    mask = np.zeros((200, 300), bool)
    mask[40:160, 20:140] = True
    mask[100 : 100 + width, 140:280] = True
    return mask


@pytest.mark.parametrize("width", [3, 6, 12])
def test_thinnest_finds_a_bar_sticking_out_of_a_blob(width: int) -> None:
    assert abs(thinnest(_bar_on_blob(width), up_to=40) - width) <= 1.5


def test_square_corners_are_not_thin_parts() -> None:
    mask = np.zeros((120, 120), bool)
    mask[10:110, 10:110] = True
    assert thinnest(mask, up_to=40) == 40


def test_cleaning_removes_parts_and_fills_gaps_thinner_than_the_minimum() -> None:
    mask = _bar_on_blob(3)
    mask[40:160, 70:73] = False  # a 3 px slit through the blob, top to bottom
    cleaned, report = clean_for_cutting(mask, min_feature=8, min_island=0)
    assert not cleaned[100:103, 160:280].any() and cleaned[50:150, 70:73].all()
    assert report.removed_px > 3 * 120 and report.filled_px > 3 * 90
    assert thinnest(cleaned, up_to=32) >= 7


def test_an_offset_shape_is_one_piece_without_holes() -> None:
    subject = np.zeros((200, 300), bool)
    cv2.circle(subject.view(np.uint8), (60, 100), 30, 1, -1)
    cv2.circle(subject.view(np.uint8), (240, 100), 30, 1, -1)  # far apart: the offset does not join them
    ring = np.zeros_like(subject)
    cv2.circle(ring.view(np.uint8), (150, 100), 20, 1, 3)
    shape = sticker_shape(subject | ring, offset=6, round_radius=4)
    count, _ = cv2.connectedComponents(shape.astype(np.uint8))
    assert count == 2 and shape[100, 150]  # one piece, the ring's hole filled
    d, _ = outline_path(shape)
    assert d.count("M") == 1 and d.endswith("Z")


def _unreached(shape: np.ndarray, radius: float) -> int:
    d, _ = outline_path(shape)
    inside = rasterize_path(d, width=shape.shape[1], height=shape.shape[0])
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (round(2 * radius) | 1,) * 2)
    outside = np.pad((~inside).astype(np.uint8), 40, constant_values=1)
    return int((outside & ~cv2.morphologyEx(outside, cv2.MORPH_OPEN, kernel)).sum())


def test_inward_corners_are_rounded_and_a_sharp_one_would_show() -> None:
    subject = np.zeros((300, 300), np.uint8)
    cv2.fillPoly(subject, [np.array([(20, 20), (280, 20), (150, 150), (280, 280), (20, 280)], np.int32)], 1)
    radius = 16.0
    rounded = sticker_shape(subject.astype(bool), offset=24, round_radius=radius / 0.9)
    sharp = sticker_shape(subject.astype(bool), offset=24, round_radius=0)
    # A 90° inward corner leaves about 0.25 r² pixels a disk of radius r cannot reach.
    assert _unreached(rounded, radius) < 0.12 * radius**2 < _unreached(sharp, radius)


def test_rasterize_path_fills_even_odd() -> None:
    drawn = rasterize_path("M10 10 L30 10 L30 30 L10 30 Z M15 15 L25 15 L25 25 L15 25 Z", width=40, height=40)
    assert drawn[10:30, 10:15].all() and not drawn[16:24, 16:24].any()
    # Pixels whose centre is inside or on the line: within a pixel of the exact 300 on each edge.
    assert 20 * 20 - 10 * 10 <= drawn.sum() <= 21 * 21 - 9 * 9
    curved = rasterize_path("M0 20 Q20 0 40 20 C40 30 0 30 0 20 Z", width=40, height=40)
    assert curved[20, 20] and not curved[2, 2]
