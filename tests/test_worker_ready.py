"""Ready means ready (#17): `craftgen worker` reports ready (its ready file) only once its model is
loaded and warmed by one step, and stops reporting it when told to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from craftgen.engine.engine import Engine
from craftgen.processes import mark_ready, warm_up


def test_warm_up_runs_one_step_of_the_default_model(engine: Engine) -> None:
    assert warm_up(engine) > 0
    # Warm: the same again is no load, just the step.
    started = time.perf_counter()
    warm_up(engine)
    assert time.perf_counter() - started < 30


def test_the_ready_file_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "probe" / "ready"
    mark_ready(path, warm_up_s=1.25)
    assert json.loads(path.read_text())["warm_up_s"] == 1.25
    assert [p.name for p in path.parent.iterdir()] == ["ready"]


@pytest.mark.slow
def test_the_worker_is_ready_after_its_warm_up_and_not_after_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text("stale")  # left by an earlier run: must not count
    env = {
        **os.environ,
        "CRAFTGEN_DATA_DIR": str(tmp_path / "data"),
        "CRAFTGEN_WORKER_READY_FILE": str(ready),
        "CRAFTGEN_POLL_INTERVAL": "0.1",
        "HF_HUB_OFFLINE": "1",
    }
    started = time.time()
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen([sys.executable, "-m", "craftgen.cli", "worker"], env=env, stderr=sink)
    try:
        deadline = time.time() + 180
        while not (ready.exists() and ready.read_text().startswith("{")) and time.time() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        state = json.loads(ready.read_text())
        assert state["pid"] == worker.pid and state["at"] > started and state["warm_up_s"] > 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
        assert not ready.exists()
        assert "warmed up" in log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
