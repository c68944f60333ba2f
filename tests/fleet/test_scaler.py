"""The KEDA + HPA decisions shared by the simulator and the calibration's local scaler, on the
shipped rule: activation, the 2-minute scale-up window, the rate limits, the slow scale-down."""

from __future__ import annotations

from pathlib import Path

from craftgen.fleet.manifests import load_rule
from craftgen.fleet.scaler import Autoscaler

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
NIGHT = 3 * 60.0  # minute of the day outside the pre-warm window


def test_activation_and_cooldown() -> None:
    rule = load_rule(K8S)
    scaler = Autoscaler(rule)
    assert scaler.keda(0.0, counts={1: 0, 0: 0}, minute_of_day=NIGHT, current=0) == 0
    assert scaler.keda(10.0, counts={1: 0, 0: 1}, minute_of_day=NIGHT, current=0) == 1
    quiet = {1: 0, 0: 0}
    assert scaler.keda(10.0 + rule.cooldown_s - 1, counts=quiet, minute_of_day=NIGHT, current=1) == 1
    assert scaler.keda(10.0 + rule.cooldown_s, counts=quiet, minute_of_day=NIGHT, current=1) == 0


def test_a_blip_does_not_start_pods_but_lasting_need_does() -> None:
    rule = load_rule(K8S)
    scaler, busy = Autoscaler(rule), {1: 0, 0: 40}  # 40 jobs: 10 replicas at 4 a replica
    replicas, now = 1, 0.0
    for _ in range(int(rule.scale_up.stabilization_s // 15)):
        now += 15
        replicas = scaler.hpa(now, counts={1: 0, 0: 2} if now == 15 else busy, minute_of_day=NIGHT, current=replicas)
    assert replicas == 1, "the window's low reading holds the count"
    seen = []
    for _ in range(12):
        now += 15
        replicas = scaler.hpa(now, counts=busy, minute_of_day=NIGHT, current=replicas)
        seen.append(replicas)
    assert seen[-1] == 10
    # Rate-limited: at most max(double, +4) per 30 s.
    assert all(b <= max(2 * a, a + 4) for a, b in zip([1, *seen], seen, strict=False))


def test_scale_down_is_one_pod_per_period_after_the_window() -> None:
    rule = load_rule(K8S)
    scaler, replicas, now = Autoscaler(rule), 10, 0.0
    history = []
    while now < rule.scale_down.stabilization_s + 5 * 120:
        now += 15
        replicas = scaler.hpa(now, counts={1: 0, 0: 4 if now > 15 else 40}, minute_of_day=NIGHT, current=replicas)
        history.append((now, replicas))
    assert all(r == 10 for t, r in history if t <= rule.scale_down.stabilization_s)
    assert replicas in (4, 5), history[-3:]  # one pod per 120 s after the 600 s window


def test_a_compressed_rule_is_the_same_rule_on_a_faster_clock() -> None:
    rule = load_rule(K8S)
    fast = rule.compressed(20)
    assert fast.polling_s == rule.polling_s / 20 and fast.cooldown_s == rule.cooldown_s / 20
    assert fast.scale_down.stabilization_s == rule.scale_down.stabilization_s / 20
    assert [p.period_s * 20 for p in fast.scale_up.policies] == [p.period_s for p in rule.scale_up.policies]
    assert (fast.target, fast.max_replicas, fast.formula) == (rule.target, rule.max_replicas, rule.formula)
