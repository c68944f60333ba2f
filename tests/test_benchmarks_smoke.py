"""Every benchmark's smoke mode runs end to end and prints every row of its table, so none rots."""

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
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(ROWS))
def test_benchmark_smoke_prints_every_row(script: str) -> None:
    # Generous timeout: seconds alone, but the machine is shared and each child imports torch.
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for row in ROWS[script]:
        assert row in done.stdout, f"row {row!r} missing from:\n{done.stdout}"
