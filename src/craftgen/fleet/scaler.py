"""KEDA and the HPA deciding a replica count from the rule, on any clock: the simulator calls it
on SimPy's, the calibration's local scaler on the wall clock, so both apply the same rule in the
same code. KEDA: every pollingInterval, activate (0 -> 1) on activity, deactivate (-> 0) after
cooldownPeriod without. The HPA: every sync period, the recommendation (AverageValue, 10 %
tolerance), stabilized over its windows and limited by its rate policies."""

from __future__ import annotations

import math
from collections import deque

from craftgen.fleet.manifests import ScaleBehavior, ScalingRule


class Autoscaler:
    """The decisions for one ScaledObject; `now` is seconds on the caller's clock."""

    def __init__(self, rule: ScalingRule) -> None:
        self.rule = rule
        self.last_active = -math.inf
        self.recommendations: deque[tuple[float, int]] = deque()
        self.events: deque[tuple[float, int]] = deque()

    def reading(self, *, counts: dict[int, int], minute_of_day: float, current: int) -> tuple[int, bool]:
        metrics = self.rule.metrics(queued_by_priority=counts, minute_of_day=minute_of_day)
        return self.rule.desired(metrics, current=current)

    def keda(self, now: float, *, counts: dict[int, int], minute_of_day: float, current: int) -> int:
        """KEDA's poll: the replica count after it (unchanged unless activating or deactivating)."""
        rule = self.rule
        _, active = self.reading(counts=counts, minute_of_day=minute_of_day, current=current)
        if active:
            self.last_active = now
            if current == 0:
                return max(rule.min_replicas, 1)
        elif current > 0 and rule.min_replicas == 0 and now - self.last_active >= rule.cooldown_s:
            return 0
        return current

    def hpa(self, now: float, *, counts: dict[int, int], minute_of_day: float, current: int) -> int:
        """The HPA's sync: the replica count after it (KEDA owns 0 <-> 1)."""
        if current == 0:
            return 0
        rule = self.rule
        desired, _ = self.reading(counts=counts, minute_of_day=minute_of_day, current=current)
        desired = min(max(desired, rule.min_replicas, 1), rule.max_replicas)
        target = self.normalize(now, desired, current)
        if target != current:
            self.events.append((now, target - current))
        return target

    def normalize(self, now: float, desired: int, current: int) -> int:
        """normalizeDesiredReplicasWithBehaviors: stabilize, then limit the rate."""
        up, down = self.rule.scale_up, self.rule.scale_down
        self.recommendations.append((now, desired))
        horizon = max(up.stabilization_s, down.stabilization_s)
        while self.recommendations and self.recommendations[0][0] < now - horizon:
            self.recommendations.popleft()
        up_rec = min([desired] + [v for t, v in self.recommendations if t > now - up.stabilization_s])
        down_rec = max([desired] + [v for t, v in self.recommendations if t > now - down.stabilization_s])
        recommendation = min(max(current, up_rec), down_rec)
        longest = max([p.period_s for p in (*up.policies, *down.policies)], default=0.0)
        while self.events and self.events[0][0] < now - longest:
            self.events.popleft()
        if recommendation > current:
            recommendation = min(recommendation, max(self._limit(now, up, current, up=True), current))
        elif recommendation < current:
            recommendation = max(recommendation, min(self._limit(now, down, current, up=False), current))
        return min(max(recommendation, self.rule.min_replicas, 1), self.rule.max_replicas)

    def _limit(self, now: float, behavior: ScaleBehavior, current: int, *, up: bool) -> int:
        if behavior.select == "Disabled":
            return current
        proposals = []
        for policy in behavior.policies:
            changed = sum(d for t, d in self.events if t > now - policy.period_s and (d > 0) == up)
            start = current - changed  # changed < 0 when scaling down: the count at the period's start
            if policy.kind == "Pods":
                proposals.append(start + policy.value if up else start - policy.value)
            elif up:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        # Max: the policy that allows the most change (up: the largest count; down: the smallest).
        if behavior.select == "Max":
            return max(proposals) if up else min(proposals)
        return min(proposals) if up else max(proposals)
