"""`craftgen serve`: one command starts the API and its workers, and stops them all."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import make_service, wait_for_job, wait_ready


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_serve_runs_jobs_and_sigterm_stops_its_workers(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "craftgen.cli", "serve", "--port", str(service.port), "--workers", "2"],
            env=service.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(service.url, serve, tmp_path / "serve.log")
        workers = _children(serve.pid)
        assert len(workers) == 2
        client = service.user("local")
        job_id = client.post("/v1/jobs", json={"tool": "pattern", "prompt": "leaves"}).json()["id"]
        assert wait_for_job(client, job_id)["status"] == "succeeded"
        output = (tmp_path / "serve.log").read_text()
        assert "serving model 'tiny'" in output and "noise" in output

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=90) == 0
        assert not any(_alive(pid) for pid in workers), "workers stop with serve"
    finally:
        service.stop()
        if serve.poll() is None:
            serve.kill()
