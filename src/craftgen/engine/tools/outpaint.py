"""outpaint: extend an upload by some pixels per side, denoising only strips around the new area.

Each side is one strip: the new band plus some context from the image, inpainted with the new
band (and a narrow blend band) masked. Sides run in turn (left, right, then top and bottom over
the widened canvas), so the denoised area grows with the added area, not with the canvas.
Original pixels come back unchanged except in the blend band along the old border.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import cv2
import numpy as np
from PIL import Image
from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolResult, png_output
from craftgen.engine.diffusion import generators_for, step_callback
from craftgen.engine.limits import Limits
from craftgen.errors import InvalidRequest
from craftgen.schemas import UPLOAD_EXAMPLE, Count, DiffusionRequest, InputImage, Studio, examples

SIDES = ("left", "right", "top", "bottom")
MAX_BLEND = 16


@dataclass(frozen=True)
class Strip:
    """One region to inpaint: a box on the canvas and, inside it, how much of the result to keep."""

    x0: int
    y0: int
    x1: int
    y1: int
    keep: np.ndarray  # float32 (y1-y0, x1-x0): 1 on the new band, a ramp on the blend band, 0 elsewhere

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def _ramp(blend: int) -> np.ndarray:
    """Weights of the generated image across the blend band, from the new area inwards."""
    return np.array([1 - (k + 1) / (blend + 1) for k in range(blend)], dtype=np.float32)


def plan_strips(
    *, width: int, height: int, left: int, right: int, top: int, bottom: int, context: int, blend: int
) -> list[Strip]:
    """Strips for each side with pixels to add, on a canvas of the final size."""
    canvas_w, canvas_h = width + left + right, height + top + bottom
    blend = min(blend, width, height)
    strips: list[Strip] = []
    ramp = _ramp(blend)
    ctx_x, ctx_y = min(context, width), min(context, height)
    # 1. Left and right: over the original rows only.
    if left:
        x1 = min(left + max(ctx_x, blend), canvas_w)
        keep = np.zeros((height, x1), np.float32)
        keep[:, :left] = 1
        keep[:, left : left + blend] = ramp[: min(blend, x1 - left)]
        strips.append(Strip(0, top, x1, top + height, keep))
    if right:
        x0 = max(left + width - max(ctx_x, blend), 0)
        keep = np.zeros((height, canvas_w - x0), np.float32)
        old_edge = left + width - x0
        keep[:, old_edge:] = 1
        keep[:, old_edge - blend : old_edge] = ramp[::-1]
        strips.append(Strip(x0, top, canvas_w, top + height, keep))
    # 2. Top and bottom: across the whole, already widened canvas.
    if top:
        y1 = min(top + max(ctx_y, blend), canvas_h)
        keep = np.zeros((y1, canvas_w), np.float32)
        keep[:top] = 1
        keep[top : top + blend] = ramp[: min(blend, y1 - top), None]
        strips.append(Strip(0, 0, canvas_w, y1, keep))
    if bottom:
        y0 = max(top + height - max(ctx_y, blend), 0)
        keep = np.zeros((canvas_h - y0, canvas_w), np.float32)
        old_edge = top + height - y0
        keep[old_edge:] = 1
        keep[old_edge - blend : old_edge] = ramp[::-1, None]
        strips.append(Strip(0, y0, canvas_w, canvas_h, keep))
    return strips


def _pad_to_8(array: np.ndarray) -> np.ndarray:
    """Edge-replicate an (H, W, ...) array up to multiples of 8 (the VAE's stride)."""
    pad_h, pad_w = -array.shape[0] % 8, -array.shape[1] % 8
    if not pad_h and not pad_w:
        return array
    return cv2.copyMakeBorder(array, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)


class OutpaintRequest(Count, InputImage, DiffusionRequest):
    """An upload made bigger; its own pixels kept exactly."""

    model_config = examples(
        {"tool": "outpaint", "image": UPLOAD_EXAMPLE, "prompt": "a sunny meadow", "right": 64, "num_images": 2}
    )

    tool: Literal["outpaint"] = "outpaint"
    left: Annotated[
        int, Field(description="pixels to add on the left"), Studio("Add to the left", unit="px", half=True)
    ] = 0
    right: Annotated[
        int, Field(description="pixels to add on the right"), Studio("Add to the right", unit="px", half=True)
    ] = 0
    top: Annotated[int, Field(description="pixels to add on top"), Studio("Add to the top", unit="px", half=True)] = 0
    bottom: Annotated[
        int, Field(description="pixels to add at the bottom"), Studio("Add to the bottom", unit="px", half=True)
    ] = 0


class OutpaintTool(Tool[OutpaintRequest]):
    name = "outpaint"
    request_model = OutpaintRequest
    card = ToolCard(
        title="Outpaint",
        makes="Your picture made bigger: new scenery around the edges, the original kept exactly.",
        example="a square photo widened into a banner",
        ideas=("more of the same background", "a sunny meadow", "a starry night sky", "a wooden table top"),
        order=6,
    )
    uses_inpaint = True

    def validate(self, item: ToolInput[OutpaintRequest], limits: Limits) -> None:
        request = item.request
        assert item.image is not None
        for side in SIDES:
            value = getattr(request, side)
            if not 0 <= value <= limits.max_expand:
                raise InvalidRequest(
                    f"{side} must be between 0 and {limits.max_expand} pixels, got {value}", field=side
                )
        if not any(getattr(request, side) for side in SIDES):
            raise InvalidRequest(
                "outpaint needs pixels to add on at least one side (left, right, top or bottom)",
                field="left",
            )
        width = item.image.width + request.left + request.right
        height = item.image.height + request.top + request.bottom
        if max(width, height) > limits.max_canvas_side:
            raise InvalidRequest(
                f"the extended image would be {width}x{height}; the largest side allowed is {limits.max_canvas_side}",
                field="left" if width > height else "top",
            )
        if min(item.image.size) < 8:
            raise InvalidRequest("the image must be at least 8 px on each side", field="image")

    def run(self, ctx: RunContext, items: list[ToolInput[OutpaintRequest]]) -> list[ToolResult]:
        plans = [self._plan(ctx, item) for item in items]
        steps = int(items[0].request.steps or 1)
        total = sum(len(plan) for plan in plans) * steps
        done = 0
        results = []
        for item, plan in zip(items, plans, strict=True):
            results.append(self._outpaint(ctx, item, plan, done_before=done, total=total))
            done += len(plan) * steps
        return results

    def _plan(self, ctx: RunContext, item: ToolInput[OutpaintRequest]) -> list[Strip]:
        assert item.image is not None
        request = item.request
        return plan_strips(
            width=item.image.width,
            height=item.image.height,
            left=request.left,
            right=request.right,
            top=request.top,
            bottom=request.bottom,
            context=ctx.options.outpaint_context,
            blend=min(ctx.options.outpaint_blend, MAX_BLEND),
        )

    def _outpaint(
        self, ctx: RunContext, item: ToolInput[OutpaintRequest], strips: list[Strip], *, done_before: int, total: int
    ) -> ToolResult:
        assert ctx.model is not None and item.image is not None
        request = item.request
        steps = int(request.steps or 1)
        assert request.guidance is not None, "validation fills the model's default guidance"
        pipe, method = ctx.model.inpaint()
        # 1. The canvas: the original in place, new areas pre-filled from its edges for colour.
        source = np.asarray(item.image.convert("RGB"))
        canvas = cv2.copyMakeBorder(
            source, request.top, request.bottom, request.left, request.right, cv2.BORDER_REPLICATE
        )
        canvases = [canvas.copy() for _ in range(request.num_images)]
        generators = generators_for([item])
        # 2. Each strip: inpaint its masked part for every image in one call, keep the new band.
        for index, strip in enumerate(strips):
            crops = [_pad_to_8(c[strip.y0 : strip.y1, strip.x0 : strip.x1]) for c in canvases]
            mask = _pad_to_8(((strip.keep > 0) * 255).astype(np.uint8))
            crop_h, crop_w = mask.shape
            out = pipe(
                prompt=[request.prompt] * request.num_images,
                negative_prompt=[request.negative_prompt] * request.num_images,
                image=[Image.fromarray(crop) for crop in crops],
                mask_image=Image.fromarray(mask),
                width=crop_w,
                height=crop_h,
                strength=1.0,
                num_inference_steps=steps,
                guidance_scale=request.guidance,
                generator=generators,
                output_type="np",
                callback_on_step_end=step_callback(ctx.progress, done_before=done_before + index * steps, total=total),
            )
            assert not isinstance(out, tuple), "return_dict is left on"
            keep = strip.keep[..., None]
            height, width = strip.keep.shape
            for c, generated in zip(canvases, out.images, strict=True):
                new = generated[:height, :width] * 255.0
                old = c[strip.y0 : strip.y1, strip.x0 : strip.x1].astype(np.float32)
                mixed = np.where(keep > 0, new * keep + old * (1 - keep), old)
                c[strip.y0 : strip.y1, strip.x0 : strip.x1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        # 3. Encode, with how it was made.
        outputs = [
            png_output(
                Image.fromarray(c),
                name=f"outpaint-{index}.png",
                kind="image",
                item=item,
                ctx=ctx,
                seed=item.image_seed(index),
                extra={"inpaint_method": method},
            )
            for index, c in enumerate(canvases)
        ]
        metrics: dict[str, int | float | str | bool] = {
            "inpaint_method": method,
            "denoised_pixels": sum(strip.area for strip in strips),
            "canvas_pixels": canvas.shape[0] * canvas.shape[1],
            "blend_px": min(ctx.options.outpaint_blend, MAX_BLEND),
        }
        return ToolResult(tool="outpaint", model=ctx.model_name, seed=item.seed, outputs=outputs, metrics=metrics)
