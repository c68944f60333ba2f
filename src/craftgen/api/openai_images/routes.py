"""The OpenAI Images routes: translate, submit as a job, wait for it, answer in OpenAI's shapes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from PIL import Image
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from craftgen.api.compat_jobs import (
    JOB_HEADER,
    cancel_quietly,
    convert,
    open_input,
    outputs,
    png_bytes,
    preview_image,
    read_form,
    store_image,
    submit,
    wait_for_job,
    watching,
)
from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.image_links import image_link
from craftgen.api.openai_images.errors import JobFailed, OpenAIErrorBody, OpenAIRoute, error_response
from craftgen.api.openai_images.shapes import (
    EditRequest,
    GenerationRequest,
    ImageData,
    ImagesResponse,
    OpenAIRequest,
    VariationRequest,
)
from craftgen.api.openai_images.translate import FIELD_NAMES, Plan, edit_mask, generation_plan, image_plan, parse_size
from craftgen.db.tables import User
from craftgen.engine.tools import TOOLS
from craftgen.errors import CraftgenError, InvalidRequest
from craftgen.jobs import states
from craftgen.jobs.views import JobView
from craftgen.runtime import Runtime

router = APIRouter(prefix="/v1/images", tags=["OpenAI Images"], route_class=OpenAIRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorBody} for status in (400, 401, 403, 404, 409, 413, 429, 500, 503)
}
_RESULT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The images; with `stream: true`, server-sent `image_generation.partial_image` events "
        "(live previews), then one `image_generation.completed` event per image.",
        "content": {"text/event-stream": {}},
    },
    **_ERRORS,
}
_PARTIAL = "image_generation.partial_image"
_COMPLETED = "image_generation.completed"
_STREAM_FORMATS = ("png", "webp", "jpeg")


def _multipart(*, mask: bool, prompt_required: bool) -> dict[str, Any]:
    text = {"type": "string"}
    properties: dict[str, Any] = {
        "image": {"type": "string", "format": "binary", "description": "the image (PNG, JPEG or WebP)"},
        "prompt": {**text, "description": "what to make of it"},
        "n": {"type": "integer"},
        "size": {**text, "description": "WIDTHxHEIGHT (the image is resized to it first) or auto"},
        "response_format": {"type": "string", "enum": ["b64_json", "url"]},
        "output_format": {"type": "string", "enum": ["png", "webp", "jpeg"]},
        "quality": text,
        "model": text,
        "stream": {"type": "boolean"},
        "partial_images": {"type": "integer"},
    }
    if mask:
        properties["mask"] = {
            "type": "string",
            "format": "binary",
            "description": "PNG with alpha, the image's size: fully transparent pixels are repainted (inpaint); "
            "without a mask the edit is a variation",
        }
    required = ["image", "prompt"] if prompt_required else ["image"]
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def _plan_limits(runtime: Runtime) -> dict[str, Any]:
    return {
        "known": tuple(runtime.engine.registry.names()),
        "default_steps": runtime.engine.options.default_steps,
        "max_steps": runtime.engine.limits.max_steps,
    }


@router.post("/generations", response_model=ImagesResponse, responses=_RESULT)
async def create_image(body: GenerationRequest, request: Request, runtime: RuntimeDep, user: UserDep) -> Response:
    """OpenAI's image generation: `text`, or `clipart` for a transparent background or an SVG."""
    plan = generation_plan(body, prompt=body.prompt, **_plan_limits(runtime))
    view = await run_in_threadpool(submit, runtime, user, plan.body, names=FIELD_NAMES)
    return await _answer(request, runtime, user, view=view, plan=plan, params=body)


@router.post(
    "/edits",
    response_model=ImagesResponse,
    responses=_RESULT,
    openapi_extra=_multipart(mask=True, prompt_required=True),
)
async def create_image_edit(request: Request, runtime: RuntimeDep, user: UserDep) -> Response:
    """OpenAI's image edit: `inpaint` where the mask is transparent; with no mask, `variations`."""
    form = await read_form(request, max_bytes=runtime.engine.limits.max_upload_bytes, max_files=2)
    params = EditRequest.model_validate(form.fields)
    image = _one_file(form.files, "image")
    mask = _one_file(form.files, "mask", required=False)
    view, plan = await run_in_threadpool(_submit_image_job, runtime, user, params, image=image, mask=mask)
    return await _answer(request, runtime, user, view=view, plan=plan, params=params)


