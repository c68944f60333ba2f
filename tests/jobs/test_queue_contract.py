"""The queue contract, run against every backend: leases, redelivery, batches, priorities, depth.

SQLite on a temporary file, Redis on the local server (a fresh key prefix per test), SQS on
moto's server (fresh queue names per test). Where a backend cannot keep a promise the others
keep, the test says so and skips it for that backend only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from craftgen.jobs.backends import open_queue
from craftgen.jobs.queue import PRIORITY_FREE, PRIORITY_PRO, JobQueue
from craftgen.jobs.queue_redis import RedisQueue
from craftgen.jobs.queue_sqs import SqsQueue
from tests.conftest import REDIS_URL, require_service


@dataclass
class Backend:
    name: str
    open: Callable[..., JobQueue]  # open(max_deliveries=None): a fresh, empty queue
    tick: float  # a lease or delay the backend honours: SQS counts whole seconds

    def skip_for(self, *names: str, reason: str) -> None:
        if self.name in names:
            pytest.skip(f"{self.name}: {reason}")


@pytest.fixture(params=["sqlite", "redis", "sqs"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    opened: list[JobQueue] = []

    def open_sqlite(max_deliveries: int | None = None) -> JobQueue:
        if max_deliveries is not None:
            pytest.skip("sqlite: SqliteQueue has no max_deliveries (dead-letter) setting yet")
        return open_queue("", database_url=f"sqlite:///{tmp_path / f'queue-{len(opened)}.db'}")

    def open_redis(max_deliveries: int | None = None) -> JobQueue:
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        return open_queue(f"{REDIS_URL}?prefix={prefix}&max_deliveries={max_deliveries or 10}", database_url="")

    def open_sqs(max_deliveries: int | None = None) -> JobQueue:
        name = f"test-{uuid.uuid4().hex[:12]}"
        url = f"sqs://{name}?region=us-east-1&endpoint={endpoint}&wait=0&max_deliveries={max_deliveries or 10}"
        return open_queue(url, database_url="")

    if request.param == "redis":
        require_service("redis", 6379)
    if request.param == "sqs":
        endpoint = request.getfixturevalue("moto_endpoint")
    make = {"sqlite": open_sqlite, "redis": open_redis, "sqs": open_sqs}[request.param]

    def tracked(max_deliveries: int | None = None) -> JobQueue:
        queue = make(max_deliveries)
        opened.append(queue)
        return queue

    yield Backend(name=request.param, open=tracked, tick=1.0 if request.param == "sqs" else 0.2)
    for queue in opened:
        if isinstance(queue, RedisQueue):
            keys = list(queue.client.scan_iter(f"{queue.prefix}:*"))
            if keys:
                queue.client.delete(*keys)
        if isinstance(queue, SqsQueue):
            for url in [*queue.urls.values(), queue.dead_url]:
                queue.client.delete_queue(QueueUrl=url)
        close = getattr(queue, "close", None)
        if close is not None:
            close()


@pytest.fixture()
def queue(backend: Backend) -> JobQueue:
    return backend.open()


# Leases ---------------------------------------------------------------------------------------


def test_claim_ack_removes_the_job(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w1", max_items=4, lease_seconds=30)
    assert (delivery.job_id, delivery.deliveries) == ("a", 1)
    assert queue.claim(worker="w2", max_items=4, lease_seconds=30) == [], "leased jobs are invisible"
    queue.ack(delivery)
    assert queue.depth().in_flight == {} and queue.depth().visible == {}


def test_enqueue_is_idempotent(queue: JobQueue) -> None:
    # SQS keeps both messages; a claim that meets a job twice keeps one and deletes the other.
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    assert len(queue.claim(worker="w", max_items=10, lease_seconds=30)) == 1
    assert queue.claim(worker="w", max_items=10, lease_seconds=30) == []


def test_an_expired_lease_is_delivered_again(backend: Backend, queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.claim(worker="w1", max_items=1, lease_seconds=backend.tick)
    time.sleep(backend.tick * 1.5)
    (second,) = queue.claim(worker="w2", max_items=1, lease_seconds=30)
    assert second.job_id == "a" and second.deliveries == 2
    assert queue.depth().in_flight == {PRIORITY_FREE: 1}
    queue.ack(second)
    assert queue.depth().in_flight == {}


def test_a_stale_holder_cannot_ack_renew_or_release(backend: Backend, queue: JobQueue) -> None:
    backend.skip_for(
        "sqs",
        reason="an earlier receipt handle still deletes or extends the message (moto#4655, checked "
        "against AWS); the worker's conditional write on the job row keeps the result single",
    )
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (first,) = queue.claim(worker="w1", max_items=1, lease_seconds=backend.tick)
    time.sleep(backend.tick * 1.5)
    assert len(queue.claim(worker="w2", max_items=1, lease_seconds=backend.tick)) == 1
    # w1 woke up late: none of this may touch w2's lease.
    queue.renew([first], lease_seconds=30)
    queue.release(first)
    queue.ack(first)
    assert queue.depth().in_flight == {PRIORITY_FREE: 1}
    time.sleep(backend.tick * 1.5)  # w2's lease was not stretched by w1's renew
    (third,) = queue.claim(worker="w3", max_items=1, lease_seconds=30)
    assert third.deliveries == 3


def test_renew_keeps_the_lease(backend: Backend, queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    deliveries = queue.claim(worker="w1", max_items=1, lease_seconds=backend.tick * 1.5)
    for _ in range(3):
        time.sleep(backend.tick * 0.75)
        queue.renew(deliveries, lease_seconds=backend.tick * 1.5)
    assert queue.claim(worker="w2", max_items=1, lease_seconds=30) == []
    queue.ack(deliveries[0])
    assert queue.depth().in_flight == {}


def test_release_makes_it_visible_after_the_delay(backend: Backend, queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w1", max_items=1, lease_seconds=30)
    queue.release(delivery, delay=backend.tick)
    assert queue.claim(worker="w2", max_items=1, lease_seconds=30) == []
    time.sleep(backend.tick * 1.5)
    (again,) = queue.claim(worker="w2", max_items=1, lease_seconds=30)
    assert again.deliveries == 2


def test_release_without_delay_is_visible_at_once(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w1", max_items=1, lease_seconds=30)
    queue.release(delivery)
    assert queue.depth().visible == {PRIORITY_FREE: 1}
    (again,) = queue.claim(worker="w2", max_items=1, lease_seconds=30)
    assert (again.job_id, again.deliveries) == ("a", 2)


def test_a_job_is_dead_lettered_after_n_deliveries(backend: Backend) -> None:
    queue = backend.open(max_deliveries=2)
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.enqueue("b", priority=PRIORITY_FREE, batch_key="k")
    for attempt in (1, 2):
        batch = queue.claim(worker="w", max_items=2, lease_seconds=30)
        assert [(d.job_id, d.deliveries) for d in batch] == [("a", attempt), ("b", 1)]
        queue.ack(batch[1])  # b finishes; a keeps coming back (it kills its worker, say)
        queue.enqueue("b", priority=PRIORITY_FREE, batch_key="k")
        queue.release(batch[0])
    batch = queue.claim(worker="w", max_items=2, lease_seconds=30)
    assert [(d.job_id, d.deliveries) for d in batch] == [("b", 1)], "a is not handed out a third time"
    queue.ack(batch[0])
    assert queue.depth().visible == {} and queue.depth().in_flight == {}
    # The reaper takes the dead letter (to mark its job failed), then forgets it: gone for good.
    letters = queue.take_dead(max_items=10)
    assert [letter.job_id for letter in letters] == ["a"] and letters[0].reason
    queue.forget_dead(letters[0])
    assert queue.take_dead(max_items=10) == []


# Batches and priorities ---------------------------------------------------------------------


def test_a_batch_shares_one_key(queue: JobQueue) -> None:
    for job, key in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x"), ("e", "x")]:
        queue.enqueue(job, priority=PRIORITY_FREE, batch_key=key)
    batch = queue.claim(worker="w", max_items=3, lease_seconds=30)
    assert [d.job_id for d in batch] == ["a", "c", "d"]
    assert [d.job_id for d in queue.claim(worker="w", max_items=3, lease_seconds=30)] == ["b"]


def test_a_claim_for_a_named_key_tops_up_a_batch_and_leaves_the_rest(backend: Backend, queue: JobQueue) -> None:
    # A worker holding a batch of key "x" waits a moment and takes only more of "x", even where
    # an older job of another key (or a pro job of another key) waits.
    for job, key, priority in [("a", "y", PRIORITY_FREE), ("b", "x", PRIORITY_FREE), ("c", "z", PRIORITY_PRO)]:
        queue.enqueue(job, priority=priority, batch_key=key)
    assert queue.claim(worker="w", max_items=2, lease_seconds=30, batch_key="q") == []
    (more,) = queue.claim(worker="w", max_items=2, lease_seconds=30, batch_key="x")
    assert (more.job_id, more.batch_key) == ("b", "x")
    if backend.name != "sqs":  # on SQS every receive counts, the empty-handed one above too
        assert more.deliveries == 1
    assert queue.claim(worker="w", max_items=2, lease_seconds=30, batch_key="x") == []
    # The others are still there, in their usual order.
    order = [queue.claim(worker="w", max_items=1, lease_seconds=30)[0].job_id for _ in range(2)]
    assert order == ["c", "a"]


def test_entries_left_out_of_a_batch_do_not_count_a_delivery(backend: Backend, queue: JobQueue) -> None:
    backend.skip_for("sqs", reason="every message a receive returns counts in ApproximateReceiveCount")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="x")
    queue.enqueue("b", priority=PRIORITY_FREE, batch_key="y")
    assert [d.job_id for d in queue.claim(worker="w1", max_items=2, lease_seconds=30)] == ["a"]
    (other,) = queue.claim(worker="w2", max_items=2, lease_seconds=30)
    assert (other.job_id, other.deliveries) == ("b", 1)


def test_pro_jobs_are_claimed_before_free_ones(queue: JobQueue) -> None:
    queue.enqueue("free-1", priority=PRIORITY_FREE, batch_key="a")
    queue.enqueue("pro-1", priority=PRIORITY_PRO, batch_key="b")
    queue.enqueue("free-2", priority=PRIORITY_FREE, batch_key="c")
    order = [queue.claim(worker="w", max_items=1, lease_seconds=30)[0].job_id for _ in range(3)]
    assert order == ["pro-1", "free-1", "free-2"]


def test_concurrent_claims_hand_each_job_to_one_worker(queue: JobQueue) -> None:
    jobs = [f"j{i}" for i in range(40)]
    for index, job in enumerate(jobs):
        queue.enqueue(job, priority=index % 2, batch_key=f"k{index % 3}")
    claimed: list[str] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        while batch := queue.claim(worker=worker, max_items=4, lease_seconds=30):
            assert len({d.batch_key for d in batch}) == 1
            with lock:
                claimed.extend(d.job_id for d in batch)
            for delivery in batch:
                queue.ack(delivery)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(jobs)


# Depth and removal --------------------------------------------------------------------------


def test_depth_counts_visible_and_in_flight_per_priority(queue: JobQueue) -> None:
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k1")
    queue.enqueue("b", priority=PRIORITY_FREE, batch_key="k2")
    queue.enqueue("c", priority=PRIORITY_PRO, batch_key="k3")
    queue.claim(worker="w", max_items=1, lease_seconds=30)  # takes the pro job
    depth = queue.depth()
    assert depth.visible == {PRIORITY_FREE: 2}
    assert depth.in_flight == {PRIORITY_PRO: 1}
    assert depth.oldest_visible_age >= 0


def test_depth_reports_the_oldest_wait(backend: Backend, queue: JobQueue) -> None:
    backend.skip_for("sqs", reason="the oldest message's age is a CloudWatch metric, not in the SQS API")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    time.sleep(0.3)
    queue.enqueue("b", priority=PRIORITY_PRO, batch_key="k")
    assert 0.3 <= queue.depth().oldest_visible_age < 5
    for delivery in queue.claim(worker="w", max_items=2, lease_seconds=30):
        queue.ack(delivery)
    assert queue.depth().oldest_visible_age == 0


def test_remove_drops_a_queued_job(backend: Backend, queue: JobQueue) -> None:
    backend.skip_for("sqs", reason="SQS cannot delete a message by content; the worker acks canceled jobs")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    queue.remove("a")
    assert queue.claim(worker="w", max_items=1, lease_seconds=30) == []


def test_remove_drops_a_leased_job_and_enqueue_works_again(backend: Backend, queue: JobQueue) -> None:
    backend.skip_for("sqs", reason="SQS cannot delete a message by content; the worker acks canceled jobs")
    queue.enqueue("a", priority=PRIORITY_FREE, batch_key="k")
    (delivery,) = queue.claim(worker="w", max_items=1, lease_seconds=30)
    queue.remove("a")
    queue.remove("a")
    queue.ack(delivery)  # the holder finishing later is harmless
    assert queue.depth().visible == {} and queue.depth().in_flight == {}
    queue.enqueue("a", priority=PRIORITY_PRO, batch_key="k")
    (again,) = queue.claim(worker="w", max_items=1, lease_seconds=30)
    assert (again.job_id, again.priority, again.deliveries) == ("a", PRIORITY_PRO, 1)
