"""variations: img2img from an upload; every output has the input's exact size."""

from __future__ import annotations

from typing import Annotated, Literal

from PIL import Image
from pydantic import Field

from craftgen.engine.base import RunContext, Tool, ToolCard, ToolInput, ToolResult, png_output
from craftgen.engine.diffusion import expand_prompts, generators_for, split_per_item, step_callback
from craftgen.engine.img2img import check_strength, denoising_steps, working_size
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.errors import InvalidRequest
from craftgen.schemas import UPLOAD_EXAMPLE, Count, DiffusionRequest, InputImage, Studio, examples

DEFAULT_STRENGTH = 0.6


class VariationsRequest(Count, InputImage, DiffusionRequest):
    """New takes on an upload, each the size of the input."""

    model_config = examples({"tool": "variations", "image": UPLOAD_EXAMPLE, "prompt": "in watercolor", "num_images": 2})

    tool: Literal["variations"] = "variations"
    strength: Annotated[
        float | None,
        Field(description=f"how much to change, in (0, 1]; left out: {DEFAULT_STRENGTH}"),
        Studio("How much to change", choices=((0.3, "A little"), (0.6, "Some"), (0.9, "A lot")), order=10),
    ] = None


class VariationsTool(Tool[VariationsRequest]):
    name = "variations"
    request_model = VariationsRequest
    card = ToolCard(
        title="Variations",
        makes="New takes on your own picture, the same size as it.",
        example="a pencil sketch, redone as watercolor",
        ideas=("in watercolor", "as a linocut print", "in pastel colors", "as a pencil drawing"),
        order=5,
    )

    def defaults(
        self, request: VariationsRequest, image: Image.Image | None, options: EngineOptions
    ) -> dict[str, object]:
        return {"strength": DEFAULT_STRENGTH}

    def validate(self, item: ToolInput[VariationsRequest], limits: Limits) -> None:
        check_strength(item)
        assert item.image is not None
        if min(item.image.size) < limits.min_side:
            raise InvalidRequest(
                f"the image is {item.image.width}x{item.image.height}; "
                f"variations need at least {limits.min_side} px on each side",
                field="image",
            )

    def batch_key(self, item: ToolInput[VariationsRequest]) -> tuple[object, ...]:
        request = item.request
        assert item.image is not None
        # Equal input sizes give equal working sizes, so their latents stack.
        return (
            "variations",
            request.model,
            item.image.size,
            request.steps,
            request.guidance,
            request.strength,
            request.quality,
        )

    def run(self, ctx: RunContext, items: list[ToolInput[VariationsRequest]]) -> list[ToolResult]:
        assert ctx.model is not None
        first = items[0].request
        assert first.steps is not None and first.strength is not None
        # 1. Bring every input to the working size (all equal in one batch).
        inputs = []
        for item in items:
            assert item.image is not None
            size = working_size(*item.image.size, max_side=ctx.limits.max_side)
            rgb = item.image.convert("RGB")
            inputs += [rgb.resize(size, Image.Resampling.LANCZOS) if rgb.size != size else rgb] * item.num_images
        # 2. One img2img call for every image of every request.
        prompts, negatives = expand_prompts(items)
        total = denoising_steps(first.steps, first.strength)
        result = ctx.model.img2img(
            prompt=prompts,
            negative_prompt=negatives,
            image=inputs,
            strength=first.strength,
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            generator=generators_for(items),
            output_type="pil",
            callback_on_step_end=step_callback(ctx.progress, done_before=0, total=total, items=items),
        )
        # 3. Back to each input's own size.
        results = []
        for item, images in zip(items, split_per_item(result.images, items), strict=True):
            assert item.image is not None
            outputs = []
            for index, made in enumerate(images):
                image = made if made.size == item.image.size else made.resize(item.image.size, Image.Resampling.LANCZOS)
                outputs.append(
                    png_output(
                        image,
                        name=f"variations-{index}.png",
                        kind="image",
                        item=item,
                        ctx=ctx,
                        seed=item.image_seed(index),
                    )
                )
            results.append(ToolResult(tool="variations", model=ctx.model_name, seed=item.seed, outputs=outputs))
        return results
