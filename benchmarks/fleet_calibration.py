"""Keeps the fleet simulator honest: a compressed spike replayed on the real service, and the
simulator's prediction for the same arrivals, compared.

The real run: the API (uvicorn, in this process) on the embedded SQLite database and queue; worker
*processes* (`craftgen` workers built by build_worker) whose engine is a stub that sleeps the
service model's batch time; one warm floor worker; and a local scaler applying the shipped rule
(deploy/k8s, read by craftgen.fleet.manifests, decided by craftgen.fleet.scaler: the code the
simulator runs) with every duration compressed 20x, starting worker processes and stopping them
with SIGTERM. A worker's cold start is what it really takes here: a new process importing
craftgen (torch included) and building its runtime, measured per worker. Jobs arrive on a short
curve (a 10x rise in 10 s) at the same Poisson times the simulator draws for the seed. Then the
simulator runs the same rule, arrivals, service model and the measured cold start.

    .venv/bin/python benchmarks/fleet_calibration.py           # 150 s of arrivals, up to 4 burst workers
    .venv/bin/python benchmarks/fleet_calibration.py --smoke   # 45 s, up to 2
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from craftgen.fleet.arrivals import RateCurve, arrival_times
from craftgen.fleet.manifests import ScalingRule, load_rule
from craftgen.fleet.model import ColdStart, JobClass, Params, ServiceModel, Spot
from craftgen.fleet.scaler import Autoscaler
from craftgen.fleet.sim import Policy, simulate

from bench_table import Row, print_rows, ratio

HERE = Path(__file__).resolve()
K8S = HERE.parents[1] / "deploy" / "k8s"
COMPRESS = 20.0  # the rule's durations (polling, cooldown, windows, periods, HPA sync) / this
HPA_SYNC_S = 15.0
# The stub's service time: the simulator's model at a quarter of the default job's cost (0.43 s
# alone, 1.44 s for a batch of 4), so a handful of workers carry the spike on two cores.
SERVICE = ServiceModel(gpu_speedup=640.0, job_overhead_s=0.03, decode_s_per_image_at_512=0.025)
KIND = JobClass()
JOB = {"tool": "text", "prompt": "calibration", "width": 512, "height": 512, "steps": 30}
FULL = ((0, 60), (20, 60), (30, 600), (90, 600), (100, 120), (150, 120))  # (seconds, jobs a minute)
SMOKE = ((0, 30), (5, 30), (15, 300), (30, 300), (35, 60), (45, 60))


def curve_of(points: Sequence[tuple[float, float]]) -> RateCurve:
    return RateCurve(tuple(float(t) for t, _ in points), tuple(r / 60 for _, r in points), "calibration")


# The worker process ---------------------------------------------------------------------------


def worker_main(data_dir: Path, ready_file: Path, batch_size: int) -> None:
    """A real worker whose engine sleeps the service model's time instead of diffusing."""
    from PIL import Image

    from craftgen.config import Settings
    from craftgen.engine.base import OutputFile, ToolResult
    from craftgen.processes import build_worker
    from craftgen.runtime import build_runtime

    settings = Settings(data_dir=data_dir, poll_interval=0.05, batch_size=batch_size, previews=False,
                        progress_interval=10)  # fmt: skip
    runtime = build_runtime(settings)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    png = buffer.getvalue()

    def stub_batch(items: Sequence[Any], *, progress: Any = None) -> list[ToolResult]:
        time.sleep(SERVICE.batch_s(KIND, jobs=len(items), images=len(items)))
        output = OutputFile(name="text-0.png", kind="image", media_type="image/png", data=png, width=8, height=8)
        return [ToolResult(tool="text", model="stub", seed=item.seed, outputs=[output]) for item in items]

    runtime.engine.run_batch = stub_batch  # type: ignore[method-assign]
    worker = build_worker(runtime, name=ready_file.stem)

    def on_signal(signum: int, frame: Any) -> None:
        worker.stop.set()  # finish the batch, then exit

    signal.signal(signal.SIGTERM, on_signal)
    ready_file.write_text(str(time.time()))
    worker.run_forever()


