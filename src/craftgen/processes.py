"""Worker processes: the `craftgen worker` main loop with its signals, and `serve`'s children."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from types import FrameType

from craftgen.config import Settings
from craftgen.jobs.worker import Worker

log = logging.getLogger("craftgen.worker")

STOP_TIMEOUT = 120.0  # seconds serve waits for a worker to finish its batch


def run_worker_process(settings: Settings, *, name: str | None = None) -> None:
    """Run one worker until SIGTERM/SIGINT: the first finishes the batch, a second hands it back."""
    from craftgen.runtime import build_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runtime = build_runtime(settings)
    worker = Worker(
        name=name or f"{socket.gethostname()}-{os.getpid()}",
        sessions=runtime.sessions,
        queue=runtime.queue,
        store=runtime.store,
        engine=runtime.engine,
        options=settings.worker_options(),
    )

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
        import ctypes

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
