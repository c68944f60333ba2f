"""clipart: a subject on a plain background (prompted so), then the same cut-out as `cutout`.

A registry LoRA for this tool (a clipart style) is what makes backgrounds reliably plain at
scale; the prompt wording below is the fallback every model gets.
"""

from __future__ import annotations

from PIL import Image

from craftgen.engine.base import COMMON_FIELDS, DIFFUSION_FIELDS, RunContext, Tool, ToolInput, ToolResult
from craftgen.engine.diffusion import txt2img
from craftgen.engine.options import EngineOptions
from craftgen.engine.tools.cutout import cutout_outputs
from craftgen.engine.tools.text import SIZE_FIELDS, size_defaults, txt2img_batch_key
from craftgen.schemas import GenerateRequest

CLIPART_SUFFIX = "clipart, isolated on a plain white background, flat colors, clean outline"
CLIPART_NEGATIVE = "background scenery, gradient background, shadow, texture, photo, frame"


class ClipartTool(Tool):
    name = "clipart"
    fields = COMMON_FIELDS | DIFFUSION_FIELDS | SIZE_FIELDS
    needs_prompt = True
    prompt_suffix = CLIPART_SUFFIX
    negative_suffix = CLIPART_NEGATIVE

    def defaults(
        self, request: GenerateRequest, image: Image.Image | None, options: EngineOptions
    ) -> dict[str, object]:
        return size_defaults(request, options)

    def batch_key(self, item: ToolInput) -> tuple[object, ...]:
        return ("clipart", *txt2img_batch_key(item.request))

    def run(self, ctx: RunContext, items: list[ToolInput]) -> list[ToolResult]:
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
