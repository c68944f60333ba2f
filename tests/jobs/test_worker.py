"""The worker: batches across users, exactly one result per job, poison jobs contained."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from craftgen.db.tables import ImageRow, Job, User
from craftgen.engine.requests import parse_request
from craftgen.jobs import states
from craftgen.runtime import Runtime
from tests.jobs.conftest import make_worker


def _submit(runtime: Runtime, user: User, **fields) -> str:
    fields = {"tool": "text", "prompt": "a cat", "seed": 1, **fields}
    return runtime.jobs.submit(user, parse_request(fields)).id


def _images(runtime: Runtime, job_id: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(ImageRow).where(ImageRow.job_id == job_id)) or 0


def test_jobs_of_several_users_share_one_batch(runtime: Runtime, pro: User) -> None:
    from craftgen.accounts import create_user

    other = create_user(runtime.sessions, name="olu", plan="pro")[0]
    ids = [_submit(runtime, pro, num_images=2), _submit(runtime, other), _submit(runtime, pro, seed=5)]
    assert make_worker(runtime).run_once() == 3
    for job_id in ids:
        view = runtime.jobs.get(pro.id if job_id != ids[1] else other.id, job_id)
        assert view.status == states.SUCCEEDED
    with runtime.sessions() as session:
        assert set(session.scalars(select(Job.batch_size)).all()) == {3}


def test_a_late_worker_cannot_finish_a_job_twice(runtime: Runtime, pro: User) -> None:
    job_id = _submit(runtime, pro)
    slow = make_worker(runtime, "slow", lease_seconds=0.2)
    (stale,) = runtime.queue.claim(worker="slow", max_items=1, lease_seconds=0.2)
    slow_job = slow._start(stale)
    assert slow_job is not None and slow._prepare(slow_job)
    (result,) = slow._execute([slow_job])
    time.sleep(0.3)  # the slow worker stalls before storing: its lease runs out
    assert make_worker(runtime, "fast").run_once() == 1
    # The slow one wakes up and finishes: its write is refused and its files removed.
    slow._complete(slow_job, result, batch_size=1)

    view = runtime.jobs.get(pro.id, job_id)
    assert view.status == states.SUCCEEDED and len(view.outputs) == 1
    assert _images(runtime, job_id) == 1
    assert runtime.store.list(f"jobs/{job_id}/") == [f"jobs/{job_id}/2/text-0.png"]


def test_a_worker_that_lost_its_job_stops_at_its_next_report(runtime: Runtime, pro: User) -> None:
    from craftgen.errors import Canceled

    _submit(runtime, pro)
    slow = make_worker(runtime, "slow", progress_interval=0)
    (stale,) = runtime.queue.claim(worker="slow", max_items=1, lease_seconds=0.01)
    slow_job = slow._start(stale)
    assert slow_job is not None and slow._prepare(slow_job)
    time.sleep(0.05)
    taker = make_worker(runtime, "taker")
    (fresh,) = runtime.queue.claim(worker="taker", max_items=1, lease_seconds=30)
    assert taker._start(fresh) is not None  # attempt 2 is running elsewhere
    with pytest.raises(Canceled):
        slow._execute([slow_job])


def test_a_poison_job_fails_after_n_attempts_and_others_still_run(runtime: Runtime, pro: User, monkeypatch) -> None:
    good = _submit(runtime, pro, prompt="good")
    bad = _submit(runtime, pro, prompt="poison")
    engine = runtime.engine
    original = engine.run_batch

    def run_batch(items, progress=None):
        if any(item.request.prompt == "poison" for item in items):
            raise RuntimeError("out of memory")
        return original(items, progress=progress)

    monkeypatch.setattr(engine, "run_batch", run_batch)
    worker = make_worker(runtime, max_attempts=2)
    for _ in range(4):
        worker.run_once()

    assert runtime.jobs.get(pro.id, good).status == states.SUCCEEDED
    failed = runtime.jobs.get(pro.id, bad)
    assert failed.status == states.FAILED
    assert failed.error is not None and "gave up after 2 attempts" in failed.error["message"]
    assert "out of memory" in failed.error["message"]
    assert runtime.queue.depth().visible == {} and runtime.queue.depth().in_flight == {}


def test_a_job_whose_worker_keeps_dying_is_given_up(runtime: Runtime, pro: User) -> None:
    job_id = _submit(runtime, pro)
    for n in range(3):  # three workers start it and die without a word
        doomed = make_worker(runtime, f"doomed-{n}", max_attempts=3)
        (delivery,) = runtime.queue.claim(worker=doomed.name, max_items=1, lease_seconds=0.01)
        assert doomed._start(delivery) is not None
        time.sleep(0.02)
    make_worker(runtime, max_attempts=3).run_once()
    view = runtime.jobs.get(pro.id, job_id)
    assert view.status == states.FAILED and "gave up after 3 attempts" in view.error["message"]


def test_canceling_a_running_job_stops_it(runtime: Runtime, pro: User) -> None:
    job_id = _submit(runtime, pro, steps=20)
    worker = make_worker(runtime, progress_interval=0)
    original = runtime.engine.run_batch

    def run_batch(items, progress=None):
        def cancel_then_report(done: int, total: int) -> None:
            if done == 2:
                runtime.jobs.cancel(pro.id, job_id)
            progress(done, total)

        return original(items, progress=cancel_then_report)

    runtime.engine.run_batch = run_batch  # type: ignore[method-assign]
    worker.run_once()
    view = runtime.jobs.get(pro.id, job_id)
    assert view.status == states.CANCELED and view.outputs == []
    assert runtime.store.list(f"jobs/{job_id}/") == []


def test_a_canceled_queued_job_never_runs(runtime: Runtime, pro: User) -> None:
    job_id = _submit(runtime, pro)
    runtime.jobs.cancel(pro.id, job_id)
    assert make_worker(runtime).run_once() == 0
    assert runtime.jobs.get(pro.id, job_id).status == states.CANCELED


def test_a_job_whose_upload_vanished_fails_clearly(runtime: Runtime, pro: User) -> None:
    import io

    from PIL import Image

    from craftgen.uploads import save_upload

    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), "white").save(buffer, format="PNG")
    upload = save_upload(
        runtime.sessions, runtime.store, user_id=pro.id, data=buffer.getvalue(), limits=runtime.engine.limits
    )
    job_id = _submit(runtime, pro, tool="upscale", image=upload.id, prompt="", strength=0)
    runtime.store.delete(upload.storage_key)
    make_worker(runtime).run_once()
    view = runtime.jobs.get(pro.id, job_id)
    assert view.status == states.FAILED and view.error["code"] == "not_found"


@pytest.mark.parametrize("plan", ["free"])
def test_free_users_have_one_active_job(runtime: Runtime, free: User, plan: str) -> None:
    from craftgen.errors import QuotaExceeded

    first = _submit(runtime, free)
    with pytest.raises(QuotaExceeded, match="one job at a time"):
        _submit(runtime, free)
    make_worker(runtime).run_once()
    assert runtime.jobs.get(free.id, first).status == states.SUCCEEDED
    _submit(runtime, free)  # the first is done: the next is accepted


def test_a_submission_the_queue_cannot_take_leaves_nothing_behind(runtime: Runtime, pro: User, monkeypatch) -> None:
    from craftgen.errors import Unavailable

    def down(*args, **kwargs):
        raise ConnectionError("queue is down")

    monkeypatch.setattr(runtime.queue, "enqueue", down)
    with pytest.raises(Unavailable, match="retry"):
        runtime.jobs.submit(pro, parse_request(dict(tool="text", prompt="x")), idempotency_key="k1")
    assert runtime.jobs.list(pro.id) == []
    monkeypatch.undo()
    again = runtime.jobs.submit(pro, parse_request(dict(tool="text", prompt="x")), idempotency_key="k1")
    assert again.status == "queued"


def test_the_worker_loop_survives_an_unreachable_queue(runtime: Runtime, pro: User, monkeypatch) -> None:
    import threading

    job_id = _submit(runtime, pro)
    worker = make_worker(runtime, poll_interval=0.01)
    original = runtime.queue.claim
    calls = {"n": 0}

    def flaky_claim(**kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("queue restarting")
        return original(**kwargs)

    monkeypatch.setattr(runtime.queue, "claim", flaky_claim)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while runtime.jobs.get(pro.id, job_id).status != states.SUCCEEDED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.stop.set()
    thread.join(timeout=10)
    assert calls["n"] > 2
