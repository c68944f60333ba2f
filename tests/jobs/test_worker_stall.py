"""A hung worker lets go of its jobs; a slow but stepping one keeps them; the alive file tells which."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from craftgen.db.tables import User
from craftgen.engine.requests import parse_request
from craftgen.runtime import Runtime
from tests.jobs.conftest import make_worker

BATCH_SECONDS = 1.6
LEASE = 0.6


def _slow_batch(*, steps: bool) -> Callable[..., list]:
    """A batch that takes BATCH_SECONDS, reporting a step every 0.1 s or (hung) never; then fails
    loudly, since only what happens while it runs matters here."""

    def run_batch(items: list, progress: Callable[[int, int], None] | None = None) -> list:
        ticks = int(BATCH_SECONDS / 0.1)
        for tick in range(ticks):
            time.sleep(0.1)
            if steps and progress is not None:
                progress(tick, ticks)
        raise RuntimeError("the test's slow batch ends here")

    return run_batch


@pytest.mark.parametrize("hung", [True, False], ids=["hung", "slow-but-stepping"])
def test_a_hung_worker_lets_its_jobs_go_and_stops_looking_alive(
    runtime: Runtime, pro: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung: bool
) -> None:
    job_id = runtime.jobs.submit(pro, parse_request(dict(tool="text", prompt="a cat", seed=1))).id
    alive = tmp_path / "alive"
    monkeypatch.setattr(runtime.engine, "run_batch", _slow_batch(steps=not hung))
    worker = make_worker(
        runtime,
        "w1",
        lease_seconds=LEASE,
        stall_seconds=0.4,
        alive_file=str(alive),
        max_attempts=5,
        progress_interval=0,
    )
    running = threading.Thread(target=worker.run_once)
    running.start()
    try:
        time.sleep(0.7)  # a hung worker has stopped stepping for longer than stall_seconds by now
        touched = alive.stat().st_mtime if alive.exists() else 0.0
        time.sleep(0.5)  # past any lease renewed before the stall; the batch is still running
        taken = runtime.queue.claim(worker="w2", max_items=1, lease_seconds=30)
        now_touched = alive.stat().st_mtime if alive.exists() else 0.0
    finally:
        running.join()
    if hung:
        # Nothing stepped for longer than stall_seconds: the leases lapsed, another worker has it.
        assert [delivery.job_id for delivery in taken] == [job_id]
        assert now_touched == touched, "a hung worker must not look alive"
    else:
        # Slow but stepping: the heartbeat kept the lease, and the alive file stays fresh.
        assert taken == []
        assert now_touched > touched > 0
        assert time.time() - os.path.getmtime(alive) < 1.0
