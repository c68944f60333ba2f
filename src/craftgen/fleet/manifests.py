"""The scaling rule as deployed, read from the shipped manifests (deploy/k8s): the KEDA
ScaledObject (triggers, target, formula, min/max replicas, polling, cooldown, HPA behaviour), the
two worker Deployments (the on-demand floor's replicas, the burst pool's placement and grace
period) and the ConfigMap (batch size, lease). The simulator takes only what is read here, so the
simulation and the deployment cannot drift apart; a value the rule depends on that is missing or of
a kind this does not model is an error naming it."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from craftgen.fleet.formula import Formula

SCALED_OBJECT = "craftgen-worker"
FLOOR_DEPLOYMENT = "craftgen-worker-on-demand"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
# KEDA's cron scaler reports desiredReplicas inside its window and 1 outside it (its
# defaultDesiredReplicas); a formula should test `name > 1`, true only inside the window.
CRON_IDLE_VALUE = 1.0
QUEUE_TRIGGERS = frozenset({"redis-streams", "aws-sqs-queue"})


class ManifestError(ValueError):
    """A manifest value the simulator needs is missing or outside what it models."""


@dataclass(frozen=True)
class ScalePolicy:
    """One HPA behaviour policy: at most `value` pods (or percent) per `period_s`."""

    kind: str  # "Pods" | "Percent"
    value: int
    period_s: float


@dataclass(frozen=True)
class ScaleBehavior:
    """One direction of the HPA's behaviour (scaleUp or scaleDown)."""

    stabilization_s: float
    select: str  # "Max" | "Min" | "Disabled"
    policies: tuple[ScalePolicy, ...]


# Kubernetes' defaults when a ScaledObject gives no behaviour for a direction.
DEFAULT_SCALE_UP = ScaleBehavior(0, "Max", (ScalePolicy("Percent", 100, 15), ScalePolicy("Pods", 4, 15)))
DEFAULT_SCALE_DOWN = ScaleBehavior(300, "Max", (ScalePolicy("Percent", 100, 15),))


@dataclass(frozen=True)
class CronWindow:
    """A KEDA cron trigger: `desired_replicas` from `start_min` to `end_min` (minutes of the day,
    in `timezone`; the arrivals CSV is read in the same clock)."""

    timezone: str
    start_min: int
    end_min: int
    desired_replicas: int

    def active(self, minute_of_day: float) -> bool:
        if self.start_min <= self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min  # across midnight


@dataclass(frozen=True)
class Trigger:
    """A ScaledObject trigger: a queue (its priority's waiting + running jobs, per-pod target) or
    a cron window."""

    name: str
    type: str
    target: float = 0.0
    priority: int | None = None  # queue triggers: 1 = pro, 0 = free
    cron: CronWindow | None = None


