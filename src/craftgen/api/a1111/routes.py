"""/sdapi/v1: A1111's routes, each a translation onto craftgen's jobs (see translate.py)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from fastapi import APIRouter, Request
from PIL import Image
from starlette.concurrency import run_in_threadpool

from craftgen.api.a1111.auth import A1111User
from craftgen.api.a1111.errors import A1111ErrorBody, A1111Route
from craftgen.api.a1111.shapes import (
    ExtraSingleImageRequest,
    ExtraSingleImageResponse,
    GenerationParams,
    GenerationResponse,
    Img2ImgRequest,
    PngInfoRequest,
    PngInfoResponse,
    ProgressResponse,
    ProgressState,
    Txt2ImgRequest,
)
from craftgen.api.a1111.translate import (
    DEFAULT_SAMPLER,
    DIFFUSION_UPSCALER,
    FIELD_NAMES,
    PLAIN_UPSCALERS,
    SCHEDULERS,
    generation_info,
    img2img_job,
    png_info,
    repaint_mask,
    resized,
    resolve_model,
    txt2img_job,
    upscale_job,
    with_text_chunk,
)
from craftgen.api.compat_jobs import (
    cancel_quietly,
    decode_base64_image,
    open_input,
    outputs,
    png_bytes,
    preview_image,
    store_image,
    submit,
    wait_for_job,
)
from craftgen.api.deps import RuntimeDep
from craftgen.db.tables import User
from craftgen.engine.samplers import aliases as sampler_aliases
from craftgen.engine.samplers import sampler_names
from craftgen.engine.tools import TOOLS
from craftgen.errors import Conflict, InvalidRequest
from craftgen.jobs import states
from craftgen.jobs.views import JobView
from craftgen.runtime import Runtime

router = APIRouter(
    prefix="/sdapi/v1",
    tags=["AUTOMATIC1111"],
    route_class=A1111Route,
    responses={status: {"model": A1111ErrorBody} for status in (401, 403, 404, 409, 413, 422, 429, 503)},
)

# The checkpoint each user last chose with POST /options (A1111 keeps one for the whole server;
# craftgen keeps one per user, per API process: a choice made on another replica is not seen).
_CHECKPOINTS_STATE = "a1111_checkpoints"


def _checkpoints(request: Request) -> dict[str, str]:
    state = request.app.state
    if not hasattr(state, _CHECKPOINTS_STATE):
        setattr(state, _CHECKPOINTS_STATE, {})
    found: dict[str, str] = getattr(state, _CHECKPOINTS_STATE)
    return found


def _known(runtime: Runtime) -> tuple[str, ...]:
    return tuple(runtime.engine.registry.names())


# Generating -----------------------------------------------------------------------------------


@router.post("/txt2img")
async def txt2img(body: Txt2ImgRequest, request: Request, runtime: RuntimeDep, user: A1111User) -> GenerationResponse:
    """Text to image: craftgen's `text` tool, or `pattern` (a seamless tile) with `tiling`."""
    job = txt2img_job(body, model=_checkpoints(request).get(user.id), known=_known(runtime))
    view = await run_in_threadpool(submit, runtime, user, job, names=FIELD_NAMES)
    return await _generated(request, runtime, user, view, body)


@router.post("/img2img")
async def img2img(body: Img2ImgRequest, request: Request, runtime: RuntimeDep, user: A1111User) -> GenerationResponse:
    """Image to image: `variations`, or `inpaint` where the mask is white."""
    model = _checkpoints(request).get(user.id)
    view = await run_in_threadpool(_submit_img2img, runtime, user, body, model)
    return await _generated(request, runtime, user, view, body)


def _submit_img2img(runtime: Runtime, user: User, body: Img2ImgRequest, model: str | None) -> JobView:
    # 1. The image, at width x height as resize_mode says (A1111's output size).
    if len(body.init_images) != 1:
        raise InvalidRequest(f"send one init image, got {len(body.init_images)}", field="init_images")
    image = open_input(runtime, decode_base64_image(body.init_images[0], field="init_images"), field="init_images")
    target = (body.width or image.width, body.height or image.height)
    picture = resized(image, target, mode=body.resize_mode, resample=Image.Resampling.LANCZOS)
    image_id = store_image(runtime, user_id=user.id, data=png_bytes(picture), field="init_images")
    # 2. The mask, over the same pixels.
    mask_id = None
    if body.mask:
        mask = open_input(runtime, decode_base64_image(body.mask, field="mask"), field="mask")
        if mask.size != image.size:
            raise InvalidRequest(
                f"the mask is {mask.width}x{mask.height}; it must be the image's size, {image.width}x{image.height}",
                field="mask",
            )
        grey = repaint_mask(mask, invert=body.inpainting_mask_invert == 1)
        grey = resized(grey, target, mode=body.resize_mode, resample=Image.Resampling.NEAREST)
        mask_id = store_image(runtime, user_id=user.id, data=png_bytes(grey), field="mask")
    if mask_id is not None and "inpaint" not in TOOLS:
        raise InvalidRequest("this server has no inpaint tool, so it cannot repaint under a mask", field="mask")
    job = img2img_job(body, image_id=image_id, mask_id=mask_id, model=model, known=_known(runtime))
    return submit(runtime, user, job, names=FIELD_NAMES)


