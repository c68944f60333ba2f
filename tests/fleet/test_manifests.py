"""The simulator reads the scaling rule from the shipped manifests, value for value."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftgen.fleet.formula import Formula, FormulaError
from craftgen.fleet.manifests import CRON_IDLE_VALUE, ManifestError, load_rule

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_the_rule_is_the_shipped_one_value_for_value() -> None:
    rule = load_rule(K8S)
    (scaled,) = [d for d in docs(K8S / "keda.yaml") if d["kind"] == "ScaledObject"]
    spec = scaled["spec"]
    deployments = {d["metadata"]["name"]: d for d in docs(K8S / "worker.yaml") if d["kind"] == "Deployment"}
    config = next(d for d in docs(K8S / "config.yaml") if d["kind"] == "ConfigMap")["data"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    modifiers = spec["advanced"]["scalingModifiers"]

    assert (rule.min_replicas, rule.max_replicas) == (spec["minReplicaCount"], spec["maxReplicaCount"])
    assert (rule.polling_s, rule.cooldown_s) == (spec["pollingInterval"], spec["cooldownPeriod"])
    assert rule.formula is not None and rule.formula.source == modifiers["formula"]
    assert rule.target == float(modifiers["target"])
    assert rule.activation_target == float(modifiers["activationTarget"])
    for ours, theirs in ((rule.scale_up, behavior["scaleUp"]), (rule.scale_down, behavior["scaleDown"])):
        assert ours.stabilization_s == theirs["stabilizationWindowSeconds"]
        assert ours.select == theirs["selectPolicy"]
        assert [(p.kind, p.value, p.period_s) for p in ours.policies] == [
            (p["type"], p["value"], p["periodSeconds"]) for p in theirs["policies"]
        ]
    assert [t.name for t in rule.triggers] == [t["name"] for t in spec["triggers"]]
    assert rule.floor_replicas == deployments["craftgen-worker-on-demand"]["spec"]["replicas"]
    assert (rule.floor_pool, rule.burst_pool) == ("on-demand", "spot")
    assert rule.batch_size == int(config["CRAFTGEN_BATCH_SIZE"])
    assert rule.lease_s == float(config["CRAFTGEN_LEASE_SECONDS"])
    assert rule.grace_s == deployments["craftgen-worker"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    (cron,) = [t["metadata"] for t in spec["triggers"] if t["type"] == "cron"]
    (window,) = [t.cron for t in rule.cron_triggers]
    assert window is not None and window.timezone == cron["timezone"]
    assert window.desired_replicas == int(cron["desiredReplicas"])
    minute, hour = (int(x) for x in cron["start"].split()[:2])
    assert window.start_min == hour * 60 + minute


def test_the_sqs_variant_has_the_same_rule(tmp_path: Path) -> None:
    for name in ("worker.yaml", "config.yaml"):
        (tmp_path / name).write_text((K8S / name).read_text())
    (tmp_path / "keda.yaml").write_text((K8S / "sqs" / "keda.yaml").read_text())
    redis, sqs = load_rule(K8S), load_rule(tmp_path)

    def strip(rule: Any) -> Any:
        triggers = tuple(dataclasses.replace(t, type="queue") for t in rule.triggers)
        return dataclasses.replace(rule, source="", triggers=triggers, formula=rule.formula.source)

    assert strip(redis) == strip(sqs)


def test_the_queue_triggers_count_waiting_and_running_per_priority() -> None:
    rule = load_rule(K8S)
    metrics = rule.metrics(queued_by_priority={1: 3, 0: 9}, minute_of_day=3 * 60)
    assert metrics == {"pro": 3.0, "free": 9.0, "prewarm": CRON_IDLE_VALUE}
    assert rule.desired(metrics, current=1) == (3, True)  # 12 jobs / 4 per replica
    inside = rule.metrics(queued_by_priority={1: 0, 0: 2}, minute_of_day=8 * 60)
    (window,) = [t.cron for t in rule.cron_triggers]
    assert window is not None
    assert rule.desired(inside, current=1)[0] == window.desired_replicas
    reactive = rule.without_cron()
    assert reactive.desired(reactive.metrics(queued_by_priority={1: 0, 0: 2}, minute_of_day=8 * 60), current=1) == (
        1,
        True,
    )


def test_a_rule_the_simulator_cannot_model_is_refused(tmp_path: Path) -> None:
    for name in ("worker.yaml", "config.yaml"):
        (tmp_path / name).write_text((K8S / name).read_text())
    text = (K8S / "keda.yaml").read_text().replace("type: cron", "type: prometheus")
    (tmp_path / "keda.yaml").write_text(text)
    with pytest.raises(ManifestError, match="prometheus"):
        load_rule(tmp_path)
    with pytest.raises(ManifestError, match=r"no keda\.yaml"):
        load_rule(tmp_path / "missing")


def test_formulas_evaluate_like_keda() -> None:
    formula = Formula.parse("prewarm > 1 && pro + free < prewarm * 4 ? prewarm * 4 : pro + free")
    assert formula({"pro": 2, "free": 3, "prewarm": 1}) == 5
    assert formula({"pro": 2, "free": 3, "prewarm": 8}) == 32
    assert formula({"pro": 20, "free": 30, "prewarm": 8}) == 50
    assert Formula.parse("max(a, b) - -1 * (2 + 1) % 2")({"a": 1, "b": 4}) == 5
    with pytest.raises(FormulaError, match="sqrt"):
        Formula.parse("sqrt(a)")
    with pytest.raises(FormulaError, match="needs"):
        Formula.parse("a + b")({"a": 1})
