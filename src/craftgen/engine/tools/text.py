"""text: N images from one prompt, all in one batched diffusion call."""

from __future__ import annotations

from PIL import Image

from craftgen.engine.base import (
    COMMON_FIELDS,
    DIFFUSION_FIELDS,
    RunContext,
    Tool,
    ToolInput,
    ToolResult,
    png_output,
)
from craftgen.engine.diffusion import txt2img
from craftgen.engine.options import EngineOptions
from craftgen.schemas import GenerateRequest

SIZE_FIELDS = frozenset({"num_images", "width", "height"})


def size_defaults(request: GenerateRequest, options: EngineOptions) -> dict[str, object]:
    return {"width": options.default_size, "height": options.default_size}


def txt2img_batch_key(request: GenerateRequest) -> tuple[object, ...]:
    return (request.model, request.width, request.height, request.steps, request.guidance, request.quality)


class TextTool(Tool):
    name = "text"
    fields = COMMON_FIELDS | DIFFUSION_FIELDS | SIZE_FIELDS
    needs_prompt = True

    def defaults(
        self, request: GenerateRequest, image: Image.Image | None, options: EngineOptions
    ) -> dict[str, object]:
        return size_defaults(request, options)

    def batch_key(self, item: ToolInput) -> tuple[object, ...]:
        return ("text", *txt2img_batch_key(item.request))

    def run(self, ctx: RunContext, items: list[ToolInput]) -> list[ToolResult]:
        assert ctx.model is not None
        grouped = txt2img(ctx.model.txt2img, items, progress=ctx.progress)
        results: list[ToolResult] = []
        for item, images in zip(items, grouped, strict=True):
            outputs = [
                png_output(
                    image,
                    name=f"text-{index}.png",
                    kind="image",
                    item=item,
                    ctx=ctx,
                    seed=item.image_seed(index),
                )
                for index, image in enumerate(images)
            ]
            results.append(
                ToolResult(tool="text", model=ctx.model_name, seed=item.seed, outputs=outputs)
            )
        return results
