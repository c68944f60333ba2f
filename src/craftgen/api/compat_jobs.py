"""What the drop-in APIs (OpenAI Images, AUTOMATIC1111) share: they are translations onto jobs.

A drop-in request is turned into a plain `/v1/jobs` request body and submitted through the job
service (so it is queued, batched, charged and listed like any other job), its input images are
stored as ordinary uploads, and the request then waits for its job: these two APIs answer
synchronously. Nothing here touches the engine or a worker.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from fastapi import Request
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from craftgen.api.feed import JobFeed
from craftgen.api.images import find_image
from craftgen.api.multipart import MULTIPART_SLACK, bounded_form
from craftgen.db.tables import User
from craftgen.engine.requests import parse_request
from craftgen.errors import CraftgenError, InvalidRequest, PayloadTooLarge, Unavailable
from craftgen.imaging.io import open_image
from craftgen.jobs import states
from craftgen.jobs.views import JobView, OutputView
from craftgen.runtime import Runtime
from craftgen.uploads import save_upload

JOB_HEADER = "X-Craftgen-Job-Id"  # every drop-in answer names the job it ran as

FieldNames = Mapping[str, str]  # craftgen field -> the name the caller's API gives it


# Submitting -----------------------------------------------------------------------------------


def submit(runtime: Runtime, user: User, body: dict[str, object], *, names: FieldNames) -> JobView:
    """Submit a `/v1/jobs` body for `user`; errors name the caller's own fields (`names`)."""
    try:
        return runtime.jobs.submit(user, parse_request(body))
    except CraftgenError as error:
        raise renamed(error, names) from None


def renamed(error: CraftgenError, names: FieldNames) -> CraftgenError:
    """The same error, its field (and the field's name in its message) as the caller calls it."""
    if error.field is None or error.field not in names:
        return error
    theirs = names[error.field]
    message = re.sub(rf"\b{re.escape(error.field)}\b", theirs, error.message)
    return type(error)(message, field=theirs)


def store_image(runtime: Runtime, *, user_id: str, data: bytes, field: str) -> str:
    """Store an input image as one of the user's uploads; its id, for a job's `image`."""
    try:
        upload = save_upload(runtime.sessions, runtime.store, user_id=user_id, data=data, limits=runtime.engine.limits)
    except InvalidRequest as error:
        raise InvalidRequest(error.message, field=field) from None
    return upload.id


def open_input(runtime: Runtime, data: bytes, *, field: str) -> Image.Image:
    """Decode an input image under the upload limits (bombs refused before decoding)."""
    limits = runtime.engine.limits
    return open_image(data, max_bytes=limits.max_upload_bytes, max_pixels=limits.max_upload_pixels, field=field)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decode_base64_image(text: str, *, field: str) -> bytes:
    """The bytes of a base64 image, with or without a `data:image/...;base64,` prefix."""
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not base64-encoded image data", field=field) from None


# Waiting --------------------------------------------------------------------------------------


NextView = Callable[[], Awaitable[JobView]]


@asynccontextmanager
async def watching(runtime: Runtime, *, user_id: str, job_id: str, request: Request | None) -> AsyncIterator[NextView]:
    """A function that waits for the job's next state: from the API process's one change feed
    (api/feed.py: every watched job read once a tick, however many wait), or polled without one."""
    feed: JobFeed | None = getattr(request.app.state, "job_feed", None) if request is not None else None
    if feed is None:

        async def polled() -> JobView:
            await anyio.sleep(runtime.settings.sse_interval)
            return await run_in_threadpool(runtime.jobs.get, user_id, job_id)

        yield polled
        return
    async with feed.watch(job_id) as watcher:
        yield watcher.next


async def wait_for_job(runtime: Runtime, *, user_id: str, job_id: str, request: Request | None = None) -> JobView:
    """Wait for the job to finish; a caller that hangs up, or a job that outlasts
    CRAFTGEN_COMPAT_WAIT_SECONDS, cancels it (a queued job's credits come back)."""
    settings = runtime.settings
    deadline = time.monotonic() + settings.compat_wait_seconds
    async with watching(runtime, user_id=user_id, job_id=job_id, request=request) as next_view:
        view = await run_in_threadpool(runtime.jobs.get, user_id, job_id)
        while view.status not in states.TERMINAL:
            if request is not None and await request.is_disconnected():
                await run_in_threadpool(cancel_quietly, runtime, user_id, job_id)
                return view
            if time.monotonic() > deadline:
                await run_in_threadpool(cancel_quietly, runtime, user_id, job_id)
                raise Unavailable(
                    f"job {job_id} did not finish within {settings.compat_wait_seconds:g} s "
                    "(CRAFTGEN_COMPAT_WAIT_SECONDS), so it was canceled; please retry"
                )
            with anyio.move_on_after(min(1.0, max(deadline - time.monotonic(), 0.01))):
                view = await next_view()
        return view


def cancel_quietly(runtime: Runtime, user_id: str, job_id: str) -> None:
    """Cancel a job that may have finished meanwhile (then there is nothing to cancel)."""
    with contextlib.suppress(CraftgenError):
        runtime.jobs.cancel(user_id, job_id)


# Reading outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    view: OutputView
    data: bytes


def outputs(runtime: Runtime, *, user_id: str, view: JobView, kinds: tuple[str, ...] = ("image",)) -> list[Output]:
    """The bytes of a finished job's outputs of these kinds, in output order."""
    found = []
    for out in view.outputs:
        if out.kind in kinds:
            row = find_image(runtime.sessions, user_id=user_id, image_id=out.image_id)
            found.append(Output(view=out, data=runtime.store.get(row.storage_key)))
    return found


def preview_image(view: JobView) -> Image.Image | None:
    """The job's current live preview (a small WebP data URL while it runs), decoded."""
    if not view.preview:
        return None
    _, _, payload = view.preview.partition(",")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        image.load()
    except (OSError, ValueError, binascii.Error):
        return None
    return image


# Multipart forms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """A multipart form's text fields and files (each file's bytes, under the upload limit)."""

    fields: dict[str, str]
    files: dict[str, list[bytes]]


async def read_form(request: Request, *, max_bytes: int, max_files: int = 4) -> Form:
    """Read a multipart/form-data body, refusing (413) as soon as it passes the limits."""
    too_large = PayloadTooLarge(f"the upload is larger than the limit of {max_bytes} bytes per image")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("send this request as multipart/form-data")
    form = await bounded_form(
        request, limit=max_files * max_bytes + MULTIPART_SLACK, too_large=too_large, max_files=max_files, max_fields=64
    )
    try:
        fields: dict[str, str] = {}
        files: dict[str, list[bytes]] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise PayloadTooLarge(
                        f"{name} is larger than the upload limit of {max_bytes} bytes", field=name.removesuffix("[]")
                    )
                files.setdefault(name.removesuffix("[]"), []).append(data)
            else:
                fields[name] = value
        return Form(fields=fields, files=files)
    finally:
        await form.close()


# Formats --------------------------------------------------------------------------------------

MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg", "svg": "image/svg+xml"}


def convert(data: bytes, fmt: str, *, compression: int | None = None) -> bytes:
    """A stored PNG as `fmt` (png: as stored, parameters and DPI kept); `compression` 0-100 is
    OpenAI's (100: smallest file), used as the WebP/JPEG quality's complement."""
    if fmt in ("png", "svg"):
        return data
    image = Image.open(io.BytesIO(data))
    quality = 90 if compression is None else max(1, 100 - compression)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, dpi=image.info.get("dpi", (72, 72)))
    else:
        image.save(buffer, format="WEBP", quality=quality)
    return buffer.getvalue()
