"""What the job service costs on top of the engine, and how many jobs/s the API and queue carry.

Two rows, each measured in this run:
(1) overhead: a tiny `text` job end to end through real `craftgen api` + `craftgen worker`
    processes (POST, queue, worker, stored PNG, client sees `succeeded`) vs the same request run
    by the engine in-process; median of several jobs, after a warm-up job.
(2) throughput with generation stubbed out: the API (uvicorn, in this process) and the SQLite
    queue with worker threads whose engine returns a ready-made PNG at once; N jobs submitted by
    concurrent clients, timed until every one reads `succeeded`.

    .venv/bin/python benchmarks/service.py           # about a minute on 2 cores
    .venv/bin/python benchmarks/service.py --smoke   # seconds
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from craftgen.accounts import create_user
from craftgen.config import Settings
from craftgen.engine.base import OutputFile, ProgressFn, ToolInput, ToolResult
from craftgen.engine.engine import Engine
from craftgen.engine.requests import parse_request
from craftgen.processes import build_worker
from craftgen.runtime import build_runtime

from bench_table import Row, print_rows, ratio

JOB = {"tool": "text", "prompt": "a cute cat", "width": 128, "height": 128, "steps": 3, "seed": 1}
ROW_OVERHEAD = "1 service end-to-end vs in-process engine (tiny text job)"
ROW_THROUGHPUT = "2 API + queue throughput, generation stubbed"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_done(client: httpx.Client, job_id: str, *, poll: float, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(poll)
    raise TimeoutError(job_id)


# 1. Overhead ---------------------------------------------------------------------------------


def bench_overhead(*, jobs: int, folder: Path) -> tuple[float, float]:
    """Median seconds per job: through the service, and in-process."""
    env = {
        **os.environ,
        "CRAFTGEN_DATA_DIR": str(folder / "data"),
        "CRAFTGEN_POLL_INTERVAL": "0.05",
        "CRAFTGEN_PROGRESS_INTERVAL": "0.5",
        "HF_HUB_OFFLINE": "1",
    }
    port = _free_port()
    key = subprocess.run(
        [sys.executable, "-m", "craftgen.cli", "users", "create", "bench", "--plan", "pro"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()[-1]
    log = open(folder / "service.log", "wb")  # noqa: SIM115 - closed below, after the children
    api = subprocess.Popen(
        [sys.executable, "-m", "craftgen.cli", "api", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    worker = subprocess.Popen([sys.executable, "-m", "craftgen.cli", "worker"], env=env, stdout=log, stderr=log)
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        for _ in range(600):
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        service_times = []
        for index in range(jobs + 1):  # the first one warms the worker (model build)
            started = time.perf_counter()
            job_id = client.post("/v1/jobs", json={**JOB, "seed": index}).json()["id"]
            assert _wait_done(client, job_id, poll=0.01)["status"] == "succeeded"
            if index:
                service_times.append(time.perf_counter() - started)
    finally:
        for process in (worker, api):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        log.close()
    engine = Engine(options=Settings().engine_options(), limits=Settings().limits())
    engine.run(parse_request(JOB))
    local_times = []
    for index in range(jobs):
        started = time.perf_counter()
        engine.run(parse_request(dict(**{**JOB, "seed": index + 1})))
        local_times.append(time.perf_counter() - started)
    return statistics.median(service_times), statistics.median(local_times)


# 2. Throughput -------------------------------------------------------------------------------


def _stub_result(item: ToolInput[Any]) -> ToolResult:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    output = OutputFile(
        name="text-0.png", kind="image", media_type="image/png", data=buffer.getvalue(), width=8, height=8
    )
    return ToolResult(tool="text", model="stub", seed=item.seed, outputs=[output])


def bench_throughput(*, jobs: int, workers: int, clients: int, folder: Path) -> float:
    """Jobs per second from first POST to last `succeeded`, generation replaced by a stub."""
    import uvicorn

    from craftgen.app import create_app

    settings = Settings(data_dir=folder / "stub", poll_interval=0.01, progress_interval=10)
    runtime = build_runtime(settings)

    def stub_batch(items: Sequence[ToolInput[Any]], *, progress: ProgressFn | None = None) -> list[ToolResult]:
        return [_stub_result(item) for item in items]

    runtime.engine.run_batch = stub_batch  # type: ignore[method-assign]
    keys = [create_user(runtime.sessions, name=f"u{n}", plan="pro")[1] for n in range(clients)]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    pool = [
        build_worker(runtime, name=f"stub-{n}")
        for n in range(workers)
    ]
    threads = [threading.Thread(target=w.run_forever, daemon=True) for w in pool]
    for thread in threads:
        thread.start()
    while not server.started:
        time.sleep(0.01)
    sessions = [
        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {k}"}, timeout=60)
        for k in keys
    ]

    def submit(index: int) -> tuple[httpx.Client, str]:
        client = sessions[index % clients]
        return client, client.post("/v1/jobs", json={**JOB, "seed": index}).json()["id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        submitted = list(executor.map(submit, range(jobs)))
    for client, job_id in submitted:
        assert _wait_done(client, job_id, poll=0.02)["status"] == "succeeded"
    elapsed = time.perf_counter() - started
    for worker in pool:
        worker.stop.set()
    server.should_exit = True
    return jobs / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest settings (CI)")
    parser.add_argument("--jobs", type=int, default=None, help="jobs for the overhead row (default 5)")
    parser.add_argument("--stub-jobs", type=int, default=None, help="jobs for the throughput row (default 300)")
    args = parser.parse_args(argv)
    jobs = args.jobs or (2 if args.smoke else 5)
    stub_jobs = args.stub_jobs or (30 if args.smoke else 300)
    with tempfile.TemporaryDirectory(prefix="craftgen-bench-") as folder:
        service, local = bench_overhead(jobs=jobs, folder=Path(folder))
        rate = bench_throughput(jobs=stub_jobs, workers=2, clients=8, folder=Path(folder))
    mode = "smoke" if args.smoke else "full"
    print(f"craftgen service benchmark ({mode}); {os.cpu_count()} cores; SQLite + local files")
    print_rows(
        [
            Row(
                ROW_OVERHEAD,
                craftgen=f"{service:.3f} s",
                baseline=f"{local:.3f} s (engine.run in-process)",
                ratio=ratio(local, service),
                note=f"+{(service - local) * 1000:.0f} ms per job; median of {jobs}",
            ),
            Row(
                ROW_THROUGHPUT,
                craftgen=f"{rate:.1f} jobs/s",
                baseline="-",
                ratio="-",
                note=f"{stub_jobs} jobs, 8 clients, 2 worker threads, one process",
            ),
        ]
    )
    print(
        "how to read: row 1 includes HTTP, the SQLite queue, the worker's claim poll (0.05 s), PNG storage and "
        "the client's status poll; the baseline is engine.run() in-process on the same request. Row 2 is one "
        "process (API + worker threads share the GIL), so it is a floor for what separate processes carry."
    )

if __name__ == "__main__":
    main()
