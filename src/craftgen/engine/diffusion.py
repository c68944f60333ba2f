"""Running diffusers pipelines for a batch of requests: one call, one generator per image.

Every image gets its own CPU `torch.Generator` seeded with request seed + image index, so an
image comes out the same whether it ran alone or shared a batch with other users' requests,
and a plain diffusers call with that generator reproduces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import torch
from PIL import Image

from craftgen.engine.base import ProgressFn, ToolInput
from craftgen.engine.options import EngineOptions
from craftgen.engine.preview import PreviewProgress, first_images, latent_preview
from craftgen.engine.print_size import aspect_size
from craftgen.engine.validation import join_prompt
from craftgen.schemas import Count, DiffusionRequest, Size, ToolRequest


class TextToImageRequest(Size, Count, DiffusionRequest):
    """The fields of a tool that makes images from a prompt at a chosen size."""


class DiffusersPipeline(Protocol):
    """Any diffusers pipeline called with keyword arguments (their signatures differ per family)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


PromptT = TypeVar("PromptT", bound=DiffusionRequest)
TextT = TypeVar("TextT", bound=TextToImageRequest)


def size_defaults(options: EngineOptions, request: ToolRequest | None = None) -> dict[str, object]:
    """The model's own size, where a text-to-image request names none; for a print size, about
    as many pixels in the print's shape (so the final resize barely stretches)."""
    if request is None:
        return {"width": options.default_size, "height": options.default_size}
    width, height = aspect_size(request, default=options.default_size)
    return {"width": width, "height": height}


def txt2img_batch_key(request: TextToImageRequest) -> tuple[object, ...]:
    """What must be equal for text-to-image requests to share one call."""
    return (request.model, request.width, request.height, request.steps, request.guidance, request.quality)


def generators_for(items: Sequence[ToolInput[Any]], *, count: int | None = None) -> list[torch.Generator]:
    """One CPU generator per image, in batch order (request by request, image by image)."""
    gens: list[torch.Generator] = []
    for item in items:
        for index in range(count if count is not None else item.num_images):
            gens.append(torch.Generator("cpu").manual_seed(item.image_seed(index)))
    return gens


def step_callback(
    progress: ProgressFn, *, done_before: int, total: int, items: Sequence[ToolInput[Any]] | None = None
) -> Any:
    """A diffusers `callback_on_step_end` that reports steps into a larger total. Given the
    batch's `items` (laid out as `expand_prompts` does), a progress function that takes previews
    also gets a lazy one of each request's first image."""
    positions = first_images([item.num_images for item in items]) if items else None

    def callback(pipe: DiffusersPipeline, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        # A second-order sampler (Heun) calls back twice per step: count whole steps; PLMS takes
        # one step more than asked for its warm-up: never report past the total.
        order = max(int(getattr(getattr(pipe, "scheduler", None), "order", 1)), 1)
        done = min(done_before + (step + order) // order, total)
        latents = kwargs.get("latents")
        if isinstance(progress, PreviewProgress) and positions is not None and latents is not None:
            progress.report(done, total, latent_preview(latents, positions))
        else:
            progress(done, total)
        return kwargs

    return callback


def expand_prompts(
    items: Sequence[ToolInput[PromptT]], *, suffix: str = "", negative_suffix: str = ""
) -> tuple[list[str], list[str]]:
    """Prompt and negative prompt repeated once per image, in batch order."""
    prompts: list[str] = []
    negatives: list[str] = []
    for item in items:
        prompt = join_prompt(item.request.prompt, suffix)
        negative = join_prompt(item.request.negative_prompt, negative_suffix)
        prompts += [prompt] * item.num_images
        negatives += [negative] * item.num_images
    return prompts, negatives


def split_per_item(images: Sequence[Image.Image], items: Sequence[ToolInput[Any]]) -> list[list[Image.Image]]:
    """Undo `expand_prompts`: the batch's images regrouped by request."""
    grouped: list[list[Image.Image]] = []
    start = 0
    for item in items:
        grouped.append(list(images[start : start + item.num_images]))
        start += item.num_images
    return grouped


def txt2img(
    pipe: DiffusersPipeline,
    items: Sequence[ToolInput[TextT]],
    *,
    progress: ProgressFn,
    suffix: str = "",
    negative_suffix: str = "",
) -> list[list[Image.Image]]:
    """All images of all requests in one text-to-image call; grouped back by request."""
    first = items[0].request
    prompts, negatives = expand_prompts(items, suffix=suffix, negative_suffix=negative_suffix)
    steps = int(first.steps or 1)
    result = pipe(
        prompt=prompts,
        negative_prompt=negatives,
        width=first.width,
        height=first.height,
        num_inference_steps=steps,
        guidance_scale=first.guidance,
        generator=generators_for(items),
        output_type="pil",
        callback_on_step_end=step_callback(progress, done_before=0, total=steps, items=items),
    )
    return split_per_item(result.images, items)
