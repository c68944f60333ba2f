"""variations: img2img from an upload; every output has the input's exact size."""

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
from craftgen.engine.diffusion import expand_prompts, generators_for, split_per_item, step_callback
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.errors import InvalidRequest
from craftgen.schemas import GenerateRequest

DEFAULT_STRENGTH = 0.6


def working_size(width: int, height: int, *, max_side: int) -> tuple[int, int]:
    """The size diffusion runs at: within max_side, multiples of 8, aspect kept."""
    scale = min(1.0, max_side / max(width, height))
    return max(8, int(width * scale) // 8 * 8), max(8, int(height * scale) // 8 * 8)


def denoising_steps(steps: int, strength: float) -> int:
    """The steps img2img actually runs (diffusers skips the first (1 - strength) of them)."""
    return min(int(steps * strength), steps)


def check_strength(item: ToolInput) -> None:
    request = item.request
    assert request.strength is not None and request.steps is not None
    if not 0 < request.strength <= 1:
        raise InvalidRequest(f"strength must be in (0, 1], got {request.strength}", field="strength")
    if denoising_steps(request.steps, request.strength) < 1:
        raise InvalidRequest(
            f"strength {request.strength} with {request.steps} steps runs no denoising step; "
            "raise steps or strength",
            field="strength",
        )


class VariationsTool(Tool):
    name = "variations"
    fields = COMMON_FIELDS | DIFFUSION_FIELDS | {"image", "num_images", "strength"}
    needs_image = True

    def defaults(
        self, request: GenerateRequest, image: Image.Image | None, options: EngineOptions
    ) -> dict[str, object]:
        return {"strength": DEFAULT_STRENGTH}

    def validate(self, item: ToolInput, limits: Limits) -> None:
        check_strength(item)
        assert item.image is not None
        if min(item.image.size) < limits.min_side:
            raise InvalidRequest(
                f"the image is {item.image.width}x{item.image.height}; "
                f"variations need at least {limits.min_side} px on each side",
                field="image",
            )

    def batch_key(self, item: ToolInput) -> tuple[object, ...]:
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

    def run(self, ctx: RunContext, items: list[ToolInput]) -> list[ToolResult]:
        assert ctx.model is not None
        first = items[0].request
        assert first.steps is not None and first.strength is not None
        # 1. Bring every input to the working size (all equal in one batch).
        inputs = []
        for item in items:
            assert item.image is not None
            size = working_size(*item.image.size, max_side=ctx.limits.max_side)
            rgb = item.image.convert("RGB")
            inputs += [rgb.resize(size, Image.Resampling.LANCZOS) if rgb.size != size else rgb] * item.request.num_images
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
            for index, image in enumerate(images):
                if image.size != item.image.size:
                    image = image.resize(item.image.size, Image.Resampling.LANCZOS)
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
