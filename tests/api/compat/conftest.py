"""A real craftgen server on a loopback port (uvicorn in a thread) with a worker thread running
its jobs on the tiny model: what the real `openai` and `webuiapi` clients are pointed at."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from craftgen.accounts import create_user
from craftgen.app import create_app
from craftgen.config import Settings
from craftgen.engine.preview import PreviewProgress
from craftgen.jobs.worker import Worker
from craftgen.processes import build_worker
from craftgen.runtime import Runtime, build_runtime


@dataclass
class Server:
    url: str
    runtime: Runtime
    worker: Worker
    app: FastAPI
    opened: list[Any] = field(default_factory=list)  # clients, closed when the server stops

    def keep(self, client: Any) -> Any:
        """Hold on to a client until the server stops (so none is left to the garbage collector)."""
        self.opened.append(client)
        return client

    def user(self, name: str, *, plan: str = "pro") -> str:
        """A new user's API key."""
        _, key = create_user(self.runtime.sessions, name=name, plan=plan)
        return key

    def client(self, key: str) -> httpx.Client:
        """Our own API, for checking what the drop-in requests left behind."""
        client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        return self.keep(client)  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("compat")
    settings = Settings(
        data_dir=folder / "data",
        device="cpu",
        default_size=128,
        default_steps=3,
        upscale_tile=128,
        upscale_overlap=32,
        upscale_strength=0.5,  # with 3 steps, the default 0.25 would run no denoising step
        progress_interval=0,
        preview_interval=0,
        poll_interval=0.02,
        sse_interval=0.02,
        batch_wait_ms=0,
        compat_wait_seconds=120,
    )
    runtime = build_runtime(settings)
    port = _free_port()
    app = create_app(runtime)
    uvi = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=uvi.run, daemon=True)
    serving.start()
    worker = build_worker(runtime, name="compat-worker")
    working = threading.Thread(target=worker.run_forever, daemon=True)
    working.start()
    deadline = time.monotonic() + 30
    while not uvi.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    made = Server(url=f"http://127.0.0.1:{port}", runtime=runtime, worker=worker, app=app)
    yield made
    for client in made.opened:
        client.close()
    worker.stop.set()
    uvi.should_exit = True
    working.join(timeout=60)
    serving.join(timeout=30)
    runtime.db.dispose()


@pytest.fixture()
def slow_steps(server: Server, monkeypatch: pytest.MonkeyPatch) -> float:
    """Each diffusion step reported takes this much longer, so a test sees a job while it runs
    (its progress, its live previews) before the tiny model is done."""
    delay = 0.2
    engine = server.runtime.engine
    run_batch = engine.run_batch

    def slow_batch(items: Any, *, progress: Any = None) -> Any:
        if isinstance(progress, PreviewProgress):
            inner = progress

            def report(done: int, total: int, preview: Any) -> None:
                inner.report(done, total, preview)
                time.sleep(delay)

            progress = PreviewProgress(report)
        return run_batch(items, progress=progress)

    monkeypatch.setattr(engine, "run_batch", slow_batch)
    return delay
