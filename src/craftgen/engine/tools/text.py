"""text: N images from one prompt, all in one batched diffusion call."""

from __future__ import annotations

from typing import Literal

from PIL import Image

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolResult, png_output
from craftgen.engine.diffusion import TextToImageRequest, size_defaults, txt2img, txt2img_batch_key
from craftgen.engine.options import EngineOptions
from craftgen.schemas import examples


class TextRequest(TextToImageRequest):
    """Pictures from a description, several at once."""

    model_config = examples({"tool": "text", "prompt": "a cozy cabin in the snow, watercolor", "num_images": 2})

    tool: Literal["text"] = "text"


class TextTool(Tool[TextRequest]):
    name = "text"
    request_model = TextRequest
    card = ToolCard(
        title="Text to image",
        makes="Pictures from a description, several at once.",
        example="a watercolor fox in a flower crown",
        ideas=(
            "a watercolor fox in a flower crown",
            "vintage botanical print of ferns",
            "a cozy cabin in the snow, storybook style",
            "a kawaii cupcake with sprinkles",
        ),
        order=3,
    )
    needs_prompt = True

    def defaults(self, request: TextRequest, image: Image.Image | None, options: EngineOptions) -> dict[str, object]:
        return size_defaults(options, request)

    def batch_key(self, item: ToolInput[TextRequest]) -> tuple[object, ...]:
        return ("text", *txt2img_batch_key(item.request))

    def run(self, ctx: RunContext, items: list[ToolInput[TextRequest]]) -> list[ToolResult]:
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
            results.append(ToolResult(tool="text", model=ctx.model_name, seed=item.seed, outputs=outputs))
        return results
