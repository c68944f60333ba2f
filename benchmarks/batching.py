"""Dynamic batching across users, and what live previews cost.

Two rows, each measured in this run, on the tiny model in-process (an SQLite queue and local
files in a temporary folder; jobs submitted through JobService by 8 users):
(1) throughput: a stream of 32 single-image `text` jobs (one submitted every 5 ms) through one
    worker that batches (batch window 20 ms, up to 8 images a call) vs the same worker running
    them one by one (batch size 1); from the first submission to the last `succeeded`, median
    of the repeats. 128 px: on CPU a batch pays mostly at small sizes, where a call is bound by
    overhead and weight reads rather than arithmetic (at 512 px on CPU it pays little; on a GPU
    it pays up to batch 4-8).
(2) preview overhead: one 512 px job (SD 1.5-shaped 64x64x4 latents) with live previews at the
    default rates (progress every 0.5 s, a preview at most every 1 s): the time spent rendering
    and encoding previews, timed where it is spent, as a share of the job (the target: under
    2%); plus the median job wall time with previews on and off, alternating, which on a shared
    2-core machine differs by more noise than previews cost.

    .venv/bin/python benchmarks/batching.py           # a few minutes on 2 cores
    .venv/bin/python benchmarks/batching.py --smoke   # seconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from unittest import mock

from PIL import Image
from sqlalchemy import func, select

import craftgen.engine.preview as preview_module
import craftgen.jobs.worker as worker_module
from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.db.tables import Job, User
from craftgen.engine.preview import Preview, PreviewProgress
from craftgen.engine.requests import parse_request
from craftgen.jobs.options import WorkerOptions
from craftgen.jobs.worker import Worker
from craftgen.processes import build_worker
from craftgen.runtime import Runtime, build_runtime

from bench_table import Row, print_rows, ratio

ROW_THROUGHPUT = "1 batching across users: a stream of single-image jobs"
ROW_PREVIEW = "2 live previews: time spent making them, per job"


def _runtime(folder: Path, name: str) -> Runtime:
    # Credits are not what is measured here: plenty for every repeat.
    settings = Settings(data_dir=folder / name, poll_interval=0.005, pro_monthly_credits=100_000)
    return build_runtime(settings)


def _worker(runtime: Runtime, name: str, options: WorkerOptions) -> Worker:
    return build_worker(runtime, name=name, options=options)


def _wait_all(runtime: Runtime, jobs: list[tuple[User, str]], *, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    for user, job_id in jobs:
        while (status := runtime.jobs.get(user.id, job_id).status) not in ("succeeded", "failed", "canceled"):
            if time.monotonic() > deadline:
                raise TimeoutError(job_id)
            time.sleep(0.005)
        assert status == "succeeded", (job_id, status)


# 1. Throughput -------------------------------------------------------------------------------


def stream_seconds(
    runtime: Runtime, users: list[User], options: WorkerOptions, *, jobs: int, size: int, steps: int, gap: float
) -> tuple[float, float]:
    """Seconds from the first submission to the last success, and the mean batch size."""
    worker = _worker(runtime, "bench", options)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    submitted: list[tuple[User, str]] = []
    started = time.perf_counter()
    for index in range(jobs):
        user = users[index % len(users)]
        request = parse_request(
            dict(tool="text", prompt=f"a cat, number {index}", seed=index, width=size, height=size, steps=steps)
        )
        submitted.append((user, runtime.jobs.submit(user, request).id))
        time.sleep(gap)
    _wait_all(runtime, submitted)
    elapsed = time.perf_counter() - started
    worker.stop.set()
    thread.join()
    with runtime.sessions() as session:
        mean_batch = session.scalar(
            select(func.avg(Job.batch_size)).where(Job.id.in_([job_id for _, job_id in submitted]))
        )
    return elapsed, float(mean_batch or 0)


def bench_batching(
    folder: Path, *, jobs: int, size: int, steps: int, repeats: int, gap: float
) -> tuple[float, float, float]:
    """Median jobs/s batched and one by one, and the batched run's mean batch size."""
    runtime = _runtime(folder, "batching")
    users = [create_user(runtime.sessions, name=f"crafter{n}", plan="pro")[0] for n in range(8)]
    base = replace(runtime.settings.worker_options(), poll_interval=0.005, previews=False)
    batched = replace(base, batch_size=8, batch_max_images=8, batch_wait=0.02)
    single = replace(base, batch_size=1, batch_max_images=1, batch_wait=0.0)
    stream_seconds(runtime, users, batched, jobs=2, size=size, steps=steps, gap=0)  # warm-up: build the model
    rates: dict[str, list[float]] = {"batched": [], "single": []}
    batch_sizes: list[float] = []
    for _ in range(repeats):
        for name, options in (("batched", batched), ("single", single)):
            seconds, mean_batch = stream_seconds(runtime, users, options, jobs=jobs, size=size, steps=steps, gap=gap)
            rates[name].append(jobs / seconds)
            if name == "batched":
                batch_sizes.append(mean_batch)
    runtime.db.dispose()
    return statistics.median(rates["batched"]), statistics.median(rates["single"]), statistics.median(batch_sizes)


