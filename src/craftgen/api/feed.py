"""One change feed per API process: every job someone watches is read once per tick, whatever
the number of watchers, and the new state is pushed to each of them.

Before, every event stream polled the database itself (a job, its images and a COUNT(*) of the
jobs ahead, per watcher, per tick), so database work grew with the watchers. Here one thread
reads all watched jobs in three queries a tick (`JobService.views`) and wakes each watcher's
stream on its own event loop; a watcher keeps only the newest state, so a slow client never
queues up old ones. This is the slow poll of changed rows the design names as the fallback;
a push source (PostgreSQL LISTEN/NOTIFY, Redis pub/sub) can later replace the tick without
changing the watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from craftgen.jobs.service import JobService
from craftgen.jobs.views import JobView

log = logging.getLogger("craftgen.api")


class Watcher:
    """One stream's view of one job: the newest state the feed read, and a wake-up."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.latest: JobView | None = None

    def push(self, view: JobView) -> None:
        """From the feed's thread: keep the newest state, wake the stream on its own loop."""
        self.latest = view
        self.loop.call_soon_threadsafe(self.changed.set)

    async def next(self) -> JobView:
        await self.changed.wait()
        self.changed.clear()
        assert self.latest is not None
        return self.latest


class JobFeed:
    """Watchers by job id, and the one thread that reads their jobs while any are watched."""

    def __init__(self, jobs: JobService, *, interval: float) -> None:
        self.jobs = jobs
        self.interval = interval
        self.reads = 0  # ticks that read the database (for tests and metrics)
        self._watchers: dict[str, set[Watcher]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def watchers(self) -> int:
        with self._lock:
            return sum(len(each) for each in self._watchers.values())

    @asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[Watcher]:
        watcher = Watcher(job_id)
        with self._lock:
            self._watchers.setdefault(job_id, set()).add(watcher)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="craftgen-job-feed", daemon=True)
                self._thread.start()
        try:
            yield watcher
        finally:
            with self._lock:
                group = self._watchers.get(job_id)
                if group is not None:
                    group.discard(watcher)
                    if not group:
                        del self._watchers[job_id]

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            with self._lock:
                if not self._watchers:
                    self._thread = None  # the next watcher starts a new one
                    return
                job_ids = list(self._watchers)
            try:
                views = self.jobs.views(job_ids)
            except Exception:  # the database briefly away: the streams wait for the next tick
                log.exception("the job feed could not read %d watched jobs", len(job_ids))
                continue
            self.reads += 1
            with self._lock:
                targets = [
                    (watcher, views[job_id])
                    for job_id in job_ids
                    if job_id in views  # a job withdrawn meanwhile has nothing more to say
                    for watcher in self._watchers.get(job_id, ())
                ]
            for watcher, view in targets:
                with contextlib.suppress(RuntimeError):  # its event loop has closed: the stream is gone
                    watcher.push(view)
