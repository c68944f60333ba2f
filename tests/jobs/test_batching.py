"""Dynamic batching across users and live previews, as the worker does them."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from sqlalchemy import select

from craftgen.accounts import create_user
from craftgen.db.tables import Job, User
from craftgen.engine.base import ToolInput
from craftgen.engine.engine import Engine
from craftgen.engine.preview import PreviewProgress
from craftgen.engine.requests import parse_request
from craftgen.jobs import states
from craftgen.runtime import Runtime
from tests.jobs.conftest import make_worker


def _submit(runtime: Runtime, user: User, **fields: object) -> str:
    fields = {"tool": "text", "prompt": "a cat", "seed": 1, **fields}
    return runtime.jobs.submit(user, parse_request(fields)).id


def _users(runtime: Runtime, count: int) -> list[User]:
    return [create_user(runtime.sessions, name=f"user{n}", plan="pro")[0] for n in range(count)]


def _record_calls(runtime: Runtime, monkeypatch) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Each engine call's images per job, in order."""
    calls: list[list[int]] = []
    original = runtime.engine.run_batch

    def run_batch(items: Sequence[ToolInput], progress=None):  # type: ignore[no-untyped-def]
        calls.append([item.request.num_images for item in items])
        return original(items, progress=progress)

    monkeypatch.setattr(runtime.engine, "run_batch", run_batch)
    return calls


def _batch_sizes(runtime: Runtime, ids: list[str]) -> list[int | None]:
    with runtime.sessions() as session:
        sizes = dict(session.execute(select(Job.id, Job.batch_size).where(Job.id.in_(ids))).all())
    return [sizes[job_id] for job_id in ids]


def test_jobs_arriving_within_the_window_join_the_batch(runtime: Runtime, monkeypatch) -> None:
    ada, bo, cy = _users(runtime, 3)
    calls = _record_calls(runtime, monkeypatch)
    first = _submit(runtime, ada, num_images=2)
    later: list[str] = []
    claim = runtime.queue.claim

    claimed_at: list[float] = []

    def claim_then_others_arrive(**kwargs):  # type: ignore[no-untyped-def]
        claimed = claim(**kwargs)
        claimed_at.append(time.monotonic())
        if not later:  # two other users submit just after the worker took the first job
            later.extend([_submit(runtime, bo, seed=7), _submit(runtime, cy, seed=9)])
        return claimed

    monkeypatch.setattr(runtime.queue, "claim", claim_then_others_arrive)
    # A long window, but the batch is full (3 jobs) as soon as the others arrive: no waiting it out.
    worker = make_worker(runtime, batch_size=3, batch_wait=20.0)
    assert worker.run_once() == 3
    assert claimed_at[-1] - claimed_at[0] < 10, "the full batch started without waiting out the window"

    assert calls == [[2, 1, 1]], "one diffusion call for all three users"
    assert _batch_sizes(runtime, [first, *later]) == [3, 3, 3]
    assert runtime.jobs.get(bo.id, later[0]).status == states.SUCCEEDED


def test_without_a_window_a_late_job_runs_in_the_next_batch(runtime: Runtime, monkeypatch) -> None:
    ada, bo = _users(runtime, 2)
    calls = _record_calls(runtime, monkeypatch)
    _submit(runtime, ada)
    claim = runtime.queue.claim
    arrived: list[str] = []

    def claim_then_another_arrives(**kwargs):  # type: ignore[no-untyped-def]
        claimed = claim(**kwargs)
        if not arrived:
            arrived.append(_submit(runtime, bo))
        return claimed

    monkeypatch.setattr(runtime.queue, "claim", claim_then_another_arrives)
    worker = make_worker(runtime, batch_wait=0.0)
    assert worker.run_once() == 1 and worker.run_once() == 1
    assert calls == [[1], [1]]


def test_a_batch_holds_at_most_batch_max_images(runtime: Runtime, monkeypatch) -> None:
    # A 4-image job and three single images fill a 7-image batch; the fifth job waits its turn.
    ada, bo, cy, di, ed = _users(runtime, 5)
    ids = [
        _submit(runtime, ada, num_images=4),
        _submit(runtime, bo),
        _submit(runtime, cy),
        _submit(runtime, di),
        _submit(runtime, ed),
    ]
    calls = _record_calls(runtime, monkeypatch)
    worker = make_worker(runtime, batch_size=8, batch_max_images=7, batch_wait=0.0)
    assert worker.run_once() == 4 and worker.run_once() == 1
    assert calls == [[4, 1, 1, 1], [1]]
    assert _batch_sizes(runtime, ids) == [4, 4, 4, 4, 1]


