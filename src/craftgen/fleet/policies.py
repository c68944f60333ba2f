"""The policies compared, the numbers each run is judged by, and the goal: p95 queue wait under
60 s through the spike, at no more than 60 % of the static fleet's GPU-hours, 0 jobs lost with spot
interruptions."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from craftgen.fleet.arrivals import RateCurve
from craftgen.fleet.manifests import ScalingRule
from craftgen.fleet.model import Params
from craftgen.fleet.sim import Outcome, Policy, simulate

GOAL_SPIKE_P95_S = 60.0
GOAL_GPU_HOURS_SHARE = 0.60


@dataclass(frozen=True)
class Summary:
    """One policy's row of the comparison table."""

    policy: str
    day_p50_s: float
    day_p95_s: float
    day_p99_s: float
    spike_p50_s: float
    spike_p95_s: float
    spike_p99_s: float
    gpu_hours_on_demand: float
    gpu_hours_spot: float
    cost: float
    jobs: int
    lost: int
    interruptions: int
    handed_back: int
    peak_workers: int

    @property
    def gpu_hours(self) -> float:
        return self.gpu_hours_on_demand + self.gpu_hours_spot


def summarize(outcome: Outcome, *, params: Params, day_end_s: float) -> Summary:
    waits, arrivals = np.asarray(outcome.waits), np.asarray(outcome.arrivals)
    start, end = outcome.spike
    spike = waits[(arrivals >= start) & (arrivals < end)]

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q)) if values.size else 0.0

    hours = {"on-demand": 0.0, "spot": 0.0}
    for span in outcome.spans:
        hours[span.pool] += max(0.0, min(span.end, day_end_s) - span.start) / 3600.0
    cost = sum(hours[pool] * params.prices.per_h(pool) for pool in hours)
    return Summary(
        policy=outcome.policy,
        day_p50_s=pct(waits, 50),
        day_p95_s=pct(waits, 95),
        day_p99_s=pct(waits, 99),
        spike_p50_s=pct(spike, 50),
        spike_p95_s=pct(spike, 95),
        spike_p99_s=pct(spike, 99),
        gpu_hours_on_demand=hours["on-demand"],
        gpu_hours_spot=hours["spot"],
        cost=cost,
        jobs=outcome.arrived,
        lost=outcome.lost,
        interruptions=outcome.interruptions,
        handed_back=outcome.handed_back,
        peak_workers=max((s.ready for s in outcome.samples), default=0),
    )


def meets_goal(candidate: Summary, static: Summary) -> bool:
    return (
        candidate.spike_p95_s < GOAL_SPIKE_P95_S
        and candidate.gpu_hours <= GOAL_GPU_HOURS_SHARE * static.gpu_hours
        and candidate.lost == 0
    )


def mix_jobs_per_s(params: Params, *, batch_size: int) -> float:
    """One worker's throughput on the job mix, full batches (a weighted harmonic mean)."""
    total = sum(kind.weight for kind in params.mix)
    seconds_per_job = sum(
        kind.weight / total / params.service.jobs_per_s(kind, batch_size=batch_size) for kind in params.mix
    )
    return 1.0 / seconds_per_job


def size_static_fleet(*, curve: RateCurve, params: Params, batch_size: int, seed: int) -> tuple[int, Outcome]:
    """The smallest always-on fleet whose spike p95 wait is under the goal: from the peak rate over
    one worker's throughput, upward."""
    workers = math.ceil(curve.peak_per_s() / mix_jobs_per_s(params, batch_size=batch_size))
    while True:
        outcome = simulate(Policy(f"static: {workers} on-demand, sized for the peak", static_workers=workers),
                           curve=curve, params=params, seed=seed)  # fmt: skip
        if summarize(outcome, params=params, day_end_s=curve.end_s).spike_p95_s < GOAL_SPIKE_P95_S:
            return workers, outcome
        workers += 1


@dataclass(frozen=True)
class Run:
    """A policy with the parameters it runs under (spot rates differ between rows)."""

    policy: Policy
    params: Params


def comparison_runs(rule: ScalingRule, *, params: Params) -> list[Run]:
    """KEDA reactive (the cron windows idle), + the pre-warm as shipped, + the spot burst as shipped,
    + spot interruptions at ten times the rate: each row adds one thing to the one above."""
    on_demand_only = dataclasses.replace(params, spot=dataclasses.replace(params.spot, interruptions_per_hour=0.0))
    stressed = dataclasses.replace(
        params, spot=dataclasses.replace(params.spot, interruptions_per_hour=10 * params.spot.interruptions_per_hour)
    )
    floor = f"floor {rule.floor_replicas} on-demand"
    runs = [Run(Policy(f"KEDA reactive, {floor} + on-demand burst", rule=rule.without_cron(), burst_pool="on-demand"),
                on_demand_only)]  # fmt: skip
    if rule.cron_triggers:
        runs.append(Run(Policy(f"KEDA + cron pre-warm, {floor} + on-demand burst", rule=rule, burst_pool="on-demand"),
                        on_demand_only))  # fmt: skip
    shipped = "KEDA + cron pre-warm" if rule.cron_triggers else "KEDA"
    rate = params.spot.interruptions_per_hour
    runs.append(Run(Policy(f"{shipped}, {floor} + {rule.burst_pool} burst (shipped); {rate:g}/h interruptions",
                           rule=rule), params))  # fmt: skip
    runs.append(Run(Policy(f"the same, {10 * rate:g}/h interruptions", rule=rule), stressed))
    return runs


def compare(rule: ScalingRule, *, curve: RateCurve, params: Params, seed: int) -> tuple[list[Summary], list[Outcome]]:
    """Every policy on the same arrivals (same seed): the static fleet first, the shipped rule last
    but one."""
    _, static = size_static_fleet(curve=curve, params=params, batch_size=rule.batch_size, seed=seed)
    outcomes = [static] + [simulate(run.policy, curve=curve, params=run.params, seed=seed)
                           for run in comparison_runs(rule, params=params)]  # fmt: skip
    runs_params = [params] + [run.params for run in comparison_runs(rule, params=params)]
    summaries = [summarize(o, params=p, day_end_s=curve.end_s) for o, p in zip(outcomes, runs_params, strict=True)]
    return summaries, outcomes
