"""The worker loop: claim a batch, run it as one engine call, store outputs, finish exactly once.

A batch is every queued job that shares the first one's batch key, whoever sent it, up to a job
count and an image count (what fits in memory); a part-full batch waits a few milliseconds for
more to arrive. Progress writes, throttled, carry a small preview of each job's first image.

Delivery is at-least-once under a lease that a heartbeat thread renews. Completion is
idempotent: outputs are stored under the job id and attempt, and the final state is a
conditional write (`status = running AND attempts = this attempt`), so a redelivered job
never yields two results. SIGTERM stops claiming; the batch in hand finishes (a second
signal hands it back to the queue instead).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from craftgen import credits
from craftgen.db.session import transaction
from craftgen.db.tables import ImageRow, Job
from craftgen.engine.base import ToolInput, ToolResult
from craftgen.engine.engine import Engine
from craftgen.engine.preview import Preview, PreviewProgress, data_url
from craftgen.errors import Canceled, InvalidRequest, ModelUnavailable, NotFound
from craftgen.jobs import states
from craftgen.jobs.options import WorkerOptions
from craftgen.jobs.queue import Delivery, JobQueue
from craftgen.schemas import GenerateRequest
from craftgen.storage.store import BlobStore
from craftgen.uploads import load_upload

log = logging.getLogger("craftgen.worker")


def fail_job(session: Session, job_id: str, *conditions: ColumnElement[bool], code: str, message: str) -> bool:
    """The job's final failure, written only where `conditions` still hold (so at most once),
    with its credits back in the same transaction; whether this call wrote it."""
    finished = time.time()
    won = session.execute(
        update(Job)
        .where(Job.id == job_id, *conditions)
        .values(status=states.FAILED, error_code=code, error_message=message, finished_at=finished, preview=None)
    ).rowcount
    if won:
        credits.refund(session, job_id=job_id, now=finished)
    return bool(won)


class Interrupted(Exception):
    """The worker was told to stop now: hand the batch back."""


@dataclass
class _Running:
    """One claimed job while its batch runs."""

    delivery: Delivery
    job_id: str
    user_id: str
    attempt: int
    item: ToolInput | None = None
    canceled: bool = False


@dataclass
class Worker:
    name: str
    sessions: sessionmaker[Session]
    queue: JobQueue
    store: BlobStore
    engine: Engine
    options: WorkerOptions = field(default_factory=WorkerOptions)
    stop: threading.Event = field(default_factory=threading.Event)  # finish the batch, then exit
    abort: threading.Event = field(default_factory=threading.Event)  # hand the batch back now
    last_step: float = field(default_factory=time.monotonic)  # the loop's or the diffusion's latest step

    def run_forever(self) -> None:
        log.info("worker %s started", self.name)
        failures = 0
        next_sweep = 0.0
        while not self.stop.is_set():
            self._stepped()
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.options.dead_letter_interval
                    self.settle_dead_letters()
                claimed = self.run_once()
                failures = 0
            except Exception:  # noqa: BLE001 - the database, queue or store is briefly away
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

    def settle_dead_letters(self, *, max_items: int = 10) -> int:
        """Mark jobs the queue gave up on (dead-lettered after too many deliveries) failed, with
        their credits back, so none sits 'queued' forever; returns how many letters were settled."""
        letters = self.queue.take_dead(max_items=max_items)
        for letter in letters:
            with transaction(self.sessions) as session:
                message = f"the job could not be run ({letter.reason}); please try again"
                if fail_job(session, letter.job_id, Job.status.in_(states.ACTIVE), code="gave_up", message=message):
                    log.warning("job %s failed: dead-lettered (%s)", letter.job_id, letter.reason)
            self.queue.forget_dead(letter)  # only once its row is settled: a crash before loses nothing
        return len(letters)

    def _stepped(self) -> None:
        """A sign of life: the loop turned or diffusion took a step."""
        self.last_step = time.monotonic()
        self._touch_alive_file()

    def stalled_for(self) -> float:
        """Seconds since the last step when that is longer than `stall_seconds`, else 0."""
        quiet = time.monotonic() - self.last_step
        return quiet if quiet > self.options.stall_seconds else 0.0

    def _touch_alive_file(self) -> None:
        if self.options.alive_file:
            try:
                with open(self.options.alive_file, "a"):
                    pass
                os.utime(self.options.alive_file)
            except OSError:
                log.exception("cannot touch the alive file %s", self.options.alive_file)

    def _heartbeat(self, deliveries: Sequence[Delivery], done: threading.Event) -> None:
        while not done.wait(min(self.options.lease_seconds / 3, self.options.stall_seconds)):
            # A hung batch (a wedged GPU call, a deadlock) must not hold its jobs forever: once
            # nothing has stepped for stall_seconds, let the leases lapse so other workers take
            # them over (this one's late writes are refused by the attempt check).
            if stalled := self.stalled_for():
                log.error("worker %s: no step for %.0f s; letting its leases lapse", self.name, stalled)
                continue
            self._touch_alive_file()
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
        with transaction(self.sessions) as session:
            job = session.scalar(select(Job).where(Job.id == delivery.job_id))
            if job is None or job.status not in states.ACTIVE:
                settle = True
            elif job.attempts >= self.options.max_attempts:
                # Its earlier runs all died (e.g. killed the worker): give up, don't loop forever.
                # Runs started are counted on the row, not queue deliveries: a delivery handed
                # back unstarted (shutdown, batch regrouping) is not an attempt on any backend.
                job.status = states.FAILED
                job.error_code = job.error_code or "gave_up"
                job.error_message = (
                    f"gave up after {self.options.max_attempts} attempts"
                    + (f": {job.error_message}" if job.error_message else "")
                )
                job.finished_at = time.time()
                session.flush()
                credits.refund(session, job_id=job.id, now=job.finished_at)
                settle = True
            else:
                job.status = states.RUNNING
                job.attempts += 1
                job.progress = 0.0
                job.preview = None  # an earlier attempt's picture is not this one's
                job.started_at = job.started_at or time.time()
                return _Running(delivery=delivery, job_id=job.id, user_id=job.user_id, attempt=job.attempts)
        if settle:
            self.queue.ack(delivery)
        return None

    def _prepare(self, job: _Running) -> bool:
        with self.sessions() as session:
            row = session.scalar(select(Job).where(Job.id == job.job_id))
            assert row is not None
            request = GenerateRequest.model_validate(row.request)
        try:
            image = None
            if request.image is not None:
                image = load_upload(
                    self.sessions, self.store, user_id=job.user_id, upload_id=request.image, limits=self.engine.limits
                )
            job.item = self.engine.prepare(request, image)
        except (InvalidRequest, NotFound) as error:
            self._fail(job, code=error.code, message=error.message)
            return False
        return True

    def _execute(self, jobs: list[_Running]) -> list[ToolResult]:
        options = self.options
        last_write = last_preview = 0.0

        def report(done: int, total: int, preview: Preview | None) -> None:
            nonlocal last_write, last_preview
            self.last_step = time.monotonic()  # cheap: every step; the file is touched by the heartbeat
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
                except Exception:  # noqa: BLE001 - a preview is a nicety; it never fails a job
                    log.exception("preview failed; the job carries on without one")
            self._report(jobs, fraction=done / max(total, 1), previews=urls)
            if all(job.canceled for job in jobs):
                raise Canceled("every job in the batch was canceled")

        def progress(done: int, total: int) -> None:
            report(done, total, None)

        items = [job.item for job in jobs if job.item is not None]
        return self.engine.run_batch(items, progress=PreviewProgress(report) if options.previews else progress)

    def _report(self, jobs: list[_Running], *, fraction: float, previews: Sequence[str | None] = ()) -> None:
        """Write progress (held below 1 until outputs are stored) and, when given, each job's
        preview in the same UPDATE; notice jobs no longer ours (canceled, or taken over by
        another worker after our lease ran out)."""
        with transaction(self.sessions) as session:
            for index, job in enumerate(jobs):
                row = session.execute(
                    select(Job.status, Job.attempts).where(Job.id == job.job_id)
                ).first()
                if row is None or row.status != states.RUNNING or row.attempts != job.attempt:
                    job.canceled = True
                    continue
                values: dict[str, object] = {"progress": min(fraction, 0.99)}
                if index < len(previews):
                    values["preview"] = previews[index]
                session.execute(update(Job).where(Job.id == job.job_id).values(**values))

    # Endings --------------------------------------------------------------------------------

    def _complete(self, job: _Running, result: ToolResult, *, batch_size: int) -> None:
        # 1. Outputs first, under this attempt's own keys.
        prefix = f"jobs/{job.job_id}/{job.attempt}/"
        for output in result.outputs:
            self.store.put(prefix + output.name, output.data, media_type=output.media_type)
        # 2. The final state, only if this attempt still owns the job.
        with transaction(self.sessions) as session:
            won = session.execute(
                update(Job)
                .where(Job.id == job.job_id, Job.status == states.RUNNING, Job.attempts == job.attempt)
                .values(
                    status=states.SUCCEEDED,
                    progress=1.0,
                    preview=None,  # the images replace it
                    finished_at=time.time(),
                    batch_size=batch_size,
                    error_code=None,
                    error_message=None,
                    result={"metrics": result.metrics, "warnings": result.warnings, "seed": result.seed},
                )
            ).rowcount
            if won:
                for position, output in enumerate(result.outputs):
                    session.add(
                        ImageRow(
                            job_id=job.job_id,
                            user_id=job.user_id,
                            position=position,
                            name=output.name,
                            output_group=output.name.rsplit(".", 1)[0].removesuffix("-preview"),
                            kind=output.kind,
                            media_type=output.media_type,
                            storage_key=prefix + output.name,
                            width=output.width,
                            height=output.height,
                            seed=output.seed,
                        )
                    )
        # 3. Leftovers: a losing attempt removes its files; a winner removes any earlier attempt's.
        for key in self.store.list(f"jobs/{job.job_id}/"):
            if key.startswith(prefix) != bool(won):
                self.store.delete(key)
        self._settle(job)

    def _fail(self, job: _Running, *, code: str, message: str) -> None:
        with transaction(self.sessions) as session:
            running = (Job.status == states.RUNNING, Job.attempts == job.attempt)
            fail_job(session, job.job_id, *running, code=code, message=message)
        self._settle(job)

    def _settle(self, job: _Running) -> None:
        """Ack our delivery, unless another worker has taken the job over since our lease ran out:
        on SQS a stale receipt can still delete the message, which is now the new holder's."""
        with self.sessions() as session:
            row = session.execute(select(Job.status, Job.attempts).where(Job.id == job.job_id)).first()
        if row is not None and row.status in states.ACTIVE and row.attempts != job.attempt:
            log.info("job %s: attempt %d was superseded; leaving the delivery to its holder", job.job_id, job.attempt)
            return
        self.queue.ack(job.delivery)

    def _retry_or_fail(self, job: _Running, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        log.warning("job %s attempt %d failed: %s", job.job_id, job.attempt, message)
        if job.attempt >= self.options.max_attempts:
            self._fail(job, code="failed", message=f"gave up after {job.attempt} attempts: {message}")
            return
        with transaction(self.sessions) as session:
            session.execute(
                update(Job)
                .where(Job.id == job.job_id, Job.status == states.RUNNING, Job.attempts == job.attempt)
                .values(status=states.QUEUED, error_code=None, error_message=message, progress=0.0, preview=None)
            )
        self.queue.release(job.delivery, delay=self.options.retry_delay)

    def _hand_back(self, job: _Running) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(Job)
                .where(Job.id == job.job_id, Job.status == states.RUNNING, Job.attempts == job.attempt)
                .values(status=states.QUEUED, progress=0.0, preview=None)
            )
        self.queue.release(job.delivery)

