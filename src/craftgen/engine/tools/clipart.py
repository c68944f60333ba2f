"""clipart: a subject on a plain background (prompted so), then cut out like `cutout`.

A registry LoRA for this tool (a clipart style) is what makes backgrounds reliably plain at
scale; the prompt wording below is the fallback every model gets.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolOutputs, ToolResult
from craftgen.engine.cut_files import cutout_outputs
from craftgen.engine.diffusion import TextToImageRequest, size_defaults, txt2img, txt2img_batch_key
from craftgen.engine.options import EngineOptions
from craftgen.schemas import CutRules, examples

CLIPART_SUFFIX = "clipart, isolated on a plain white background, flat colors, clean outline"
CLIPART_NEGATIVE = "background scenery, gradient background, shadow, texture, photo, frame"


class ClipartRequest(CutRules, TextToImageRequest):
    """A subject on a transparent background, with an SVG cut file."""

    model_config = examples({"tool": "clipart", "prompt": "a smiling strawberry", "num_images": 2})

    tool: Literal["clipart"] = "clipart"


class ClipartTool(Tool[ClipartRequest]):
    name = "clipart"
    request_model = ClipartRequest
    card = ToolCard(
        title="Clipart",
        makes="A sticker-style picture on a transparent background, with an SVG cut file.",
        example="a happy cartoon sun",
        ideas=("a happy cartoon sun", "a cute cat with a bow", "a hot air balloon", "a cactus in a pot"),
        order=2,
    )
    outputs = ToolOutputs(transparent=True, svg=True)
    needs_prompt = True
    prompt_suffix = CLIPART_SUFFIX
    negative_suffix = CLIPART_NEGATIVE

    def defaults(self, request: ClipartRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return size_defaults(options, request)

    def batch_key(self, item: ToolInput[ClipartRequest]) -> tuple[object, ...]:
        return ("clipart", *txt2img_batch_key(item.request))

    def run(self, ctx: RunContext, items: list[ToolInput[ClipartRequest]]) -> list[ToolResult]:
        assert ctx.model is not None
        # 1. Generate on a plain background.
        grouped = txt2img(
            ctx.model.txt2img,
            items,
            progress=ctx.progress,
            suffix=CLIPART_SUFFIX,
            negative_suffix=CLIPART_NEGATIVE,
        )
        # 2. Cut each image out; a busy background is a warning here, not an error.
        results = []
        for item, images in zip(items, grouped, strict=True):
            result = ToolResult(tool="clipart", model=ctx.model_name, seed=item.seed, outputs=[])
            for index, image in enumerate(images):
                out = cutout_outputs(
                    ctx, item, image, prefix=f"clipart-{index}", seed=item.image_seed(index), strict=False
                )
                result.outputs += out.files
                result.warnings += out.warnings
                if index == 0:
                    result.metrics.update(out.metrics)
            results.append(result)
        return results
