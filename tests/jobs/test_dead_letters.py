"""A job the queue dead-letters (handed out too often) is marked failed, credits back, not left queued."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import User
from craftgen.engine.requests import parse_request
from craftgen.jobs import states
from craftgen.jobs.middleware import DeadLetterSweep
from craftgen.jobs.queue_redis import RedisQueue
from craftgen.runtime import build_runtime
from tests.conftest import REDIS_URL, require_service
from tests.jobs.conftest import make_worker


def test_a_dead_lettered_job_is_failed_and_refunded(tmp_path: Path) -> None:
    require_service("redis", 6379)
    prefix = f"test-dead-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path / "data",
        queue_url=f"{REDIS_URL}?prefix={prefix}&max_deliveries=2",
        default_size=128,
        default_steps=3,
    )
    runtime = build_runtime(settings)
    queue = runtime.queue
    assert isinstance(queue, RedisQueue)
    try:
        user = create_user(runtime.sessions, name="pat", plan="pro")[0]
        job_id = runtime.jobs.submit(user, parse_request(dict(tool="text", prompt="a cat", num_images=2))).id
        with runtime.sessions() as session:
            charged = session.scalar(select(User.credits).where(User.id == user.id))
        # 1. Handed out twice and handed back each time (a worker that keeps dying before it
        #    starts the job, say): the queue dead-letters it on the third claim.
        for _ in range(2):
            (delivery,) = queue.claim(worker="w", max_items=1, lease_seconds=30)
            queue.release(delivery)
        assert queue.claim(worker="w", max_items=1, lease_seconds=30) == []
        assert runtime.jobs.get(user.id, job_id).status == states.QUEUED, "stuck, until a worker settles it"
        # 2. A worker's sweep fails it with a reason, gives the credits back, and empties the dead letters.
        (sweep,) = [m for m in make_worker(runtime).middleware if isinstance(m, DeadLetterSweep)]
        assert sweep.settle() == 1
        view = runtime.jobs.get(user.id, job_id)
        assert view.status == states.FAILED and view.error is not None
        assert view.error["code"] == "gave_up" and "delivered 2 times" in view.error["message"]
        with runtime.sessions() as session:
            assert session.scalar(select(User.credits).where(User.id == user.id)) == charged + 2
        assert queue.take_dead(max_items=10) == []
        assert sweep.settle() == 0
    finally:
        for key in queue.client.scan_iter(f"{prefix}:*"):
            queue.client.delete(key)
        runtime.db.dispose()
