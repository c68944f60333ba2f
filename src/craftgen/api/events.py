"""A job's event stream: `progress` whenever status, progress, queue place or preview change,
then one final `status` event with the whole job once it is finished. A preview (a few KB) is
sent only when it changed.

The jobs table is the job's truth, so a stream works the same whichever replica or worker runs
the job. The API's streams share its one change feed (feed.py), which reads every watched job
once a tick however many watch it; called without one, a stream polls its job itself. Database
reads run in worker threads so the event loop never blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from craftgen.api.feed import JobFeed, Watcher
from craftgen.api.shapes import job_out, job_progress
from craftgen.jobs import states
from craftgen.jobs.service import JobService
from craftgen.jobs.views import JobView


async def job_events(
    jobs: JobService, *, user_id: str, first: JobView, interval: float, feed: JobFeed | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Events for one job, starting from `first` (already read, so a missing job 404s before).
    With a `feed`, the process's one change feed brings each new state; without, this stream
    polls the job itself every `interval` seconds."""
    if feed is None or first.status in states.TERMINAL:
        async for event in _events(first, _polled(jobs, user_id=user_id, job_id=first.id, interval=interval)):
            yield event
        return
    async with feed.watch(first.id) as watcher:
        async for event in _events(first, _pushed(watcher)):
            yield event


async def _polled(jobs: JobService, *, user_id: str, job_id: str, interval: float) -> AsyncIterator[JobView]:
    while True:
        # A client that goes away cancels this generator here (sse-starlette watches for it).
        await anyio.sleep(interval)
        yield await run_in_threadpool(jobs.get, user_id, job_id)


async def _pushed(watcher: Watcher) -> AsyncIterator[JobView]:
    while True:
        yield await watcher.next()


async def _events(first: JobView, updates: AsyncIterator[JobView]) -> AsyncIterator[ServerSentEvent]:
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
        view = await updates.__anext__()