# The driver: API, submitter, local scaler -------------------------------------------------------


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    ready_file: Path
    started: float
    ready_at: float = -1.0
    stopping: bool = False
    ended: float = -1.0


@dataclass
class Pool:
    """Worker processes as a Deployment keeps them: `replicas` live ones."""

    data_dir: Path
    batch_size: int
    name: str
    children: list[Child] = field(default_factory=list)
    replicas: int = 0
    made: int = 0

    def start(self) -> Child:
        self.made += 1
        ready = self.data_dir / f"{self.name}-{self.made}.ready"
        command = [sys.executable, str(HERE), "--worker", str(self.data_dir), str(ready), str(self.batch_size)]
        child = Child(subprocess.Popen(command), ready, time.time())
        self.children.append(child)
        return child

    def poll(self) -> None:
        for child in self.children:
            if child.ready_at < 0 and child.ready_file.exists():
                child.ready_at = float(child.ready_file.read_text() or time.time())
            if child.ended < 0 and child.process.poll() is not None:
                child.ended = time.time()

    def live(self) -> list[Child]:
        return [c for c in self.children if not c.stopping and c.ended < 0]

    def scale(self, replicas: int) -> None:
        self.replicas = replicas
        live = self.live()
        for _ in range(replicas - len(live)):
            self.start()
        if len(live) <= replicas:
            return
        # Not-ready pods first, then the most recently ready (the ReplicaSet's order).
        for child in sorted(live, key=lambda c: (c.ready_at >= 0, -max(c.ready_at, c.started)))[: len(live) - replicas]:
            child.stopping = True
            child.process.send_signal(signal.SIGTERM)

    def ready_count(self) -> int:
        return sum(1 for c in self.children if c.ready_at >= 0 and c.ended < 0)


def counts(runtime: Any) -> dict[int, int]:
    from sqlalchemy import func, select

    from craftgen.db.tables import Job as JobRow

    with runtime.sessions() as session:
        rows = session.execute(
            select(JobRow.priority, func.count())
            .where(JobRow.status.in_(("queued", "running")))
            .group_by(JobRow.priority)
        ).all()
    found = {1: 0, 0: 0}
    found.update({int(p): int(n) for p, n in rows})
    return found


