"""A job's event stream: `progress` whenever status, progress, queue place or preview change,
then one final `status` event with the whole job once it is finished. A preview (a few KB) is
sent only when it changed.

The jobs table is the job's truth, so a stream works the same whichever replica or worker runs
the job. The API's streams share its one change feed (feed.py), which reads every watched job
once a tick however many watch it; called without one, a stream polls its job itself. Database
reads run in worker threads so the event loop never blocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import anyio
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from craftgen.api.feed import JobFeed, Watcher
from craftgen.api.shapes import JobProgress, job_out, job_progress
from craftgen.jobs import states
from craftgen.jobs.service import JobService
from craftgen.jobs.views import JobView


async def job_events(
    jobs: JobService,
    *,
    user_id: str,
    first: JobView,
    interval: float,
    feed: JobFeed | None = None,
    last_event_id: str | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events for one job, starting from `first` (already read, so a missing job 404s before).
    With a `feed`, the process's one change feed brings each new state; without, this stream
    polls the job itself every `interval` seconds. Each event's id names the state it shows, so
    a client reconnecting with `Last-Event-ID` is not sent the state it already has again."""
    if feed is None or first.status in states.TERMINAL:
        updates = _polled(jobs, user_id=user_id, job_id=first.id, interval=interval)
        async for event in _events(first, updates, resume_from=last_event_id):
            yield event
        return
    async with feed.watch(first.id) as watcher:
        async for event in _events(first, _pushed(watcher), resume_from=last_event_id):
            yield event


def state_id(progress: JobProgress) -> str:
    """A short id for a progress state: equal states, equal ids (a reconnect resumes from it)."""
    return hashlib.sha256(progress.model_dump_json().encode("utf-8")).hexdigest()[:16]


async def _polled(jobs: JobService, *, user_id: str, job_id: str, interval: float) -> AsyncIterator[JobView]:
    while True:
        # A client that goes away cancels this generator here (sse-starlette watches for it).
        await anyio.sleep(interval)
        yield await run_in_threadpool(jobs.get, user_id, job_id)


async def _pushed(watcher: Watcher) -> AsyncIterator[JobView]:
    while True:
        yield await watcher.next()


async def _events(
    first: JobView, updates: AsyncIterator[JobView], *, resume_from: str | None
) -> AsyncIterator[ServerSentEvent]:
    view, last = first, None
    shown: str | None = None  # the preview the client has
    while True:
        progress = job_progress(view)
        if progress != last:
            event_id = state_id(progress)
            if last is None and event_id == resume_from:
                shown = progress.preview  # the client has this state, preview and all
            else:
                unchanged = {"preview"} if progress.preview == shown else None
                data = progress.model_dump_json(exclude=unchanged)
                yield ServerSentEvent(event="progress", data=data, id=event_id)
                shown = progress.preview
            last = progress
        if view.status in states.TERMINAL:
            final = job_out(view).model_dump_json()
            yield ServerSentEvent(event="status", data=final, id=f"{state_id(progress)}-final")
            return
        view = await updates.__anext__()
