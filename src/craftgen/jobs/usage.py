"""What a user did in a credit period: jobs submitted, images made, jobs still queued or running."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from craftgen.credits import period_bounds
from craftgen.db.tables import ImageRow, Job
from craftgen.jobs import states


@dataclass(frozen=True)
class Usage:
    """What a user did this period: jobs submitted, images made, jobs still queued or running."""

    jobs: int
    images: int
    active_jobs: int


def usage(session: Session, *, user_id: str, period: str) -> Usage:
    start, end = period_bounds(period)
    since, until = start.timestamp(), end.timestamp()
    jobs = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.user_id == user_id, Job.created_at >= since, Job.created_at < until)
    )
    images = session.scalar(
        select(func.count())
        .select_from(ImageRow)
        .where(
            ImageRow.user_id == user_id,
            ImageRow.kind == "image",
            ImageRow.created_at >= since,
            ImageRow.created_at < until,
        )
    )
    active = session.scalar(
        select(func.count()).select_from(Job).where(Job.user_id == user_id, Job.status.in_(states.ACTIVE))
    )
    return Usage(jobs=jobs or 0, images=images or 0, active_jobs=active or 0)