def real_run(*, rule: ScalingRule, curve: RateCurve, seed: int, folder: Path) -> dict[str, Any]:
    import httpx
    import uvicorn

    from craftgen.accounts import create_user
    from craftgen.app import create_app
    from craftgen.config import Settings
    from craftgen.db.tables import Job as JobRow
    from craftgen.runtime import build_runtime

    # 1. The API on the embedded database and queue, and users with credits to spare.
    settings = Settings(data_dir=folder, pro_monthly_credits=1_000_000, previews=False)
    runtime = build_runtime(settings)
    keys = [create_user(runtime.sessions, name=f"c{n}", plan="pro")[1] for n in range(4)]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {k}"}, timeout=60)
               for k in keys]  # fmt: skip
    # 2. The warm floor, then the burst pool at zero, scaled by the rule.
    floor = Pool(folder, rule.batch_size, "floor")
    for _ in range(rule.floor_replicas):
        floor.start()
    while floor.ready_count() < rule.floor_replicas:
        floor.poll()
        time.sleep(0.1)
    burst = Pool(folder, rule.batch_size, "burst")
    decide = Autoscaler(rule)
    times = arrival_times(curve, rng=random.Random(seed))
    stop = threading.Event()
    peak_ready = [0]

    def scaler(t0: float) -> None:
        next_keda = next_hpa = 0.0
        while not stop.is_set():
            now = time.time() - t0
            burst.poll()
            if now >= next_keda:
                burst.scale(decide.keda(now, counts=counts(runtime), minute_of_day=0.0, current=burst.replicas))
                next_keda += rule.polling_s
            if now >= next_hpa and now > 0:
                burst.scale(decide.hpa(now, counts=counts(runtime), minute_of_day=0.0, current=burst.replicas))
                next_hpa += HPA_SYNC_S / COMPRESS
            peak_ready[0] = max(peak_ready[0], burst.ready_count() + floor.ready_count())
            time.sleep(0.02)

    # 3. The arrivals, at their times, from several clients.
    def submit(n: int) -> None:
        clients[n % len(clients)].post("/v1/jobs", json={**JOB, "seed": n}).raise_for_status()

    t0 = time.time()
    thread = threading.Thread(target=scaler, args=(t0,), daemon=True)
    thread.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for n, t in enumerate(times):
            delay = t0 + t - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(submit, n)
    deadline = time.time() + 300
    while sum(counts(runtime).values()) and time.time() < deadline:
        time.sleep(0.2)
    stop.set()
    thread.join()
    # 4. Stop every worker (finish, exit) and read the jobs' waits.
    for pool_ in (burst, floor):
        pool_.scale(0)
    for child in burst.children + floor.children:
        child.process.wait(timeout=60)
    burst.poll()
    floor.poll()
    end = time.time()
    with runtime.sessions() as session:
        rows = session.query(JobRow.created_at, JobRow.started_at, JobRow.status).all()
        phases = session.query(JobRow.created_at, JobRow.enqueued_at, JobRow.started_at, JobRow.finished_at).all()
        runs = session.query(JobRow.started_at, JobRow.finished_at, JobRow.batch_size).all()
    # What a batch took beyond the stub's sleep (claim, rows, store): the service's own overhead here.
    extra = [
        (finished - started - SERVICE.batch_s(KIND, jobs=size, images=size)) / size
        for started, finished, size in runs
        if started is not None and finished is not None and size
    ]
    server.should_exit = True
    cold = [c.ready_at - c.started for c in burst.children if c.ready_at >= 0]
    worker_s = sum((c.ended if c.ended >= 0 else end) - c.started for c in burst.children)
    return {
        "arrivals": [created - t0 for created, started, _ in rows if started is not None],
        "waits": [started - created for created, started, _ in rows if started is not None],
        "succeeded": sum(1 for *_, status in rows if status == "succeeded"),
        "jobs": len(times),
        "cold_starts_s": cold,
        "burst_worker_s": worker_s,
        "peak_ready": peak_ready[0],
        "started": len(burst.children),
        "overhead_per_job_s": float(np.median(extra)) if extra else 0.0,
        "phases_median_s": {
            name: _median_gap(phases, i)
            for i, name in enumerate(("created->enqueued", "enqueued->started", "started->finished"))
        },
    }


def _median_gap(rows: Sequence[Sequence[float | None]], i: int) -> float:
    gaps = [(b - a) for row in rows if (a := row[i]) is not None and (b := row[i + 1]) is not None]
    return float(np.median(gaps)) if gaps else 0.0