@dataclass(frozen=True)
class ScalingRule:
    """Everything the autoscaler and the workers do that the manifests decide."""

    source: str
    min_replicas: int
    max_replicas: int
    polling_s: float
    cooldown_s: float
    triggers: tuple[Trigger, ...]
    formula: Formula | None
    target: float
    activation_target: float
    scale_up: ScaleBehavior
    scale_down: ScaleBehavior
    floor_replicas: int
    floor_pool: str
    burst_pool: str
    batch_size: int
    lease_s: float
    grace_s: float

    @property
    def cron_triggers(self) -> tuple[Trigger, ...]:
        return tuple(trigger for trigger in self.triggers if trigger.cron is not None)

    def without_cron(self) -> ScalingRule:
        """The same rule with every cron window idle: the reactive rule alone."""
        triggers = tuple(
            dataclasses.replace(t, cron=dataclasses.replace(t.cron, desired_replicas=0)) if t.cron else t
            for t in self.triggers
        )
        return dataclasses.replace(self, triggers=triggers)

    def with_cron(self, *, start_min: int, end_min: int, desired_replicas: int) -> ScalingRule:
        """The rule with its cron window(s) moved: for tuning the pre-warm."""
        if not self.cron_triggers:
            raise ManifestError(f"{self.source}: the ScaledObject has no cron trigger to move")
        triggers = tuple(
            dataclasses.replace(
                t,
                cron=dataclasses.replace(
                    t.cron, start_min=start_min, end_min=end_min, desired_replicas=desired_replicas
                ),
            )
            if t.cron
            else t
            for t in self.triggers
        )
        return dataclasses.replace(self, triggers=triggers)

    def compressed(self, factor: float) -> ScalingRule:
        """Every duration divided by `factor` (polling, cooldown, windows, policy periods): the same
        rule on a clock `factor` times faster, for a compressed replay (the calibration)."""

        def behavior(b: ScaleBehavior) -> ScaleBehavior:
            policies = tuple(dataclasses.replace(p, period_s=p.period_s / factor) for p in b.policies)
            return dataclasses.replace(b, stabilization_s=b.stabilization_s / factor, policies=policies)

        return dataclasses.replace(
            self,
            polling_s=self.polling_s / factor,
            cooldown_s=self.cooldown_s / factor,
            scale_up=behavior(self.scale_up),
            scale_down=behavior(self.scale_down),
            lease_s=self.lease_s / factor,
            grace_s=self.grace_s / factor,
        )

    def metrics(self, *, queued_by_priority: dict[int, int], minute_of_day: float) -> dict[str, float]:
        """Each trigger's metric value now, as KEDA reads it."""
        values: dict[str, float] = {}
        for trigger in self.triggers:
            if trigger.cron is not None:
                active = trigger.cron.desired_replicas > 0 and trigger.cron.active(minute_of_day)
                values[trigger.name] = float(trigger.cron.desired_replicas) if active else CRON_IDLE_VALUE
            else:
                assert trigger.priority is not None
                values[trigger.name] = float(queued_by_priority.get(trigger.priority, 0))
        return values

    def desired(self, metrics: dict[str, float], *, current: int) -> tuple[int, bool]:
        """(the HPA's unbounded recommendation, KEDA's activity) for these metric values. With a
        formula: one AverageValue metric, `ceil(value / target)`; without: each trigger's own
        recommendation, the largest winning (the HPA's rule for several metrics)."""
        if self.formula is not None:
            value = self.formula(metrics)
            return _average_value(value, self.target, current), value > self.activation_target
        recommendations, active = [], False
        for trigger in self.triggers:
            value = metrics[trigger.name]
            if trigger.cron is not None:
                recommendations.append(int(value) if value > CRON_IDLE_VALUE else 0)
                active = active or value > CRON_IDLE_VALUE
            else:
                recommendations.append(_average_value(value, trigger.target, current))
                active = active or value > 0
        return max(recommendations, default=0), active


# The HPA leaves the count alone while the metric is within 10 % of the target (its default
# --horizontal-pod-autoscaler-tolerance).
HPA_TOLERANCE = 0.1


