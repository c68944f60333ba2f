"""What clients see of a job and its outputs (built from rows; no storage or queue access)."""

from __future__ import annotations

from dataclasses import dataclass, field

from craftgen.db.tables import ImageRow, Job
from craftgen.jobs import states


@dataclass(frozen=True)
class OutputView:
    image_id: str
    name: str
    kind: str
    media_type: str
    width: int
    height: int
    seed: int | None


@dataclass(frozen=True)
class JobView:
    id: str
    tool: str
    status: str
    progress: float
    queue_position: int | None
    preview: str | None  # a small data: URL of the current latents, only while running
    error: dict[str, str] | None
    outputs: list[OutputView]
    request: dict[str, object]
    created_at: float
    started_at: float | None
    finished_at: float | None
    metrics: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def job_view(job: Job, images: list[ImageRow], *, queue_position: int | None) -> JobView:
    result = job.result or {}
    error = {"code": job.error_code, "message": job.error_message or ""} if job.error_code else None
    return JobView(
        id=job.id,
        tool=job.tool,
        status=job.status,
        progress=round(job.progress, 4),
        queue_position=queue_position,
        preview=job.preview if job.status == states.RUNNING else None,
        error=error,
        outputs=[
            OutputView(
                image_id=image.id,
                name=image.name,
                kind=image.kind,
                media_type=image.media_type,
                width=image.width,
                height=image.height,
                seed=image.seed,
            )
            for image in sorted(images, key=lambda row: row.position)
        ],
        request=dict(job.request),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        metrics=dict(result.get("metrics", {})),
        warnings=list(result.get("warnings", [])),
    )
