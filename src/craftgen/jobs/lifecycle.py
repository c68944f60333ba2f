"""Every job-row transition, as one named method each: the rules of the state machine live here.

A worker's writes are conditional on one guard, "this attempt still owns the job" (`status =
running AND attempts = attempt`), so a late or superseded attempt changes nothing. The other
transitions (start, cancel, give up, withdraw) are conditional on the state they were decided
from. Credits come back in the same transaction as the failure or cancel that earns them.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Update, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from craftgen import credits
from craftgen.db.session import transaction
from craftgen.db.tables import ImageRow, Job
from craftgen.engine.base import ToolResult
from craftgen.errors import Conflict, NotFound
from craftgen.jobs import states


@dataclass(frozen=True)
class Attempt:
    """One run of one job: what a worker holds between `start` and its ending."""

    job_id: str
    user_id: str
    number: int  # the row's `attempts` once this run started


class Skipped(enum.Enum):
    """Why `start` returned no attempt."""

    SETTLED = "settled"  # nothing left to run (gone, finished, or given up just now): ack it
    TAKEN = "taken"  # another attempt started it a moment ago: leave the delivery to its holder


def _owned(attempt: Attempt) -> tuple[ColumnElement[bool], ...]:
    """The one guard on a worker's writes: this attempt still owns the job."""
    return (Job.id == attempt.job_id, Job.status == states.RUNNING, Job.attempts == attempt.number)


def _wrote(session: Session, statement: Update) -> bool:
    """Run a conditional UPDATE; whether it matched a row."""
    return bool(cast(CursorResult[Any], session.execute(statement)).rowcount)


def _fail(session: Session, *conditions: ColumnElement[bool], job_id: str, code: str, message: str) -> bool:
    """The job's final failure where `conditions` still hold (so at most once), credits back."""
    finished = time.time()
    won = _wrote(
        session,
        update(Job)
        .where(Job.id == job_id, *conditions)
        .values(status=states.FAILED, error_code=code, error_message=message, finished_at=finished, preview=None),
    )
    if won:
        credits.refund(session, job_id=job_id, now=finished)
    return won


@dataclass(frozen=True)
class Queued:
    """What enqueueing a job takes, read back from its row."""

    job_id: str
    priority: int
    batch_key: str