def test_a_job_that_does_not_fit_keeps_its_place_and_is_not_an_attempt(runtime: Runtime, monkeypatch) -> None:
    ada, bo, cy = _users(runtime, 3)
    ids = [_submit(runtime, ada), _submit(runtime, bo, num_images=4), _submit(runtime, cy, num_images=4)]
    calls = _record_calls(runtime, monkeypatch)
    worker = make_worker(runtime, batch_size=4, batch_max_images=6, batch_wait=0.0)
    while worker.run_once():
        pass
    assert calls == [[1, 4], [4]]
    with runtime.sessions() as session:
        rows = session.execute(select(Job.status, Job.attempts).where(Job.id.in_(ids))).all()
    assert set(rows) == {(states.SUCCEEDED, 1)}


def test_each_job_in_a_mixed_batch_gets_the_images_it_gets_alone(engine: Engine) -> None:
    def item(**fields: object) -> ToolInput:
        base = {"tool": "text", "width": 64, "height": 64, "steps": 2}
        return engine.prepare(parse_request({**base, **fields}))

    items = [
        item(prompt="a quilt of owls", num_images=4, seed=11),
        item(prompt="a fox", seed=500),
        item(prompt="a lemon sticker", seed=7),
        item(prompt="a fern", seed=2**31),
    ]
    together = engine.run_batch(items)
    for job, result in zip(items, together, strict=True):
        (alone,) = engine.run_batch([job])
        assert [o.seed for o in result.outputs] == [o.seed for o in alone.outputs]
        for mixed, solo in zip(result.outputs, alone.outputs, strict=True):
            assert mixed.image is not None and solo.image is not None
            diff = np.abs(np.asarray(mixed.image, np.int16) - np.asarray(solo.image, np.int16))
            assert diff.max() <= 1, (job.request.prompt, mixed.name, int(diff.max()))


# Previews ---------------------------------------------------------------------------------------


def _decode(url: str) -> Image.Image:
    header, data = url.split(",", 1)
    assert header == "data:image/webp;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def _watch_previews(runtime: Runtime, monkeypatch, job_ids: list[str]) -> list[dict[str, str | None]]:  # type: ignore[no-untyped-def]
    """What each step's progress wrote to the jobs' rows, read after every step."""
    seen: list[dict[str, str | None]] = []
    original = runtime.engine.run_batch

    def read() -> dict[str, str | None]:
        with runtime.sessions() as session:
            return dict(session.execute(select(Job.id, Job.preview).where(Job.id.in_(job_ids))).all())

    def run_batch(items, progress=None):  # type: ignore[no-untyped-def]
        if isinstance(progress, PreviewProgress):
            inner: Callable[..., None] = progress.report

            def report(done: int, total: int, preview) -> None:  # type: ignore[no-untyped-def]
                inner(done, total, preview)
                seen.append(read())

            return original(items, progress=PreviewProgress(report))
        return original(items, progress=lambda done, total: (progress(done, total), seen.append(read())))

    monkeypatch.setattr(runtime.engine, "run_batch", run_batch)
    return seen


def test_progress_carries_each_jobs_own_preview_while_it_runs(runtime: Runtime, monkeypatch) -> None:
    ada, bo = _users(runtime, 2)
    ids = [_submit(runtime, ada, num_images=3, prompt="owls", steps=4), _submit(runtime, bo, seed=9, steps=4)]
    seen = _watch_previews(runtime, monkeypatch, ids)
    worker = make_worker(runtime, progress_interval=0, preview_interval=0, preview_size=96, batch_wait=0)
    assert worker.run_once() == 2

    mid_run = seen[:-1]
    assert mid_run and all(step[job_id] is not None for step in mid_run for job_id in ids)
    for job_id in ids:
        image = _decode(str(mid_run[0][job_id]))
        assert max(image.size) == 96 and image.size == (96, 96)  # 128x128 job, longest side 96
    assert mid_run[0][ids[0]] != mid_run[0][ids[1]], "each job sees its own latents"
    # Finished: the images replace the preview.
    assert runtime.jobs.get(ada.id, ids[0]).preview is None
    with runtime.sessions() as session:
        assert session.scalars(select(Job.preview)).all() == [None, None]


def test_no_previews_when_they_are_off(runtime: Runtime, monkeypatch) -> None:
    (ada,) = _users(runtime, 1)
    job_id = _submit(runtime, ada, steps=4)
    seen = _watch_previews(runtime, monkeypatch, [job_id])
    assert make_worker(runtime, progress_interval=0, previews=False).run_once() == 1
    assert len(seen) == 4 and all(step[job_id] is None for step in seen)
