"""The comparison as a table (text and Markdown), a JSON file and PNG plots (queue depth, ready
workers and p95 wait over the day and through the spike), written to one folder."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from craftgen.fleet.arrivals import RateCurve
from craftgen.fleet.manifests import ScalingRule
from craftgen.fleet.model import Params
from craftgen.fleet.policies import GOAL_GPU_HOURS_SHARE, GOAL_SPIKE_P95_S, Summary, meets_goal
from craftgen.fleet.sim import Outcome

COLUMNS = (
    "policy", "spike wait p50/p95/p99 s", "day wait p50/p95/p99 s", "GPU-h on-demand + spot", "GPU-h vs static",
    "cost $", "jobs", "lost", "spot notices", "goal",
)  # fmt: skip


def _cells(row: Summary, static: Summary) -> tuple[str, ...]:
    goal = "static (baseline)" if row is static else ("met" if meets_goal(row, static) else "missed")
    return (
        row.policy,
        f"{row.spike_p50_s:.1f} / {row.spike_p95_s:.1f} / {row.spike_p99_s:.1f}",
        f"{row.day_p50_s:.1f} / {row.day_p95_s:.1f} / {row.day_p99_s:.1f}",
        f"{row.gpu_hours_on_demand:.1f} + {row.gpu_hours_spot:.1f} = {row.gpu_hours:.1f}",
        f"{row.gpu_hours / static.gpu_hours:.0%}" if static.gpu_hours else "-",
        f"{row.cost:.2f}",
        f"{row.jobs}",
        f"{row.lost}",
        f"{row.interruptions}",
        goal,
    )


def table(rows: Sequence[Summary]) -> str:
    """A fixed-width table; the first row is the static fleet the others are measured against."""
    cells = [COLUMNS] + [_cells(row, rows[0]) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(rows: Sequence[Summary]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row, rows[0])) + " |" for row in rows]
    return "\n".join(lines)


def setup_lines(rule: ScalingRule, *, curve: RateCurve, params: Params, seed: int) -> list[str]:
    """What the run assumed, for the top of the report."""
    start, end = curve.spike_window()
    cold = params.cold_start
    crons = ", ".join(
        f"{t.name} {t.cron.start_min // 60:02d}:{t.cron.start_min % 60:02d}-"
        f"{t.cron.end_min // 60:02d}:{t.cron.end_min % 60:02d} {t.cron.timezone} -> {t.cron.desired_replicas}"
        for t in rule.cron_triggers
        if t.cron
    )
    kind = params.mix[0]
    return [
        f"rule: {rule.source}: target {rule.target:g} jobs (waiting + running) per replica, "
        f"{rule.min_replicas}..{rule.max_replicas} {rule.burst_pool} replicas + {rule.floor_replicas} "
        f"{rule.floor_pool} floor, polling {rule.polling_s:g} s, cooldown {rule.cooldown_s:g} s, "
        f"scale-up window {rule.scale_up.stabilization_s:g} s, scale-down window {rule.scale_down.stabilization_s:g} s"
        + (f", cron {crons}" if crons else ""),
        f"arrivals: {curve.source}, peak {curve.peak_per_s() * 60:.0f} jobs/min, spike window "
        f"{start / 3600:05.2f}-{end / 3600:05.2f} h, seed {seed}",
        f"service: {kind.family} {kind.width}x{kind.height} {kind.steps} steps, batches of {rule.batch_size}: "
        f"{params.service.batch_s(kind, jobs=1, images=kind.num_images):.2f} s alone, "
        f"{params.service.batch_s(kind, jobs=rule.batch_size, images=rule.batch_size * kind.num_images):.2f} s "
        f"for {rule.batch_size} (GPU = the 2-core CPU's SD 1.5 step time / {params.service.gpu_speedup:g})",
        f"cold start: {cold.total_s:.0f} s = node {cold.node_s:g} + image pull {cold.image_pull_s:g} + imports "
        f"{cold.imports_s:g} + weights {cold.weights_read_s:g} + to device {cold.to_device_s:g} "
        f"+ warm-up {cold.warmup_s:g}",
        f"spot: {params.spot.interruptions_per_hour:g} interruptions per instance-hour, {params.spot.notice_s:g} s "
        f"notice, hand-back {'on' if params.spot.hand_back else 'off'}; prices ${params.prices.on_demand_per_h:g}/h "
        f"on-demand, ${params.prices.spot_per_h:g}/h spot",
        f"goal: spike p95 wait < {GOAL_SPIKE_P95_S:g} s at <= {GOAL_GPU_HOURS_SHARE:.0%} of the static fleet's "
        "GPU-hours, 0 jobs lost",
    ]


def write(
    out_dir: Path,
    *,
    rule: ScalingRule,
    curve: RateCurve,
    params: Params,
    seed: int,
    summaries: Sequence[Summary],
    outcomes: Sequence[Outcome],
) -> list[Path]:
    """summary.md, summary.json, fleet-day.png and fleet-spike.png under out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    setup = setup_lines(rule, curve=curve, params=params, seed=seed)
    md = out_dir / "summary.md"
    md.write_text("\n".join(f"- {line}" for line in setup) + "\n\n" + markdown(summaries) + "\n")
    js = out_dir / "summary.json"
    js.write_text(json.dumps({"setup": setup, "policies": [dataclasses.asdict(s) for s in summaries]}, indent=2))
    if not plotting_available():
        return [md, js]  # the table without the plots: pip install 'craftgen[fleet]' for them
    day = out_dir / "fleet-day.png"
    spike = out_dir / "fleet-spike.png"
    start, end = curve.spike_window()
    plot(outcomes, curve=curve, path=day, window=(0.0, curve.end_s), bin_s=900.0)
    plot(outcomes, curve=curve, path=spike, window=(start - 1800.0, end + 1800.0), bin_s=120.0)
    return [md, js, day, spike]


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot(
    outcomes: Sequence[Outcome], *, curve: RateCurve, path: Path, window: tuple[float, float], bin_s: float
) -> None:
    """Three panels over time: jobs waiting, ready workers, p95 wait of the jobs arriving per bin."""
    import matplotlib  # noqa: PLC0415  (only the plotting needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    lo, hi = window
    figure, (queue_ax, ready_ax, wait_ax) = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    for outcome in outcomes:
        t = np.array([s.t for s in outcome.samples])
        keep = (t >= lo) & (t <= hi)
        hours = t[keep] / 3600
        queue_ax.plot(hours, np.array([s.waiting for s in outcome.samples])[keep], label=outcome.policy, lw=1)
        ready_ax.step(hours, np.array([s.ready for s in outcome.samples])[keep], where="post", lw=1)
        arrivals, waits = np.asarray(outcome.arrivals), np.asarray(outcome.waits)
        edges = np.arange(lo, hi + bin_s, bin_s)
        p95 = [
            float(np.percentile(waits[m], 95)) if (m := (arrivals >= a) & (arrivals < b)).any() else np.nan
            for a, b in itertools.pairwise(edges)
        ]
        wait_ax.step(edges[:-1] / 3600, np.maximum(p95, 0.01), where="post", lw=1)
    rate_ax = queue_ax.twinx()
    grid = np.linspace(lo, hi, 400)
    rate_ax.plot(grid / 3600, [curve.rate(x) * 60 for x in grid], color="grey", ls=":", lw=1)
    rate_ax.set_ylabel("arrivals / min (dotted)")
    queue_ax.set_ylabel("jobs waiting")
    ready_ax.set_ylabel("ready workers")
    wait_ax.set_ylabel(f"p95 wait, s (per {bin_s / 60:g} min)")
    wait_ax.set_yscale("log")
    wait_ax.axhline(GOAL_SPIKE_P95_S, color="red", ls="--", lw=0.8)
    wait_ax.set_xlabel("hour of the day")
    queue_ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
