"""Prometheus metrics computed from the database and the queue at scrape time.

Nothing is counted in process memory, so every API replica reports the same numbers and a
restart loses nothing. The collector lives on a per-app registry, not the global one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from sqlalchemy import ColumnElement, SQLColumnExpression, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from craftgen.db.tables import Job
from craftgen.jobs import states
from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO, JobQueue

PRIORITY_LABELS = {PRIORITY_PRO: "pro", PRIORITY_FREE: "free"}
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0)
ALL_STATES = (*states.ACTIVE, *states.TERMINAL)


def _label(priority: int) -> str:
    return PRIORITY_LABELS.get(priority, str(priority))


class JobMetrics:
    """A prometheus_client collector: job counts, queue depth, durations and batch sizes."""

    def __init__(self, *, sessions: sessionmaker[Session], queue: JobQueue) -> None:
        self.sessions = sessions
        self.queue = queue

    def collect(self) -> Iterable[Metric]:
        # 1. Jobs by status and priority (every pair, so a series never vanishes at zero).
        with self.sessions() as session:
            counts = {
                (status, priority): count
                for status, priority, count in session.execute(
                    select(Job.status, Job.priority, func.count()).group_by(Job.status, Job.priority)
                ).all()
            }
            succeeded = Job.status == states.SUCCEEDED
            durations = _histogram(
                session,
                Job.finished_at - Job.started_at,
                DURATION_BUCKETS,
                succeeded,
                Job.started_at.is_not(None),
                Job.finished_at.is_not(None),
            )
            batches = _histogram(session, Job.batch_size, BATCH_BUCKETS, succeeded, Job.batch_size.is_not(None))
        jobs = GaugeMetricFamily(
            "craftgen_jobs", "Jobs in the jobs table by status and priority.", labels=["status", "priority"]
        )
        for status in ALL_STATES:
            for priority in PRIORITY_LABELS:
                jobs.add_metric([status, _label(priority)], counts.pop((status, priority), 0))
        for (status, priority), count in sorted(counts.items()):
            jobs.add_metric([status, _label(priority)], count)
        yield jobs
        # 2. The queue, as an autoscaler sees it.
        depth = self.queue.depth()
        visible = GaugeMetricFamily("craftgen_queue_visible", "Jobs waiting to be claimed.", labels=["priority"])
        in_flight = GaugeMetricFamily("craftgen_queue_in_flight", "Jobs leased to a worker.", labels=["priority"])
        for priority in sorted({*PRIORITY_LABELS, *depth.visible, *depth.in_flight}):
            visible.add_metric([_label(priority)], depth.visible.get(priority, 0))
            in_flight.add_metric([_label(priority)], depth.in_flight.get(priority, 0))
        yield visible
        yield in_flight
        yield GaugeMetricFamily(
            "craftgen_queue_oldest_age_seconds",
            "Seconds the oldest waiting job has waited.",
            value=depth.oldest_visible_age,
        )
        # 3. Histograms over finished jobs.
        yield _family("craftgen_job_duration_seconds", "Run time of succeeded jobs (start to finish).", durations)
        yield _family("craftgen_batch_size", "Jobs per engine call, over succeeded jobs.", batches)


_Histogram = tuple[Sequence[tuple[str, float]], float]


def _histogram(
    session: Session, value: SQLColumnExpression[float | None], buckets: Sequence[float], *where: ColumnElement[bool]
) -> _Histogram:
    """Cumulative bucket counts and the sum, in one SQL query (no rows come back to Python)."""
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(value), 0),
            *(func.coalesce(func.sum(case((value <= bound, 1), else_=0)), 0) for bound in buckets),
        ).where(*where)
    ).one()
    count, total, *cumulative = row
    pairs = [(floatToGoString(bound), float(n)) for bound, n in zip(buckets, cumulative, strict=True)]
    pairs.append(("+Inf", float(count)))
    return pairs, float(total)


def _family(name: str, documentation: str, histogram: _Histogram) -> HistogramMetricFamily:
    buckets, total = histogram
    return HistogramMetricFamily(name, documentation, buckets=list(buckets), sum_value=total)


def metrics_registry(*, sessions: sessionmaker[Session], queue: JobQueue) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(JobMetrics(sessions=sessions, queue=queue))
    return registry
