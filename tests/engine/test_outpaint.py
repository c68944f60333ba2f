"""outpaint: the canvas grows by exactly what was asked, the original pixels come back unchanged
outside a narrow blend band, and only strips around the new area are denoised."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.registry import ModelRegistry, ModelSpec
from craftgen.engine.requests import parse_request
from craftgen.engine.tools.outpaint import MAX_BLEND


def _outpaint(engine: Engine, image: Image.Image, **sides) -> tuple[np.ndarray, dict]:
    result = engine.run(parse_request(dict(tool="outpaint", seed=3, prompt="meadow", **sides)), image)
    return np.asarray(result.outputs[0].image), result.metrics


@pytest.mark.parametrize(
    "sides",
    [
        {"left": 64},
        {"right": 40, "bottom": 24},
        {"left": 16, "right": 16, "top": 16, "bottom": 16},
    ],
)
def test_original_pixels_are_kept_outside_the_blend_band(engine: Engine, photo: Image.Image, sides: dict) -> None:
    out, metrics = _outpaint(engine, photo, **sides)
    left, top = sides.get("left", 0), sides.get("top", 0)
    w, h = photo.size

    assert out.shape[:2] == (h + top + sides.get("bottom", 0), w + left + sides.get("right", 0))
    region = out[top : top + h, left : left + w]
    original = np.asarray(photo)
    # Beyond MAX_BLEND px from every border that grew, the original is untouched, bit for bit.
    inner = (
        slice(MAX_BLEND if top else 0, h - (MAX_BLEND if sides.get("bottom") else 0)),
        slice(MAX_BLEND if left else 0, w - (MAX_BLEND if sides.get("right") else 0)),
    )
    assert np.array_equal(region[inner], original[inner])
    # The new area is generated, not the edge colour smeared outwards.
    if left:
        assert out[top : top + h, :left].std() > 5
    assert metrics["inpaint_method"] == "masked-img2img"


def test_only_strips_around_the_new_area_are_denoised(engine: Engine) -> None:
    big = Image.new("RGB", (512, 384), (120, 160, 200))
    _, metrics = _outpaint(engine, big, right=32)

    canvas = (512 + 32) * 384
    assert metrics["canvas_pixels"] == canvas
    # A 32 px band plus 64 px of context, not the whole canvas.
    assert metrics["denoised_pixels"] <= (32 + 64) * 384
    assert metrics["denoised_pixels"] < canvas / 4


def test_odd_sizes_work(engine: Engine) -> None:
    odd = Image.new("RGB", (101, 77), (10, 200, 30))
    out, _ = _outpaint(engine, odd, left=13, top=5)
    assert out.shape[:2] == (82, 114)


def test_uses_the_models_own_inpainting_variant_when_it_has_one(options, photo: Image.Image) -> None:
    registry = ModelRegistry({"tiny": ModelSpec(name="tiny", source="tiny", inpaint="tiny-inpaint")}, default="tiny")
    engine = Engine(options=options, limits=Limits(), registry=registry)
    out, metrics = _outpaint(engine, photo, top=24)

    assert metrics["inpaint_method"] == "inpaint-model"
    assert np.array_equal(out[24 + MAX_BLEND :], np.asarray(photo)[MAX_BLEND:])