def percentiles(waits: Sequence[float], arrivals: Sequence[float], window: tuple[float, float]) -> dict[str, float]:
    w, a = np.asarray(waits), np.asarray(arrivals)
    spike = w[(a >= window[0]) & (a < window[1])]
    return {
        "p50": float(np.percentile(w, 50)), "p95": float(np.percentile(w, 95)), "p99": float(np.percentile(w, 99)),
        "spike p95": float(np.percentile(spike, 95)) if spike.size else 0.0,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="45 s of arrivals, up to 2 burst workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=3, metavar=("DATA_DIR", "READY_FILE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(Path(args.worker[0]), Path(args.worker[1]), int(args.worker[2]))
        return 0
    points = SMOKE if args.smoke else FULL
    curve = curve_of(points)
    rule = dataclasses.replace(load_rule(K8S).without_cron().compressed(COMPRESS), max_replicas=2 if args.smoke else 4)
    window = (float(points[1][0]), float(points[4][0]))  # from the rise to the end of the plateau
    # 1. The real run.
    with tempfile.TemporaryDirectory() as folder:
        measured = real_run(rule=rule, curve=curve, seed=args.seed, folder=Path(folder))
    colds: list[float] = measured["cold_starts_s"]
    cold_s = float(np.mean(colds)) if colds else 5.0
    # 2. The prediction: the same rule, arrivals, service and measured cold start.
    params = Params(
        mix=(KIND,), pro_fraction=1.0, service=SERVICE, spot=Spot(interruptions_per_hour=0.0),
        cold_start=ColdStart(node_s=0, image_pull_s=0, imports_s=cold_s, weights_read_s=0, to_device_s=0, warmup_s=0),
        hpa_sync_s=HPA_SYNC_S / COMPRESS, sample_s=0.5, drain_s=300.0,
    )  # fmt: skip
    policy = Policy("calibration", rule=rule, burst_pool="on-demand")
    predicted = simulate(policy, curve=curve, params=params, seed=args.seed)
    # 3. Again with the service's measured overhead per job added to the model's service time.
    overhead = max(0.0, measured["overhead_per_job_s"])
    tuned = dataclasses.replace(
        params, service=dataclasses.replace(SERVICE, job_overhead_s=SERVICE.job_overhead_s + overhead)
    )
    calibrated = simulate(policy, curve=curve, params=tuned, seed=args.seed)
    burst_s = sum(s.end - s.start for s in predicted.spans if s.start > 0)
    ours = percentiles(predicted.waits, predicted.arrivals, window)
    fitted = percentiles(calibrated.waits, calibrated.arrivals, window)
    real = percentiles(measured["waits"], measured["arrivals"], window)
    setup = (f"{measured['jobs']} jobs over {points[-1][0]} s ({points[1][1]}->{points[2][1]} jobs/min), rule "
             f"compressed {COMPRESS:g}x, <= {rule.max_replicas} burst + {rule.floor_replicas} floor, cold start "
             f"measured {cold_s:.1f} s (mean of {len(measured['cold_starts_s'])}, "
             f"{min(colds, default=0):.1f}-{max(colds, default=0):.1f} s)")  # fmt: skip
    print(setup)
    report = {"predicted": ours, "predicted, measured overhead": fitted, "measured": real}
    print(json.dumps({**report, "phases": measured["phases_median_s"], "overhead_per_job_s": overhead}, indent=1))
    rows = [
        Row(f"calibration wait {name}", f"{ours[name]:.2f} s (simulated)", f"{real[name]:.2f} s (measured)",
            ratio(real[name], ours[name]), setup if name == "p50" else "baseline/craftgen: measured / predicted")
        for name in ("p50", "p95", "p99", "spike p95")
    ]  # fmt: skip
    rows += [
        Row(f"calibration wait {name}, measured overhead", f"{fitted[name]:.2f} s (simulated)",
            f"{real[name]:.2f} s (measured)", ratio(real[name], fitted[name]),
            f"service time + {overhead * 1000:.0f} ms a job (measured: batch time beyond the stub's sleep)")
        for name in ("p50", "p95", "spike p95")
    ]  # fmt: skip
    rows.append(Row("calibration burst worker-seconds", f"{burst_s:.0f} s (simulated)",
                    f"{measured['burst_worker_s']:.0f} s (measured)", ratio(measured["burst_worker_s"], burst_s),
                    f"workers started {len(predicted.spans) - rule.floor_replicas} simulated, "
                    f"{measured['started']} measured; "
                    f"jobs succeeded {measured['succeeded']}/{measured['jobs']}"))  # fmt: skip
    print_rows(rows)
    return 0 if measured["succeeded"] == measured["jobs"] else 1


if __name__ == "__main__":
    os.environ.setdefault("CRAFTGEN_PREVIEWS", "0")
    sys.exit(main())
