"""An SVG cut file from a cutout's alpha: one closed, black path per separate shape.

The silhouette (alpha >= 0.5) is cleaned of specks and pinholes, then each
8-connected shape is traced alone by vtracer (binary mode). vtracer emits one
`<path>` per 4-connected cluster, holes as extra subpaths, placed with
`transform="translate(x,y)"`; tracing a shape alone lets its clusters and
holes be merged into exactly one path, with the translation baked into the
coordinates. The SVG is rebuilt from the path data only (no styles, scripts,
images or references) and uses fill-rule evenodd, so holes render as holes
whatever their winding. A cut machine pays per node, so the total path
command count is bounded: over the limit, the trace is redone coarser, then
refused.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TypedDict

import cv2
import numpy as np
import vtracer

from craftgen.errors import InvalidRequest

SVG_NS = "http://www.w3.org/2000/svg"
_ARGS = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}  # the absolute commands vtracer emits
_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PAD = 2  # background pixels around a traced shape so its outline is closed inside the crop


class TraceSettings(TypedDict):
    """vtracer's curve-fitting parameters for one trace (its keyword arguments)."""

    mode: str
    corner_threshold: int
    length_threshold: float
    splice_threshold: int


_FAITHFUL: TraceSettings = {"mode": "spline", "corner_threshold": 60, "length_threshold": 4.0, "splice_threshold": 45}
_LOOSE: TraceSettings = {"mode": "spline", "corner_threshold": 180, "length_threshold": 10.0, "splice_threshold": 180}
# From faithful to coarse: fewer corners and longer splines, then the same on a
# mask shrunk 2x and 4x. (vtracer's polygon mode needs more nodes than splines.)
_TRACES: tuple[tuple[TraceSettings, int], ...] = ((_FAITHFUL, 1), (_LOOSE, 1), (_LOOSE, 2), (_LOOSE, 4))

Segment = tuple[str, list[float]]


@dataclass(frozen=True)
class CutFile:
    """An SVG cut file and its size in paths and path commands."""

    svg: str
    paths: int  # one per separate shape
    nodes: int  # path commands across the file, Z included


