"""Worker processes (an entry point): `build_worker`, the `craftgen worker` main loop with its
signals, and `serve`'s children."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from craftgen.config import Settings
from craftgen.engine.engine import Engine
from craftgen.jobs.options import WorkerOptions
from craftgen.jobs.spot import InstanceActionWatcher, SpotNotice
from craftgen.jobs.worker import Worker
from craftgen.runtime import Runtime, build_runtime

STOP_TIMEOUT = 120.0  # seconds serve waits for a worker to finish its batch


def build_worker(runtime: Runtime, *, name: str | None = None, options: WorkerOptions | None = None) -> Worker:
    """A worker on `runtime`'s database, queue, store and engine, with its settings' options
    (or `options`) and the standard middleware; named `host-pid` unless `name` says."""
    return Worker(
        name=name or f"{socket.gethostname()}-{os.getpid()}",
        sessions=runtime.sessions,
        queue=runtime.queue,
        store=runtime.store,
        engine=runtime.engine,
        options=options or runtime.settings.worker_options(),
    )


def warm_up(engine: Engine) -> float:
    """Load the default model and run one diffusion step of the smallest text job, so the worker's
    first real job pays for neither; seconds taken."""
    from craftgen.engine.requests import parse_request  # noqa: PLC0415 - the tool registry, only here

    started = time.perf_counter()
    engine.run(parse_request({"tool": "text", "prompt": "warm-up", "steps": 1, "width": 64, "height": 64, "seed": 0}))
    return time.perf_counter() - started


def mark_ready(path: Path, *, warm_up_s: float) -> None:
    """The ready file, written whole (a probe never reads half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"pid": os.getpid(), "warm_up_s": round(warm_up_s, 3), "at": time.time()}))
    partial.replace(path)


def watch_spot_notices(worker: Worker, settings: Settings) -> SpotNotice | None:
    """With CRAFTGEN_SPOT_NOTICE_URL set: the notice middleware on `worker` and its watcher thread."""
    if not settings.spot_notice_url:
        return None
    notice = SpotNotice(stop=worker.stop, abort=worker.abort, margin_s=settings.spot_finish_margin)
    worker.middleware.append(notice)
    InstanceActionWatcher(url=settings.spot_notice_url, notice=notice, interval_s=settings.spot_notice_interval).start()
    return notice


def run_worker_process(settings: Settings, *, name: str | None = None) -> None:
    """Run one worker until SIGTERM/SIGINT: the first finishes the batch, a second hands it back.
    With a ready file set, the worker loads and warms its model first and reports ready only then
    (a starting worker is not capacity), and the file goes when the worker stops claiming."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ready = Path(settings.worker_ready_file) if settings.worker_ready_file else None
    if ready is not None:
        ready.unlink(missing_ok=True)  # a previous run's file says nothing about this one
    runtime = build_runtime(settings)
    worker = build_worker(runtime, name=name)
    spot = watch_spot_notices(worker, settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if worker.stop.is_set():
            worker.abort.set()
        if spot is not None and signum == signal.SIGTERM:
            spot.notice(time.time() + settings.spot_notice_seconds)  # the node's termination handler
        worker.stop.set()
        if ready is not None:
            ready.unlink(missing_ok=True)  # no longer capacity: it claims nothing more

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if ready is None:
        worker.run_forever()
        return
    seconds = warm_up(runtime.engine)
    logging.getLogger(__name__).info("worker %s warmed up in %.1f s; ready", worker.name, seconds)
    if worker.stop.is_set():
        return  # told to stop while warming up: never ready
    mark_ready(ready, warm_up_s=seconds)
    try:
        worker.run_forever()
    finally:
        ready.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the parent dies, even by SIGKILL (Linux), so no worker is orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415 - Linux only

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """`count` worker processes sharing this process's environment (and so its data dir)."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "craftgen.cli", "worker", "--name", f"serve-{os.getpid()}-{index}"],
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - runs before any thread of ours starts
        )
        for index in range(count)
    ]


def exit_on_signals() -> None:
    """Turn SIGTERM/SIGINT into SystemExit, so `serve`'s cleanup runs (uvicorn re-raises the
    signal after its own graceful shutdown, which would otherwise kill us on the spot)."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def stop_workers(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
