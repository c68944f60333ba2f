"""Worker processes (an entry point): `build_worker`, the `craftgen worker` main loop with its
signals, and `serve`'s children."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from types import FrameType

from craftgen.config import Settings
from craftgen.jobs.options import WorkerOptions
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


def run_worker_process(settings: Settings, *, name: str | None = None) -> None:
    """Run one worker until SIGTERM/SIGINT: the first finishes the batch, a second hands it back."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = build_worker(build_runtime(settings), name=name)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if worker.stop.is_set():
            worker.abort.set()
        worker.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run_forever()


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
