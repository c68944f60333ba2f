"""A1111 parameters to craftgen job bodies, and craftgen's results to A1111's `info`: no HTTP.

txt2img runs `text` (`pattern` with `tiling`), img2img `variations` (`inpaint` with a mask),
extra-single-image `upscale`. A batch of `batch_size` x `n_iter` images is one job, image i
from seed + i, which is A1111's own `all_seeds`.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Collection, Mapping
from typing import Any

from PIL import Image, ImageOps

from craftgen import __version__
from craftgen.api.a1111.shapes import GenerationParams, Img2ImgRequest
from craftgen.errors import InvalidRequest
from craftgen.jobs.views import JobView, OutputView

# craftgen's field -> A1111's, for the errors a job submission raises.
FIELD_NAMES = {
    "num_images": "batch_size",
    "guidance": "cfg_scale",
    "strength": "denoising_strength",
    "blend": "mask_blur",
    "image": "init_images",
    "mask": "mask",
    "model": "sd_model_checkpoint",
    "sampler": "sampler_name",
    "scale": "upscaling_resize",
}
PLAIN_UPSCALERS = ("None", "Lanczos", "Nearest")  # a plain resize (craftgen's upscale at strength 0)
DIFFUSION_UPSCALER = "craftgen"  # the tiled img2img pass that adds detail
DEFAULT_SAMPLER = "Default"  # the model's own scheduler
SCHEDULERS = ("automatic", "karras", "exponential")  # as sampler-name suffixes where a sampler takes one
MAX_SEED = 2**32 - 1


def resolve_model(name: str | None, *, known: Collection[str]) -> str | None:
    """A registry model from an A1111 checkpoint title (`name`, `name.safetensors [hash]`)."""
    if name is None or name == "":
        return None
    for candidate in (name, name.split(" [")[0].rsplit(".", 1)[0], name.split(" [")[0]):
        if candidate in known:
            return candidate
    raise InvalidRequest(
        f"unknown checkpoint {name!r}; choose one of {', '.join(known)} (GET /sdapi/v1/sd-models)",
        field="sd_model_checkpoint",
    )


def sampler_value(params: GenerationParams) -> str | None:
    """A1111's sampler (with its schedule type, as the older combined names spell it)."""
    name = params.sampler_name or params.sampler_index
    if not name or name == DEFAULT_SAMPLER:
        return None
    scheduler = (params.scheduler or "automatic").lower()
    if scheduler in ("automatic", ""):
        return name
    if scheduler not in SCHEDULERS:
        raise InvalidRequest(
            f"unknown scheduler {params.scheduler!r}; choose one of {', '.join(SCHEDULERS)}", field="scheduler"
        )
    return f"{name} {scheduler.title()}"


def _common(params: GenerationParams, *, model: str | None, known: Collection[str]) -> dict[str, object]:
    if params.enable_hr:
        raise InvalidRequest("hires fix is not offered; upscale with /sdapi/v1/extra-single-image", field="enable_hr")
    body: dict[str, object] = {"prompt": params.prompt, "negative_prompt": params.negative_prompt}
    override = params.override_settings.get("sd_model_checkpoint")
    chosen = resolve_model(override, known=known) if override else model
    if chosen is not None:
        body["model"] = chosen
    if params.seed is not None and params.seed != -1:
        if not 0 <= params.seed <= MAX_SEED:
            raise InvalidRequest(f"seed must be -1 (random) or 0..{MAX_SEED}, got {params.seed}", field="seed")
        body["seed"] = params.seed
    body["num_images"] = params.batch_size * params.n_iter
    for theirs, ours in (("steps", "steps"), ("cfg_scale", "guidance")):
        value = getattr(params, theirs)
        if value is not None:
            body[ours] = value
    sampler = sampler_value(params)
    if sampler is not None:
        body["sampler"] = sampler
    return body


def txt2img_job(params: GenerationParams, *, model: str | None, known: Collection[str]) -> dict[str, object]:
    body = _common(params, model=model, known=known)
    body["tool"] = "pattern" if params.tiling else "text"
    for side in ("width", "height"):
        value = getattr(params, side)
        if value is not None:
            body[side] = value
    return body


def img2img_job(
    params: Img2ImgRequest,
    *,
    image_id: str,
    mask_id: str | None,
    model: str | None,
    known: Collection[str],
) -> dict[str, object]:
    if params.tiling:
        raise InvalidRequest("tiling is for txt2img (craftgen's pattern tool)", field="tiling")
    body = _common(params, model=model, known=known)
    body["image"] = image_id
    if mask_id is None:
        body["tool"] = "variations"
        if params.denoising_strength is not None:
            body["strength"] = params.denoising_strength
        return body
    body["tool"], body["mask"] = "inpaint", mask_id
    # Filling with latent noise or nothing starts the masked area afresh; 'fill' and 'original'
    # keep what is there to the degree denoising_strength says.
    if params.inpainting_fill in (2, 3):
        body["strength"] = 1.0
    elif params.denoising_strength is not None:
        body["strength"] = params.denoising_strength
    if params.mask_blur is not None:
        body["blend"] = params.mask_blur
    return body


def resized(image: Image.Image, size: tuple[int, int], *, mode: int, resample: Image.Resampling) -> Image.Image:
    """A1111's resize modes: 0 just resize (3, latent upscale, too), 1 crop and resize, 2 resize and fill."""
    if image.size == size:
        return image
    if mode == 1:
        return ImageOps.fit(image, size, method=resample)
    if mode == 2:
        return ImageOps.pad(image, size, method=resample)
    return image.resize(size, resample)