def _clean_mask(mask: np.ndarray, *, min_area: int) -> np.ndarray:
    """Drop shapes and fill holes smaller than min_area pixels."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    mask = keep[labels]
    # Holes are 4-connected background, the dual of 8-connected shapes.
    _, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    fill = stats[:, cv2.CC_STAT_AREA] < min_area
    fill[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = False
    fill[0] = False
    cleaned: np.ndarray = mask | fill[labels]  # numpy types a mask indexed by a mask as Any
    return cleaned


def _parse_path(d: str) -> list[list[Segment]]:
    """vtracer path data as subpaths of (command, coordinates); only absolute M/L/Q/C/Z."""
    tokens = _TOKEN.findall(d)
    subpaths: list[list[Segment]] = []
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        if cmd not in _ARGS:
            raise ValueError(f"unexpected SVG path command {cmd!r} from vtracer")
        n = _ARGS[cmd]
        args = [float(t) for t in tokens[i + 1 : i + 1 + n]]
        if len(args) != n:
            raise ValueError(f"truncated {cmd} command in vtracer path data")
        if cmd == "M":
            subpaths.append([])
        elif not subpaths:
            raise ValueError("vtracer path data does not start with M")
        subpaths[-1].append((cmd, args))
        i += 1 + n
    return subpaths


def _translate(d: str) -> tuple[float, float]:
    """The offset of a `translate(x,y)` transform, the only kind vtracer emits."""
    if not d:
        return 0.0, 0.0
    match = re.fullmatch(r"\s*translate\(\s*([-+\d.eE]+)[\s,]+([-+\d.eE]+)\s*\)\s*", d)
    if match is None:
        raise ValueError(f"unexpected transform {d!r} from vtracer")
    return float(match[1]), float(match[2])


def _trace_shape(
    crop: np.ndarray, *, offset: tuple[int, int], settings: TraceSettings
) -> list[list[Segment]]:
    """Every closed subpath vtracer draws for one shape, in image coordinates."""
    pixels = np.where(crop[..., None], 0, 255).astype(np.uint8).repeat(3, axis=2)
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        raise RuntimeError("could not encode a mask crop as PNG")
    svg = vtracer.convert_raw_image_to_svg(
        png.tobytes(), img_format="png", colormode="binary", filter_speckle=0, path_precision=3, **settings
    )
    subpaths: list[list[Segment]] = []
    # Plain ElementTree is safe here: the text is vtracer's, made from our own PNG.
    for element in ET.fromstring(svg).iter(f"{{{SVG_NS}}}path"):
        dx, dy = _translate(element.get("transform", ""))
        dx += offset[0]
        dy += offset[1]
        for sub in _parse_path(element.get("d", "")):
            moved = [(cmd, [v + (dy if k % 2 else dx) for k, v in enumerate(args)]) for cmd, args in sub]
            if moved[-1][0] != "Z":
                moved.append(("Z", []))  # every region vtracer traces is closed
            subpaths.append(moved)
    return subpaths


def _number(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _path_data(subpaths: list[list[Segment]]) -> str:
    return " ".join(cmd + " ".join(_number(v) for v in args) for sub in subpaths for cmd, args in sub)


def _trace_all(
    mask: np.ndarray, *, settings: TraceSettings, shrink: int, min_area: int
) -> list[list[list[Segment]]]:
    """One list of subpaths per 8-connected shape, traced on the mask shrunk `shrink` times."""
    if shrink > 1:
        h, w = mask.shape
        size = (-(-w // shrink), -(-h // shrink))
        small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
        mask = _clean_mask(small, min_area=max(1, min_area // (shrink * shrink)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    shapes = []
    for k in range(1, n):
        x, y, w, h = (int(v) for v in stats[k, :4])
        crop = np.pad(labels[y : y + h, x : x + w] == k, _PAD)
        shape = _trace_shape(crop, offset=(x - _PAD, y - _PAD), settings=settings)
        if shrink > 1:
            shape = [[(cmd, [v * shrink for v in args]) for cmd, args in sub] for sub in shape]
        shapes.append(shape)
    return shapes


def vectorize_alpha(
    alpha: np.ndarray,
    *,
    min_area: int = 16,
    max_nodes: int = 5000,
    dpi: int = 300,
    size: tuple[str, str] | None = None,
) -> CutFile:
    """Trace alpha >= 0.5 into an SVG cut file with one closed path per shape.

    min_area: shapes and holes smaller than this many pixels are dropped or
    filled (16 suits a 512 px image). max_nodes: most path commands in the
    file. dpi: pixels per inch for the physical width and height, given in
    inches unless `size` gives them (e.g. ("76.2000mm", "76.2000mm")).
    """
    # 1. Validate.
    if alpha.ndim != 2 or alpha.size == 0:
        raise InvalidRequest(f"alpha must be a non-empty 2-D array, got shape {alpha.shape}", field="alpha")
    if alpha.dtype != np.bool_:
        if not np.issubdtype(alpha.dtype, np.floating):
            raise InvalidRequest(f"alpha must be floats in [0, 1], got dtype {alpha.dtype}", field="alpha")
        if not (np.isfinite(alpha).all() and alpha.min() >= 0.0 and alpha.max() <= 1.0):
            low, high = alpha.min(), alpha.max()
            raise InvalidRequest(f"alpha must be floats in [0, 1], got {low} to {high}", field="alpha")
    for name, value, least in (("min_area", min_area, 0), ("max_nodes", max_nodes, 1), ("dpi", dpi, 1)):
        if value < least:
            raise InvalidRequest(f"{name} must be >= {least}, got {value}", field=name)

    # 2. Clean the silhouette.
    mask = _clean_mask(alpha >= 0.5, min_area=min_area)
    if not mask.any():
        raise InvalidRequest(f"the alpha has no shape of at least {min_area} pixels to cut", field="alpha")

    # 3. Trace, coarser each time the file would have too many nodes.
    counts: list[int] = []
    for settings, shrink in _TRACES:
        shapes = _trace_all(mask, settings=settings, shrink=shrink, min_area=min_area)
        if not shapes:
            continue  # shrinking lost every shape: not a cut file of this alpha
        nodes = sum(len(sub) for shape in shapes for sub in shape)
        counts.append(nodes)
        if nodes <= max_nodes:
            break
    else:
        raise InvalidRequest(
            f"the cut file needs {min(counts)} path nodes even when simplified; the limit is {max_nodes}",
            field="max_nodes",
        )

    # 4. Rebuild a minimal SVG: only svg and path elements.
    h, w = mask.shape
    width, height = size or (f"{w / dpi:.4f}in", f"{h / dpi:.4f}in")
    root = ET.Element("svg", {"xmlns": SVG_NS, "viewBox": f"0 0 {w} {h}", "width": width, "height": height})
    for shape in shapes:
        ET.SubElement(root, "path", {"d": _path_data(shape), "fill": "#000000", "fill-rule": "evenodd"})
    return CutFile(svg=ET.tostring(root, encoding="unicode"), paths=len(shapes), nodes=nodes)