async def _generated(
    request: Request, runtime: Runtime, user: User, view: JobView, params: GenerationParams
) -> GenerationResponse:
    done = await wait_for_job(runtime, user_id=user.id, job_id=view.id, request=request)
    return await run_in_threadpool(_generation_response, runtime, user, done, params)


def _generation_response(runtime: Runtime, user: User, view: JobView, params: GenerationParams) -> GenerationResponse:
    parameters = params.model_dump()
    if view.status == states.CANCELED:  # interrupted (A1111 answers with what it has: nothing yet)
        info = generation_info(view, [], params=params) | {"interrupted": True}
        return GenerationResponse(images=[], parameters=parameters, info=_json(info))
    if view.status != states.SUCCEEDED:
        error = view.error or {}
        raise Conflict(f"job {view.id} failed: {error.get('message', 'no reason given')}")
    found = outputs(runtime, user_id=user.id, view=view)
    info = generation_info(view, [out.view for out in found], params=params)
    images = [
        base64.b64encode(with_text_chunk(out.data, "parameters", text)).decode("ascii")
        for out, text in zip(found, info["infotexts"], strict=True)
    ]
    return GenerationResponse(images=images, parameters=parameters, info=_json(info))


def _json(info: dict[str, Any]) -> str:
    return json.dumps(info)


@router.post("/extra-single-image")
async def extra_single_image(
    body: ExtraSingleImageRequest, request: Request, runtime: RuntimeDep, user: A1111User
) -> ExtraSingleImageResponse:
    """Upscale x2 or x4: a plain resize (None, Lanczos, Nearest) or craftgen's tiled diffusion pass."""
    if body.resize_mode != 0:
        raise InvalidRequest("only resize_mode 0 (scale by upscaling_resize) is offered", field="resize_mode")
    upscaler = body.upscaler_1 if body.upscaler_1 != "None" or body.upscaler_2 == "None" else body.upscaler_2

    def submit_upscale() -> JobView:
        data = decode_base64_image(body.image, field="image")
        open_input(runtime, data, field="image")
        image_id = store_image(runtime, user_id=user.id, data=data, field="image")
        job = upscale_job(image_id=image_id, scale=body.upscaling_resize, upscaler=upscaler)
        return submit(runtime, user, job, names={**FIELD_NAMES, "image": "image"})

    view = await run_in_threadpool(submit_upscale)
    done = await wait_for_job(runtime, user_id=user.id, job_id=view.id, request=request)
    if done.status != states.SUCCEEDED:
        error = done.error or {}
        raise Conflict(f"job {done.id} {done.status}: {error.get('message', '')}".rstrip(": "))
    found = await run_in_threadpool(outputs, runtime, user_id=user.id, view=done)
    out = found[0]
    html = f"<p>Upscaled x{body.upscaling_resize:g} to {out.view.width}x{out.view.height} (job {done.id})</p>"
    return ExtraSingleImageResponse(html_info=html, image=base64.b64encode(out.data).decode("ascii"))


@router.post("/png-info")
async def png_info_route(body: PngInfoRequest, runtime: RuntimeDep, user: A1111User) -> PngInfoResponse:
    """The parameters an image carries (A1111's `parameters` text, or craftgen's own)."""
    image = await run_in_threadpool(open_input, runtime, decode_base64_image(body.image, field="image"), field="image")
    text, items = png_info(image)
    return PngInfoResponse(info=text, items=items, parameters={})


# Progress and control -------------------------------------------------------------------------


def _active(runtime: Runtime, user_id: str) -> list[JobView]:
    """The caller's queued and running jobs, oldest first."""
    return [view for view in reversed(runtime.jobs.list(user_id, limit=100)) if view.status in states.ACTIVE]


