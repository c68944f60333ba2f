"""sticker (#15): a border `offset` mm wide following the subject, exactly one closed cut path
that encloses every opaque pixel at the offset (±0.5 mm), rounded at inward corners; from an
upload or a prompt; bad offsets and colours refused by field."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest
from craftgen.imaging.cutlines import rasterize_path, subpaths

DPI = 300
PX_PER_MM = DPI / 25.4
TOLERANCE_MM = 0.5


def _subject(kind: str) -> Image.Image:
    """A red subject on transparency: a disc (convex), or a square with a sharp 90° notch."""
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if kind == "disc":
        draw.ellipse((20, 20, 180, 180), fill=(210, 20, 20, 255))
    else:
        draw.polygon([(20, 20), (180, 20), (100, 100), (180, 180), (20, 180)], fill=(210, 20, 20, 255))
    return image


def _sticker(engine: Engine, kind: str, **fields: object) -> tuple[np.ndarray, str, dict]:  # type: ignore[type-arg]
    request = {"tool": "sticker", "print_width": 3, "print_height": 3, "dpi": DPI, "border_color": "#40ff40"}
    result = engine.run(parse_request({**request, **fields}), _subject(kind))
    png, svg = result.outputs
    assert (png.kind, svg.kind) == ("image", "svg")
    return np.asarray(Image.open(io.BytesIO(png.data))), svg.data.decode(), result.metrics


def _cut_line(svg: str) -> str:
    paths = re.findall(r"<path [^>]*>", svg)
    assert len(paths) == 1, "exactly one cut path"
    (d,) = re.findall(r' d="([^"]+)"', paths[0])
    return d


def _vertices(d: str) -> np.ndarray:
    return np.array([args[:2] for sub in subpaths(d) for cmd, args in sub if cmd in ("M", "L")])


@pytest.mark.parametrize("kind", ["disc", "notch"])
def test_the_cut_line_is_one_closed_path_at_the_offset_around_every_opaque_pixel(engine: Engine, kind: str) -> None:
    offset = 3.0
    png, svg, metrics = _sticker(engine, kind, offset=offset)
    d = _cut_line(svg)
    (sub,) = subpaths(d)  # one closed subpath: M ... Z
    assert sub[0][0] == "M" and sub[-1][0] == "Z" and metrics["cut_paths_closed"] is True
    assert 'width="3.0000in"' in svg and png.shape[:2] == (900, 900)

    inside = rasterize_path(d, width=900, height=900)
    subject = (png[..., 3] > 0) & (png[..., 0] > 128)  # red: the subject, not the green border
    # 1. Every opaque pixel of the sticker is inside the cut line; the subject at least
    #    offset - 0.5 mm from it.
    assert inside[png[..., 3] > 127].all()
    to_line = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert to_line[subject].min() >= (offset - TOLERANCE_MM) * PX_PER_MM
    # 2. The line itself runs at the offset: each vertex within ±0.5 mm of it from the subject,
    #    except where an inward corner is rounded (farther, up to the corner radius).
    to_subject = cv2.distanceTransform((~subject).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    at = _vertices(d)
    ys = np.clip(np.round(at[:, 1]).astype(int), 0, 899)
    xs = np.clip(np.round(at[:, 0]).astype(int), 0, 899)
    distances = to_subject[ys, xs] / PX_PER_MM
    assert distances.min() >= offset - TOLERANCE_MM, distances.min()
    if kind == "disc":
        assert distances.max() <= offset + TOLERANCE_MM, distances.max()
    else:
        within = np.mean(np.abs(distances - offset) <= TOLERANCE_MM)
        assert within > 0.9 and distances.max() <= offset + metrics["corner_radius_mm"] + TOLERANCE_MM


def test_the_inward_corner_is_rounded(engine: Engine) -> None:
    _, svg, metrics = _sticker(engine, "notch", offset=2)
    inside = rasterize_path(_cut_line(svg), width=900, height=900)
    radius = 0.9 * metrics["corner_radius_mm"] * PX_PER_MM
    # The background in the notch has no corner sharper than the radius: a disk that size
    # reaches everywhere in it (a sharp 90° corner leaves about 0.25 r² pixels unreached; see
    # tests/imaging/test_cutlines.py).
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (round(2 * radius) | 1,) * 2)
    outside = np.pad((~inside).astype(np.uint8), 40, constant_values=1)
    unreached = outside & ~cv2.morphologyEx(outside, cv2.MORPH_OPEN, kernel)
    assert unreached.sum() < 0.12 * radius**2, unreached.sum()


def test_the_border_has_the_chosen_colour_and_the_rest_is_transparent(engine: Engine) -> None:
    png, _, metrics = _sticker(engine, "disc", offset=3)
    subject = (png[..., 0] > 128).astype(np.uint8)
    away = cv2.distanceTransform(1 - subject, cv2.DIST_L2, 5) > 12  # past the subject's soft edge
    border = png[(png[..., 3] == 255) & away]
    assert len(border) > 10_000 and np.all(border[:, :3] == [0x40, 0xFF, 0x40])
    assert png[0, 0, 3] == 0 and png[450, 450, 3] == 255
    assert metrics["offset_mm"] == 3 and metrics["sticker_width_mm"] <= 76.2


def test_bleed_runs_the_border_colour_past_the_cut_line(engine: Engine) -> None:
    png, svg, _ = _sticker(engine, "disc", offset=2, bleed=2, print_unit="mm", print_width=60, print_height=60)
    side = round(60 * PX_PER_MM) + 2 * round(2 * PX_PER_MM)
    assert png.shape[:2] == (side, side)
    inside = rasterize_path(_cut_line(svg), width=side, height=side)
    printed = png[..., 3] > 127
    assert inside.sum() < printed.sum() and printed[inside].all()


def test_a_sticker_from_a_prompt(engine: Engine) -> None:
    result = engine.run(parse_request({"tool": "sticker", "prompt": "a happy avocado", "seed": 5, "steps": 2}))
    png, svg = result.outputs
    assert (png.name, svg.name) == ("sticker-0.png", "sticker-0.svg") and png.seed == 5
    assert png.image is not None and png.image.mode == "RGBA" and png.image.size == (128, 128)
    assert len(subpaths(_cut_line(svg.data.decode()))) == 1


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"offset": 10, "print_width": 0.5, "print_height": 0.5}, "offset", "does not fit"),
        ({"offset": 0.1}, "offset", "greater than or equal to 0.5"),
        ({"border_color": "white"}, "border_color", "#rrggbb"),
        ({"image": None, "prompt": ""}, "prompt", "a prompt or an image"),
    ],
)
def test_bad_sticker_requests_are_refused_by_field(
    engine: Engine, fields: dict[str, object], field: str, words: str
) -> None:
    image = None if "image" in fields else _subject("disc")
    fields = {k: v for k, v in fields.items() if k != "image"}
    with pytest.raises(InvalidRequest, match=words) as refused:
        engine.prepare(parse_request({"tool": "sticker", **fields}), image)
    assert refused.value.field == field


def test_a_sheet_packs_stickers_2_mm_apart_with_one_cut_path_each(engine: Engine) -> None:
    fields = {"tool": "sticker", "print_width": 1, "print_height": 1, "offset": 2, "sheet": "A4", "sheet_count": 12}
    result = engine.run(parse_request(fields), _subject("notch"))
    png, svg = result.outputs
    text = svg.data.decode()

    assert (png.name, svg.name) == ("sticker-sheet.png", "sticker-sheet.svg")
    assert png.image is not None and png.image.size == (2480, 3508)  # A4 at 300 DPI
    assert 'width="210.0mm"' in text and 'height="297.0mm"' in text
    paths = re.findall(r' d="([^"]+)"', text)
    assert len(paths) == 12 == result.metrics["sheet_stickers"]
    shapes = [rasterize_path(d, width=2480, height=3508) for d in paths]
    union = np.zeros((3508, 2480), np.uint8)
    for d, shape in zip(paths, shapes, strict=True):
        assert len(subpaths(d)) == 1 and d.endswith("Z")
        union |= shape.astype(np.uint8)
    # Apart by at least the spacing (less a pixel of tracing), and inside the 10 mm margin.
    for index, shape in enumerate(shapes):
        others = union & ~shape.astype(np.uint8)
        gap = cv2.distanceTransform(1 - others, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[shape].min()
        assert gap >= 2 * PX_PER_MM - 2, (index, gap / PX_PER_MM)
    ys, xs = np.nonzero(union)
    assert min(xs.min(), ys.min()) >= 10 * PX_PER_MM - 2 and xs.max() <= 2480 - 10 * PX_PER_MM + 2
    # Every printed pixel lies inside some cut line.
    alpha = np.asarray(png.image.getchannel("A"))
    assert union[alpha > 127].all()


def test_a_sticker_too_big_for_the_sheet_is_refused(engine: Engine) -> None:
    request = {"tool": "sticker", "print_width": 9, "print_height": 9, "sheet": "Letter"}
    with pytest.raises(InvalidRequest, match="does not fit on Letter") as refused:
        engine.prepare(parse_request(request), _subject("disc"))
    assert refused.value.field == "print_width"
