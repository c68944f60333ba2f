"""Pro speed credits: a monthly allowance, refilled lazily, charged once per job, refunded once.

A credit buys one image's place ahead of free jobs (a job costs `num_images` credits). The
allowance is topped up to the full amount the first time a pro user is seen in a new calendar
month (UTC), so no scheduled task is needed. A job is charged only when it is submitted, in the
same transaction as its row, and refunded in the same transaction as its final `failed` write
(or its cancelation while still queued); redelivery and retries never touch credits. The
ledger's UNIQUE(job_id, reason) makes the database itself refuse a second charge or refund.
"""

from __future__ import annotations

import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from craftgen.db.tables import CreditLedger, Job, User

CHARGE = "charge"
REFUND = "refund"


def period_of(moment: float) -> str:
    """The credit period ("YYYY-MM", UTC) a moment falls in."""
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime.datetime, datetime.datetime]:
    """The first moment of a period and of the next one (UTC)."""
    start = datetime.datetime.strptime(period, "%Y-%m").replace(tzinfo=datetime.UTC)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, end


def job_cost(num_images: int) -> int:
    """Credits a job costs: one per image it asks for."""
    return max(1, num_images)


def balance(user: User, *, allowance: int, now: float) -> int:
    """Credits a user has right now, counting a refill that is due but not yet written."""
    if user.plan != "pro":
        return 0
    return user.credits if user.credits_period == period_of(now) else allowance


def charge_if_possible(session: Session, user: User, *, job_id: str, cost: int, allowance: int, now: float) -> int:
    """Charge `cost` credits for a job if the (locked) user has them; the credits charged (0 or cost).

    Call after the job row is flushed, inside the transaction that inserts it.
    """
    if user.plan != "pro":
        return 0
    # 1. The lazy monthly refill.
    period = period_of(now)
    if user.credits_period != period:
        user.credits, user.credits_period = allowance, period
    if user.credits < cost:
        return 0
    # 2. The charge and its ledger line, together.
    user.credits -= cost
    session.add(CreditLedger(user_id=user.id, job_id=job_id, delta=-cost, reason=CHARGE, created_at=now))
    session.flush()
    return cost


def refund(session: Session, *, job_id: str, now: float) -> int:
    """Give back what a job was charged, at most once; the credits returned (0 if none)."""
    row = session.execute(select(Job.user_id, Job.credits_charged).where(Job.id == job_id)).first()
    if row is None or row.credits_charged <= 0:
        return 0
    try:
        with session.begin_nested():  # a savepoint, so a refused duplicate leaves the transaction usable
            session.add(
                CreditLedger(
                    user_id=row.user_id, job_id=job_id, delta=row.credits_charged, reason=REFUND, created_at=now
                )
            )
    except IntegrityError:
        return 0  # refunded already
    session.execute(update(User).where(User.id == row.user_id).values(credits=User.credits + row.credits_charged))
    return int(row.credits_charged)
