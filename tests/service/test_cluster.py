"""Scale-out on real infrastructure: two `craftgen api` and three `craftgen worker` processes on
PostgreSQL + Redis Streams + S3 (moto). Sixty jobs from several users through both APIs, one
worker SIGKILLed mid-batch, the Redis server (AOF on) restarted mid-run: every job must end
`succeeded` exactly once, counted in the bucket and in the rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import require_service
from tests.pg import fresh_postgres_database
from tests.service.conftest import free_port, wait_ready

JOBS = 60
USERS = 4
BUCKET = "craftgen-cluster"


def _start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
         "--appendfsync", "always", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "craftgen.cli", *args], env=env, stdout=handle, stderr=subprocess.STDOUT
        )


@pytest.mark.slow
def test_sixty_jobs_exactly_once_through_kills_and_restarts(tmp_path: Path, moto_endpoint: str) -> None:
    require_service("postgresql", 5432)
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the cluster test")
    started = time.monotonic()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis_port = free_port()
    redis = _start_redis(redis_port, redis_dir)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    try:
        with fresh_postgres_database() as database_url:
            env = {
                **os.environ,
                "CRAFTGEN_DATA_DIR": str(tmp_path / "data"),
                "CRAFTGEN_DATABASE_URL": database_url,
                "CRAFTGEN_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
                "CRAFTGEN_STORAGE_URL": f"s3://{BUCKET}/out",
                "CRAFTGEN_S3_ENDPOINT_URL": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "CRAFTGEN_DEFAULT_SIZE": "128",
                "CRAFTGEN_DEFAULT_STEPS": "3",
                "CRAFTGEN_LEASE_SECONDS": "4",
                "CRAFTGEN_POLL_INTERVAL": "0.1",
                "CRAFTGEN_PROGRESS_INTERVAL": "0.2",
                "HF_HUB_OFFLINE": "1",
            }
            # 1. Everything starts at once: the migrations run under a lock.
            ports = [free_port(), free_port()]
            apis = [_spawn(["api", "--port", str(p)], env, tmp_path / f"api{n}.log") for n, p in enumerate(ports)]
            workers = [_spawn(["worker", "--name", f"w{n}"], env, tmp_path / f"w{n}.log") for n in range(3)]
            processes += apis + workers
            for n, (port, api) in enumerate(zip(ports, apis, strict=True)):
                wait_ready(f"http://127.0.0.1:{port}", api, tmp_path / f"api{n}.log")
            keys = []
            for n in range(USERS):
                made = subprocess.run(
                    [sys.executable, "-m", "craftgen.cli", "users", "create", f"crafter{n}", "--plan", "pro"],
                    env=env, capture_output=True, text=True, check=True, timeout=120,
                )
                keys.append(made.stdout.split()[-1])
            clients = [
                httpx.Client(
                    base_url=f"http://127.0.0.1:{ports[n % 2]}",
                    headers={"Authorization": f"Bearer {keys[n % USERS]}"},
                    timeout=60,
                )
                for n in range(USERS * 2)
            ]

            # 2. Sixty jobs from several users through both APIs; some slower, to be mid-batch.
            def submit(index: int) -> tuple[int, str]:
                client = clients[index % len(clients)]
                body = {"tool": "text", "prompt": f"cat {index}", "seed": index}
                if index % 5 == 0:
                    body.update(width=256, height=256, steps=12)
                for _ in range(20):  # a 503 while Redis restarts is retried with the same key
                    response = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": f"job-{index}"})
                    if response.status_code == 202:
                        return index % len(clients), response.json()["id"]
                    assert response.status_code == 503, response.text
                    time.sleep(0.5)
                raise AssertionError(f"job {index} was never accepted")

            with ThreadPoolExecutor(max_workers=8) as pool:
                first_half = list(pool.map(submit, range(JOBS // 2)))

            # 3. Kill a worker while jobs are running.
            engine = create_engine(database_url)
            deadline = time.monotonic() + 120
            with engine.connect() as connection:
                while not connection.execute(text("SELECT count(*) FROM jobs WHERE status = 'running'")).scalar():
                    assert time.monotonic() < deadline, "no job ever ran"
                    time.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=10)

            # 4. Restart Redis (AOF) while the rest are submitted and running.
            with ThreadPoolExecutor(max_workers=8) as pool:
                second = pool.map(submit, range(JOBS // 2, JOBS))
                time.sleep(1.0)
                redis.send_signal(signal.SIGTERM)
                redis.wait(timeout=20)
                redis = _start_redis(redis_port, redis_dir)
                second_half = list(second)
            submitted = first_half + second_half

            # 5. Every job ends, and ends succeeded.
            deadline = time.monotonic() + 600
            statuses: dict[str, str] = {}
            while len(statuses) < JOBS:
                assert time.monotonic() < deadline, f"unfinished: {JOBS - len(statuses)}"
                for client_index, job_id in submitted:
                    if job_id not in statuses:
                        job = clients[client_index].get(f"/v1/jobs/{job_id}").json()
                        if job["status"] in ("succeeded", "failed", "canceled"):
                            statuses[job_id] = job["status"]
                time.sleep(0.3)
            assert Counter(statuses.values()) == {"succeeded": JOBS}

            # 6. Exactly once: one image row and one object per job, nothing else in the bucket.
            with engine.connect() as connection:
                rows = Counter(r[0] for r in connection.execute(text("SELECT job_id FROM images")))
                attempts = [r[0] for r in connection.execute(text("SELECT attempts FROM jobs"))]
            engine.dispose()
            objects = Counter()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="out/jobs/"):
                for item in page.get("Contents", []):
                    objects[item["Key"].split("/")[2]] += 1
            duplicates = sum(n - 1 for n in rows.values()) + sum(n - 1 for n in objects.values())
            assert set(rows) == set(statuses) and set(rows.values()) == {1}
            assert set(objects) == set(statuses) and set(objects.values()) == {1}
            assert duplicates == 0
            print(
                f"\ncluster: {JOBS} jobs, {len(keys)} users, 2 APIs, 3 workers (1 SIGKILLed), "
                f"redis restarted once; duplicates {duplicates}; retried jobs {sum(a > 1 for a in attempts)}; "
                f"{time.monotonic() - started:.1f} s"
            )
    finally:
        for client in clients:
            client.close()
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.send_signal(signal.SIGTERM)
        redis.wait(timeout=20)