def repaint_mask(mask: Image.Image, *, invert: bool) -> Image.Image:
    """An A1111 mask (white: repaint) as craftgen's, in grey levels; transparent counts as keep."""
    grey = mask.convert("L")
    if "A" in mask.getbands():
        grey = Image.composite(grey, Image.new("L", mask.size, 0), mask.getchannel("A"))
    return ImageOps.invert(grey) if invert else grey


def upscale_job(*, image_id: str, scale: float, upscaler: str) -> dict[str, object]:
    if scale not in (2, 4):
        raise InvalidRequest(f"upscaling_resize must be 2 or 4, got {scale:g}", field="upscaling_resize")
    if upscaler not in (*PLAIN_UPSCALERS, DIFFUSION_UPSCALER):
        choices = ", ".join((*PLAIN_UPSCALERS, DIFFUSION_UPSCALER))
        raise InvalidRequest(f"unknown upscaler {upscaler!r}; choose one of {choices}", field="upscaler_1")
    body: dict[str, object] = {"tool": "upscale", "image": image_id, "scale": int(scale)}
    if upscaler in PLAIN_UPSCALERS:
        body["strength"] = 0
    return body


# Answers --------------------------------------------------------------------------------------


def infotext(request: Mapping[str, Any], *, seed: int | None, width: int, height: int) -> str:
    """A1111's one-paragraph parameters text, which its PNG Info tab and many tools read."""
    lines = [str(request.get("prompt", ""))]
    if request.get("negative_prompt"):
        lines.append(f"Negative prompt: {request['negative_prompt']}")
    settings = {
        "Steps": request.get("steps"),
        "Sampler": request.get("sampler") or "Default",
        "CFG scale": request.get("guidance"),
        "Seed": seed,
        "Size": f"{width}x{height}",
        "Model": request.get("model"),
        "Denoising strength": request.get("strength"),
        "Tiling": "True" if request.get("tool") == "pattern" else None,
        "Tool": request.get("tool"),
        "Version": f"craftgen {__version__}",
    }
    lines.append(", ".join(f"{key}: {value}" for key, value in settings.items() if value is not None))
    return "\n".join(lines)


def generation_info(view: JobView, images: list[OutputView], *, params: GenerationParams) -> dict[str, Any]:
    request = view.request
    seeds = [image.seed if image.seed is not None else -1 for image in images]
    first = images[0] if images else None
    width, height = (first.width, first.height) if first else (request.get("width") or 0, request.get("height") or 0)
    texts = [
        infotext(request, seed=seed, width=image.width, height=image.height)
        for seed, image in zip(seeds, images, strict=True)
    ]
    prompt, negative = str(request.get("prompt", "")), str(request.get("negative_prompt", ""))
    return {
        "prompt": prompt,
        "all_prompts": [prompt] * len(images),
        "negative_prompt": negative,
        "all_negative_prompts": [negative] * len(images),
        "seed": seeds[0] if seeds else request.get("seed"),
        "all_seeds": seeds,
        "subseed": -1,
        "all_subseeds": [-1] * len(images),
        "subseed_strength": 0,
        "width": width,
        "height": height,
        "sampler_name": request.get("sampler") or "Default",
        "cfg_scale": request.get("guidance"),
        "steps": request.get("steps"),
        "batch_size": params.batch_size,
        "restore_faces": False,
        "sd_model_name": request.get("model"),
        "sd_model_hash": None,
        "denoising_strength": request.get("strength"),
        "extra_generation_params": {"Tool": view.tool},
        "index_of_first_image": 0,
        "infotexts": texts,
        "styles": [],
        "job_timestamp": time.strftime("%Y%m%d%H%M%S", time.gmtime(view.created_at)),
        "clip_skip": 1,
        "is_using_inpainting_conditioning": view.tool == "inpaint",
        "version": f"craftgen {__version__}",
        "job_id": view.id,
    }


def with_text_chunk(png: bytes, key: str, text: str) -> bytes:
    """The PNG with its `key` text chunk (if any) replaced by `text`, without re-encoding: A1111
    keeps its infotext in `parameters`, beside craftgen's own JSON chunk."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return png
    try:
        kind, data = b"tEXt", key.encode("latin-1") + b"\0" + text.encode("latin-1")
    except UnicodeEncodeError:
        kind, data = b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    ours = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    parts, position = [png[:8]], 8
    while position + 8 <= len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        chunk_kind = png[position + 4 : position + 8]
        chunk = png[position : position + 12 + length]
        if chunk_kind in (b"IDAT", b"IEND") and ours:  # before the pixels, where readers look first
            parts.append(ours)
            ours = b""
        named = chunk[8 : 8 + len(key) + 1] == key.encode("latin-1") + b"\0"
        if not (chunk_kind in (b"tEXt", b"iTXt", b"zTXt") and named):
            parts.append(chunk)
        position += 12 + length
    return b"".join(parts)


def png_info(image: Image.Image) -> tuple[str, dict[str, Any]]:
    """(A1111's parameters text, every text chunk) of an image: its own `parameters`, or one
    made from craftgen's JSON."""
    items: dict[str, Any] = {str(key): value for key, value in image.info.items() if isinstance(value, str)}
    raw = items.get("craftgen")
    if raw is None:
        return items.get("parameters", ""), items
    try:
        params = json.loads(raw)
    except ValueError:
        return "", items
    if not isinstance(params, dict):
        return "", items
    return infotext(params, seed=params.get("seed"), width=image.width, height=image.height), items
