"""The simulator: seeded runs repeat, a big enough static fleet does not queue, spot interruptions
lose nothing (handed back at once, or redelivered after the lease), the pre-warm is up before the
spike, the shipped policy meets the goal, and the command writes its report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from craftgen.cli import main
from craftgen.fleet.arrivals import RateCurve, load_curve
from craftgen.fleet.command import simulate_policies
from craftgen.fleet.manifests import load_rule
from craftgen.fleet.model import JobClass, Params, Spot
from craftgen.fleet.policies import GOAL_GPU_HOURS_SHARE, GOAL_SPIKE_P95_S, summarize
from craftgen.fleet.sim import Policy, simulate

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def flat(jobs_per_minute: float, *, hours: float = 1.0) -> RateCurve:
    rate = jobs_per_minute / 60
    return RateCurve((0.0, hours * 3600), (rate, rate), "flat")


def test_seeded_runs_are_deterministic() -> None:
    rule = load_rule(K8S)
    curve = flat(120, hours=0.5)
    params = Params(spot=Spot(interruptions_per_hour=2.0))
    first, again, other = (simulate(Policy("keda", rule=rule), curve=curve, params=params, seed=s) for s in (7, 7, 8))
    assert first.waits == again.waits and first.spans == again.spans and first.samples == again.samples
    assert first.arrivals != other.arrivals


def test_a_static_fleet_with_enough_workers_has_about_no_wait() -> None:
    params = Params()
    curve = flat(120)  # 2 jobs/s; one worker does about 0.7 with full batches
    outcome = simulate(Policy("static", static_workers=6), curve=curve, params=params, seed=1)
    summary = summarize(outcome, params=params, day_end_s=curve.end_s)
    assert outcome.lost == 0 and outcome.finished == outcome.arrived > 6000
    assert summary.day_p99_s < 2.0
    assert summary.gpu_hours == pytest.approx(6.0)
    starved = simulate(Policy("static", static_workers=2), curve=curve, params=params, seed=1)
    assert np.percentile(starved.waits, 95) > 300, "too few workers queue up"


# Long batches (FLUX-sized, 1024 px): a batch in hand outlasts the 2-minute notice.
LONG = Params(mix=(JobClass("flux-1024", family="flux", width=1024, height=1024, steps=28),))


@pytest.mark.parametrize("hand_back", [True, False])
def test_spot_interruptions_lose_no_job(hand_back: bool) -> None:
    rule = load_rule(K8S).without_cron()
    params = dataclasses.replace(LONG, spot=Spot(interruptions_per_hour=3.0, hand_back=hand_back))
    outcome = simulate(Policy("spot", rule=rule), curve=flat(6, hours=2), params=params, seed=3)
    assert outcome.interruptions >= 5
    assert outcome.lost == 0 and outcome.finished == outcome.arrived
    if hand_back:
        assert outcome.handed_back > 0 and outcome.redelivered_after_lease == 0
    else:
        assert outcome.redelivered_after_lease > 0 and outcome.handed_back == 0


def test_the_pre_warm_is_ready_before_the_spike() -> None:
    rule = load_rule(K8S)
    (window,) = [t.cron for t in rule.cron_triggers]
    assert window is not None
    curve = load_curve()
    spike_start, _ = curve.spike_window()
    morning = RateCurve(curve.times_s[:6], curve.rates_per_s[:6], "morning")  # up to 08:10
    outcome = simulate(Policy("keda", rule=rule), curve=morning, params=Params(), seed=0)
    at_spike = next(s for s in outcome.samples if s.t >= spike_start)
    assert at_spike.ready >= rule.floor_replicas + window.desired_replicas
    reactive = simulate(Policy("keda", rule=rule.without_cron()), curve=morning, params=Params(), seed=0)
    assert next(s for s in reactive.samples if s.t >= spike_start).ready <= rule.floor_replicas + 2


@pytest.mark.slow
def test_the_shipped_policy_meets_the_goal(tmp_path: Path) -> None:
    report = simulate_policies(manifests=K8S, arrivals=None, out_dir=tmp_path, seed=0, params=Params())
    static, shipped = report.summaries[0], report.shipped
    assert shipped.spike_p95_s < GOAL_SPIKE_P95_S
    assert shipped.gpu_hours <= GOAL_GPU_HOURS_SHARE * static.gpu_hours
    assert shipped.lost == 0 and shipped.interruptions > 0
    assert report.goal_met
    reactive = report.summaries[1]
    assert reactive.spike_p95_s > GOAL_SPIKE_P95_S, "without the pre-warm the spike outruns the cold start"
    assert all(s.lost == 0 for s in report.summaries)
    assert {p.name for p in tmp_path.iterdir()} == {"summary.md", "summary.json", "fleet-day.png", "fleet-spike.png"}


def test_the_command_writes_the_table_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    result = CliRunner().invoke(
        main, ["fleet", "simulate", "--manifests", str(K8S), "--out", str(out), "--rate-scale", "0.05"]
    )
    assert result.exit_code in (0, 1), result.output
    assert "static:" in result.output and "(shipped)" in result.output
    assert (out / "fleet-spike.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| policy |" in (out / "summary.md").read_text()
