"""Cross-cutting worker behaviour as small collaborators that hang off the loop's hooks.

The worker calls every hook in order: `on_loop_turn` before each claim, `on_step` on each
diffusion step (so it must be cheap), `on_heartbeat` before renewing the leases of the batch in
hand. A heartbeat hook that answers False stops that beat: later hooks do not run and the
leases are not renewed, so they lapse and other workers take the jobs over.
"""

from __future__ import annotations

import logging
import os
import time

from craftgen.jobs.lifecycle import JobLifecycle
from craftgen.jobs.options import WorkerOptions
from craftgen.jobs.queue import JobQueue

log = logging.getLogger("craftgen.worker")


class Middleware:
    """No-op hooks; a collaborator overrides the ones it needs."""

    def on_loop_turn(self) -> None:
        """The loop is about to claim (a sign of life)."""

    def on_step(self) -> None:
        """Diffusion took a step (a sign of life; called every step)."""

    def on_progress(self, done: int, total: int) -> None:
        """The batch has taken `done` of its `total` steps (called with every step, after on_step)."""

    def on_heartbeat(self) -> bool:
        """A beat while a batch runs; False: stop here and let the leases lapse."""
        return True


class StallDetector(Middleware):
    """A worker that has not stepped for `stall_seconds` is hung (a wedged GPU call, a deadlock):
    it must not hold its jobs forever, so its beats stop renewing their leases (this attempt's
    late writes are then refused by the lifecycle's ownership guard)."""

    def __init__(self, *, name: str, stall_seconds: float) -> None:
        self.name = name
        self.stall_seconds = stall_seconds
        self.last_step = time.monotonic()  # the loop's or the diffusion's latest step

    def on_loop_turn(self) -> None:
        self.last_step = time.monotonic()

    def on_step(self) -> None:
        self.last_step = time.monotonic()

    def on_heartbeat(self) -> bool:
        if stalled := self.stalled_for():
            log.error("worker %s: no step for %.0f s; letting its leases lapse", self.name, stalled)
            return False
        return True

    def stalled_for(self) -> float:
        """Seconds since the last step when that is longer than `stall_seconds`, else 0."""
        quiet = time.monotonic() - self.last_step
        return quiet if quiet > self.stall_seconds else 0.0


class AliveFile(Middleware):
    """Touches `path` while the worker is healthy, for a liveness probe that reads its age
    (deploy/k8s/worker.yaml); not on every step, which would cost a syscall each."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_loop_turn(self) -> None:
        self.touch()

    def on_heartbeat(self) -> bool:
        self.touch()
        return True

    def touch(self) -> None:
        try:
            with open(self.path, "a"):
                pass
            os.utime(self.path)
        except OSError:
            log.exception("cannot touch the alive file %s", self.path)


class DeadLetterSweep(Middleware):
    """Every `interval` seconds, marks jobs the queue gave up on (dead-lettered after too many
    deliveries) failed with their credits back, so none sits 'queued' forever."""

    def __init__(self, *, queue: JobQueue, lifecycle: JobLifecycle, interval: float) -> None:
        self.queue = queue
        self.lifecycle = lifecycle
        self.interval = interval
        self.next_sweep = 0.0  # monotonic time of the next sweep: the first turn sweeps

    def on_loop_turn(self) -> None:
        if time.monotonic() >= self.next_sweep:
            # Set first: a sweep that fails (the queue briefly away) waits its interval too.
            self.next_sweep = time.monotonic() + self.interval
            self.settle()

    def settle(self, *, max_items: int = 10) -> int:
        """Settle up to `max_items` dead letters; how many there were."""
        letters = self.queue.take_dead(max_items=max_items)
        for letter in letters:
            if self.lifecycle.give_up(letter.job_id, reason=letter.reason):
                log.warning("job %s failed: dead-lettered (%s)", letter.job_id, letter.reason)
            self.queue.forget_dead(letter)  # only once its row is settled: a crash before loses nothing
        return len(letters)


class StrandedJobSweep(Middleware):
    """Every `interval` seconds, enqueues again what the queue does not hold: a job row still
    `queued` that the queue never took (a crash between the submission's commit and its
    enqueue) or whose entry was lost (a Redis crash losing its last writes, an entry deleted by
    hand), once it is older than `grace`. The row is claimed first, so of many sweeping workers
    exactly one enqueues a stranded job; an entry is looked for in the oldest `max_items`
    waiting jobs per sweep, and enqueueing is idempotent, so a job gets one entry again."""

    def __init__(
        self, *, queue: JobQueue, lifecycle: JobLifecycle, interval: float, grace: float, max_items: int = 100
    ) -> None:
        self.queue = queue
        self.lifecycle = lifecycle
        self.interval = interval
        self.grace = grace
        self.max_items = max_items
        self.next_sweep = 0.0

    def on_loop_turn(self) -> None:
        if time.monotonic() >= self.next_sweep:
            self.next_sweep = time.monotonic() + self.interval
            try:
                self.sweep()
            except Exception:
                log.exception("the stranded-job sweep failed; it runs again in %.0f s", self.interval)

    def sweep(self, *, now: float | None = None) -> int:
        """One sweep; how many jobs it enqueued again."""
        before = (time.time() if now is None else now) - self.grace
        requeued = 0
        # 1. Rows the queue never took: claimed one by one, so only one sweeper enqueues each.
        for job in self.lifecycle.stranded(older_than=before, limit=self.max_items):
            if not self.lifecycle.claim_stranded(job.job_id):
                continue
            try:
                self.queue.enqueue(job.job_id, priority=job.priority, batch_key=job.batch_key)
            except Exception:
                self.lifecycle.unclaim_stranded(job.job_id)  # the next sweep tries again
                raise
            log.warning("job %s was queued but never enqueued; enqueued it", job.job_id)
            requeued += 1
        # 2. Rows the queue took but no longer holds.
        waiting = self.lifecycle.waiting(older_than=before, limit=self.max_items)
        lost = self.queue.missing([job.job_id for job in waiting]) if waiting else set()
        lost &= self.lifecycle.still_queued(lost)  # one a worker finished meanwhile left the queue rightly
        for job in waiting:
            if job.job_id in lost:
                self.queue.enqueue(job.job_id, priority=job.priority, batch_key=job.batch_key)
                log.warning("job %s was queued but its queue entry was lost; enqueued it again", job.job_id)
                requeued += 1
        return requeued


def standard_middleware(
    *, name: str, options: WorkerOptions, queue: JobQueue, lifecycle: JobLifecycle
) -> list[Middleware]:
    """What every worker runs with: stall detection first (it can stop a beat before the alive
    file is touched), then the alive file where one is named, then the dead-letter and stranded-job sweeps."""
    middleware: list[Middleware] = [StallDetector(name=name, stall_seconds=options.stall_seconds)]
    if options.alive_file:
        middleware.append(AliveFile(options.alive_file))
    middleware.append(DeadLetterSweep(queue=queue, lifecycle=lifecycle, interval=options.dead_letter_interval))
    middleware.append(
        StrandedJobSweep(
            queue=queue, lifecycle=lifecycle, interval=options.dead_letter_interval, grace=options.stranded_grace
        )
    )
    return middleware
