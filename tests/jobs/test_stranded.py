"""No stranded jobs (#13): a job row committed `queued` whose enqueue never happened (the API
killed between the two steps) or whose queue entry was lost (deleted behind the service's back)
is enqueued again by the worker's sweep once it is older than the grace period, exactly once,
and a retry with the same Idempotency-Key enqueues it too. On SQLite and on the Redis queue."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import User
from craftgen.engine.requests import parse_request
from craftgen.jobs.middleware import StrandedJobSweep
from craftgen.jobs.queue_redis import RedisQueue
from craftgen.runtime import Runtime, build_runtime
from tests.conftest import REDIS_URL, require_service
from tests.jobs.conftest import make_worker

REQUEST = {"tool": "text", "prompt": "a gingham quilt", "width": 64, "height": 64, "steps": 2, "seed": 1}


class Killed(BaseException):
    """The API process dying between the commit and the enqueue (nothing catches it)."""


@pytest.fixture(params=["sqlite", "redis"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    if request.param == "redis":
        require_service("redis", 6379)
        queue_url = f"{REDIS_URL}?prefix=test-{uuid.uuid4().hex[:12]}"
    runtime = build_runtime(
        Settings(data_dir=tmp_path / "data", queue_url=queue_url, default_size=64, default_steps=2, device="cpu")
    )
    yield runtime
    queue = runtime.queue
    if isinstance(queue, RedisQueue):
        keys = list(queue.client.scan_iter(f"{queue.prefix}:*"))
        if keys:
            queue.client.delete(*keys)
        queue.close()
    runtime.db.dispose()


@pytest.fixture()
def user(runtime: Runtime) -> User:
    return create_user(runtime.sessions, name="fay", plan="pro")[0]


def _sweep(runtime: Runtime, *, grace: float = 0.0) -> StrandedJobSweep:
    return StrandedJobSweep(queue=runtime.queue, lifecycle=runtime.jobs.lifecycle, interval=1.0, grace=grace)


def _crashed_submission(runtime: Runtime, user: User, *, key: str | None = None) -> str:
    """Submit, with the process killed right after the row's commit: nothing is enqueued."""
    with mock.patch.object(runtime.queue, "enqueue", side_effect=Killed), pytest.raises(Killed):
        runtime.jobs.submit(user, parse_request(REQUEST), idempotency_key=key)
    (job,) = runtime.jobs.list(user.id)
    assert job.status == "queued"
    return job.id


def _held(runtime: Runtime) -> list[str]:
    """The job ids the queue would hand out now (each claimed then handed straight back)."""
    deliveries = runtime.queue.claim(worker="peek", max_items=50, lease_seconds=30)
    for delivery in deliveries:
        runtime.queue.release(delivery)
    return sorted(delivery.job_id for delivery in deliveries)


def test_a_job_stranded_between_commit_and_enqueue_is_enqueued_once_after_the_grace(
    runtime: Runtime, user: User
) -> None:
    job_id = _crashed_submission(runtime, user)
    assert _held(runtime) == []

    # 1. Within the grace period the sweep leaves it (its submission may still be under way).
    assert _sweep(runtime, grace=3600).sweep() == 0
    # 2. After it, one sweep enqueues it; two sweepers (two workers) enqueue it once between them.
    first, second = _sweep(runtime), _sweep(runtime)
    assert first.sweep() + second.sweep() == 1
    assert _held(runtime) == [job_id]
    assert first.sweep() == 0 and _held(runtime) == [job_id]
    # 3. And it runs.
    assert make_worker(runtime).run_once() == 1
    assert runtime.jobs.get(user.id, job_id).status == "succeeded"


def test_a_retry_with_the_same_idempotency_key_enqueues_a_stranded_job(runtime: Runtime, user: User) -> None:
    job_id = _crashed_submission(runtime, user, key="retry-me")

    again = runtime.jobs.submit(user, parse_request(REQUEST), idempotency_key="retry-me")

    assert again.id == job_id and again.status == "queued"
    assert _held(runtime) == [job_id]
    assert _sweep(runtime).sweep() == 0, "already enqueued: the sweep leaves it"
    assert _held(runtime) == [job_id]


def test_a_queue_entry_lost_behind_the_services_back_is_enqueued_again(runtime: Runtime, user: User) -> None:
    job_id = runtime.jobs.submit(user, parse_request(REQUEST)).id
    assert _held(runtime) == [job_id]
    queue = runtime.queue
    if isinstance(queue, RedisQueue):  # the stream entry gone (a Redis crash losing its last writes)
        for stream in queue.streams.values():
            queue.client.delete(stream)
        queue._create_groups()
    else:
        queue.remove(job_id)
    assert _held(runtime) == []

    assert _sweep(runtime, grace=3600).sweep() == 0, "too recent to judge"
    assert _sweep(runtime).sweep() == 1
    assert _held(runtime) == [job_id]
    assert _sweep(runtime).sweep() == 0 and _held(runtime) == [job_id]


def test_the_sweep_runs_with_every_worker_and_its_grace_is_a_setting(runtime: Runtime, user: User) -> None:
    worker = make_worker(runtime, stranded_grace=0.0)
    job_id = _crashed_submission(runtime, user)
    time.sleep(0.01)

    assert any(isinstance(each, StrandedJobSweep) for each in worker.middleware)
    for each in worker.middleware:  # one turn of the worker's loop: its hooks, then a claim
        each.on_loop_turn()
    assert worker.run_once() == 1
    assert runtime.jobs.get(user.id, job_id).status == "succeeded"
    assert Settings(stranded_grace_seconds=5).worker_options().stranded_grace == 5
