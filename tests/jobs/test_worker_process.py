"""Real worker processes: SIGKILL mid-job loses nothing and yields exactly one result; SIGTERM
lets the batch in hand finish and exits cleanly; queued jobs survive a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import ImageRow, Job
from craftgen.engine.requests import parse_request
from craftgen.jobs import states
from craftgen.runtime import Runtime, build_runtime

SLOW_JOB = {"tool": "text", "prompt": "a slow cat", "width": 512, "height": 512, "steps": 40, "seed": 3}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CRAFTGEN_DATA_DIR": str(data_dir),
        "CRAFTGEN_LEASE_SECONDS": "3",
        "CRAFTGEN_POLL_INTERVAL": "0.1",
        "CRAFTGEN_PROGRESS_INTERVAL": "0.1",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


def _start_worker(data_dir: Path, name: str) -> subprocess.Popen[bytes]:
    with open(data_dir.parent / f"{name}.log", "wb") as log:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "craftgen.cli", "worker", "--name", name],
            env=_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_for(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _runtime(data_dir: Path) -> Runtime:
    return build_runtime(Settings(data_dir=data_dir))


def _job(runtime: Runtime, job_id: str) -> Job:
    with runtime.sessions() as session:
        job = session.scalar(select(Job).where(Job.id == job_id))
        assert job is not None
        return job


def test_sigkill_mid_job_then_a_new_worker_finishes_it_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = _runtime(data)
    user = create_user(runtime.sessions, name="kim", plan="pro")[0]
    job_id = runtime.jobs.submit(user, parse_request(SLOW_JOB)).id

    first = _start_worker(data, "first")
    try:
        _wait_for(lambda: _job(runtime, job_id).progress > 0.05, timeout=120, what="the job to start running")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _job(runtime, job_id).status == states.RUNNING, "killed mid-job"

    second = _start_worker(data, "second")
    try:
        _wait_for(lambda: _job(runtime, job_id).status in states.TERMINAL, timeout=180, what="the job to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)

    job = _job(runtime, job_id)
    assert job.status == states.SUCCEEDED and job.attempts == 2
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ImageRow).where(ImageRow.job_id == job_id)) == 1
    assert runtime.store.list(f"jobs/{job_id}/") == [f"jobs/{job_id}/2/text-0.png"]
    assert second.returncode == 0, "SIGTERM exits cleanly"


def test_sigterm_finishes_the_batch_in_hand_then_exits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = _runtime(data)
    user = create_user(runtime.sessions, name="sam", plan="pro")[0]
    job_id = runtime.jobs.submit(user, parse_request(SLOW_JOB)).id
    queued = runtime.jobs.submit(user, parse_request({**SLOW_JOB, "steps": 3, "width": 128, "height": 128})).id

    worker = _start_worker(data, "term")
    try:
        _wait_for(lambda: _job(runtime, job_id).progress > 0.05, timeout=120, what="the job to start running")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=120) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert _job(runtime, job_id).status == states.SUCCEEDED, "the job in hand was finished"
    assert _job(runtime, queued).status == states.QUEUED, "no new job was claimed after SIGTERM"
    assert runtime.queue.depth().visible == {1: 1}, "and it is still in the queue for the next worker"