def _average_value(value: float, target: float, current: int) -> int:
    if current > 0 and abs(value / (target * current) - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(value / target)


def load_rule(manifests: Path) -> ScalingRule:
    """The rule from a deploy/k8s folder: keda.yaml, worker.yaml and config.yaml."""
    keda_path, worker_path, config_path = (manifests / name for name in ("keda.yaml", "worker.yaml", "config.yaml"))
    for path in (keda_path, worker_path, config_path):
        if not path.is_file():
            raise ManifestError(f"no {path.name} in {manifests}")
    scaled = _one(_docs(keda_path), "ScaledObject", SCALED_OBJECT, keda_path)
    deployments = {doc["metadata"]["name"]: doc for doc in _docs(worker_path) if doc.get("kind") == "Deployment"}
    config = _one(_docs(config_path), "ConfigMap", "craftgen-config", config_path)["data"]

    spec = scaled["spec"]
    burst_name = spec["scaleTargetRef"]["name"]
    if burst_name not in deployments or FLOOR_DEPLOYMENT not in deployments:
        raise ManifestError(f"{worker_path}: needs Deployments {burst_name} and {FLOOR_DEPLOYMENT}")
    burst, floor = deployments[burst_name], deployments[FLOOR_DEPLOYMENT]
    advanced = spec.get("advanced", {})
    modifiers = advanced.get("scalingModifiers")
    behavior = advanced.get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    triggers = tuple(_trigger(raw, keda_path) for raw in spec["triggers"])
    formula = Formula.parse(modifiers["formula"]) if modifiers else None
    if formula is not None and not formula.names <= {t.name for t in triggers}:
        raise ManifestError(
            f"{keda_path}: formula names {sorted(formula.names)}, triggers are {[t.name for t in triggers]}"
        )
    if modifiers and modifiers.get("metricType", "AverageValue") != "AverageValue":
        raise ManifestError(f"{keda_path}: only an AverageValue scalingModifiers metric is modelled")
    return ScalingRule(
        source=str(keda_path),
        min_replicas=int(spec.get("minReplicaCount", 0)),
        max_replicas=int(spec.get("maxReplicaCount", 100)),
        polling_s=float(spec.get("pollingInterval", 30)),
        cooldown_s=float(spec.get("cooldownPeriod", 300)),
        triggers=triggers,
        formula=formula,
        target=float(modifiers["target"]) if modifiers else 0.0,
        activation_target=float(modifiers.get("activationTarget", 0)) if modifiers else 0.0,
        scale_up=_behavior(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
        scale_down=_behavior(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
        floor_replicas=int(floor["spec"].get("replicas", 1)),
        floor_pool=_pool(floor),
        burst_pool=_pool(burst),
        batch_size=int(config["CRAFTGEN_BATCH_SIZE"]),
        lease_s=float(config["CRAFTGEN_LEASE_SECONDS"]),
        grace_s=float(burst["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)),
    )


def _docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _one(docs: list[dict[str, Any]], kind: str, name: str, path: Path) -> dict[str, Any]:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise ManifestError(f"{path}: no {kind} named {name}")


def _trigger(raw: dict[str, Any], path: Path) -> Trigger:
    kind, name, metadata = raw["type"], raw.get("name", raw["type"]), raw.get("metadata", {})
    if kind == "cron":
        return Trigger(name=name, type=kind, cron=_cron(metadata, path))
    if kind == "redis-streams":
        if "consumerGroup" in metadata:
            raise ManifestError(f"{path}: trigger {name}: only the stream-length mode (no consumerGroup) is modelled")
        priority = int(str(metadata["stream"]).rsplit(":", 1)[-1])
        return Trigger(name=name, type=kind, target=float(metadata["streamLength"]), priority=priority)
    if kind == "aws-sqs-queue":
        if metadata.get("scaleOnInFlight", "true") != "true":
            raise ManifestError(f"{path}: trigger {name}: only scaleOnInFlight (waiting + running) is modelled")
        queue = str(metadata["queueURL"]).rsplit("/", 1)[-1]
        priority = {"pro": 1, "free": 0}[queue.rsplit("-", 1)[-1]]
        return Trigger(name=name, type=kind, target=float(metadata.get("queueLength", 5)), priority=priority)
    raise ManifestError(f"{path}: trigger {name} of type {kind} is not modelled (queue and cron triggers are)")


_CRON_FIELD = re.compile(r"^\d{1,2}$")


def _cron(metadata: dict[str, Any], path: Path) -> CronWindow:
    def minute_of_day(expression: str) -> int:
        fields = expression.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields[:2]) or fields[2:4] != ["*", "*"]:
            raise ManifestError(f"{path}: cron {expression!r}: only 'M H * * DOW' (daily) windows are modelled")
        return int(fields[1]) * 60 + int(fields[0])

    return CronWindow(
        timezone=str(metadata["timezone"]),
        start_min=minute_of_day(str(metadata["start"])),
        end_min=minute_of_day(str(metadata["end"])),
        desired_replicas=int(metadata["desiredReplicas"]),
    )


def _behavior(raw: dict[str, Any] | None, default: ScaleBehavior) -> ScaleBehavior:
    if raw is None:
        return default
    policies = tuple(
        ScalePolicy(kind=str(p["type"]), value=int(p["value"]), period_s=float(p["periodSeconds"]))
        for p in raw.get("policies", [])
    )
    return ScaleBehavior(
        stabilization_s=float(raw.get("stabilizationWindowSeconds", default.stabilization_s)),
        select=str(raw.get("selectPolicy", "Max")),
        policies=policies or default.policies,
    )


def _pool(deployment: dict[str, Any]) -> str:
    """spot or on-demand: what the pod's node affinity requires, else what it prefers."""
    affinity = deployment["spec"]["template"]["spec"].get("affinity", {}).get("nodeAffinity", {})
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", [])
    preferred = [p["preference"] for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    for term in [*required, *preferred]:
        for expression in term.get("matchExpressions", []):
            if expression["key"] == CAPACITY_TYPE and expression["operator"] == "In":
                return "spot" if "spot" in expression["values"] else "on-demand"
    return "on-demand"