@router.get("/progress")
async def progress(runtime: RuntimeDep, user: A1111User, skip_current_image: bool = False) -> ProgressResponse:
    """The caller's current job: progress, the live preview as `current_image`, and its id."""
    active = await run_in_threadpool(_active, runtime, user.id)
    running = [view for view in active if view.status == states.RUNNING]
    if not active:
        return ProgressResponse(progress=0, eta_relative=0, state=ProgressState())
    current = (running or active)[0]
    steps = int(current.request.get("steps") or 0)  # type: ignore[call-overload]
    elapsed = time.time() - (current.started_at or time.time())
    eta = elapsed / current.progress - elapsed if current.progress > 0 else 0.0
    image = None
    if not skip_current_image:
        preview = preview_image(current)
        image = base64.b64encode(png_bytes(preview)).decode("ascii") if preview is not None else None
    state = ProgressState(
        job=f"job {current.id}",
        job_count=len(active),
        job_timestamp=time.strftime("%Y%m%d%H%M%S", time.gmtime(current.created_at)),
        sampling_step=round(current.progress * steps),
        sampling_steps=steps,
    )
    text = f"queued, {current.queue_position} ahead" if current.status == states.QUEUED else current.status
    return ProgressResponse(
        progress=current.progress,
        eta_relative=round(eta, 3),
        state=state,
        current_image=image,
        textinfo=text,
        job_id=current.id,
        queue_position=current.queue_position,
    )


@router.post("/interrupt")
async def interrupt(runtime: RuntimeDep, user: A1111User) -> None:
    """Cancel the caller's running and queued jobs (never anyone else's)."""
    await run_in_threadpool(_cancel, runtime, user.id, running_only=False)


@router.post("/skip")
async def skip(runtime: RuntimeDep, user: A1111User) -> None:
    """Cancel the caller's running job; queued ones carry on."""
    await run_in_threadpool(_cancel, runtime, user.id, running_only=True)


def _cancel(runtime: Runtime, user_id: str, *, running_only: bool) -> None:
    for view in _active(runtime, user_id):
        if view.status == states.RUNNING or not running_only:
            cancel_quietly(runtime, user_id, view.id)


# What there is --------------------------------------------------------------------------------


@router.get("/sd-models")
def sd_models(runtime: RuntimeDep, user: A1111User) -> list[dict[str, Any]]:
    """The registry's models, as checkpoints (`title` is what options and override_settings take)."""
    return [
        {"title": name, "model_name": name, "hash": None, "sha256": None, "filename": name, "config": None}
        for name in _known(runtime)
    ]


@router.get("/options")
def get_options(request: Request, runtime: RuntimeDep, user: A1111User) -> dict[str, Any]:
    """The caller's checkpoint (`sd_model_checkpoint`) and the few settings craftgen honours."""
    checkpoint = _checkpoints(request).get(user.id) or runtime.engine.registry.default
    return {
        "sd_model_checkpoint": checkpoint,
        "sd_checkpoint_hash": None,
        "samples_format": "png",
        "sd_vae": "Automatic",
        "CLIP_stop_at_last_layers": 1,
    }


@router.post("/options")
def set_options(body: dict[str, Any], request: Request, runtime: RuntimeDep, user: A1111User) -> None:
    """Choose the caller's checkpoint; other options are accepted and left as they are."""
    if "sd_model_checkpoint" in body:
        name = resolve_model(str(body["sd_model_checkpoint"]), known=_known(runtime))
        if name is not None:
            _checkpoints(request)[user.id] = name


@router.get("/samplers")
def samplers(user: A1111User) -> list[dict[str, Any]]:
    """The sampler job option's names, and "Default": the model's own scheduler."""
    listed = [{"name": DEFAULT_SAMPLER, "aliases": [], "options": {}}]
    listed += [{"name": name, "aliases": list(sampler_aliases(name)), "options": {}} for name in sampler_names()]
    return listed


@router.get("/schedulers")
def schedulers(user: A1111User) -> list[dict[str, Any]]:
    """Schedule types, joined to the sampler's name as A1111's older names do ('DPM++ 2M Karras')."""
    return [
        {"name": name, "label": name.title(), "aliases": None, "default_rho": -1, "need_inner_model": False}
        for name in SCHEDULERS
    ]


@router.get("/upscalers")
def upscalers(user: A1111User) -> list[dict[str, Any]]:
    """Plain resizes, and craftgen's tiled diffusion pass (x2 or x4)."""
    return [
        {"name": name, "model_name": None, "model_path": None, "model_url": None, "scale": 4}
        for name in (*PLAIN_UPSCALERS, DIFFUSION_UPSCALER)
    ]


@router.get("/scripts")
def scripts(user: A1111User) -> dict[str, list[str]]:
    """No scripts or extensions."""
    return {"txt2img": [], "img2img": []}


@router.get("/sd-vae")
def sd_vae(user: A1111User) -> list[dict[str, Any]]:
    """Each model brings its own VAE."""
    return []


@router.get("/latent-upscale-modes")
def latent_upscale_modes(user: A1111User) -> list[dict[str, Any]]:
    """No hires fix, so no latent upscale modes."""
    return []


@router.get("/loras")
def loras(user: A1111User) -> list[dict[str, Any]]:
    """LoRAs are chosen per tool in the model registry, not per request."""
    return []


@router.post("/refresh-checkpoints")
def refresh_checkpoints(user: A1111User) -> None:
    """The registry is read at start; nothing to refresh."""
