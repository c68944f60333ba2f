"""Every benchmark in one run, printed as one table (the README's Performance table).

Runs each script below in its own process (so one's memory or threads never colour another's),
collects the `BENCH-ROW` lines each prints (bench_table.py), and prints them as one table under
a header naming the machine. Every row is a ratio against a baseline measured in the same run
by the same script; see each script's own docstring for what exactly it compares.

    .venv/bin/python benchmarks/all.py            # the full run (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/all.py --smoke    # every code path, smallest settings (CI)
    .venv/bin/python benchmarks/all.py --only fast.py --only engine.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench_table import Row, cpu_model, parse_rows, table

HERE = Path(__file__).resolve().parent
# In the order the README's table reads: throughput first, then per-image speed, then memory.
SCRIPTS = (
    "fast.py", "precision.py", "batching.py", "engine.py", "service.py", "gallery.py",
    "fleet.py", "fleet_calibration.py",
)  # fmt: skip


def run_script(script: str, *, smoke: bool, timeout: float) -> tuple[list[Row], str]:
    command = [sys.executable, str(HERE / script)] + (["--smoke"] if smoke else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rows = parse_rows(done.stdout)
    if not rows:
        raise RuntimeError(f"{script} printed no BENCH-ROW lines:\n{done.stdout[-3000:]}")
    return rows, done.stdout


def labelled(script: str, name: str) -> str:
    """A row's name led by its script's ("fast: ..."), once."""
    stem = script.removesuffix(".py")
    return name if name.startswith(stem) else f"{stem}: {name}"


def markdown(rows: Sequence[Row]) -> str:
    """The table as Markdown, for the README."""
    lines = ["| row | craftgen | baseline | baseline/craftgen | setup / check |", "|---|---|---|---|---|"]
    for row in rows:
        cells = (row.name, row.craftgen, row.baseline, row.ratio, row.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def header(*, smoke: bool) -> str:
    import torch  # imported here so --help stays instant

    return "\n".join(
        [
            f"craftgen benchmarks ({'smoke' if smoke else 'full'}), {datetime.date.today().isoformat()}",
            f"machine: {cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, "
            f"torch {torch.__version__}, python {platform.python_version()}",
            "every ratio is baseline / craftgen from the same run: above 1, craftgen is faster or smaller",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest settings, seconds per script (CI)")
    parser.add_argument("--only", action="append", choices=SCRIPTS, help="run just these scripts")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per script")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (the README's)")
    args = parser.parse_args(argv)
    scripts = [script for script in SCRIPTS if not args.only or script in args.only]
    rows: list[Row] = []
    for script in scripts:
        started = time.perf_counter()
        print(f"running {script} ...", file=sys.stderr, flush=True)
        script_rows, _ = run_script(script, smoke=args.smoke, timeout=args.timeout)
        rows += [
            Row(labelled(script, row.name), row.craftgen, row.baseline, row.ratio, row.note) for row in script_rows
        ]
        seconds = time.perf_counter() - started
        print(f"  {script}: {len(script_rows)} rows in {seconds:.0f} s", file=sys.stderr, flush=True)
    print(header(smoke=args.smoke))
    print()
    print(markdown(rows) if args.markdown else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
