"""A job's event stream: `progress` whenever status, progress, queue place or preview change,
then one final `status` event with the whole job once it is finished. A preview (a few KB) is
sent only when it changed.

The stream polls the jobs table (the job's truth), so it works the same whichever replica or
worker runs the job. Database reads run in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from craftgen.api.shapes import job_out, job_progress
from craftgen.jobs import states
from craftgen.jobs.service import JobService
from craftgen.jobs.views import JobView


async def job_events(
    jobs: JobService, *, user_id: str, first: JobView, interval: float
) -> AsyncIterator[ServerSentEvent]:
    """Events for one job, starting from `first` (already read, so a missing job 404s before)."""
    view, last = first, None
    shown: str | None = None  # the preview the client has
    while True:
        progress = job_progress(view)
        if progress != last:
            unchanged = {"preview"} if progress.preview == shown else None
            yield ServerSentEvent(event="progress", data=progress.model_dump_json(exclude=unchanged))
            last, shown = progress, progress.preview
        if view.status in states.TERMINAL:
            yield ServerSentEvent(event="status", data=job_out(view).model_dump_json())
            return
        # A client that goes away cancels this generator here (sse-starlette watches for it).
        await anyio.sleep(interval)
        view = await run_in_threadpool(jobs.get, user_id, view.id)
