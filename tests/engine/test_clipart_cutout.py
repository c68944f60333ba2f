"""clipart and cutout through the engine: transparent PNG + SVG cut file, clear refusals."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest


def _sticker() -> Image.Image:
    image = Image.new("RGB", (128, 128), (245, 245, 245))
    image.paste((30, 90, 200), (30, 30, 90, 100))
    return image


def test_cutout_gives_a_transparent_png_and_an_svg(engine: Engine) -> None:
    result = engine.run(parse_request(dict(tool="cutout")), _sticker())
    png, svg = result.outputs

    assert (png.kind, svg.kind) == ("image", "svg")
    alpha = np.asarray(Image.open(io.BytesIO(png.data)).getchannel("A"))
    assert alpha[5, 5] == 0 and alpha[60, 60] == 255
    assert svg.media_type == "image/svg+xml" and b"<script" not in svg.data
    assert result.metrics["svg_paths"] == 1 and result.metrics["background_plain"] is True


def test_cutout_refuses_an_image_without_a_plain_background(engine: Engine) -> None:
    rng = np.random.default_rng(0)
    busy = Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    with pytest.raises(InvalidRequest, match="no plain background") as error:
        engine.run(parse_request(dict(tool="cutout")), busy)
    assert error.value.field == "image"


def test_clipart_runs_end_to_end_and_reports_its_background(engine: Engine) -> None:
    result = engine.run(parse_request(dict(tool="clipart", prompt="a cute cat", seed=2, num_images=2)))
    images = [out for out in result.outputs if out.kind == "image"]

    assert len(images) == 2 and all(out.image.mode == "RGBA" for out in images)
    assert [out.name for out in result.outputs if out.kind == "svg"] == ["clipart-0.svg", "clipart-1.svg"]
    # The tiny model paints noise, not a plain background: the job still succeeds and says so.
    assert result.metrics["background_plain"] is False
    assert sum("background was not plain" in warning for warning in result.warnings) == 2