@router.post(
    "/variations",
    response_model=ImagesResponse,
    responses=_RESULT,
    openapi_extra=_multipart(mask=False, prompt_required=False),
)
async def create_image_variation(request: Request, runtime: RuntimeDep, user: UserDep) -> Response:
    """OpenAI's image variations: craftgen's `variations` tool."""
    form = await read_form(request, max_bytes=runtime.engine.limits.max_upload_bytes, max_files=1)
    params = VariationRequest.model_validate(form.fields)
    image = _one_file(form.files, "image")
    view, plan = await run_in_threadpool(_submit_image_job, runtime, user, params, image=image, mask=None)
    return await _answer(request, runtime, user, view=view, plan=plan, params=params)


# Submitting -----------------------------------------------------------------------------------


def _one_file(files: dict[str, list[bytes]], name: str, *, required: bool = True) -> bytes | None:
    found = files.get(name, [])
    if len(found) > 1:
        raise InvalidRequest(f"send one {name}; craftgen edits one image at a time", field=name)
    if not found and required:
        raise InvalidRequest(f"Missing required parameter: '{name}' (a multipart file).", field=name)
    return found[0] if found else None


def _submit_image_job(
    runtime: Runtime, user: User, params: EditRequest | VariationRequest, *, image: bytes | None, mask: bytes | None
) -> tuple[JobView, Plan]:
    assert image is not None
    # 1. The image, at the size asked for (OpenAI's `size` is the output's; variations keep the input's).
    picture = open_input(runtime, image, field="image")
    size = parse_size(params.size)
    if size is not None and size != picture.size:
        image = png_bytes(picture.resize(size, Image.Resampling.LANCZOS))
    image_id = store_image(runtime, user_id=user.id, data=image, field="image")
    # 2. The mask, turned into craftgen's convention at the same size.
    mask_id = None
    if mask is not None:
        converted = edit_mask(open_input(runtime, mask, field="mask"), size=picture.size)
        if size is not None and size != picture.size:
            converted = converted.resize(size, Image.Resampling.NEAREST)
        mask_id = store_image(runtime, user_id=user.id, data=png_bytes(converted), field="mask")
    # 3. The job.
    plan = image_plan(
        params,
        prompt=params.prompt,
        image_id=image_id,
        mask_id=mask_id,
        inpaint="inpaint" in TOOLS,
        **_plan_limits(runtime),
    )
    return submit(runtime, user, plan.body, names=FIELD_NAMES), plan


# Answering ------------------------------------------------------------------------------------


async def _answer(
    request: Request, runtime: Runtime, user: User, *, view: JobView, plan: Plan, params: OpenAIRequest
) -> Response:
    headers = {JOB_HEADER: view.id}
    if params.stream:
        events = _stream(request, runtime, user, view=view, plan=plan, params=params)
        return EventSourceResponse(events, headers=headers)
    done = await wait_for_job(runtime, user_id=user.id, job_id=view.id, request=request)
    result = await run_in_threadpool(_result, request, runtime, user.id, done, plan, params)
    return JSONResponse(result.model_dump(exclude_none=True), headers=headers)


