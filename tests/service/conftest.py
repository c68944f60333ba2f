"""A real service for end-to-end tests: `craftgen api` and `craftgen worker` processes on
loopback, sharing one data folder (SQLite + local files), driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, *, timeout: float = 120) -> None:
    """Until `url`/readyz answers 200; fails with the process's log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclass
class Service:
    data_dir: Path
    port: int
    env: dict[str, str]
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)  # closed in stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        with open(self.data_dir.parent / f"{log_name}.log", "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "craftgen.cli", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def start_api(self) -> None:
        self.api = self._spawn("api", "--port", str(self.port), log_name="api")
        wait_ready(self.url, self.api, self.data_dir.parent / "api.log")

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        worker = self._spawn("worker", "--name", name, log_name=name)
        self.workers.append(worker)
        return worker

    def user(self, name: str, plan: str = "pro") -> httpx.Client:
        run = subprocess.run(
            [sys.executable, "-m", "craftgen.cli", "users", "create", name, "--plan", plan],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = run.stdout.strip().splitlines()[-1]
        client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, *([self.api] if self.api else [])]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def make_service(tmp_path: Path, **env: str) -> Service:
    data = tmp_path / "data"
    data.mkdir(parents=True)
    base = {
        **os.environ,
        "CRAFTGEN_DATA_DIR": str(data),
        "CRAFTGEN_DEFAULT_SIZE": "128",
        "CRAFTGEN_DEFAULT_STEPS": "3",
        "CRAFTGEN_POLL_INTERVAL": "0.1",
        "CRAFTGEN_PROGRESS_INTERVAL": "0.1",
        "CRAFTGEN_SSE_INTERVAL": "0.1",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return Service(data_dir=data, port=free_port(), env=base)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = make_service(tmp_path_factory.mktemp("service"))
    svc.start_api()
    svc.start_worker("w1")
    svc.start_worker("w2")
    yield svc
    svc.stop()


def wait_for_job(client: httpx.Client, job_id: str, *, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")
