"""The GPU fleet through a day with the morning spike (craftgen fleet simulate), as benchmark rows:
each policy's GPU-hours and cost against the static fleet sized for the peak, simulated in the
same run on the same arrivals, with its spike p95 wait and jobs lost as the check.

    .venv/bin/python benchmarks/fleet.py            # the shipped day (about 20 s)
    .venv/bin/python benchmarks/fleet.py --smoke    # the day at 5 % of its rates: seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from craftgen.fleet.command import simulate_policies
from craftgen.fleet.model import Params

from bench_table import Row, print_rows, ratio

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the day at 5 %% of its rates: seconds")
    parser.add_argument("--out", type=Path, default=None, help="keep the table and plots here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        report = simulate_policies(
            manifests=K8S,
            arrivals=None,
            out_dir=args.out or Path(scratch),
            seed=0,
            params=Params(),
            rate_scale=0.05 if args.smoke else 1.0,
        )
    print(report.text)
    static, rows = report.summaries[0], []
    for summary in report.summaries[1:]:
        check = f"spike p95 wait {summary.spike_p95_s:.1f} s, lost {summary.lost}, {summary.jobs} jobs"
        rows.append(
            Row(
                f"fleet GPU-hours: {summary.policy}",
                f"{summary.gpu_hours:.1f} GPU-h",
                f"{static.gpu_hours:.1f} GPU-h (static)",
                ratio(static.gpu_hours, summary.gpu_hours),
                check,
            )
        )
    shipped = report.shipped
    rows.append(Row("fleet cost a day: shipped policy", f"${shipped.cost:.2f}", f"${static.cost:.2f} (static)",
                    ratio(static.cost, shipped.cost), f"goal {'met' if report.goal_met else 'missed'}"))  # fmt: skip
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
