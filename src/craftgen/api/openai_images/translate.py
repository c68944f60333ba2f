"""OpenAI Images parameters to craftgen job bodies: plain functions, no HTTP.

`generations` runs `text`, or `clipart` for a transparent background or an SVG; `edits` runs
`inpaint` with a mask (OpenAI's convention: transparent pixels are where to edit), else
`variations`, which `variations` runs too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from PIL import Image

from craftgen.api.openai_images.shapes import OpenAIRequest
from craftgen.errors import InvalidRequest

OPENAI_MODEL_PREFIXES = ("dall-e", "gpt-image", "chatgpt-image")
# craftgen's field -> OpenAI's parameter, for the errors a job submission raises.
FIELD_NAMES = {
    "num_images": "n",
    "width": "size",
    "height": "size",
    "steps": "quality",
    "quality": "quality",
    "model": "model",
    "prompt": "prompt",
    "image": "image",
    "mask": "mask",
}
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


@dataclass(frozen=True)
class Plan:
    """A job body and how to answer with its outputs."""

    body: dict[str, object]
    output_format: str  # png | webp | jpeg | svg
    background: str  # transparent | opaque

    @property
    def output_kind(self) -> str:
        return "svg" if self.output_format == "svg" else "image"


def parse_size(size: str | None) -> tuple[int, int] | None:
    """(width, height) of `WxH`; None for `auto` or nothing."""
    if size is None or size == "auto":
        return None
    match = _SIZE.match(size)
    if match is None:
        raise InvalidRequest(f"size must be 'WIDTHxHEIGHT' (e.g. '512x512') or 'auto', got {size!r}", field="size")
    return int(match[1]), int(match[2])


def model_fields(model: str | None, *, known: Collection[str]) -> dict[str, object]:
    """A craftgen model by name; OpenAI's own model names run the default model."""
    if model is None or (model not in known and model.lower().startswith(OPENAI_MODEL_PREFIXES)):
        return {}
    return {"model": model}  # an unknown name is refused by the job service, naming the choices


def quality_fields(quality: str | None, *, default_steps: int, max_steps: int) -> dict[str, object]:
    if quality == "low":
        return {"quality": "fast"}
    if quality in ("high", "hd"):
        return {"steps": min(2 * default_steps, max_steps)}
    if quality in ("xhigh", "max"):
        return {"steps": min(3 * default_steps, max_steps)}
    return {}


def _common(request: OpenAIRequest, *, known: Collection[str], default_steps: int, max_steps: int) -> dict[str, object]:
    body: dict[str, object] = {}
    body.update(model_fields(request.model, known=known))
    body.update(quality_fields(request.quality, default_steps=default_steps, max_steps=max_steps))
    if request.n is not None:
        body["num_images"] = request.n
    return body


def generation_plan(
    request: OpenAIRequest, *, prompt: str, known: Collection[str], default_steps: int, max_steps: int
) -> Plan:
    output_format = request.output_format or "png"
    background = request.background or "auto"
    # 1. The tool: a cut file or transparency means clipart.
    if output_format == "svg" and background == "opaque":
        raise InvalidRequest("an SVG cut file needs a transparent background, not 'opaque'", field="background")
    if output_format == "jpeg" and background == "transparent":
        raise InvalidRequest(
            "jpeg has no transparency: use png or webp for a transparent background", field="output_format"
        )
    if output_format == "svg" and request.stream:
        raise InvalidRequest("svg output cannot be streamed", field="stream")
    transparent = output_format == "svg" or background == "transparent"
    body: dict[str, object] = {"tool": "clipart" if transparent else "text", "prompt": prompt}
    # 2. Size, model, count, steps.
    size = parse_size(request.size)
    if size is not None:
        body["width"], body["height"] = size
    body.update(_common(request, known=known, default_steps=default_steps, max_steps=max_steps))
    return Plan(body=body, output_format=output_format, background="transparent" if transparent else "opaque")


def image_plan(
    request: OpenAIRequest,
    *,
    prompt: str,
    image_id: str,
    mask_id: str | None,
    inpaint: bool,
    known: Collection[str],
    default_steps: int,
    max_steps: int,
) -> Plan:
    """An edit or a variation of an uploaded image (already at the size asked for)."""
    output_format = request.output_format or "png"
    if output_format == "svg":
        raise InvalidRequest("svg output is made by generations with a transparent background", field="output_format")
    if request.background == "transparent":
        raise InvalidRequest(
            "a transparent background is made by generations (craftgen's clipart tool); "
            "for an image of your own, use craftgen's cutout tool (POST /v1/jobs)",
            field="background",
        )
    if mask_id is not None and not inpaint:
        raise InvalidRequest("this server has no inpaint tool, so it cannot edit under a mask", field="mask")
    body: dict[str, object] = {"prompt": prompt, "image": image_id}
    body["tool"] = "inpaint" if mask_id is not None else "variations"
    if mask_id is not None:
        body["mask"] = mask_id
    body.update(_common(request, known=known, default_steps=default_steps, max_steps=max_steps))
    return Plan(body=body, output_format=output_format, background="opaque")


def edit_mask(mask: Image.Image, *, size: tuple[int, int]) -> Image.Image:
    """OpenAI's mask (fully transparent pixels: edit here) as craftgen's (white: repaint)."""
    if mask.size != size:
        raise InvalidRequest(
            f"the mask is {mask.width}x{mask.height}; it must be the image's size, {size[0]}x{size[1]}", field="mask"
        )
    if "A" not in mask.getbands():
        raise InvalidRequest(
            "the mask needs an alpha channel: its fully transparent pixels mark where to edit", field="mask"
        )
    alpha = np.asarray(mask.getchannel("A"))
    if not (alpha == 0).any():
        raise InvalidRequest("the mask has no fully transparent pixel, so there is nothing to edit", field="mask")
    return Image.fromarray(np.where(alpha == 0, 255, 0).astype(np.uint8), "L")
