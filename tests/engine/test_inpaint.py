"""inpaint: only the masked part changes; outside the mask and its blend band every pixel is the
input's, bit for bit; masks are checked by name; only a crop around a small mask is denoised."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.registry import ModelRegistry, ModelSpec
from craftgen.engine.requests import parse_request
from craftgen.errors import InvalidRequest
from craftgen.imaging.io import read_parameters
from craftgen.imaging.masks import feather, mask_from_transparency, selected
from tests.conftest import smooth_image


def _box_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = np.zeros((size[1], size[0]), np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask)


def _inpaint(engine: Engine, image: Image.Image, mask: Image.Image, **fields: object):
    request = parse_request({"tool": "inpaint", "seed": 3, "prompt": "a red rose", **fields})
    return engine.run(request, image, files={"mask": mask})


def _outside_band(mask: Image.Image, blend: int) -> np.ndarray:
    """True beyond `blend` px (in any direction) of the painted area: these must be untouched."""
    chosen = selected(mask).astype(np.uint8)
    grown = cv2.dilate(chosen, np.ones((2 * blend + 1, 2 * blend + 1), np.uint8))
    return grown == 0


@pytest.mark.parametrize("blend", [0, 4, 8])
def test_pixels_outside_the_mask_and_its_blend_band_are_kept_bit_for_bit(
    engine: Engine, photo: Image.Image, blend: int
) -> None:
    mask = _box_mask(photo.size, (50, 30, 100, 80))
    result = _inpaint(engine, photo, mask, blend=blend, num_images=2)
    original = np.asarray(photo)
    outside = _outside_band(mask, blend)

    assert len(result.outputs) == 2
    for output in result.outputs:
        out = np.asarray(output.image)
        assert out.shape == original.shape
        assert np.array_equal(out[outside], original[outside])
        # The painted part is regenerated, not copied.
        assert np.abs(out[30:80, 50:100].astype(int) - original[30:80, 50:100]).mean() > 5
    assert result.metrics["inpaint_method"] == "masked-img2img"


def test_an_rgba_mask_repaints_where_white_and_opaque(engine: Engine, photo: Image.Image) -> None:
    # Opaque white strokes on a transparent sheet (what a brush over a clear canvas makes).
    sheet = np.zeros((photo.height, photo.width, 4), np.uint8)
    sheet[20:50, 20:60] = (255, 255, 255, 255)
    sheet[70:100, 90:140] = (255, 255, 255, 0)  # white but transparent: kept
    mask = Image.fromarray(sheet, mode="RGBA")
    out = np.asarray(_inpaint(engine, photo, mask, blend=0).outputs[0].image)
    original = np.asarray(photo)

    assert np.array_equal(out[70:100, 90:140], original[70:100, 90:140])
    assert not np.array_equal(out[20:50, 20:60], original[20:50, 20:60])


def test_a_mask_of_another_size_is_refused_naming_mask(engine: Engine, photo: Image.Image) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _inpaint(engine, photo, _box_mask((80, 60), (0, 0, 10, 10)))
    assert refused.value.field == "mask"
    assert "80x60" in str(refused.value) and "160x120" in str(refused.value)


@pytest.mark.parametrize("mask", ["black", "transparent"])
def test_an_empty_mask_is_refused_with_a_clear_error(engine: Engine, photo: Image.Image, mask: str) -> None:
    empty = Image.new("L", photo.size, 0) if mask == "black" else Image.new("RGBA", photo.size, (255, 255, 255, 0))
    with pytest.raises(InvalidRequest) as refused:
        _inpaint(engine, photo, empty)
    assert refused.value.field == "mask" and "marks nothing to repaint" in str(refused.value)


def test_a_missing_mask_is_refused_naming_mask(engine: Engine, photo: Image.Image) -> None:
    with pytest.raises(InvalidRequest) as refused:
        engine.run(parse_request({"tool": "inpaint", "prompt": "x"}), photo)
    assert refused.value.field == "mask" and "needs a mask" in str(refused.value)


@pytest.mark.parametrize(("fields", "field"), [({"blend": 99}, "blend"), ({"strength": 0}, "strength")])
def test_bad_values_are_refused_by_name(engine: Engine, photo: Image.Image, fields: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _inpaint(engine, photo, _box_mask(photo.size, (10, 10, 40, 40)), **fields)
    assert refused.value.field == field


def test_a_small_mask_on_a_big_picture_denoises_only_a_crop(engine: Engine) -> None:
    big = smooth_image(512, 384, seed=2)
    mask = _box_mask(big.size, (300, 200, 332, 232))
    result = _inpaint(engine, big, mask, blend=4)
    out, original = np.asarray(result.outputs[0].image), np.asarray(big)

    assert result.metrics["image_pixels"] == 512 * 384
    assert result.metrics["denoised_pixels"] <= 168 * 168  # 32 px + 2 x 4 blend + 2 x 64 context
    outside = _outside_band(mask, 4)
    assert np.array_equal(out[outside], original[outside])


def test_a_mask_bigger_than_the_model_size_runs_scaled_and_keeps_the_rest(engine: Engine) -> None:
    # A picture wider than max_side: the crop is denoised scaled down, and pasted back at full size.
    small_limits = Engine(options=engine.options, limits=Limits(max_side=128))
    wide = smooth_image(320, 96, seed=4)
    mask = _box_mask(wide.size, (20, 10, 300, 86))
    result = _inpaint(small_limits, wide, mask, blend=2)
    out, original = np.asarray(result.outputs[0].image), np.asarray(wide)

    assert out.shape == original.shape
    assert result.metrics["denoised_pixels"] <= 128 * 128
    outside = _outside_band(mask, 2)
    assert np.array_equal(out[outside], original[outside])


def test_uses_the_models_own_inpainting_variant_when_it_has_one(options, photo: Image.Image) -> None:
    registry = ModelRegistry({"tiny": ModelSpec(name="tiny", source="tiny", inpaint="tiny-inpaint")}, default="tiny")
    engine = Engine(options=options, limits=Limits(), registry=registry)
    mask = _box_mask(photo.size, (40, 40, 90, 90))
    result = _inpaint(engine, photo, mask)
    out = np.asarray(result.outputs[0].image)
    outside = _outside_band(mask, 8)

    assert result.metrics["inpaint_method"] == "inpaint-model"
    assert np.array_equal(out[outside], np.asarray(photo)[outside])


def test_the_png_records_how_it_was_made_without_upload_ids(engine: Engine, photo: Image.Image) -> None:
    request = parse_request({"tool": "inpaint", "seed": 9, "prompt": "moss", "image": "a.png", "mask": "m.png"})
    result = engine.run(request, photo, files={"mask": _box_mask(photo.size, (0, 0, 64, 64))})
    recorded = read_parameters(Image.open(io.BytesIO(result.outputs[0].data)))

    assert recorded["tool"] == "inpaint" and recorded["seed"] == 9 and recorded["inpaint_method"] == "masked-img2img"
    assert "mask" not in recorded and "image" not in recorded


def test_openai_style_masks_convert_to_ours() -> None:
    # OpenAI: transparent = edit here. Ours: white = repaint.
    sheet = np.full((8, 8, 4), 255, np.uint8)
    sheet[2:5, 3:6, 3] = 0
    converted = selected(mask_from_transparency(Image.fromarray(sheet, mode="RGBA")))
    expected = np.zeros((8, 8), bool)
    expected[2:5, 3:6] = True
    assert np.array_equal(converted, expected)


def test_feather_is_one_on_the_mask_and_zero_beyond_the_band() -> None:
    chosen = np.zeros((20, 20), bool)
    chosen[8:12, 8:12] = True
    weights = feather(chosen, 3)
    assert (weights[chosen] == 1).all()
    assert weights[8, 12] > weights[8, 13] > weights[8, 14] > 0 and weights[8, 15] == 0
    assert (weights[_far(chosen, 3)] == 0).all()


def _far(chosen: np.ndarray, blend: int) -> np.ndarray:
    grown = cv2.dilate(chosen.astype(np.uint8), np.ones((2 * blend + 1, 2 * blend + 1), np.uint8))
    return grown == 0
