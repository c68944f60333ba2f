"""Fidelity: with every speed-up off, each tool's pixels are a plain diffusers call's pixels.

The tiny model is saved as a diffusers folder with a scheduler other than the built-in one, so
"the model folder's own scheduler" is what both sides must load. DDPM adds fresh noise at every
step, so the per-image CPU generators (seed + index) are drawn from throughout, not only for the
starting noise. Stock pipelines load the same folder and get the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from diffusers import (
    DDPMScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
)
from PIL import Image

from craftgen.engine.engine import Engine
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.requests import parse_request
from craftgen.engine.tiny import build_tiny_pipeline
from craftgen.engine.tools.outpaint import plan_strips
from craftgen.schemas import ToolRequest
from tests.conftest import smooth_image

SEED = 1234
PROMPT = "watercolor floral sticker"
NEGATIVE = "blurry"
MAX_DIFF = 1  # out of 255


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pipe = build_tiny_pipeline()
    pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    path = tmp_path_factory.mktemp("fidelity") / "tiny-ddpm"
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def exact(options: EngineOptions) -> Engine:
    """Every speed-up off, spelled out (not left to defaults)."""
    plain = replace(options, dtype="float32", channels_last=False, attention="sdpa", compile=False)
    return Engine(options=plain, limits=Limits())


def generators(count: int) -> list[torch.Generator]:
    return [torch.Generator("cpu").manual_seed(SEED + index) for index in range(count)]


def max_diff(ours: Image.Image | np.ndarray, stock: Image.Image | np.ndarray) -> int:
    a, b = np.asarray(ours, np.int16), np.asarray(stock, np.int16)
    assert a.shape == b.shape
    return int(np.abs(a - b).max())


def images(result_outputs: Sequence[object]) -> list[Image.Image]:
    return [output.image for output in result_outputs]  # type: ignore[attr-defined]


def test_the_folder_scheduler_is_the_one_craftgen_runs(exact: Engine, folder: Path) -> None:
    model = exact.models.get(str(folder))
    assert isinstance(model.txt2img.scheduler, DDPMScheduler)
    assert isinstance(model.img2img.scheduler, DDPMScheduler)
    assert isinstance(model.inpaint()[0].scheduler, DDPMScheduler)


def text_request(folder: Path, **fields: object) -> ToolRequest:
    base = dict(
        tool="text",
        model=str(folder),
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        seed=SEED,
        num_images=2,
        width=128,
        height=96,
        steps=6,
        guidance=7.5,
    )
    return parse_request(dict(**{**base, **fields}))


@pytest.fixture(scope="module")
def stock_text(folder: Path) -> list[Image.Image]:
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    return pipe(
        prompt=[PROMPT] * 2,
        negative_prompt=[NEGATIVE] * 2,
        width=128,
        height=96,
        num_inference_steps=6,
        guidance_scale=7.5,
        generator=generators(2),
    ).images


def test_text_matches_a_plain_pipeline_call(exact: Engine, folder: Path, stock_text: list[Image.Image]) -> None:
    ours = images(exact.run(text_request(folder)).outputs)
    diffs = [max_diff(a, b) for a, b in zip(ours, stock_text, strict=True)]
    assert max(diffs) <= MAX_DIFF, diffs


def test_fast_quality_is_not_full_quality(exact: Engine, folder: Path, stock_text: list[Image.Image]) -> None:
    # Guards the test above: a speed-up leaking into full quality would be caught.
    ours = images(exact.run(text_request(folder, quality="fast")).outputs)
    assert max(max_diff(a, b) for a, b in zip(ours, stock_text, strict=True)) > 8


def test_variations_match_a_plain_img2img_call(exact: Engine, folder: Path) -> None:
    photo = smooth_image(160, 120)  # multiples of 8: craftgen runs it at its own size
    fields = dict(model=str(folder), prompt=PROMPT, negative_prompt=NEGATIVE, seed=SEED, num_images=2,
                  steps=5, guidance=6.0, strength=0.6)
    ours = images(exact.run(parse_request(dict(tool="variations", **fields)), photo).outputs)

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(folder, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    stock = pipe(
        prompt=[PROMPT] * 2,
        negative_prompt=[NEGATIVE] * 2,
        image=[photo] * 2,
        strength=0.6,
        num_inference_steps=5,
        guidance_scale=6.0,
        generator=generators(2),
    ).images
    diffs = [max_diff(a, b) for a, b in zip(ours, stock, strict=True)]
    assert max(diffs) <= MAX_DIFF, diffs


def test_outpaint_matches_plain_inpaint_calls_on_its_strips(
    exact: Engine, folder: Path, options: EngineOptions
) -> None:
    # Left and right: two strips that do not overlap (the image is wider than twice the
    # context), so each stock call sees the untouched canvas; the generators carry on from the
    # first strip's call into the second's, as craftgen passes them.
    photo = smooth_image(160, 120)
    left, right = 24, 40
    request = parse_request(dict(tool="outpaint", model=str(folder), prompt=PROMPT, negative_prompt=NEGATIVE,
                              seed=SEED, num_images=2, steps=4, guidance=7.5, left=left, right=right))
    ours = [np.asarray(image) for image in images(exact.run(request, photo).outputs)]

    strips = plan_strips(width=160, height=120, left=left, right=right, top=0, bottom=0,
                         context=options.outpaint_context, blend=options.outpaint_blend)
    assert len(strips) == 2 and strips[0].x1 <= strips[1].x0
    canvas = cv2.copyMakeBorder(np.asarray(photo), 0, 0, left, right, cv2.BORDER_REPLICATE)
    pipe = StableDiffusionInpaintPipeline.from_pretrained(folder, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    gens = generators(2)
    for strip in strips:
        crop = canvas[strip.y0 : strip.y1, strip.x0 : strip.x1]
        assert crop.shape[0] % 8 == 0 and crop.shape[1] % 8 == 0, "no padding, so the crop is the input"
        stock = pipe(
            prompt=[PROMPT] * 2,
            negative_prompt=[NEGATIVE] * 2,
            image=[Image.fromarray(crop)] * 2,
            mask_image=Image.fromarray(((strip.keep > 0) * 255).astype(np.uint8)),
            width=crop.shape[1],
            height=crop.shape[0],
            strength=1.0,
            num_inference_steps=4,
            guidance_scale=7.5,
            generator=gens,
            output_type="np",
        ).images
        new = strip.keep == 1  # the added band: craftgen keeps the generated pixels as they are
        blend = (strip.keep > 0) & (strip.keep < 1)
        for image, generated in zip(ours, stock, strict=True):
            region = image[strip.y0 : strip.y1, strip.x0 : strip.x1]
            expected = np.clip(np.rint(generated * 255), 0, 255)
            assert max_diff(region[new], expected[new]) <= MAX_DIFF
            # The blend band lies between the old pixels and the generated ones.
            low, high = np.minimum(crop, expected), np.maximum(crop, expected)
            assert np.all(region[blend] >= low[blend] - MAX_DIFF)
            assert np.all(region[blend] <= high[blend] + MAX_DIFF)
    # The original's pixels outside the blend bands are untouched.
    blend_px = options.outpaint_blend
    for image in ours:
        inner = image[:, left + blend_px : left + 160 - blend_px]
        assert np.array_equal(inner, np.asarray(photo)[:, blend_px : 160 - blend_px])
