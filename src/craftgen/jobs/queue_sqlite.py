"""The embedded queue: a lease table in SQLite (WAL). A claim is one write transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update

from craftgen.db.session import make_engine, make_sessions, transaction
from craftgen.db.tables import QueueEntry
from craftgen.jobs.queue import DeadLetter, Delivery, QueueDepth


def _receipt(worker: str, deliveries: int) -> str:
    return f"{worker}#{deliveries}"


class SqliteQueue:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        QueueEntry.__table__.create(self.engine, checkfirst=True)  # type: ignore[attr-defined]
        self.sessions = make_sessions(self.engine)

    def enqueue(self, job_id: str, *, priority: int, batch_key: str) -> None:
        with transaction(self.sessions) as session:
            exists = session.scalar(select(QueueEntry.seq).where(QueueEntry.job_id == job_id))
            if exists is None:
                session.add(QueueEntry(job_id=job_id, priority=priority, batch_key=batch_key))

    def claim(
        self, *, worker: str, max_items: int, lease_seconds: float, batch_key: str | None = None
    ) -> list[Delivery]:
        if max_items < 1:
            return []
        now = time.time()
        with transaction(self.sessions) as session:
            # 1. The job that has waited longest at the highest priority sets the batch key.
            if batch_key is None:
                first = session.scalars(
                    select(QueueEntry)
                    .where(QueueEntry.lease_until < now)
                    .order_by(QueueEntry.priority.desc(), QueueEntry.seq)
                    .limit(1)
                ).first()
                if first is None:
                    return []
                batch_key = first.batch_key
            # 2. Fill the batch with others that share it, in the same order.
            entries = session.scalars(
                select(QueueEntry)
                .where(QueueEntry.lease_until < now, QueueEntry.batch_key == batch_key)
                .order_by(QueueEntry.priority.desc(), QueueEntry.seq)
                .limit(max_items)
            ).all()
            # 3. Lease them to this worker.
            for entry in entries:
                entry.lease_owner = worker
                entry.lease_until = now + lease_seconds
                entry.deliveries += 1
            return [
                Delivery(
                    job_id=entry.job_id,
                    receipt=_receipt(worker, entry.deliveries),
                    deliveries=entry.deliveries,
                    batch_key=entry.batch_key,
                    priority=entry.priority,
                )
                for entry in entries
            ]

    def _held(self, delivery: Delivery):  # type: ignore[no-untyped-def]
        """Only the current holder may renew, ack or release (a stale worker is ignored)."""
        worker, _, count = delivery.receipt.rpartition("#")
        return (
            QueueEntry.job_id == delivery.job_id,
            QueueEntry.lease_owner == worker,
            QueueEntry.deliveries == int(count),
        )

    def renew(self, deliveries: Sequence[Delivery], *, lease_seconds: float) -> None:
        until = time.time() + lease_seconds
        with transaction(self.sessions) as session:
            for delivery in deliveries:
                session.execute(update(QueueEntry).where(*self._held(delivery)).values(lease_until=until))

    def ack(self, delivery: Delivery) -> None:
        with transaction(self.sessions) as session:
            session.execute(delete(QueueEntry).where(*self._held(delivery)))

    def release(self, delivery: Delivery, *, delay: float = 0.0) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(QueueEntry)
                .where(*self._held(delivery))
                .values(lease_owner=None, lease_until=time.time() + delay)
            )

    def remove(self, job_id: str) -> None:
        with transaction(self.sessions) as session:
            session.execute(delete(QueueEntry).where(QueueEntry.job_id == job_id))

    def missing(self, job_ids: Sequence[str]) -> set[str]:
        with self.sessions() as session:
            held = set(session.scalars(select(QueueEntry.job_id).where(QueueEntry.job_id.in_(list(job_ids)))))
        return set(job_ids) - held

    def take_dead(self, *, max_items: int) -> list[DeadLetter]:
        return []  # no dead letters here: the worker's own attempt limit gives jobs up

    def forget_dead(self, letter: DeadLetter) -> None:
        return None

    def depth(self) -> QueueDepth:
        now = time.time()
        with self.sessions() as session:
            rows = session.execute(
                select(
                    QueueEntry.priority,
                    QueueEntry.lease_until < now,
                    func.count(),
                    func.min(QueueEntry.enqueued_at),
                ).group_by(QueueEntry.priority, QueueEntry.lease_until < now)
            ).all()
        visible: dict[int, int] = {}
        in_flight: dict[int, int] = {}
        oldest = now
        for priority, is_visible, count, first_at in rows:
            target = visible if is_visible else in_flight
            target[priority] = target.get(priority, 0) + count
            if is_visible:
                oldest = min(oldest, first_at)
        return QueueDepth(visible=visible, in_flight=in_flight, oldest_visible_age=max(0.0, now - oldest))

    def check(self) -> None:
        with self.sessions() as session:
            session.execute(select(1))