# 2. Preview overhead -------------------------------------------------------------------------


class _Timed:
    """Wraps the worker's preview encoder to add up the time previews take (render + encode)."""

    def __init__(self, encode: Callable[..., str]) -> None:
        self.encode = encode
        self.seconds = 0.0
        self.count = 0

    def __call__(self, *args: object, **kwargs: object) -> str:
        started = time.perf_counter()
        try:
            return self.encode(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def bench_previews(folder: Path, *, size: int, steps: int, repeats: int) -> dict[str, float]:
    runtime = _runtime(folder, "previews")
    user = create_user(runtime.sessions, name="previewer", plan="pro")[0]
    base = replace(runtime.settings.worker_options(), batch_wait=0.0)  # default progress/preview rates
    # What previews cost, counted where it is spent: the lazy render (latents to RGB) and the
    # worker's WebP encoding. Both wrappers only time; they change nothing.
    encode = _Timed(preview_module.data_url)
    timed_encoding = mock.patch.object(worker_module, "data_url", encode)
    timed_encoding.start()
    render = {"seconds": 0.0}
    original_run = runtime.engine.run_batch

    def run_batch(items, progress=None):
        if not isinstance(progress, PreviewProgress):
            return original_run(items, progress=progress)
        report_to = progress.report

        def report(done: int, total: int, preview: Preview | None) -> None:
            def timed() -> list[Image.Image]:
                assert preview is not None
                started = time.perf_counter()
                try:
                    return preview()
                finally:
                    render["seconds"] += time.perf_counter() - started

            report_to(done, total, timed if preview is not None else None)

        return original_run(items, progress=PreviewProgress(report))

    runtime.engine.run_batch = run_batch  # type: ignore[method-assign]
    times: dict[bool, list[float]] = {True: [], False: []}
    for index in range(repeats + 1):  # the first pair warms up (model build at this size)
        if index == 1:  # count only the measured runs
            render["seconds"], encode.seconds, encode.count = 0.0, 0.0, 0
        for previews in (True, False) if index % 2 else (False, True):
            request = parse_request(
                dict(tool="text", prompt="a quilt of owls", seed=index, width=size, height=size, steps=steps)
            )
            job_id = runtime.jobs.submit(user, request).id
            worker = _worker(runtime, "preview-bench", replace(base, previews=previews))
            started = time.perf_counter()
            assert worker.run_once() == 1
            if index:
                times[previews].append(time.perf_counter() - started)
            assert runtime.jobs.get(user.id, job_id).status == "succeeded"
    timed_encoding.stop()
    runtime.db.dispose()
    return {
        "on": statistics.median(times[True]),
        "off": statistics.median(times[False]),
        "per_job": (render["seconds"] + encode.seconds) / repeats,
        "previews": encode.count / repeats,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest settings (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        jobs, size, steps, repeats, gap = 6, 64, 1, 1, 0.0
        preview_size, preview_steps, preview_repeats = 64, 2, 1
    else:
        jobs, size, steps, repeats, gap = 32, 128, 4, 3, 0.005
        preview_size, preview_steps, preview_repeats = 512, 8, 3
    with tempfile.TemporaryDirectory(prefix="craftgen-bench-") as folder:
        batched, single, mean_batch = bench_batching(
            Path(folder), jobs=jobs, size=size, steps=steps, repeats=repeats, gap=gap
        )
        preview = bench_previews(Path(folder), size=preview_size, steps=preview_steps, repeats=preview_repeats)
    print(f"craftgen batching benchmark ({'smoke' if args.smoke else 'full'}); {os.cpu_count()} cores; tiny model")
    share = preview["per_job"] / preview["on"] * 100  # the target: under 2%
    print_rows(
        [
            Row(
                ROW_THROUGHPUT,
                craftgen=f"{batched:.2f} jobs/s",
                baseline=f"{single:.2f} jobs/s (one by one)",
                ratio=ratio(1 / single, 1 / batched),
                note=f"{jobs} jobs, {size} px, {steps} steps, 1 job per {gap * 1000:.0f} ms, 20 ms window, "
                "<=8 images a call "
                f"(mean batch {mean_batch:.1f}); median of {repeats}",
            ),
            Row(
                ROW_PREVIEW,
                craftgen=f"{preview['per_job'] * 1000:.1f} ms a job ({share:.2f}%)",
                baseline=f"{preview['on']:.2f} s job",
                ratio="-",
                note=f"{preview_size} px, {preview_steps} steps, {preview['previews']:.1f} previews a job "
                "(128 px WebP), "
                f"render + encode timed where spent; job wall time on / off {preview['on']:.2f} / "
                f"{preview['off']:.2f} s, median of {preview_repeats} (A/B within this machine's noise)",
            ),
        ]
    )


if __name__ == "__main__":
    main()
