"""The worker loop: claim a batch, run it as one engine call, store outputs, finish exactly once.

A batch is every queued job that shares the first one's batch key, whoever sent it, up to a job
count and an image count (what fits in memory). Delivery is at-least-once under a lease that a
heartbeat thread renews; every change to a job's row goes through `JobLifecycle`, whose writes
only land while this attempt still owns the job, so a redelivered job never yields two results.
Stall detection, the alive file and the dead-letter sweep hang off the loop as middleware.
SIGTERM stops claiming; the batch in hand finishes (a second signal hands it back instead).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.tables import Job
from craftgen.engine.base import ToolInput, ToolResult
from craftgen.engine.engine import Engine
from craftgen.engine.preview import Preview, PreviewProgress, data_url
from craftgen.engine.requests import stored_request
from craftgen.errors import Canceled, InvalidRequest, ModelUnavailable, NotFound
from craftgen.jobs.lifecycle import Attempt, JobLifecycle, Skipped
from craftgen.jobs.middleware import Middleware, standard_middleware
from craftgen.jobs.options import WorkerOptions
from craftgen.jobs.queue import Delivery, JobQueue
from craftgen.storage.store import BlobStore
from craftgen.uploads import load_input_files

log = logging.getLogger("craftgen.worker")


class Interrupted(Exception):
    """The worker was told to stop now: hand the batch back."""


@dataclass
class _Running:
    """One claimed job while its batch runs."""

    delivery: Delivery
    attempt: Attempt
    item: ToolInput[Any] | None = None
    canceled: bool = False

    @property
    def job_id(self) -> str:
        return self.attempt.job_id


class Worker:
    """One worker: claims batches and runs them until `stop` (finish the batch) or `abort` (hand
    it back now) is set."""

    def __init__(
        self,
        *,
        name: str,
        sessions: sessionmaker[Session],
        queue: JobQueue,
        store: BlobStore,
        engine: Engine,
        options: WorkerOptions | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        self.name = name
        self.sessions = sessions
        self.queue = queue
        self.store = store
        self.engine = engine
        self.options = options or WorkerOptions()
        self.lifecycle = JobLifecycle(sessions)
        self.middleware: list[Middleware] = (
            list(middleware)
            if middleware is not None
            else standard_middleware(name=name, options=self.options, queue=queue, lifecycle=self.lifecycle)
        )
        self.stop = threading.Event()  # finish the batch, then exit
        self.abort = threading.Event()  # hand the batch back now

    def run_forever(self) -> None:
        log.info("worker %s started", self.name)
        failures = 0
        while not self.stop.is_set():
            try:
                for middleware in self.middleware:
                    middleware.on_loop_turn()
                claimed = self.run_once()
                failures = 0
            except Exception:  # the database, queue or store is briefly away
                # Nothing is lost: leases run out and jobs come back. Back off and carry on.
                failures += 1
                log.exception("worker %s: batch loop failed (%d in a row)", self.name, failures)
                self.stop.wait(min(30.0, self.options.poll_interval * 2**failures))
                continue
            if not claimed:
                self.stop.wait(self.options.poll_interval)
        log.info("worker %s stopped", self.name)

    def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs were claimed."""
        deliveries = self._claim_batch()
        if not deliveries:
            return 0
        done = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(deliveries, done), daemon=True)
        heartbeat.start()
        try:
            self._run_batch(deliveries)
        finally:
            done.set()
            heartbeat.join()
        return len(deliveries)

    def _claim_batch(self) -> list[Delivery]:
        """The oldest job sets the batch key; others with that key join, whoever sent them, up to
        `batch_size` jobs and `batch_max_images` images. A part-full batch waits up to
        `batch_wait` for more (other users' jobs arriving a moment later). The wait is far
        shorter than a lease (capped at a third of one), so the heartbeat, started once the batch
        is complete, still renews every lease in time."""
        options = self.options
        held: list[Delivery] = []
        images = 0
        key: str | None = None
        deadline = 0.0
        while True:
            room = min(options.batch_size - len(held), options.batch_max_images - images)
            try:
                claimed = self.queue.claim(
                    worker=self.name, max_items=room, lease_seconds=options.lease_seconds, batch_key=key
                )
            except Exception:
                if not held:
                    raise
                log.exception("topping up the batch failed; running the %d jobs in hand", len(held))
                return held
            overflow = False
            for delivery, count in zip(claimed, self._image_counts(claimed), strict=True):
                # The first job always runs, even one with more images than the cap.
                if held and (overflow or images + count > options.batch_max_images):
                    overflow = True  # keep first-come order: nothing after it jumps in
                    self.queue.release(delivery)  # unstarted, so not an attempt
                    continue
                held.append(delivery)
                images += count
            if not held:
                return []
            if key is None:
                key = held[0].batch_key
                deadline = time.monotonic() + min(options.batch_wait, options.lease_seconds / 3)
            full = overflow or len(held) >= options.batch_size or images >= options.batch_max_images
            # A solo key (see jobs.service.batch_key_text) never gains company: don't wait for it.
            wait = deadline - time.monotonic()
            if full or key.startswith("solo:") or wait <= 0:
                return held
            # Look again a few times within the window (every 2-50 ms), so a batch that fills
            # early starts early, without a claim storm on the queue.
            if self.stop.wait(min(wait, max(min(options.batch_wait / 4, 0.05), 0.002))):
                return held

    def _image_counts(self, deliveries: Sequence[Delivery]) -> list[int]:
        """Images each job asks for (a missing or odd row counts one; `_start` settles it)."""
        if not deliveries:
            return []
        with self.sessions() as session:
            rows = session.execute(
                select(Job.id, Job.request).where(Job.id.in_([d.job_id for d in deliveries]))
            ).all()
        asked = {job_id: (request or {}).get("num_images") for job_id, request in rows}
        return [
            count if isinstance(count := asked.get(d.job_id), int) and count > 0 else 1 for d in deliveries
        ]

    def _heartbeat(self, deliveries: Sequence[Delivery], done: threading.Event) -> None:
        while not done.wait(min(self.options.lease_seconds / 3, self.options.stall_seconds)):
            if not all(middleware.on_heartbeat() for middleware in self.middleware):
                continue  # a hook stopped this beat (a stall): the leases lapse
            try:
                self.queue.renew(deliveries, lease_seconds=self.options.lease_seconds)
            except Exception:  # a missed beat is retried; the lease has slack for two
                log.exception("lease renewal failed")

    # One batch ------------------------------------------------------------------------------

    def _run_batch(self, deliveries: Sequence[Delivery]) -> None:
        # 1. Start every job that should still run; settle the rest.
        running = [job for job in (self._start(d) for d in deliveries) if job is not None]
        # 2. Inputs; a job whose inputs are gone fails alone.
        ready = [job for job in running if self._prepare(job)]
        if not ready:
            return
        # 3. One engine call for the batch; on an unexpected error, retry each job alone so one
        #    bad job cannot sink the others (or block the queue).
        try:
            results = self._execute(ready)
        except Interrupted:
            for job in ready:
                self._hand_back(job)
            return
        except (InvalidRequest, ModelUnavailable) as error:
            for job in ready:
                self._fail(job, code=error.code, message=error.message)
            return
        except Canceled:
            for job in ready:
                self._settle(job)
            return
        except Exception as error:  # noqa: BLE001 - any failure of user-driven work is contained
            if len(ready) > 1:
                for job in ready:
                    self._run_alone(job)
            else:
                self._retry_or_fail(ready[0], error)
            return
        # 4. Store and finish each job exactly once.
        for job, result in zip(ready, results, strict=True):
            self._complete(job, result, batch_size=len(ready))

    def _run_alone(self, job: _Running) -> None:
        try:
            (result,) = self._execute([job])
        except Interrupted:
            self._hand_back(job)
        except (InvalidRequest, ModelUnavailable) as error:
            self._fail(job, code=error.code, message=error.message)
        except Canceled:
            self._settle(job)
        except Exception as error:  # noqa: BLE001
            self._retry_or_fail(job, error)
        else:
            self._complete(job, result, batch_size=1)

    def _start(self, delivery: Delivery) -> _Running | None:
        started = self.lifecycle.start(delivery.job_id, max_attempts=self.options.max_attempts)
        if started is Skipped.SETTLED:
            self.queue.ack(delivery)
        if isinstance(started, Skipped):
            return None
        return _Running(delivery=delivery, attempt=started)

    def _prepare(self, job: _Running) -> bool:
        with self.sessions() as session:
            row = session.scalar(select(Job).where(Job.id == job.job_id))
            assert row is not None
            request = stored_request(row.request)
        try:
            files = load_input_files(
                self.sessions, self.store, user_id=job.attempt.user_id, request=request, limits=self.engine.limits
            )
            job.item = self.engine.prepare(request, files=files)
        except (InvalidRequest, NotFound) as error:
            self._fail(job, code=error.code, message=error.message)
            return False
        return True

    def _execute(self, jobs: list[_Running]) -> list[ToolResult]:
        options = self.options
        last_write = last_preview = 0.0

        def report(done: int, total: int, preview: Preview | None) -> None:
            nonlocal last_write, last_preview
            for middleware in self.middleware:
                middleware.on_step()
                middleware.on_progress(done, total)
            if self.abort.is_set():
                raise Interrupted()
            now = time.monotonic()
            if now - last_write < options.progress_interval and done < total:
                return
            last_write = now
            # The preview is rendered only here, at its own (slower) throttled rate, and never
            # for the last step: the finished images replace it a moment later.
            urls: list[str | None] = []
            if preview is not None and done < total and now - last_preview >= options.preview_interval:
                last_preview = now
                try:
                    urls = [data_url(image, longest=options.preview_size) for image in preview()]
                except Exception:  # a preview is a nicety; it never fails a job
                    log.exception("preview failed; the job carries on without one")
            lost = self.lifecycle.progress([job.attempt for job in jobs], fraction=done / max(total, 1), previews=urls)
            for job in jobs:
                job.canceled = job.canceled or job.job_id in lost
            if all(job.canceled for job in jobs):
                raise Canceled("every job in the batch was canceled")

        def progress(done: int, total: int) -> None:
            report(done, total, None)

        items = [job.item for job in jobs if job.item is not None]
        return self.engine.run_batch(items, progress=PreviewProgress(report) if options.previews else progress)

    # Endings --------------------------------------------------------------------------------

    def _complete(self, job: _Running, result: ToolResult, *, batch_size: int) -> None:
        # 1. Outputs first, under this attempt's own keys.
        prefix = f"jobs/{job.job_id}/{job.attempt.number}/"
        for output in result.outputs:
            self.store.put(prefix + output.name, output.data, media_type=output.media_type)
        # 2. The final state, only if this attempt still owns the job.
        won = self.lifecycle.complete(job.attempt, result, storage_prefix=prefix, batch_size=batch_size)
        # 3. Leftovers: a losing attempt removes its files; a winner removes any earlier attempt's.
        for key in self.store.list(f"jobs/{job.job_id}/"):
            if key.startswith(prefix) != won:
                self.store.delete(key)
        self._settle(job)

    def _fail(self, job: _Running, *, code: str, message: str) -> None:
        self.lifecycle.fail(job.attempt, code=code, message=message)
        self._settle(job)

    def _settle(self, job: _Running) -> None:
        """Ack our delivery, unless another worker has taken the job over since our lease ran out:
        on SQS a stale receipt can still delete the message, which is now the new holder's."""
        if self.lifecycle.superseded(job.attempt):
            log.info(
                "job %s: attempt %d was superseded; leaving the delivery to its holder", job.job_id, job.attempt.number
            )
            return
        self.queue.ack(job.delivery)

    def _retry_or_fail(self, job: _Running, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        log.warning("job %s attempt %d failed: %s", job.job_id, job.attempt.number, message)
        if job.attempt.number >= self.options.max_attempts:
            self._fail(job, code="failed", message=f"gave up after {job.attempt.number} attempts: {message}")
            return
        self.lifecycle.requeue(job.attempt, message=message)
        self.queue.release(job.delivery, delay=self.options.retry_delay)

    def _hand_back(self, job: _Running) -> None:
        self.lifecycle.hand_back(job.attempt)
        self.queue.release(job.delivery)
