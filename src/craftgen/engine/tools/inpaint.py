"""inpaint: repaint the masked part of an upload from the prompt; every other pixel kept exactly.

The mask is the image's size: white (and opaque) = repaint, black or transparent = keep (see
imaging/masks.py; OpenAI's transparent-means-edit masks convert with `mask_from_transparency`).
New pixels are blended into old ones over a `blend` band just outside the mask; beyond it the
output is the input, bit for bit. Only a crop around the mask (plus context) is denoised, so a
small fix on a big picture costs a small diffusion call. The model's own inpainting variant
runs when the registry names one, else masked img2img (`LoadedModel.inpaint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from PIL import Image
from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolResult, png_output
from craftgen.engine.diffusion import generators_for, step_callback
from craftgen.engine.img2img import check_strength, denoising_steps, working_size
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.errors import InvalidRequest
from craftgen.imaging.masks import bounding_box, feather, pad_to_8, selected
from craftgen.schemas import UPLOAD_EXAMPLE, Count, DiffusionRequest, InputImage, InputMask, Studio, examples

DEFAULT_STRENGTH = 1.0  # the masked area starts from noise: wholly new
DEFAULT_BLEND = 8
MAX_BLEND = 64


class InpaintRequest(Count, InputMask, InputImage, DiffusionRequest):
    """The masked part of an upload repainted from the prompt; the rest kept exactly."""

    model_config = examples(
        {
            "tool": "inpaint",
            "image": UPLOAD_EXAMPLE,
            "mask": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
            "prompt": "a red rose",
            "num_images": 2,
        }
    )

    tool: Literal["inpaint"] = "inpaint"
    strength: Annotated[
        float | None,
        Field(description=f"how much of the masked area to change, in (0, 1]; left out: {DEFAULT_STRENGTH}"),
        Studio(
            "How much to change",
            choices=((0.5, "Keep its shapes"), (0.75, "Some"), (1.0, "All new")),
            order=10,
            hint="under the paint only; everything else stays as it is",
        ),
    ] = None
    blend: Annotated[
        int,
        Field(description=f"pixels outside the mask over which new and old blend, 0 to {MAX_BLEND}"),
        Studio("Soft edge", unit="px", order=70, more=True, hint="how gently the new part fades into the old"),
    ] = DEFAULT_BLEND


@dataclass(frozen=True)
class Crop:
    """The box that is denoised, and the weight of new pixels inside it."""

    x0: int
    y0: int
    x1: int
    y1: int
    keep: np.ndarray  # float32 (y1-y0, x1-x0): 1 on the mask, a ramp on the blend band, 0 elsewhere

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def plan_crop(weights: np.ndarray, *, context: int, min_side: int) -> Crop:
    """The mask's box (with its blend band), grown by context on every side (at least half the
    box's longer side, so the model sees what surrounds it) and to at least min_side, within
    the image."""
    height, width = weights.shape
    box = bounding_box(weights > 0)
    assert box is not None, "an empty mask is refused before a run"
    x0, y0, x1, y1 = box
    grow = max(context, max(x1 - x0, y1 - y0) // 2)
    x0, y0, x1, y1 = max(x0 - grow, 0), max(y0 - grow, 0), min(x1 + grow, width), min(y1 + grow, height)
    x0, x1 = _at_least(x0, x1, min_side, width)
    y0, y1 = _at_least(y0, y1, min_side, height)
    return Crop(x0, y0, x1, y1, weights[y0:y1, x0:x1])


def _at_least(start: int, end: int, size: int, limit: int) -> tuple[int, int]:
    """Widen [start, end) to `size` (at most the image's `limit`), as evenly as the edges allow."""
    missing = min(size, limit) - (end - start)
    if missing <= 0:
        return start, end
    start = max(start - (missing + 1) // 2, 0)
    end = min(start + min(size, limit), limit)
    return end - min(size, limit), end


class InpaintTool(Tool[InpaintRequest]):
    name = "inpaint"
    request_model = InpaintRequest
    card = ToolCard(
        title="Inpaint",
        makes="Paint over part of your picture and have just that part redrawn; the rest stays exactly.",
        example="a bare branch in a photo, repainted with blossom",
        ideas=("a red rose", "a small wooden bird house", "clear blue sky", "a patch of daisies"),
        order=6,
    )
    uses_inpaint = True

    def defaults(self, request: InpaintRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return {"strength": DEFAULT_STRENGTH}

    def validate(self, item: ToolInput[InpaintRequest], limits: Limits) -> None:
        request = item.request
        check_strength(item)
        if not 0 <= request.blend <= MAX_BLEND:
            raise InvalidRequest(f"blend must be between 0 and {MAX_BLEND} pixels, got {request.blend}", field="blend")
        image = item.file("image")
        if min(image.size) < limits.min_side:
            raise InvalidRequest(
                f"the image is {image.width}x{image.height}; inpaint needs at least {limits.min_side} px on each side",
                field="image",
            )
        if not selected(item.file("mask")).any():
            raise InvalidRequest(
                "the mask marks nothing to repaint: paint the part to change white (opaque) on black or transparent",
                field="mask",
            )

    def run(self, ctx: RunContext, items: list[ToolInput[InpaintRequest]]) -> list[ToolResult]:
        total = sum(denoising_steps(int(item.request.steps or 1), float(item.request.strength or 1)) for item in items)
        done = 0
        results = []
        for item in items:
            results.append(self._inpaint(ctx, item, done_before=done, total=total))
            done += denoising_steps(int(item.request.steps or 1), float(item.request.strength or 1))
        return results

    def _inpaint(self, ctx: RunContext, item: ToolInput[InpaintRequest], *, done_before: int, total: int) -> ToolResult:
        assert ctx.model is not None
        request = item.request
        assert request.steps is not None and request.strength is not None and request.guidance is not None
        pipe, method = ctx.model.inpaint()
        # 1. Where new pixels go (the mask, feathered over the blend band) and the crop around it.
        source = np.asarray(item.file("image").convert("RGB"))
        weights = feather(selected(item.file("mask")), request.blend)
        crop = plan_crop(weights, context=ctx.options.outpaint_context, min_side=ctx.limits.min_side)
        height, width = crop.keep.shape
        # 2. The crop at a size the model runs: padded to multiples of 8, or scaled down when big.
        region = source[crop.y0 : crop.y1, crop.x0 : crop.x1]
        diffusion_mask = ((crop.keep > 0) * 255).astype(np.uint8)
        scaled = max(width, height) > ctx.limits.max_side
        if scaled:
            size = working_size(width, height, max_side=ctx.limits.max_side)
            picture = Image.fromarray(region).resize(size, Image.Resampling.LANCZOS)
            mask_image = Image.fromarray(diffusion_mask).resize(size, Image.Resampling.NEAREST)
        else:
            picture, mask_image = Image.fromarray(pad_to_8(region)), Image.fromarray(pad_to_8(diffusion_mask))
        # 3. Denoise the masked part, every image of the request in one call.
        out = pipe(
            prompt=[request.prompt] * request.num_images,
            negative_prompt=[request.negative_prompt] * request.num_images,
            image=[picture] * request.num_images,
            mask_image=mask_image,
            width=picture.width,
            height=picture.height,
            strength=request.strength,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=generators_for([item]),
            output_type="np",
            callback_on_step_end=step_callback(ctx.progress, done_before=done_before, total=total),
        )
        assert not isinstance(out, tuple), "return_dict is left on"
        # 4. Blend the new pixels in under the weights; every pixel with weight 0 is the input's.
        keep = crop.keep[..., None]
        old = region.astype(np.float32)
        outputs = []
        for index, generated in enumerate(out.images):
            made = np.clip(np.rint(generated * 255.0), 0, 255).astype(np.uint8)
            if scaled:
                made = np.asarray(Image.fromarray(made).resize((width, height), Image.Resampling.LANCZOS))
            new = made[:height, :width].astype(np.float32)
            mixed = np.where(keep > 0, new * keep + old * (1 - keep), old)
            canvas = source.copy()
            canvas[crop.y0 : crop.y1, crop.x0 : crop.x1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
            outputs.append(
                png_output(
                    Image.fromarray(canvas),
                    name=f"inpaint-{index}.png",
                    kind="image",
                    item=item,
                    ctx=ctx,
                    seed=item.image_seed(index),
                    extra={"inpaint_method": method},
                )
            )
        metrics: dict[str, int | float | str | bool] = {
            "inpaint_method": method,
            "masked_pixels": int(np.count_nonzero(weights >= 1)),
            "denoised_pixels": picture.width * picture.height,
            "image_pixels": source.shape[0] * source.shape[1],
            "blend_px": request.blend,
        }
        return ToolResult(tool="inpaint", model=ctx.model_name, seed=item.seed, outputs=outputs, metrics=metrics)
