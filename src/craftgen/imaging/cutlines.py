"""Cut lines a blade can follow: masks cleaned to a minimum feature size, measured, and the
one closed outline of a sticker.

`clean_for_cutting` works at the print's pixel size: a morphological opening with a disk of
diameter `min_feature` removes parts thinner than it, a closing fills gaps thinner than it,
then islands and holes smaller than `min_island` (as an area, min_island squared) go. It reports
what changed. `thinnest` measures what is left: the largest disk diameter d such that opening
with it leaves no real residue (a residue pixel farther than 0.6 of the radius from the opened
shape; a right-angle corner's sliver reaches only 0.41 of it, a hairline or a neck its length).
`sticker_shape` grows a subject by an offset and rounds the inward corners; `outline_path`
traces that shape as exactly one closed path; `rasterize_path` draws SVG path data back into a
mask (M/L/Q/C/Z, even-odd), so tests and metrics can check a cut file itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from craftgen.errors import InvalidRequest

_RESIDUE = 0.6  # residue reaching farther than this many radii from the opened shape is a thin part
_MEASURE_PX = 24.0  # measure at a scale where the largest width looked for is about this many px


def disk(radius: float) -> np.ndarray:
    size = max(1, round(2 * radius)) | 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _open(mask: np.ndarray, radius: float, *, outside: bool = False) -> np.ndarray:
    """Opening with a disk; beyond the image the mask is `outside` (False: empty)."""
    if radius < 0.5:
        return mask.copy()
    pad = math.ceil(radius) + 1
    padded = np.pad(mask.astype(np.uint8), pad, constant_values=int(outside))
    out = cv2.morphologyEx(padded, cv2.MORPH_OPEN, disk(radius))
    return out[pad:-pad, pad:-pad].astype(bool)


def _close(mask: np.ndarray, radius: float) -> np.ndarray:
    # The background goes on past the image, so the image edge closes nothing.
    return ~_open(~mask, radius, outside=True)


def _drop_small(mask: np.ndarray, *, min_area: float) -> tuple[np.ndarray, int, int]:
    """Islands smaller than min_area pixels dropped, holes smaller filled; (mask, islands, holes)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < min_area
    small[0] = False
    islands = int(small.sum())
    mask = mask & ~small[labels]
    _, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    fill = stats[:, cv2.CC_STAT_AREA] < min_area
    fill[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = False
    holes = int(fill.sum())
    cleaned: np.ndarray = mask | fill[labels]
    return cleaned, islands, holes


def _has_thin_part(mask: np.ndarray, radius: float, *, outside: bool) -> bool:
    opened = _open(mask, radius, outside=outside)
    residue = mask & ~opened
    if not residue.any():
        return False
    if not opened.any():
        return True  # everything is thinner than this
    pad = math.ceil(radius) + 1
    away = np.pad((~opened).astype(np.uint8), pad, constant_values=int(not outside))
    distance = cv2.distanceTransform(away, cv2.DIST_L2, 5)[pad:-pad, pad:-pad]
    return bool(distance[residue].max() > _RESIDUE * radius + 1.0)


def thinnest(mask: np.ndarray, *, up_to: float, outside: bool = False) -> float:
    """The thinnest part of `mask` in pixels, looked for up to `up_to` px (a mask with nothing
    thinner reports `up_to`); 0 for an empty mask. `outside`: what lies beyond the image (True
    to measure the gaps of a drawing: its background goes on)."""
    if not mask.any():
        return 0.0
    # 1. Work where the widest width looked for is about _MEASURE_PX pixels (fast at print size).
    scale = min(1.0, _MEASURE_PX / max(up_to, 1.0))
    work = mask
    if scale < 1.0:
        h, w = mask.shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        work = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    # 2. Bisect on the disk radius (in work pixels).
    low, high = 0.0, up_to * scale / 2
    if not _has_thin_part(work, high, outside=outside):
        return up_to
    for _ in range(10):
        middle = (low + high) / 2
        if _has_thin_part(work, middle, outside=outside):
            high = middle
        else:
            low = middle
    return 2 * low / scale


@dataclass(frozen=True)
class CutReport:
    """What cleaning changed, in pixels (the caller converts to mm)."""

    removed_px: int  # parts thinner than the minimum feature, taken away
    filled_px: int  # gaps thinner than it, filled
    islands_removed: int
    holes_filled: int


def clean_for_cutting(mask: np.ndarray, *, min_feature: float, min_island: float) -> tuple[np.ndarray, CutReport]:
    """`mask` with no part or gap thinner than `min_feature` px and no island or hole smaller
    than min_island x min_island px."""
    if min_feature < 0 or min_island < 0:
        raise ValueError(f"need min_feature, min_island >= 0, got {min_feature}, {min_island}")
    mask = mask.astype(bool)
    # 1. Thin parts, then thin gaps (an opening, then a closing, with one disk).
    opened = _open(mask, min_feature / 2)
    closed = _close(opened, min_feature / 2)
    # 2. Specks and pinholes.
    cleaned, islands, holes = _drop_small(closed, min_area=min_island * min_island)
    report = CutReport(
        removed_px=int((mask & ~opened).sum()),
        filled_px=int((closed & ~opened).sum()),
        islands_removed=islands,
        holes_filled=holes,
    )
    return cleaned, report


def sticker_shape(subject: np.ndarray, *, offset: float, round_radius: float) -> np.ndarray:
    """The die-cut shape: every pixel within `offset` px of the subject, inward corners rounded
    to `round_radius`, holes filled, one piece (parts too far apart are joined by closing with
    growing disks, and at last by their convex hull)."""
    if not subject.any():
        raise InvalidRequest("there is no subject to put a border around", field="image")
    distance = cv2.distanceTransform((~subject).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    grown = distance <= offset
    radius = round_radius
    limit = max(subject.shape)
    while True:
        shape = _fill_holes(_close(grown, radius))
        count, _ = cv2.connectedComponents(shape.astype(np.uint8), connectivity=8)
        if count <= 2:
            return shape
        if radius > limit / 4:
            break
        radius *= 2
    points = cv2.findNonZero(shape.astype(np.uint8))
    hull = np.zeros(shape.shape, np.uint8)
    cv2.fillPoly(hull, [cv2.convexHull(points)], 1)
    return _fill_holes(hull.astype(bool) | shape)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    n, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    outside = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = np.zeros(n, bool)
    keep[outside] = True
    keep[0] = False  # label 0 is the shape itself
    filled: np.ndarray = ~keep[labels]
    return filled


def outline_path(
    shape: np.ndarray, *, tolerance: float = 0.5, origin: tuple[float, float] = (0.0, 0.0)
) -> tuple[str, int]:
    """The outer outline of a one-piece mask as one closed SVG path (pixel coordinates, moved by
    `origin`), just outside its pixels and simplified to within `tolerance` px; (path data,
    node count)."""
    # One pixel grown first: the simplified line then stays outside every pixel of the shape.
    padded = cv2.dilate(np.pad(shape.astype(np.uint8), 2), np.ones((3, 3), np.uint8))
    # Doubled resolution puts the contour on the pixel edges, not through the pixel centres.
    big = cv2.resize(padded, (padded.shape[1] * 2, padded.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise InvalidRequest("there is no shape to cut around", field="image")
    contour = max(contours, key=cv2.contourArea)
    simple = cv2.approxPolyDP(contour, 2 * tolerance, True)[:, 0, :].astype(np.float64)
    points = (simple + 0.5) / 2 - 2 + np.array(origin)  # back to the unpadded pixel grid, on edges
    parts = [f"M{_num(points[0][0])} {_num(points[0][1])}"]
    parts += [f"L{_num(x)} {_num(y)}" for x, y in points[1:]]
    parts.append("Z")
    return " ".join(parts), len(parts)


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARGS = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}


def subpaths(d: str) -> list[list[tuple[str, list[float]]]]:
    """Absolute M/L/Q/C/Z path data as subpaths of (command, numbers)."""
    tokens = _TOKEN.findall(d)
    found: list[list[tuple[str, list[float]]]] = []
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        if cmd not in _ARGS:
            raise ValueError(f"unsupported path command {cmd!r}")
        n = _ARGS[cmd]
        args = [float(t) for t in tokens[i + 1 : i + 1 + n]]
        if cmd == "M":
            found.append([])
        found[-1].append((cmd, args))
        i += 1 + n
    return found


def _polyline(sub: list[tuple[str, list[float]]], steps: int = 12) -> np.ndarray:
    points: list[tuple[float, float]] = []
    for cmd, args in sub:
        if cmd in ("M", "L"):
            points.append((args[0], args[1]))
        elif cmd in ("Q", "C"):
            x0, y0 = points[-1]
            controls = [(x0, y0)] + [(args[k], args[k + 1]) for k in range(0, len(args), 2)]
            for t in np.linspace(0, 1, steps + 1)[1:]:
                pts = list(controls)
                while len(pts) > 1:  # de Casteljau
                    pts = [((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in pairwise(pts)]
                points.append(pts[0])
    return np.array(points, np.float64)


def rasterize_path(d: str, *, width: int, height: int, scale: int = 1) -> np.ndarray:
    """Path data filled even-odd into a (height*scale, width*scale) mask."""
    canvas = np.zeros((height * scale, width * scale), np.uint8)
    # Pixel (i, j) is the unit square from (j, i): its centre is at (j + 0.5, i + 0.5).
    polygons = [np.round((_polyline(sub) * scale - 0.5) * 16).astype(np.int32) for sub in subpaths(d)]
    for polygon in polygons:
        layer = np.zeros_like(canvas)
        cv2.fillPoly(layer, [polygon], 1, lineType=cv2.LINE_8, shift=4)
        canvas ^= layer
    filled: np.ndarray = canvas.astype(bool)
    return filled
