"""/v1/jobs: submit, read, list and cancel tool runs, and follow one as server-sent events."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from craftgen.api.deps import RuntimeDep, UserDep
from craftgen.api.events import job_events
from craftgen.api.feed import JobFeed
from craftgen.api.shapes import ErrorBody, JobAccepted, JobList, JobOut, job_out
from craftgen.engine.requests import GenerateRequest
from craftgen.errors import InvalidRequest

router = APIRouter(prefix="/jobs", tags=["jobs"], responses={404: {"model": ErrorBody}})


@router.post(
    "",
    status_code=202,
    responses={
        400: {"model": ErrorBody},
        409: {"model": ErrorBody},
        422: {"model": ErrorBody},
        429: {"model": ErrorBody},
        503: {"model": ErrorBody},
    },
)
def submit_job(
    body: GenerateRequest,
    runtime: RuntimeDep,
    user: UserDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobAccepted:
    """Queue a tool run; a retry with the same Idempotency-Key returns the first job."""
    view = runtime.jobs.submit(user, body, idempotency_key=idempotency_key)
    return JobAccepted(id=view.id, status=view.status, queue_position=view.queue_position)


@router.get("", responses={422: {"model": ErrorBody}})
def list_jobs(
    runtime: RuntimeDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> JobList:
    """The caller's jobs, newest first, a page at a time (`next_cursor` for the next one)."""
    views, last = runtime.jobs.page(user.id, limit=limit, before=_decode_cursor(cursor) if cursor else None)
    return JobList(jobs=[job_out(view) for view in views], next_cursor=_encode_cursor(last) if last else None)


_CURSOR_PREFIX = "jobs:"


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode("ascii")).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str) -> int:
    """The seq a cursor holds; InvalidRequest for anything this route did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    number = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not number.isdigit() or not 0 < int(number) < 2**63:
        raise InvalidRequest("cursor is not one this API returned", field="cursor")
    return int(number)


@router.get("/{job_id}")
def get_job(job_id: str, runtime: RuntimeDep, user: UserDep) -> JobOut:
    """One job: status, progress, queue place, outputs and errors."""
    return job_out(runtime.jobs.get(user.id, job_id))


@router.delete("/{job_id}", responses={409: {"model": ErrorBody}})
def cancel_job(job_id: str, runtime: RuntimeDep, user: UserDep) -> JobOut:
    """Cancel a queued or running job; a finished one is a 409."""
    return job_out(runtime.jobs.cancel(user.id, job_id))


@router.get("/{job_id}/events", response_class=EventSourceResponse)
async def job_event_stream(job_id: str, request: Request, runtime: RuntimeDep, user: UserDep) -> EventSourceResponse:
    """Server-sent `progress` events while the job changes, then one final `status` event; each
    has an id, and a reconnect with `Last-Event-ID` skips the state it names."""
    first = await run_in_threadpool(runtime.jobs.get, user.id, job_id)
    feed: JobFeed = request.app.state.job_feed
    settings = runtime.settings
    events = job_events(
        runtime.jobs,
        user_id=user.id,
        first=first,
        interval=settings.sse_interval,
        feed=feed,
        last_event_id=request.headers.get("last-event-id"),
    )
    # A comment line every so often keeps proxies from closing a quiet stream.
    return EventSourceResponse(events, ping=settings.sse_heartbeat_seconds)
