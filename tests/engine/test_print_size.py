"""Physical sizes (#15): the final PNG is exactly round(size x dpi) px (+ bleed on each side),
with the DPI in pHYs and an sRGB profile; a pattern still wraps at its print size; an SVG is in
the print's unit and matches its PNG; without print fields nothing changes."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms

from craftgen.engine.base import Tool
from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.engine.tools import TOOLS
from craftgen.errors import InvalidRequest
from craftgen.imaging.seams import seam_scores
from craftgen.imaging.tiling import REPEATS

FAST = {"steps": 2, "seed": 3}


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _is_srgb(image: Image.Image) -> bool:
    icc = image.info.get("icc_profile")
    if not icc:
        return False
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return "sRGB" in ImageCms.getProfileDescription(profile)


def _run(engine: Engine, image: Image.Image | None = None, **fields: object):  # type: ignore[no-untyped-def]
    fast = FAST if fields["tool"] != "cutout" else {"seed": 3}
    return engine.run(parse_request({**fast, **fields}), image)


@pytest.mark.parametrize(
    ("width", "height", "unit", "dpi", "expected"),
    [
        (2, 1.5, "in", 300, (600, 450)),
        (5, 4, "cm", 254, (500, 400)),  # 254 DPI = 100 px per cm
        (50.8, 25.4, "mm", 150, (300, 150)),
        (3, 3, "in", None, (900, 900)),  # left out: the engine's 300 DPI
    ],
)
def test_a_print_size_gives_exact_pixels_dpi_and_an_srgb_profile(
    engine: Engine, width: float, height: float, unit: str, dpi: int | None, expected: tuple[int, int]
) -> None:
    fields = {"tool": "text", "prompt": "a fox", "print_width": width, "print_height": height, "print_unit": unit}
    if dpi is not None:
        fields["dpi"] = dpi
    (output,) = _run(engine, **fields).outputs
    png = _png(output.data)

    assert png.size == expected == (output.width, output.height)
    assert round(png.info["dpi"][0]) == round(png.info["dpi"][1]) == (dpi or 300)
    assert _is_srgb(png)


def test_bleed_adds_its_pixels_on_each_side(engine: Engine) -> None:
    fields = {"tool": "text", "prompt": "a fox", "print_width": 4, "print_height": 6, "bleed": 0.125, "dpi": 200}
    (output,) = _run(engine, **fields).outputs
    # 4 x 6 in at 200 DPI is 800 x 1200; 0.125 in of bleed is 25 px a side.
    assert _png(output.data).size == (850, 1250)


def test_the_model_generates_in_the_prints_shape(engine: Engine) -> None:
    item = engine.prepare(parse_request({"tool": "text", "prompt": "a fox", "print_width": 8.5, "print_height": 11}))
    width, height = item.request.width, item.request.height
    # About the model's own pixel count (128 x 128 here), multiples of 8, Letter's shape.
    assert width % 8 == height % 8 == 0 and abs(width / height - 8.5 / 11) < 0.06
    assert 0.8 < width * height / 128**2 < 1.2


def test_without_print_fields_the_output_is_as_before(engine: Engine) -> None:
    plain = _run(engine, tool="text", prompt="a fox").outputs[0]
    only_unit = _run(engine, tool="text", prompt="a fox", print_unit="cm").outputs[0]
    png = _png(plain.data)

    assert png.size == (128, 128) and round(png.info["dpi"][0]) == engine.options.dpi
    assert "icc_profile" not in png.info
    assert plain.data == only_unit.data or np.array_equal(np.asarray(png), np.asarray(_png(only_unit.data)))


@pytest.mark.parametrize("repeat", REPEATS)
def test_a_pattern_at_a_print_size_still_repeats_with_no_seam(engine: Engine, repeat: str) -> None:
    # 2.37 x 1.91 in at 150 DPI: an odd, non-integer resize of the 128 px tile.
    printed = _run(engine, tool="pattern", prompt="roses", repeat=repeat, print_width=2.37, print_height=1.91, dpi=150)
    tile = _png(printed.outputs[0].data)

    assert tile.size == (round(2.37 * 150), round(1.91 * 150))
    scores = seam_scores(tile, repeat=repeat)
    for axis in ("seam_score_x", "seam_score_y"):
        assert scores[axis] > 0.9, (repeat, scores)
        assert printed.metrics[axis] == scores[axis]


def test_a_pattern_with_bleed_repeats_on_past_the_trim(engine: Engine) -> None:
    printed = _run(engine, tool="pattern", prompt="roses", print_width=2, print_height=2, dpi=100, bleed=0.1)
    tile = np.asarray(_png(printed.outputs[0].data), np.int16)

    assert tile.shape[:2] == (220, 220)
    trim = tile[10:-10, 10:-10]
    # The bleed is the next tile's pixels: the trim box is one period of the repeat.
    assert np.array_equal(tile[:10, 10:-10], trim[-10:]) and np.array_equal(tile[10:-10, -10:], trim[:, :10])
    assert seam_scores(Image.fromarray(trim.astype(np.uint8)))["seam_score_x"] > 0.9


def test_a_cut_file_is_in_the_prints_unit_and_matches_its_png(engine: Engine) -> None:
    result = _run(engine, tool="clipart", prompt="a cat", print_width=76.2, print_height=50.8, print_unit="mm")
    png, svg = result.outputs
    text = svg.data.decode()

    assert _png(png.data).size == (900, 600) == (svg.width, svg.height)
    assert 'width="76.2000mm"' in text and 'height="50.8000mm"' in text
    assert re.search(r'viewBox="0 0 900 600"', text)


def test_a_cutout_at_a_print_size_keeps_its_subject_whole(engine: Engine) -> None:
    upload = Image.new("RGB", (96, 64), (246, 246, 246))
    upload.paste((200, 40, 40), (20, 12, 76, 52))
    result = _run(engine, upload, tool="cutout", print_width=3, print_height=3, print_unit="cm", dpi=254)
    png, svg = result.outputs
    alpha = np.asarray(_png(png.data).getchannel("A"))

    assert alpha.shape == (300, 300) and 'width="3.0000cm"' in svg.data.decode()
    # Contained, not cropped: the subject (56 x 40 of 96 x 64) is centred, with transparent margin.
    cols = np.flatnonzero(alpha.max(axis=0) > 128)
    assert abs(cols[0] - (300 - cols[-1] - 1)) <= 2 and alpha[:5].max() == 0


def test_a_print_too_big_for_the_pixel_limit_says_the_largest_size(engine: Engine) -> None:
    request = parse_request({"tool": "text", "prompt": "a fox", "print_width": 40, "print_height": 30})
    with pytest.raises(InvalidRequest) as refused:
        engine.prepare(request)
    assert refused.value.field == "print_width"
    message = str(refused.value)
    assert "12000x9000" in message and "the largest at 300 DPI" in message
    largest = re.search(r"is (\d+\.\d+) x (\d+\.\d+) in", message)
    assert largest is not None
    width, height = float(largest[1]), float(largest[2])
    assert round(width * 300) * round(height * 300) <= engine.limits.max_print_pixels
    assert round((width + 0.05) * 300) * round((height + 0.05) * 300) > engine.limits.max_print_pixels


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"print_width": 3}, "print_height", "print_height is needed"),
        ({"print_height": 3}, "print_width", "print_width is needed"),
        ({"print_width": 3, "print_height": 3, "dpi": 5000}, "dpi", "between 50 and 1200"),
        ({"print_width": 1, "print_height": 1, "bleed": 0.6}, "bleed", "more than half"),
        ({"print_width": 0.01, "print_height": 1}, "print_width", "at least 8 px"),
    ],
)
def test_a_bad_print_size_is_refused_by_its_field(
    engine: Engine, fields: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidRequest, match=words) as refused:
        engine.prepare(parse_request({"tool": "text", "prompt": "a fox", **fields}))
    assert refused.value.field == field


def test_a_negative_print_size_is_refused_when_parsed() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request({"tool": "text", "prompt": "a fox", "print_width": -2, "print_height": 2})
    assert refused.value.field == "print_width"


def _inputs(tool: Tool[Any]) -> dict[str, Image.Image]:
    """A plain-background picture for `image`, and an all-white mask for any other input file."""
    picture = Image.new("RGB", (64, 64), (244, 243, 240))
    picture.paste((40, 110, 190), (16, 16, 48, 48))
    names = list(getattr(tool, "input_files", {"image": None} if tool.needs_image else {}))
    return {name: picture if name == "image" else Image.new("L", picture.size, 255) for name in names}


@pytest.mark.parametrize("tool", [pytest.param(tool, id=name) for name, tool in TOOLS.items()])
def test_every_tool_makes_its_images_at_the_print_size(engine: Engine, tool: Tool[Any]) -> None:
    data = {**tool.example_request, "seed": 4, "print_width": 1.5, "print_height": 1, "dpi": 120}
    data.pop("image", None)
    data.pop("mask", None)
    if "num_images" in tool.fields:
        data["num_images"] = 1
    if "steps" in tool.fields:
        data["steps"] = 4
    inputs = _inputs(tool)
    others = {name: file for name, file in inputs.items() if name != "image"}
    # (Tools with more input files than the image take them as `files`.)
    result = engine.run(parse_request(data), inputs.get("image"), **({"files": others} if others else {}))

    images = [output for output in result.outputs if output.kind == "image"]
    assert images
    for output in images:
        png = _png(output.data)
        assert png.size == (180, 120) == (output.width, output.height), output.name
        assert round(png.info["dpi"][0]) == 120 and _is_srgb(png)
    for output in result.outputs:
        if output.kind == "svg":
            assert 'width="1.5000in"' in output.data.decode() and (output.width, output.height) == (180, 120)
