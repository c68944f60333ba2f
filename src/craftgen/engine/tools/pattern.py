"""pattern: a tile that repeats with no seam, plus a 3x3 preview of the repeat.

While the batch runs, every padded Conv2d of the UNet and the VAE wraps around on the chosen
axes (engine/tile_padding.py); afterwards the model is exactly as it was.
"""

from __future__ import annotations

from typing import Annotated, Literal

from PIL import Image
from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolOutputs, ToolResult, png_output
from craftgen.engine.diffusion import TextToImageRequest, size_defaults, txt2img, txt2img_batch_key
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.print_size import fit_print, print_spec
from craftgen.engine.tile_padding import TilePadding, tiled_padding
from craftgen.errors import InvalidRequest
from craftgen.imaging.seams import seam_scores
from craftgen.imaging.tiling import repeat_preview
from craftgen.schemas import Repeat, Studio, examples

PREVIEW_COUNT = 3


class PatternRequest(TextToImageRequest):
    """A seamless tile and its 3x3 repeat preview."""

    model_config = examples(
        {"tool": "pattern", "prompt": "strawberries and daisies, pastel", "repeat": "half-drop", "num_images": 2}
    )

    tool: Literal["pattern"] = "pattern"
    repeat: Annotated[
        Repeat,
        Field(description="how each tile lines up with the next"),
        Studio(
            "Repeat",
            labels=(("grid", "Grid"), ("half-drop", "Half-drop"), ("brick", "Brick"), ("mirror", "Mirror")),
            order=10,
            hint="how each tile lines up with the next",
        ),
    ] = "grid"
    width: Annotated[
        int | None,
        Field(description="tile width in pixels, a multiple of 8; left out: the model's size"),
        Studio("Tile width", unit="px", half=True, order=30, hint="a multiple of 8"),
    ] = None
    height: Annotated[
        int | None,
        Field(description="tile height in pixels, a multiple of 8; left out: the model's size"),
        Studio("Tile height", unit="px", half=True, order=30, hint="a multiple of 8"),
    ] = None
    seamless_x: Annotated[
        bool | None,
        Field(description="the tile wraps left to right with no seam; left out: yes"),
        Studio("Seamless left to right", more=True),
    ] = None
    seamless_y: Annotated[
        bool | None,
        Field(description="the tile wraps top to bottom with no seam; left out: yes"),
        Studio("Seamless top to bottom", more=True),
    ] = None


class PatternTool(Tool[PatternRequest]):
    name = "pattern"
    request_model = PatternRequest
    card = ToolCard(
        title="Pattern",
        makes="A seamless tile for fabric, gift wrap and scrapbook paper.",
        example="cute strawberries on pale pink",
        ideas=(
            "cute strawberries on pale pink",
            "vintage roses, cottagecore",
            "tiny gold stars on navy",
            "watercolor lemons and leaves",
        ),
        order=1,
    )
    outputs = ToolOutputs(repeat_preview=True)
    needs_prompt = True

    def defaults(self, request: PatternRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return {**size_defaults(options, request), "seamless_x": True, "seamless_y": True}

    def validate(self, item: ToolInput[PatternRequest], limits: Limits) -> None:
        request = item.request
        if request.repeat == "half-drop" and not request.seamless_x:
            raise InvalidRequest("a half-drop repeat needs seamless_x", field="seamless_x")
        if request.repeat == "brick" and not request.seamless_y:
            raise InvalidRequest("a brick repeat needs seamless_y", field="seamless_y")

    def batch_key(self, item: ToolInput[PatternRequest]) -> tuple[object, ...]:
        request = item.request
        return (
            "pattern",
            *txt2img_batch_key(request),
            request.repeat,
            request.seamless_x,
            request.seamless_y,
        )

    def run(self, ctx: RunContext, items: list[ToolInput[PatternRequest]]) -> list[ToolResult]:
        assert ctx.model is not None
        first = items[0].request
        padding = TilePadding.for_repeat(
            first.repeat, seamless_x=bool(first.seamless_x), seamless_y=bool(first.seamless_y)
        )
        pipe = ctx.model.txt2img
        # 1. Generate with wrapping convolutions; the context restores them even on error.
        with tiled_padding([pipe.unet, pipe.vae], padding):
            grouped = txt2img(pipe, items, progress=ctx.progress)
        # 2. Measure each tile's seams and write it with its preview.
        return [self._result(ctx, item, images) for item, images in zip(items, grouped, strict=True)]

    def _result(self, ctx: RunContext, item: ToolInput[PatternRequest], images: list[Image.Image]) -> ToolResult:
        request = item.request
        outputs = []
        worst: dict[str, float] = {}
        spec = print_spec(request, dpi=ctx.options.dpi)
        tile = {"repeat": request.repeat, "wrap_x": bool(request.seamless_x), "wrap_y": bool(request.seamless_y)}
        for index, generated in enumerate(images):
            # At a print size the tile is resized wrap-aware (and repeats on into the bleed);
            # its seams are scored on the trim box, the tile as it will repeat.
            image = fit_print(generated, spec, tile=tile)
            trim = image
            if spec.sized and spec.bleed_px:
                b = spec.bleed_px
                trim = image.crop((b, b, image.width - b, image.height - b))
            scores = seam_scores(trim, repeat=request.repeat)
            for key, value in scores.items():
                worst[key] = min(worst.get(key, value), value)
            seed = item.image_seed(index)
            outputs.append(
                png_output(image, name=f"pattern-{index}.png", kind="image", item=item, ctx=ctx, seed=seed, fitted=True)
            )
            preview = repeat_preview(generated, repeat=request.repeat, count=PREVIEW_COUNT)
            outputs.append(
                png_output(
                    preview,
                    name=f"pattern-{index}-preview.png",
                    kind="preview",
                    item=item,
                    ctx=ctx,
                    seed=seed,
                )
            )
        # The worst tile's scores, so one number tells whether every tile in the job wraps.
        metrics: dict[str, int | float | str | bool] = dict(worst)
        return ToolResult(tool="pattern", model=ctx.model_name, seed=item.seed, outputs=outputs, metrics=metrics)
