"""upscale: x2 or x4, Lanczos then a light img2img pass over fixed-size tiles.

Tiles overlap and are feather-blended; the model only ever sees `upscale_tile`-sized tiles (a
fixed batch of them), so its memory stays flat however large the image is. On a seamless
pattern the tiles wrap around the edges, so the result is still seamless.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolResult, png_output
from craftgen.engine.diffusion import step_callback
from craftgen.engine.img2img import check_strength, denoising_steps
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.errors import InvalidRequest
from craftgen.imaging.tiling import accumulate_tile, feather_weights, read_tile, resize_wrapped, tile_boxes
from craftgen.schemas import UPLOAD_EXAMPLE, DiffusionRequest, InputImage, Studio, examples

TILE_BATCH = 2  # tiles per diffusion call: fixed, so memory does not grow with the image


def _seamless_from_metadata(image: Image.Image | None, axis: str) -> bool:
    """A craftgen pattern records its seamless axes; an upscale keeps them by default."""
    params = image.info.get("craftgen_params", {}) if image is not None else {}
    return bool(params.get("tool") == "pattern" and params.get(f"seamless_{axis}", False))


class UpscaleRequest(InputImage, DiffusionRequest):
    """A bigger, sharper copy of an upload; a seamless pattern stays seamless."""

    model_config = examples({"tool": "upscale", "image": UPLOAD_EXAMPLE, "scale": 2})

    tool: Literal["upscale"] = "upscale"
    scale: Annotated[
        Literal[2, 4],
        Field(description="how many times bigger, per side"),
        Studio("Make it", labels=((2, "2× bigger"), (4, "4× bigger")), order=10),
    ] = 2
    strength: Annotated[
        float | None,
        Field(description="how much detail the diffusion pass adds, in [0, 1]; 0: a plain resize"),
        Studio(
            "Extra detail",
            choices=((None, "A little (recommended)"), (0, "None: just resize"), (0.5, "More")),
            order=20,
        ),
    ] = None
    seamless_x: Annotated[
        bool | None, Field(description="wrap around left to right; left out: as the pattern it was made with")
    ] = None
    seamless_y: Annotated[
        bool | None, Field(description="wrap around top to bottom; left out: as the pattern it was made with")
    ] = None


class UpscaleTool(Tool[UpscaleRequest]):
    name = "upscale"
    request_model = UpscaleRequest
    card = ToolCard(
        title="Upscale",
        makes="A bigger, sharper copy for printing; a seamless pattern stays seamless.",
        example="a 512 px tile made 2048 px for fabric",
        ideas=("sharp, detailed", "soft watercolor texture"),
        order=7,
    )
    max_images = 1

    def defaults(self, request: UpscaleRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return {
            "strength": options.upscale_strength,
            "seamless_x": _seamless_from_metadata(image, "x"),
            "seamless_y": _seamless_from_metadata(image, "y"),
        }

    def validate(self, item: ToolInput[UpscaleRequest], limits: Limits) -> None:
        assert item.image is not None
        scale = item.request.scale
        width, height = item.image.width * scale, item.image.height * scale
        if width * height > limits.max_upscale_pixels:
            raise InvalidRequest(
                f"x{scale} of a {item.image.width}x{item.image.height} image is {width}x{height} = "
                f"{width * height} pixels; the limit is {limits.max_upscale_pixels}",
                field="scale",
            )
        if min(width, height) < 8:
            raise InvalidRequest("the upscaled image must be at least 8 px on each side", field="image")
        # strength 0 is a plain (wrap-aware) Lanczos upscale with no diffusion pass.
        if item.request.strength != 0:
            check_strength(item)

    def run(self, ctx: RunContext, items: list[ToolInput[UpscaleRequest]]) -> list[ToolResult]:
        return [self._upscale(ctx, item) for item in items]

    def _upscale(self, ctx: RunContext, item: ToolInput[UpscaleRequest]) -> ToolResult:
        assert ctx.model is not None and item.image is not None
        request = item.request
        wrap_x, wrap_y = bool(request.seamless_x), bool(request.seamless_y)
        size = (item.image.width * request.scale, item.image.height * request.scale)
        # 1. Resize (periodically on wrapped axes); alpha, if any, is only resized.
        resized = resize_wrapped(item.image, size=size, wrap_x=wrap_x, wrap_y=wrap_y)
        alpha = resized.getchannel("A") if resized.mode == "RGBA" else None
        rgb = np.asarray(resized.convert("RGB"), dtype=np.float32)
        # 2. Refine tile by tile, a fixed number of tiles per call.
        tile = min(ctx.options.upscale_tile, min(size) // 8 * 8)
        overlap = min(ctx.options.upscale_overlap, tile // 4)
        boxes = tile_boxes(width=size[0], height=size[1], tile=tile, overlap=overlap, wrap_x=wrap_x, wrap_y=wrap_y)
        if request.strength:
            rgb = self._refine(ctx, item, rgb, boxes=boxes, tile=tile, overlap=overlap)
        image = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
        if alpha is not None:
            image.putalpha(alpha)
        output = png_output(
            image,
            name="upscale-0.png",
            kind="image",
            item=item,
            ctx=ctx,
            seed=item.seed,
            extra={"seamless_x": wrap_x, "seamless_y": wrap_y},
        )
        metrics: dict[str, int | float | str | bool] = {
            "tiles": len(boxes) if request.strength else 0,
            "tile_size": tile,
        }
        return ToolResult(tool="upscale", model=ctx.model_name, seed=item.seed, outputs=[output], metrics=metrics)

    def _refine(
        self,
        ctx: RunContext,
        item: ToolInput[UpscaleRequest],
        rgb: np.ndarray,
        *,
        boxes: list[tuple[int, int]],
        tile: int,
        overlap: int,
    ) -> np.ndarray:
        assert ctx.model is not None
        request = item.request
        assert request.steps is not None and request.strength is not None
        weights = feather_weights(tile, overlap)
        acc = np.zeros_like(rgb)
        weight_acc = np.zeros(rgb.shape[:2], dtype=np.float32)
        per_call = denoising_steps(request.steps, request.strength)
        batches = [boxes[i : i + TILE_BATCH] for i in range(0, len(boxes), TILE_BATCH)]
        for number, batch in enumerate(batches):
            tiles = [read_tile(rgb, x=x, y=y, tile=tile) for x, y in batch]
            first = number * TILE_BATCH
            generators = [
                torch.Generator("cpu").manual_seed((item.seed + first + k) % 2**32) for k in range(len(batch))
            ]
            out = ctx.model.img2img(
                prompt=[request.prompt] * len(batch),
                negative_prompt=[request.negative_prompt] * len(batch),
                image=[Image.fromarray(t.astype(np.uint8)) for t in tiles],
                strength=request.strength,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance,
                generator=generators,
                output_type="np",
                callback_on_step_end=step_callback(
                    ctx.progress, done_before=number * per_call, total=len(batches) * per_call
                ),
            )
            for (x, y), refined in zip(batch, out.images, strict=True):
                accumulate_tile(acc, weight_acc, refined * 255.0, weights, x=x, y=y)
        return acc / weight_acc[..., None]