class JobLifecycle:
    """The one owner of job-row transitions; the worker and the job service only call it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # Starting -------------------------------------------------------------------------------

    def start(self, job_id: str, *, max_attempts: int) -> Attempt | Skipped:
        """queued (or running, its last holder gone) -> running, as a new attempt; a job whose
        earlier runs all died is given up instead (failed, credits back)."""
        with transaction(self.sessions) as session:
            # 1. Only an active job runs.
            row = session.execute(
                select(Job.user_id, Job.status, Job.attempts, Job.error_code, Job.error_message).where(Job.id == job_id)
            ).first()
            if row is None or row.status not in states.ACTIVE:
                return Skipped.SETTLED
            as_read = (Job.status == row.status, Job.attempts == row.attempts)
            # 2. Runs started are counted on the row, not queue deliveries: a delivery handed back
            #    unstarted (shutdown, batch regrouping) is not an attempt on any backend.
            if row.attempts >= max_attempts:
                message = f"gave up after {max_attempts} attempts" + (
                    f": {row.error_message}" if row.error_message else ""
                )
                _fail(session, *as_read, job_id=job_id, code=row.error_code or "gave_up", message=message)
                return Skipped.SETTLED
            # 3. This run's attempt; an earlier attempt's picture is not this one's.
            number = row.attempts + 1
            started = _wrote(
                session,
                update(Job)
                .where(Job.id == job_id, *as_read)
                .values(
                    status=states.RUNNING,
                    attempts=number,
                    progress=0.0,
                    preview=None,
                    started_at=func.coalesce(Job.started_at, time.time()),
                ),
            )
        return Attempt(job_id=job_id, user_id=row.user_id, number=number) if started else Skipped.TAKEN

    # Running --------------------------------------------------------------------------------

    def progress(
        self, attempts: Sequence[Attempt], *, fraction: float, previews: Sequence[str | None] = ()
    ) -> set[str]:
        """Write progress (held below 1 until outputs are stored) and, where given, each job's
        preview; the ids of jobs no longer owned (canceled, or taken over by another worker)."""
        lost: set[str] = set()
        with transaction(self.sessions) as session:
            for index, attempt in enumerate(attempts):
                values: dict[str, object] = {"progress": min(fraction, 0.99)}
                if index < len(previews):
                    values["preview"] = previews[index]
                if not _wrote(session, update(Job).where(*_owned(attempt)).values(**values)):
                    lost.add(attempt.job_id)
        return lost

    def superseded(self, attempt: Attempt) -> bool:
        """Whether another attempt holds the job now (its lease ran out and another worker took
        it): then this attempt's delivery is no longer its own to ack."""
        with self.sessions() as session:
            row = session.execute(select(Job.status, Job.attempts).where(Job.id == attempt.job_id)).first()
        return row is not None and row.status in states.ACTIVE and row.attempts != attempt.number

    # Endings of an attempt ------------------------------------------------------------------

    def complete(self, attempt: Attempt, result: ToolResult, *, storage_prefix: str, batch_size: int) -> bool:
        """running -> succeeded with its images (stored under `storage_prefix`); whether this
        attempt won (a losing one writes nothing)."""
        with transaction(self.sessions) as session:
            won = _wrote(
                session,
                update(Job)
                .where(*_owned(attempt))
                .values(
                    status=states.SUCCEEDED,
                    progress=1.0,
                    preview=None,  # the images replace it
                    finished_at=time.time(),
                    batch_size=batch_size,
                    error_code=None,
                    error_message=None,
                    result={"metrics": result.metrics, "warnings": result.warnings, "seed": result.seed},
                ),
            )
            if won:
                session.add_all(
                    ImageRow(
                        job_id=attempt.job_id,
                        user_id=attempt.user_id,
                        position=position,
                        name=output.name,
                        output_group=output.name.rsplit(".", 1)[0].removesuffix("-preview"),
                        kind=output.kind,
                        media_type=output.media_type,
                        storage_key=storage_prefix + output.name,
                        width=output.width,
                        height=output.height,
                        seed=output.seed,
                    )
                    for position, output in enumerate(result.outputs)
                )
        return won

    def fail(self, attempt: Attempt, *, code: str, message: str) -> bool:
        """running -> failed, credits back; whether this attempt wrote it."""
        with transaction(self.sessions) as session:
            return _fail(session, *_owned(attempt), job_id=attempt.job_id, code=code, message=message)

    def requeue(self, attempt: Attempt, *, message: str) -> bool:
        """running -> queued after a failed attempt that may be retried; the error is kept as a
        note (no code: the job has not failed)."""
        with transaction(self.sessions) as session:
            return _wrote(
                session,
                update(Job)
                .where(*_owned(attempt))
                .values(status=states.QUEUED, error_code=None, error_message=message, progress=0.0, preview=None),
            )

    def hand_back(self, attempt: Attempt) -> bool:
        """running -> queued, interrupted (the worker was told to stop now)."""
        with transaction(self.sessions) as session:
            return _wrote(
                session,
                update(Job).where(*_owned(attempt)).values(status=states.QUEUED, progress=0.0, preview=None),
            )

    # Endings from outside an attempt --------------------------------------------------------

    def give_up(self, job_id: str, *, reason: str) -> bool:
        """queued|running -> failed, credits back: the queue gave up handing it out (dead letter)."""
        message = f"the job could not be run ({reason}); please try again"
        with transaction(self.sessions) as session:
            return _fail(session, Job.status.in_(states.ACTIVE), job_id=job_id, code="gave_up", message=message)

    def cancel(self, job_id: str, *, user_id: str) -> None:
        """queued|running -> canceled. A queued job used nothing, so its credits come back (a
        running one's GPU time was spent); its worker stops at its next progress report."""
        # The status is read, then written only where it still holds: a worker finishing the job
        # in between wins, and the cancel is refused as too late (tried again on what it sees).
        for _ in range(len(states.ACTIVE) + 1):
            with transaction(self.sessions) as session:
                status = session.scalar(select(Job.status).where(Job.id == job_id, Job.user_id == user_id))
                if status is None:
                    raise NotFound(f"job {job_id!r} not found")
                if status in states.TERMINAL:
                    raise Conflict(f"job {job_id!r} is already {status}")
                finished = time.time()
                canceled = _wrote(
                    session,
                    update(Job)
                    .where(Job.id == job_id, Job.status == status)
                    .values(status=states.CANCELED, finished_at=finished),
                )
                if canceled:
                    if status == states.QUEUED:
                        credits.refund(session, job_id=job_id, now=finished)
                    return
        raise Conflict(f"job {job_id!r} changed while it was being canceled; please retry")

    # The queue's side of a queued job ----------------------------------------------------

    def enqueued(self, job_id: str) -> bool:
        """The queue took this queued job: it is no longer stranded (whether it was marked now)."""
        with transaction(self.sessions) as session:
            return _wrote(
                session,
                update(Job)
                .where(Job.id == job_id, Job.status == states.QUEUED, Job.enqueued_at.is_(None))
                .values(enqueued_at=time.time()),
            )

    def claim_stranded(self, job_id: str) -> bool:
        """Take one stranded job to enqueue it again: of several sweepers (or a retried submission
        racing one), exactly one wins; give it back with `unclaim_stranded` if the enqueue fails."""
        return self.enqueued(job_id)

    def unclaim_stranded(self, job_id: str) -> None:
        with transaction(self.sessions) as session:
            session.execute(update(Job).where(Job.id == job_id, Job.status == states.QUEUED).values(enqueued_at=None))

    def stranded(self, *, older_than: float, limit: int) -> list[Queued]:
        """Queued jobs the queue never took (submitted before `older_than`), oldest first."""
        with self.sessions() as session:
            rows = session.execute(
                select(Job.id, Job.priority, Job.batch_key)
                .where(Job.status == states.QUEUED, Job.enqueued_at.is_(None), Job.created_at < older_than)
                .order_by(Job.seq)
                .limit(limit)
            ).all()
        return [Queued(job_id=row[0], priority=row[1], batch_key=row[2]) for row in rows]

    def waiting(self, *, older_than: float, limit: int) -> list[Queued]:
        """Queued jobs the queue took before `older_than`, oldest first: the ones to look for."""
        with self.sessions() as session:
            rows = session.execute(
                select(Job.id, Job.priority, Job.batch_key)
                .where(Job.status == states.QUEUED, Job.enqueued_at < older_than)
                .order_by(Job.seq)
                .limit(limit)
            ).all()
        return [Queued(job_id=row[0], priority=row[1], batch_key=row[2]) for row in rows]

    def still_queued(self, job_ids: set[str]) -> set[str]:
        if not job_ids:
            return set()
        with self.sessions() as session:
            return set(session.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.status == states.QUEUED)))

    def withdraw(self, job_id: str) -> None:
        """A submission the queue never took: the row goes, its credits back (its ledger lines
        go with it), so a retry with the same Idempotency-Key starts afresh."""
        with transaction(self.sessions) as session:
            credits.refund(session, job_id=job_id, now=time.time())
            session.execute(delete(Job).where(Job.id == job_id))
