"""The JSON bodies the API returns (snake_case), and how job views become them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from craftgen.db.tables import ImageRow, Upload
from craftgen.jobs.views import JobView


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class UploadOut(BaseModel):
    id: str
    width: int
    height: int


class JobAccepted(BaseModel):
    id: str
    status: str
    queue_position: int | None


class JobError(BaseModel):
    code: str
    message: str


class OutputOut(BaseModel):
    image_id: str
    name: str
    kind: str
    width: int
    height: int
    url: str


class JobOut(BaseModel):
    id: str
    tool: str
    status: str
    progress: float
    queue_position: int | None
    error: JobError | None
    outputs: list[OutputOut]
    metrics: dict[str, Any]
    warnings: list[str]
    request: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    preview: str | None = None  # data: URL (WebP) of the current latents, while running


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = None  # pass as ?cursor= for the next (older) page; null on the last one


class JobProgress(BaseModel):
    """The data of an events stream's `progress` event; `preview` is left out while it is
    unchanged (it is the bulk of the event), and sent as null once it is gone."""

    status: str
    progress: float
    queue_position: int | None
    preview: str | None = None  # data: URL (WebP) of the current latents, while running


class ImageOut(BaseModel):
    id: str
    job_id: str
    name: str
    kind: str
    media_type: str
    width: int
    height: int
    seed: int | None
    url: str
    public: bool = False  # published and not hidden: anyone signed in may see it
    likes: int = 0
    liked: bool = False  # by the caller


class ToolOutputsOut(BaseModel):
    transparent: bool  # images have an alpha channel
    svg: bool  # each image comes with an SVG cut file
    repeat_preview: bool  # each image comes with a 3x3 preview of its repeat


class ToolOut(BaseModel):
    name: str
    title: str
    description: str
    needs_image: bool
    needs_prompt: bool
    fields: list[str]
    input_files: list[str]  # the fields that take an upload id (image, mask)
    outputs: ToolOutputsOut
    request_schema: dict[str, Any]  # the JSON schema of this tool's POST /v1/jobs body


class ToolList(BaseModel):
    tools: list[ToolOut]


class ModelList(BaseModel):
    models: list[str]
    default: str


class Health(BaseModel):
    status: str


def image_url(image_id: str) -> str:
    return f"/v1/images/{image_id}/file"


def job_out(view: JobView) -> JobOut:
    return JobOut(
        id=view.id,
        tool=view.tool,
        status=view.status,
        progress=view.progress,
        queue_position=view.queue_position,
        error=JobError(**view.error) if view.error else None,
        outputs=[
            OutputOut(
                image_id=out.image_id,
                name=out.name,
                kind=out.kind,
                width=out.width,
                height=out.height,
                url=image_url(out.image_id),
            )
            for out in view.outputs
        ],
        metrics=view.metrics,
        warnings=view.warnings,
        preview=view.preview,
        request=view.request,
        created_at=view.created_at,
        started_at=view.started_at,
        finished_at=view.finished_at,
    )


def job_progress(view: JobView) -> JobProgress:
    return JobProgress(
        status=view.status, progress=view.progress, queue_position=view.queue_position, preview=view.preview
    )


def image_out(image: ImageRow, *, public: bool = False, likes: int = 0, liked: bool = False) -> ImageOut:
    return ImageOut(
        id=image.id,
        job_id=image.job_id,
        name=image.name,
        kind=image.kind,
        media_type=image.media_type,
        width=image.width,
        height=image.height,
        seed=image.seed,
        url=image_url(image.id),
        public=public,
        likes=likes,
        liked=liked,
    )


def upload_out(upload: Upload) -> UploadOut:
    return UploadOut(id=upload.id, width=upload.width, height=upload.height)