def _result(
    request: Request | None, runtime: Runtime, user_id: str, view: JobView, plan: Plan, params: OpenAIRequest
) -> ImagesResponse:
    """The finished job's images as OpenAI's response (links when asked for and a request is at hand)."""
    if view.status == states.CANCELED:
        raise JobFailed(f"job {view.id} was canceled", code="canceled", status=409)
    if view.status != states.SUCCEEDED:
        error = view.error or {}
        raise JobFailed(
            f"job {view.id} failed: {error.get('message', 'no reason given')}", code=error.get("code", "job_failed")
        )
    found = outputs(runtime, user_id=user_id, view=view, kinds=(plan.output_kind,))
    if not found:
        raise JobFailed(f"job {view.id} made no {plan.output_format} file (a cut file needs a shape it can trace)")
    data = []
    for out in found:
        if params.response_format == "url" and request is not None:
            data.append(ImageData(url=image_link(request, runtime, image_id=out.view.image_id, fmt=plan.output_format)))
        else:
            encoded = convert(out.data, plan.output_format, compression=params.output_compression)
            data.append(ImageData(b64_json=base64.b64encode(encoded).decode("ascii")))
    first = next((out for out in view.outputs if out.kind == "image"), found[0].view)
    quality = params.quality if params.quality in ("low", "medium", "high", "xhigh", "max") else None
    return ImagesResponse(
        created=int(view.finished_at or time.time()),
        data=data,
        background="transparent" if plan.background == "transparent" else "opaque",
        output_format="svg" if plan.output_format == "svg" else plan.output_format,  # type: ignore[arg-type]
        quality=quality,
        size=f"{first.width}x{first.height}",
    )


async def _stream(
    request: Request, runtime: Runtime, user: User, *, view: JobView, plan: Plan, params: OpenAIRequest
) -> AsyncIterator[ServerSentEvent]:
    """Partial images from the job's live previews (at most `partial_images`), then the result."""
    wanted, sent, shown, finished = params.partial_images or 0, 0, None, False
    fmt = plan.output_format if plan.output_format in _STREAM_FORMATS else "png"
    common = {
        "background": plan.background,
        "output_format": fmt,
        "quality": params.quality or "auto",
        "size": params.size or "auto",
    }
    deadline = time.monotonic() + runtime.settings.compat_wait_seconds
    try:
        async with watching(runtime, user_id=user.id, job_id=view.id, request=request) as next_view:
            current = view
            while True:
                if sent < wanted and current.preview and current.preview != shown:
                    shown = current.preview
                    partial = await run_in_threadpool(_partial_image, current, fmt)
                    if partial is not None:
                        payload = {"type": _PARTIAL, "b64_json": partial, "partial_image_index": sent, **common}
                        payload["created_at"] = int(time.time())
                        yield ServerSentEvent(event=_PARTIAL, data=json.dumps(payload))
                        sent += 1
                if current.status in states.TERMINAL:
                    finished = True
                    async for event in _completed(runtime, user, current, plan, params, common):
                        yield event
                    return
                if time.monotonic() > deadline:
                    finished = True
                    await run_in_threadpool(cancel_quietly, runtime, user.id, view.id)
                    yield _error_event(JobFailed(f"job {view.id} did not finish in time and was canceled", status=503))
                    return
                with anyio.move_on_after(min(1.0, max(deadline - time.monotonic(), 0.01))):
                    current = await next_view()
    finally:
        if not finished:  # the client went away: nobody will see this job's images
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(cancel_quietly, runtime, user.id, view.id)


def _partial_image(view: JobView, fmt: str) -> str | None:
    """The job's live preview as a base64 image in `fmt`, if it has one."""
    preview = preview_image(view)
    if preview is None:
        return None
    return base64.b64encode(convert(png_bytes(preview), fmt)).decode("ascii")


async def _completed(
    runtime: Runtime, user: User, view: JobView, plan: Plan, params: OpenAIRequest, common: dict[str, Any]
) -> AsyncIterator[ServerSentEvent]:
    try:
        result = await run_in_threadpool(_result, None, runtime, user.id, view, plan, params)
    except CraftgenError as error:
        yield _error_event(error)
        return
    usage = {
        "input_tokens": 0,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
        "output_tokens": 0,
        "total_tokens": 0,
    }
    for item in result.data:
        payload = {
            "type": _COMPLETED,
            "b64_json": item.b64_json,
            "created_at": result.created,
            **common,
            "size": result.size,
            "usage": usage,
        }
        yield ServerSentEvent(event=_COMPLETED, data=json.dumps(payload))


def _error_event(error: CraftgenError) -> ServerSentEvent:
    body = json.loads(bytes(error_response(error).body))
    return ServerSentEvent(event="error", data=json.dumps({"type": "error", **body}))
