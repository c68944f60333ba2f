"""The queue contract, run against every backend: leases, redelivery, batches, priorities, depth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO, JobQueue, open_queue


@pytest.fixture(params=["sqlite"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobQueue]:
    yield open_queue("", database_url=f"sqlite:///{tmp_path / 'queue.db'}")


def test_claim_ack_removes_the_job(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w1", max_items=4, lease_seconds=30)
    assert (delivery.job_id, delivery.deliveries) == ("a", 1)
    assert queue.claim(worker="w2", max_items=4, lease_seconds=30) == [], "leased jobs are invisible"
    queue.ack(delivery)
    assert queue.depth().in_flight == {} and queue.depth().visible == {}


def test_enqueue_is_idempotent(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    assert len(queue.claim(worker="w", max_items=10, lease_seconds=30)) == 1


def test_an_expired_lease_is_delivered_again_and_the_stale_holder_cannot_ack(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (first,) = queue.claim(worker="w1", max_items=1, lease_seconds=0.2)
    time.sleep(0.3)
    (second,) = queue.claim(worker="w2", max_items=1, lease_seconds=30)
    assert second.job_id == "a" and second.deliveries == 2
    queue.ack(first)  # w1 woke up late: its ack must not remove w2's lease
    assert queue.depth().in_flight == {PRIORITY_FREE: 1}
    queue.ack(second)
    assert queue.depth().in_flight == {}


def test_renew_keeps_the_lease(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    deliveries = queue.claim(worker="w1", max_items=1, lease_seconds=0.3)
    for _ in range(3):
        time.sleep(0.15)
        queue.renew(deliveries, lease_seconds=0.3)
    assert queue.claim(worker="w2", max_items=1, lease_seconds=30) == []


def test_release_makes_it_visible_after_the_delay(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w1", max_items=1, lease_seconds=30)
    queue.release(delivery, delay=0.2)
    assert queue.claim(worker="w2", max_items=1, lease_seconds=30) == []
    time.sleep(0.3)
    (again,) = queue.claim(worker="w2", max_items=1, lease_seconds=30)
    assert again.deliveries == 2


def test_a_batch_shares_one_key(queue: JobQueue) -> None:
    for job, key in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x"), ("e", "x")]:
        queue.enqueue(job, priority=PRIORITY_FREE, batch_key=key)
    batch = queue.claim(worker="w", max_items=3, lease_seconds=30)
    assert [d.job_id for d in batch] == ["a", "c", "d"]
    assert [d.job_id for d in queue.claim(worker="w", max_items=3, lease_seconds=30)] == ["b"]


def test_pro_jobs_are_claimed_before_free_ones(queue: JobQueue) -> None:
    queue.enqueue("free-1", priority=PRIORITY_FREE, batch_key="a")
    queue.enqueue("pro-1", priority=PRIORITY_PRO, batch_key="b")
    queue.enqueue("free-2", priority=PRIORITY_FREE, batch_key="c")
    order = [queue.claim(worker="w", max_items=1, lease_seconds=30)[0].job_id for _ in range(3)]
    assert order == ["pro-1", "free-1", "free-2"]


def test_depth_counts_visible_and_in_flight_per_priority(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k1")
    queue.enqueue("b", priority=PRIORITY_FREE, batch_key="k2")
    queue.enqueue("c", priority=PRIORITY_PRO, batch_key="k3")
    queue.claim(worker="w", max_items=1, lease_seconds=30)  # takes the pro job
    depth = queue.depth()
    assert depth.visible == {PRIORITY_FREE: 2}
    assert depth.in_flight == {PRIORITY_PRO: 1}
    assert depth.oldest_visible_age >= 0


def test_remove_drops_a_queued_job(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.remove("a")
    assert queue.claim(worker="w", max_items=1, lease_seconds=30) == []
