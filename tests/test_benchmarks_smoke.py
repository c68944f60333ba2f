"""Every benchmark's smoke mode runs end to end through all.py and prints every row, so none rots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
ROWS = {
    "engine.py": ("1a text x4", "1b text x4", "2  outpaint", "3a upscale", "3b upscale", "3c upscale", "3d upscale"),
    "service.py": ("1 service end-to-end vs in-process engine", "jobs/s"),
    "fast.py": ("UNet loop wall time", "UNet FLOPs", "relative L2"),
    "precision.py": ("classic attention vs SDPA", "channels-last", "torch.compile steady state", "bf16 weights"),
    "batching.py": ("batching across users", "live previews"),
    "gallery.py": (
        "gallery newest page p95", "gallery deep page (cursor) p95", "gallery search rare word", "postgresql"
    ),
    "fleet.py": ("fleet GPU-hours: KEDA reactive", "(shipped)", "fleet cost a day: shipped policy"),
    "fleet_calibration.py": ("calibration wait p95", "calibration wait spike p95, measured overhead", "worker-seconds"),
}


@pytest.mark.slow
def test_every_benchmark_smoke_runs_into_one_table() -> None:
    # all.py runs each script in --smoke mode and prints one combined table.
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from all import SCRIPTS
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert set(SCRIPTS) == set(ROWS), "every benchmark script is in all.py and has its rows listed here"
    # Generous timeout: seconds each, but the machine is shared and each script imports torch.
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "all.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    for script, rows in ROWS.items():
        for row in rows:
            found = any(line.startswith(script[:-3]) and row in line for line in lines)
            assert found, f"{script}: row {row!r} missing from:\n{done.stdout}"
