"""Submitting, reading and canceling jobs: the plain functions behind the API's job routes.

A submission is validated completely (the engine's own checks, the upload decoded) before a
row is written, so a refused request leaves nothing behind. The row is the job's truth; the
queue entry only says a worker should run it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from craftgen import credits
from craftgen.db.session import transaction
from craftgen.db.tables import ImageRow, Job, User, new_id
from craftgen.engine.engine import Engine
from craftgen.errors import Conflict, InvalidRequest, NotFound, QuotaExceeded, Unavailable
from craftgen.jobs import states
from craftgen.jobs.lifecycle import JobLifecycle
from craftgen.jobs.options import JobPolicy
from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO, JobQueue
from craftgen.jobs.views import JobView, job_view
from craftgen.schemas import ToolRequest
from craftgen.storage.store import BlobStore
from craftgen.uploads import load_input_files


def batch_key_text(key: tuple[object, ...] | None, *, job_id: str) -> str:
    """A short, stable text for a tool's batch key; a job that cannot share runs alone."""
    if key is None:
        return f"solo:{job_id}"
    return hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:32]


class JobService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        queue: JobQueue,
        store: BlobStore,
        engine: Engine,
        policy: JobPolicy,
    ) -> None:
        self.sessions = sessions
        self.queue = queue
        self.store = store
        self.engine = engine
        self.policy = policy
        self.lifecycle = JobLifecycle(sessions)

    # Submitting -----------------------------------------------------------------------------

    def submit(self, user: User, request: ToolRequest, *, idempotency_key: str | None = None) -> JobView:
        # 1. A retried submission returns the job the first one made.
        if idempotency_key:
            existing = self._by_idempotency_key(user.id, idempotency_key, request=request)
            if existing is not None:
                return existing
        # 2. Validate fully: model name, upload, the tool's own checks.
        self._check_model(getattr(request, "model", None))
        files = load_input_files(
            self.sessions, self.store, user_id=user.id, request=request, limits=self.engine.limits
        )
        item = self.engine.prepare(request, files=files)
        job_id = new_id()
        key = batch_key_text(self.engine.batch_key(item), job_id=job_id)
        # 3. Credits, quota check and insert in one write transaction.
        try:
            with transaction(self.sessions) as session:
                # Lock the user's row so two submissions cannot both pass the quota check or
                # spend the same credits (PostgreSQL; SQLite's write transaction serializes them).
                locked = session.scalar(select(User).where(User.id == user.id).with_for_update())
                if locked is None:
                    raise NotFound(f"user {user.id!r} not found")
                job = Job(
                    id=job_id,
                    user_id=user.id,
                    tool=request.tool,
                    request=item.request.model_dump(mode="json"),
                    batch_key=key,
                    priority=PRIORITY_FREE,
                    idempotency_key=idempotency_key,
                )
                session.add(job)
                session.flush()
                charged = credits.charge_if_possible(
                    session,
                    locked,
                    job_id=job_id,
                    cost=credits.job_cost(item.num_images),
                    allowance=self.policy.pro_monthly_credits,
                    now=time.time(),
                )
                if charged:
                    job.priority, job.credits_charged = PRIORITY_PRO, charged
                else:
                    # Free-priority jobs (a free user's, or a pro user's out of credits) wait
                    # their turn one at a time, so nobody can fill the free queue.
                    self._check_free_quota(session, locked, job_id=job_id)
                priority = job.priority
        except IntegrityError:
            # Two retries raced on the same idempotency key: the other one won.
            if idempotency_key:
                existing = self._by_idempotency_key(user.id, idempotency_key, request=request)
                if existing is not None:
                    return existing
            raise
        # 4. Hand it to the workers. If the queue is down, take the submission back whole, so
        #    nothing sits queued forever and a retry with the same Idempotency-Key starts afresh.
        try:
            self.queue.enqueue(job_id, priority=priority, batch_key=key)
        except Exception as exc:
            self.lifecycle.withdraw(job_id)
            raise Unavailable("the job queue is not reachable right now; please retry") from exc
        # A crash before this mark leaves the row unmarked: the stranded-job sweep (or a retry
        # with the same Idempotency-Key) enqueues it again.
        self.lifecycle.enqueued(job_id)
        return self.get(user.id, job_id)

    def _check_free_quota(self, session: Session, user: User, *, job_id: str) -> None:
        active = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.user_id == user.id,
                Job.id != job_id,
                Job.credits_charged == 0,
                Job.status.in_(states.ACTIVE),
            )
        )
        if (active or 0) < self.policy.free_active_jobs:
            return
        if user.plan == "pro":
            raise QuotaExceeded(
                "your speed credits for this month are used up, and jobs without credits run one at a "
                "time: wait for your current one to finish (or cancel it)"
            )
        raise QuotaExceeded(
            "the free plan runs one job at a time: wait for your current job to "
            "finish (or cancel it), or upgrade to pro"
        )

    def _check_model(self, model: str | None) -> None:
        # API users may only name registry models: a path would let them load any server file.
        if model is None:
            return
        allowed = self.policy.max_request_models or tuple(self.engine.registry.names())
        if model not in allowed:
            raise InvalidRequest(f"unknown model {model!r}; choose one of {', '.join(allowed)}", field="model")

    def _by_idempotency_key(self, user_id: str, key: str, *, request: ToolRequest) -> JobView | None:
        """The job an earlier submission with this key made (a Conflict if that one asked for
        something else); one stranded by a crash between its commit and its enqueue is enqueued
        now (once: the row is claimed first)."""
        with self.sessions() as session:
            job = session.scalar(select(Job).where(Job.user_id == user_id, Job.idempotency_key == key))
        if job is None:
            return None
        # The row holds the request with its defaults filled: every field this one sends must match.
        sent = request.model_dump(mode="json", exclude_none=True)
        differs = sorted(name for name, value in sent.items() if job.request.get(name) != value)
        if differs:
            raise Conflict(
                f"this Idempotency-Key was used for a different request (it differs in {', '.join(differs)}); "
                "use a new key for a new job"
            )
        if job.status == states.QUEUED and job.enqueued_at is None and self.lifecycle.claim_stranded(job.id):
            try:
                self.queue.enqueue(job.id, priority=job.priority, batch_key=job.batch_key)
            except Exception as exc:
                self.lifecycle.unclaim_stranded(job.id)
                raise Unavailable("the job queue is not reachable right now; please retry") from exc
        return self.get(user_id, job.id)

    # Reading --------------------------------------------------------------------------------

    def get(self, user_id: str, job_id: str) -> JobView:
        with self.sessions() as session:
            job = session.scalar(select(Job).where(Job.id == job_id, Job.user_id == user_id))
            if job is None:
                raise NotFound(f"job {job_id!r} not found")
            return self._view(session, job)

    def page(self, user_id: str, *, limit: int = 50, before: int | None = None) -> tuple[list[JobView], int | None]:
        """The user's jobs newest first, starting after the one whose seq is `before`, and the
        seq to pass as `before` for the next page (None on the last one)."""
        with self.sessions() as session:
            query = select(Job).where(Job.user_id == user_id)
            if before is not None:
                query = query.where(Job.seq < before)
            jobs = session.scalars(query.order_by(Job.seq.desc()).limit(limit + 1)).all()
            views = [self._view(session, job) for job in jobs[:limit]]
            return views, (jobs[limit - 1].seq if len(jobs) > limit else None)

    def list(self, user_id: str, *, limit: int = 50) -> list[JobView]:
        with self.sessions() as session:
            jobs = session.scalars(
                select(Job).where(Job.user_id == user_id).order_by(Job.seq.desc()).limit(limit)
            ).all()
            return [self._view(session, job) for job in jobs]

    def views(self, job_ids: Sequence[str]) -> dict[str, JobView]:
        """Many jobs at once (whoever owns them), for a change feed that watches them all: three
        queries whatever their number, queue places included (one correlated count each, on the
        status/priority/seq index), outputs read only for the finished ones."""
        if not job_ids:
            return {}
        with self.sessions() as session:
            jobs = session.scalars(select(Job).where(Job.id.in_(list(job_ids)))).all()
            finished = [job.id for job in jobs if job.status in states.TERMINAL]
            images: dict[str, list[ImageRow]] = {job_id: [] for job_id in finished}
            if finished:
                for image in session.scalars(select(ImageRow).where(ImageRow.job_id.in_(finished))):
                    images[image.job_id].append(image)
            ahead = aliased(Job)
            places: dict[str, int] = {}
            waiting = [job.id for job in jobs if job.status == states.QUEUED]
            if waiting:
                count = (
                    select(func.count())
                    .select_from(ahead)
                    .where(
                        ahead.status == states.QUEUED,
                        or_(
                            ahead.priority > Job.priority,
                            and_(ahead.priority == Job.priority, ahead.seq < Job.seq),
                        ),
                    )
                    .correlate(Job)
                    .scalar_subquery()
                )
                places = {row[0]: row[1] for row in session.execute(select(Job.id, count).where(Job.id.in_(waiting)))}
            return {
                job.id: job_view(job, images.get(job.id, []), queue_position=places.get(job.id))
                for job in jobs
            }

    def _view(self, session: Session, job: Job) -> JobView:
        images = list(session.scalars(select(ImageRow).where(ImageRow.job_id == job.id)).all())
        position = None
        if job.status == states.QUEUED:
            position = session.scalar(
                select(func.count()).select_from(Job).where(
                    Job.status == states.QUEUED,
                    or_(Job.priority > job.priority, and_(Job.priority == job.priority, Job.seq < job.seq)),
                )
            )
        return job_view(job, images, queue_position=position)

    # Canceling ------------------------------------------------------------------------------

    def cancel(self, user_id: str, job_id: str) -> JobView:
        """A queued job never runs; a running one stops at its worker's next progress report."""
        self.lifecycle.cancel(job_id, user_id=user_id)
        self.queue.remove(job_id)
        return self.get(user_id, job_id)
