"""The engine benchmark's smoke mode runs end to end and prints every row of its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "engine.py"
ROWS = (
    "1a text x4",
    "1b text x4",
    "2  outpaint",
    "3a upscale",
    "3b upscale",
    "3c upscale",
    "3d upscale",
)


@pytest.mark.slow
def test_engine_benchmark_smoke_prints_every_row() -> None:
    # Generous timeout: about 20 s alone, but the machine is shared and each child imports torch.
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for row in ROWS:
        assert row in done.stdout, f"row {row!r} missing from:\n{done.stdout}"


@pytest.mark.slow
def test_service_benchmark_smoke_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK.parent / "service.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "1 service end-to-end vs in-process engine" in done.stdout
    assert "jobs/s" in done.stdout


@pytest.mark.slow
def test_fast_mode_benchmark_smoke_prints_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK.parent / "fast.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for row in ("UNet loop wall time", "UNet FLOPs", "relative L2"):
        assert row in done.stdout
