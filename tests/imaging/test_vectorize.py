"""SVG cut files: one closed path per shape, holes kept, specks dropped, nothing unsafe."""

from __future__ import annotations

import re

import cv2
import defusedxml.ElementTree as DET
import numpy as np
import pytest

from craftgen.errors import InvalidRequest
from craftgen.imaging.vectorize import vectorize_alpha

NS = "{http://www.w3.org/2000/svg}"
_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _three_blobs() -> np.ndarray:
    alpha = np.zeros((256, 320), np.float32)
    cv2.circle(alpha, (70, 70), 50, 1.0, -1, cv2.LINE_AA)
    cv2.circle(alpha, (70, 70), 22, 0.0, -1, cv2.LINE_AA)  # the ring's hole
    cv2.rectangle(alpha, (170, 30), (290, 110), 1.0, -1)
    cv2.ellipse(alpha, (160, 190), (100, 40), 15, 0, 360, 1.0, -1, cv2.LINE_AA)
    return alpha


def _paths(svg: str) -> list[str]:
    root = DET.fromstring(svg)
    return [p.get("d", "") for p in root.iter(f"{NS}path")]


def _subpaths(d: str) -> list[list[tuple[str, list[float]]]]:
    """Path data as subpaths of (command, numbers)."""
    subs: list[list[tuple[str, list[float]]]] = []
    for token in _TOKEN.findall(d):
        if token.isalpha():
            if token in "Mm":
                subs.append([])
            subs[-1].append((token, []))
        else:
            subs[-1][-1][1].append(float(token))
    return subs


def _polygon(sub: list[tuple[str, list[float]]]) -> np.ndarray:
    """A subpath flattened to points, cubic and quadratic curves sampled."""
    points: list[tuple[float, float]] = []
    for cmd, args in sub:
        if cmd in "ML":
            points.append((args[0], args[1]))
        elif cmd in "CQ":
            ctrl = np.array([points[-1], *zip(args[::2], args[1::2], strict=True)])
            for t in np.linspace(0, 1, 9)[1:]:
                # de Casteljau works for any degree.
                p = ctrl.copy()
                while len(p) > 1:
                    p = (1 - t) * p[:-1] + t * p[1:]
                points.append((p[0, 0], p[0, 1]))
    return np.array(points)


def _render(svg: str, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise the paths with even-odd fill, sampling at pixel centres."""
    h, w = shape
    crossings = np.zeros((h, w + 1), np.int64)  # per row: crossings right of each pixel boundary
    centres = np.arange(h) + 0.5
    for d in _paths(svg):
        for sub in _subpaths(d):
            poly = _polygon(sub)
            for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
                rows = np.nonzero((y0 > centres) != (y1 > centres))[0]
                x = x0 + (centres[rows] - y0) * (x1 - x0) / (y1 - y0)
                # Pixel j lies left of the crossing when j + 0.5 < x.
                np.add.at(crossings, (rows, np.clip(np.ceil(x - 0.5), 0, w).astype(int)), 1)
    right = np.cumsum(crossings[:, ::-1], axis=1)[:, ::-1]  # crossings at index >= k
    return (right[:, 1:] % 2).astype(bool)


def test_one_closed_path_per_shape_with_the_hole_kept() -> None:
    cut = vectorize_alpha(_three_blobs())
    paths = _paths(cut.svg)
    assert cut.paths == len(paths) == 3
    subpath_counts = sorted(len(_subpaths(d)) for d in paths)
    assert subpath_counts == [1, 1, 2]  # the ring: outline and hole
    for d in paths:
        for sub in _subpaths(d):
            assert sub[0][0] == "M" and sub[-1][0] in "Zz"


def test_the_svg_draws_the_mask() -> None:
    alpha = _three_blobs()
    drawn = _render(vectorize_alpha(alpha).svg, alpha.shape)
    mask = alpha >= 0.5
    assert (drawn & mask).sum() / (drawn | mask).sum() > 0.97
    assert not drawn[70, 70]  # the hole is a hole


def test_an_island_in_a_hole_is_its_own_path() -> None:
    alpha = np.zeros((200, 200), np.float32)
    cv2.circle(alpha, (100, 100), 80, 1.0, -1)
    cv2.circle(alpha, (100, 100), 50, 0.0, -1)
    cv2.circle(alpha, (100, 100), 20, 1.0, -1)
    cut = vectorize_alpha(alpha)
    assert cut.paths == 2
    drawn = _render(cut.svg, alpha.shape)
    assert drawn[100, 100] and not drawn[100, 65] and drawn[100, 30]


def test_specks_and_pinholes_under_min_area_are_dropped() -> None:
    alpha = _three_blobs()
    alpha[200:203, 290:293] = 1.0  # a 9 px speck
    alpha[60:63, 200:203] = 0.0  # a 9 px pinhole in the rectangle
    cut = vectorize_alpha(alpha, min_area=16)
    assert cut.paths == 3
    assert sorted(len(_subpaths(d)) for d in _paths(cut.svg)) == [1, 1, 2]
    assert vectorize_alpha(alpha, min_area=4).paths == 4


def test_the_svg_holds_only_svg_and_path_elements() -> None:
    cut = vectorize_alpha(_three_blobs())
    root = DET.fromstring(cut.svg)
    elements = list(root.iter())
    assert {e.tag for e in elements} == {f"{NS}svg", f"{NS}path"}
    for element in elements:
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and "href" not in name.lower() and name != "style"
            assert "url(" not in value and "javascript" not in value.lower()
    for word in ("script", "<image", "<style", "foreignObject", "href"):
        assert word not in cut.svg
    assert all(p.get("fill-rule") == "evenodd" for p in root.iter(f"{NS}path"))


def test_the_svg_has_a_viewbox_and_physical_size() -> None:
    root = DET.fromstring(vectorize_alpha(_three_blobs(), dpi=100).svg)
    assert root.tag == f"{NS}svg"
    assert root.get("viewBox") == "0 0 320 256"
    assert root.get("width") == "3.2000in" and root.get("height") == "2.5600in"


def test_nodes_are_counted_and_bounded() -> None:
    cut = vectorize_alpha(_three_blobs(), max_nodes=5000)
    commands = sum(len(sub) for d in _paths(cut.svg) for sub in _subpaths(d))
    assert cut.nodes == commands <= 5000


def _detailed() -> np.ndarray:
    noise = cv2.GaussianBlur(np.random.default_rng(0).random((256, 256)).astype(np.float32), (0, 0), 2)
    return (noise > np.median(noise)).astype(np.float32)


def test_too_detailed_for_the_node_limit_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="limit is 50") as info:
        vectorize_alpha(_detailed(), max_nodes=50)
    assert info.value.field == "max_nodes"


def test_a_tight_node_limit_gets_a_coarser_trace() -> None:
    alpha = _detailed()
    full = vectorize_alpha(alpha, max_nodes=100_000)
    coarse = vectorize_alpha(alpha, max_nodes=full.nodes - 1)
    assert coarse.nodes < full.nodes


def test_nothing_to_cut_is_refused() -> None:
    alpha = np.zeros((64, 64), np.float32)
    alpha[10:12, 10:12] = 1.0
    with pytest.raises(InvalidRequest, match="no shape"):
        vectorize_alpha(alpha)


def test_alpha_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"\[0, 1\]"):
        vectorize_alpha(np.full((8, 8), 255.0))
