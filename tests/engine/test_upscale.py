"""upscale: x2/x4 sizes, tiles of fixed size (flat model memory), seamless stays seamless."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest
from craftgen.imaging.io import open_image
from craftgen.imaging.seams import seam_scores
from tests.conftest import smooth_image


def _unet_inputs(engine: Engine, monkeypatch) -> list[tuple[int, ...]]:
    unet = engine.models.get("tiny").base.unet
    shapes: list[tuple[int, ...]] = []
    original = unet.forward

    def forward(sample, *args, **kwargs):
        shapes.append(tuple(sample.shape))
        return original(sample, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", forward)
    return shapes


@pytest.mark.parametrize("scale", [2, 4])
def test_sizes(engine: Engine, scale: int) -> None:
    image = smooth_image(48, 40)
    result = engine.run(parse_request(dict(tool="upscale", scale=scale, seed=1, steps=4, strength=0.5)), image)
    assert result.outputs[0].image.size == (48 * scale, 40 * scale)


def test_model_sees_fixed_size_tiles_whatever_the_image_size(engine: Engine, monkeypatch) -> None:
    shapes = _unet_inputs(engine, monkeypatch)
    for size in [(96, 96), (200, 160)]:
        engine.run(parse_request(dict(tool="upscale", scale=2, seed=1, steps=4, strength=0.5)), smooth_image(*size))
    # Tile 128 px -> 16x16 latents; at most 2 tiles (x2 for guidance) per call, for both sizes.
    assert shapes and all(shape[2:] == (16, 16) and shape[0] <= 4 for shape in shapes)


def test_seamless_pattern_stays_seamless(engine: Engine) -> None:
    tiles = engine.run(
        parse_request(dict(tool="pattern", prompt="leaves", seed=2, width=128, height=128, num_images=4))
    ).outputs
    scores_before, scores_after = [], []
    for out in (o for o in tiles if o.kind == "image"):
        # Through the PNG, as a user would upload it: the tile's metadata says it is seamless.
        upload = open_image(out.data, max_bytes=10**7, max_pixels=10**7)
        result = engine.run(parse_request(dict(tool="upscale", seed=1, steps=4, strength=0.4)), upload)
        scores_before.append(seam_scores(out.image)["seam_score_x"])
        scores_after.append(seam_scores(result.outputs[0].image)["seam_score_x"])
    assert np.mean(scores_after) > 0.8, (scores_before, scores_after)


def test_transparency_is_kept(engine: Engine) -> None:
    rgba = smooth_image(64, 64).convert("RGBA")
    alpha = np.zeros((64, 64), np.uint8)
    alpha[16:48, 16:48] = 255
    rgba.putalpha(Image.fromarray(alpha))
    out = engine.run(parse_request(dict(tool="upscale", seed=1, steps=4, strength=0.5)), rgba).outputs[0].image

    assert out.mode == "RGBA"
    out_alpha = np.asarray(out.getchannel("A"))
    assert out_alpha[64, 64] == 255 and out_alpha[4, 4] == 0


def test_strength_zero_is_a_plain_resize_with_no_diffusion(engine: Engine, monkeypatch) -> None:
    shapes = _unet_inputs(engine, monkeypatch)
    result = engine.run(parse_request(dict(tool="upscale", strength=0)), smooth_image(64, 48))
    assert result.outputs[0].image.size == (128, 96)
    assert shapes == []


def test_too_large_an_output_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidRequest, match="pixels") as error:
        engine.run(parse_request(dict(tool="upscale", scale=4)), Image.new("RGB", (1100, 1100)))
    assert error.value.field == "scale"
