"""deploy/ checked offline: every Kubernetes object against its schema, KEDA objects against the
fields KEDA documents, the references between files, the compose file and the Dockerfiles."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from craftgen.fleet.formula import Formula
from craftgen.fleet.manifests import CRON_IDLE_VALUE
from craftgen.jobs.queue import PRIORITIES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_FILES = sorted((DEPLOY / "k8s").rglob("*.yaml"))
# The oldest Kubernetes we claim to run on, and the newest the installed schemas know.
KUBE_VERSIONS = ["1.30.0", latest_version()]
NAMESPACE = "craftgen"
SPOT_WORKER = "craftgen-worker"
FLOOR_WORKER = "craftgen-worker-on-demand"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
MIN_GRACE_SECONDS = 300  # one batch at the largest sizes and step counts, with room to spare
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".bin", ".pt", ".pth", ".onnx", ".gguf")


class _ComposeLoader(yaml.SafeLoader):
    """Reads compose's merge tags (`!reset`, `!override`) as plain values."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: None)
_ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: loader.construct_object(node, deep=True),  # type: ignore[arg-type]
)


def load_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_compose(name: str) -> dict[str, Any]:
    with (DEPLOY / name).open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_ComposeLoader)  # a SafeLoader with two tags more
    return data


ALL_DOCS = [(path.relative_to(DEPLOY).as_posix(), doc) for path in K8S_FILES for doc in load_docs(path)]
CORE_DOCS = [(name, doc) for name, doc in ALL_DOCS if not doc["apiVersion"].startswith("keda.sh/")]
KEDA_DOCS = [(name, doc) for name, doc in ALL_DOCS if doc["apiVersion"].startswith("keda.sh/")]


def objects(kind: str, docs: list[tuple[str, dict[str, Any]]] = ALL_DOCS) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in docs if doc["kind"] == kind}


def deployment(name: str) -> dict[str, Any]:
    return objects("Deployment")[name]


def pod_labels(name: str) -> dict[str, str]:
    labels: dict[str, str] = deployment(name)["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def config() -> dict[str, str]:
    data: dict[str, str] = objects("ConfigMap")["craftgen-config"]["data"]
    return data


def batch_target() -> int:
    return int(config()["CRAFTGEN_BATCH_SIZE"])  # one full batch per worker (deploy/README.md)


def doc_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc['kind']}/{doc['metadata']['name']}"


# Every core object against the Kubernetes schemas -------------------------------------------


def test_the_manifests_are_there() -> None:
    kinds = {doc["kind"] for _, doc in ALL_DOCS}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"} <= kinds
    assert {"ScaledObject", "TriggerAuthentication"} <= kinds


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("item", CORE_DOCS, ids=doc_id)
def test_core_objects_match_the_kubernetes_schema(item: tuple[str, dict[str, Any]], version: str) -> None:
    _, doc = item
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_is_strict() -> None:
    broken = {**deployment(SPOT_WORKER), "spec": {**deployment(SPOT_WORKER)["spec"], "replcas": 2}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replcas"):
        kubernetes_validate.validate(broken, KUBE_VERSIONS[0], strict=True)


@pytest.mark.parametrize("item", ALL_DOCS, ids=doc_id)
def test_everything_lives_in_the_craftgen_namespace(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    if doc["kind"] == "Namespace":
        assert doc["metadata"]["name"] == NAMESPACE
    else:
        assert doc["metadata"].get("namespace") == NAMESPACE


def test_names_are_unique_per_kind_within_a_file() -> None:
    seen: set[tuple[str, str, str]] = set()
    for name, doc in ALL_DOCS:
        key = (name, doc["kind"], doc["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)


def test_the_secret_is_a_template_with_placeholders_only() -> None:
    (secret,) = objects("Secret").values()
    assert "data" not in secret, "no base64 values that could be real"
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, f"{key} looks like a real secret"


# The workloads and how they refer to each other ---------------------------------------------


@pytest.mark.parametrize("name", sorted(objects("Deployment")))
def test_each_deployment_selects_its_own_pods_and_its_references_exist(name: str) -> None:
    spec = deployment(name)["spec"]
    assert selects(spec["selector"], pod_labels(name))
    others = [other for other in objects("Deployment") if other != name]
    assert not any(selects(spec["selector"], pod_labels(other)) for other in others), "selectors overlap"
    pod = spec["template"]["spec"]
    for container in pod["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in objects("ConfigMap")
            if "secretRef" in source:
                assert source["secretRef"]["name"] in objects("Secret")
        mounts = {mount["name"] for mount in container.get("volumeMounts", [])}
        assert mounts <= {volume["name"] for volume in pod.get("volumes", [])}
    for volume in pod.get("volumes", []):
        if "persistentVolumeClaim" in volume:
            assert volume["persistentVolumeClaim"]["claimName"] in objects("PersistentVolumeClaim")
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_api_is_probed_on_healthz_and_readyz_and_runs_two_or_more() -> None:
    spec = deployment("craftgen-api")["spec"]
    assert spec["replicas"] >= 2
    (container,) = spec["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"] == ["craftgen", "api", "--host", "0.0.0.0", "--port", "8000"]
    assert "nvidia.com/gpu" not in str(container["resources"])


def test_the_service_selects_the_api_pods_and_reaches_their_port() -> None:
    service = objects("Service")["craftgen-api"]["spec"]
    assert service["type"] == "ClusterIP"
    assert selects({"matchLabels": service["selector"]}, pod_labels("craftgen-api"))
    assert not selects({"matchLabels": service["selector"]}, pod_labels(SPOT_WORKER))
    (port,) = service["ports"]
    (container,) = deployment("craftgen-api")["spec"]["template"]["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["port"] == 80
    assert named.get(port["targetPort"], port["targetPort"]) == 8000


@pytest.mark.parametrize("name", [SPOT_WORKER, FLOOR_WORKER])
def test_workers_get_a_gpu_and_longer_than_a_batch_to_stop(name: str) -> None:
    pod = deployment(name)["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= MIN_GRACE_SECONDS
    assert pod["terminationGracePeriodSeconds"] > float(config()["CRAFTGEN_LEASE_SECONDS"])
    (container,) = pod["containers"]
    assert container["args"] == ["craftgen", "worker"]
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


@pytest.mark.parametrize("name", [FLOOR_WORKER, SPOT_WORKER])
def test_a_hung_worker_is_restarted_after_its_leases_lapse(name: str) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    alive_file = env["CRAFTGEN_WORKER_ALIVE_FILE"]
    command = container["livenessProbe"]["exec"]["command"]
    assert alive_file in command[-1], "the probe reads the file the worker touches"
    max_age = float(command[-1].rsplit(">", 1)[1].strip(" )"))
    stall = float(env.get("CRAFTGEN_WORKER_STALL_SECONDS", config().get("CRAFTGEN_WORKER_STALL_SECONDS", 600)))
    # The probe waits for longer than the stall limit, so the leases lapse (jobs move on) first.
    assert max_age > stall + float(config()["CRAFTGEN_LEASE_SECONDS"])


@pytest.mark.parametrize("name", [FLOOR_WORKER, SPOT_WORKER])
def test_a_worker_is_ready_only_once_its_model_is_warm(name: str) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    ready_file = env["CRAFTGEN_WORKER_READY_FILE"]
    for probe in ("startupProbe", "readinessProbe"):
        command = container[probe]["exec"]["command"]
        assert ready_file in command[-1], f"{probe} reads the file the worker writes when warm"
    startup = container["startupProbe"]
    # Room for the slowest model load (the simulator's default: 130 s; a cold node far more).
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600


def test_the_floor_and_the_burst_run_the_same_pod() -> None:
    floor, burst = (deployment(name)["spec"]["template"]["spec"] for name in (FLOOR_WORKER, SPOT_WORKER))
    placement = {"affinity", "tolerations"}
    assert {k: v for k, v in floor.items() if k not in placement} == {
        k: v for k, v in burst.items() if k not in placement
    }


def test_burst_workers_prefer_spot_and_the_floor_is_on_demand() -> None:
    burst = deployment(SPOT_WORKER)
    assert "replicas" not in burst["spec"], "KEDA owns the count; re-applying must not reset it"
    (preferred,) = burst["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert {"key": CAPACITY_TYPE, "operator": "In", "values": ["spot"]} in preferred["preference"]["matchExpressions"]
    tolerations = burst["spec"]["template"]["spec"]["tolerations"]
    assert any(t["key"] == CAPACITY_TYPE and t.get("value") == "spot" for t in tolerations)

    floor = deployment(FLOOR_WORKER)
    assert floor["spec"]["replicas"] >= 1, "the warm floor"
    (term,) = floor["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert {"key": CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]} in term["matchExpressions"]


def test_disruption_budgets_cover_the_right_pods() -> None:
    budgets = objects("PodDisruptionBudget")
    api, workers = budgets["craftgen-api"]["spec"], budgets["craftgen-worker"]["spec"]
    assert api["minAvailable"] == 1
    assert selects(api["selector"], pod_labels("craftgen-api"))
    assert not selects(api["selector"], pod_labels(SPOT_WORKER))
    assert workers["maxUnavailable"] == 1 and "minAvailable" not in workers
    assert all(selects(workers["selector"], pod_labels(name)) for name in (SPOT_WORKER, FLOOR_WORKER))
    assert not selects(workers["selector"], pod_labels("craftgen-api"))


# KEDA: not in the Kubernetes schemas, so checked against the fields KEDA documents ------------

SCALED_OBJECT_FIELDS = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
    "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
TRIGGER_FIELDS = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
QUEUE_TRIGGERS = {"redis-streams", "aws-sqs-queue"}
CRON_FIELDS = {"timezone", "start", "end", "desiredReplicas"}
REDIS_STREAMS_FIELDS = {
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv", "usernameFromEnv",
    "passwordFromEnv", "stream", "consumerGroup", "pendingEntriesCount", "streamLength", "lagCount",
    "activationLagCount", "databaseIndex", "enableTLS", "unsafeSsl",
}  # fmt: skip
SQS_FIELDS = {
    "queueURL", "queueURLFromEnv", "queueLength", "activationQueueLength", "awsRegion", "awsEndpoint",
    "scaleOnInFlight", "scaleOnDelayed", "identityOwner",
}  # fmt: skip
SCALED_OBJECTS = [(name, doc) for name, doc in KEDA_DOCS if doc["kind"] == "ScaledObject"]


def test_keda_objects_are_known_kinds() -> None:
    assert {doc["kind"] for _, doc in KEDA_DOCS} <= {"ScaledObject", "TriggerAuthentication"}
    assert {doc["apiVersion"] for _, doc in KEDA_DOCS} == {"keda.sh/v1alpha1"}


def test_only_one_scaled_object_is_applied_by_default() -> None:
    # `kubectl apply -f deploy/k8s/` is not recursive: the SQS variant under sqs/ is opt-in, and
    # both share one name so applying one replaces the other instead of fighting over the target.
    top_level = [name for name, _ in SCALED_OBJECTS if "/" not in name.removeprefix("k8s/")]
    assert top_level == ["k8s/keda.yaml"]
    assert {doc["metadata"]["name"] for _, doc in SCALED_OBJECTS} == {SPOT_WORKER}


@pytest.mark.parametrize("item", SCALED_OBJECTS, ids=doc_id)
def test_scaled_objects_scale_the_spot_workers_on_queue_depth(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    spec = doc["spec"]
    assert set(spec) <= SCALED_OBJECT_FIELDS
    # 1. The target: the spot Deployment, never the on-demand floor.
    assert spec["scaleTargetRef"] == {"name": SPOT_WORKER}
    assert SPOT_WORKER in objects("Deployment")
    # 2. Bounds and timing.
    assert 0 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    floor = deployment(FLOOR_WORKER)["spec"]["replicas"]
    assert spec["minReplicaCount"] + floor >= 1, "some worker always stays warm"
    assert spec["cooldownPeriod"] >= 300
    assert 1 <= spec["pollingInterval"] <= 30
    assert spec["fallback"]["failureThreshold"] >= 1 and spec["fallback"]["replicas"] >= 1
    # 3. Up fast (a short window against the queue's noise), down slowly.
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] <= 180
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] < behavior["scaleDown"]["stabilizationWindowSeconds"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300
    for direction in ("scaleUp", "scaleDown"):
        for policy in behavior[direction]["policies"]:
            assert policy["type"] in {"Pods", "Percent"} and policy["value"] > 0 and policy["periodSeconds"] > 0
    # 4. Every trigger is named and used by the formula, which sums the queues and, inside the
    #    pre-warm window, raises the sum to `target` per pre-warmed replica; the target is one batch.
    triggers = spec["triggers"]
    for trigger in triggers:
        assert set(trigger) <= TRIGGER_FIELDS and trigger["type"] in QUEUE_TRIGGERS | {"cron"}
        assert all(isinstance(value, str) for value in trigger["metadata"].values()), "KEDA metadata is strings"
        if trigger["type"] == "cron":
            assert set(trigger["metadata"]) == CRON_FIELDS
    modifiers = spec["advanced"]["scalingModifiers"]
    names = [trigger["name"] for trigger in triggers]
    assert set(re.findall(r"[A-Za-z_]\w*", modifiers["formula"])) == set(names)
    assert int(modifiers["target"]) == batch_target()
    assert modifiers.get("metricType", "AverageValue") == "AverageValue"
    formula = Formula.parse(modifiers["formula"])
    queues = [t["name"] for t in triggers if t["type"] in QUEUE_TRIGGERS]
    crons = {t["name"]: int(t["metadata"]["desiredReplicas"]) for t in triggers if t["type"] == "cron"}
    for depth in (0, 3, 40, 400):
        values = {name: depth / len(queues) for name in queues}
        idle = formula({**values, **dict.fromkeys(crons, CRON_IDLE_VALUE)})
        assert idle == pytest.approx(depth), "outside the cron window: the queues' sum"
        for name, replicas in crons.items():
            inside = formula({**values, **dict.fromkeys(crons, CRON_IDLE_VALUE), name: replicas})
            assert inside == pytest.approx(max(depth, replicas * int(modifiers["target"])))


def test_the_redis_trigger_counts_running_jobs_on_the_backends_streams() -> None:
    (spec,) = [doc["spec"] for name, doc in SCALED_OBJECTS if name == "k8s/keda.yaml"]
    triggers = [trigger for trigger in spec["triggers"] if trigger["type"] != "cron"]
    assert {trigger["type"] for trigger in triggers} == {"redis-streams"}
    assert {trigger["metadata"]["stream"] for trigger in triggers} == {f"craftgen:jobs:{p}" for p in PRIORITIES}
    queue_url = urlsplit(config()["CRAFTGEN_QUEUE_URL"])
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert set(metadata) <= REDIS_STREAMS_FIELDS
        # Stream-length mode (no consumerGroup): the backend deletes an entry only when its job is
        # finished, so the length is waiting + running. Pending/lag modes would miscount.
        assert "consumerGroup" not in metadata
        assert int(metadata["streamLength"]) == batch_target()
        # The address comes from the worker's environment and names the queue's Redis.
        assert config()[metadata["addressFromEnv"]] == queue_url.netloc
        assert metadata["databaseIndex"] == (queue_url.path.strip("/") or "0")


def test_the_sqs_trigger_counts_in_flight_messages_on_the_backends_queues() -> None:
    (spec,) = [doc["spec"] for name, doc in SCALED_OBJECTS if name == "k8s/sqs/keda.yaml"]
    triggers = [trigger for trigger in spec["triggers"] if trigger["type"] != "cron"]
    assert {trigger["type"] for trigger in triggers} == {"aws-sqs-queue"}
    queues = {trigger["metadata"]["queueURL"].rsplit("/", 1)[-1] for trigger in triggers}
    assert queues == {"craftgen-pro", "craftgen-free"}, "the work queues, not craftgen-dead"
    auth = objects("TriggerAuthentication")
    secret = objects("Secret")["craftgen-secrets"]["stringData"]
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert set(metadata) <= SQS_FIELDS
        assert metadata["scaleOnInFlight"] == "true", "running jobs must keep their workers"
        assert int(metadata["queueLength"]) == batch_target()
        ref = auth[trigger["authenticationRef"]["name"]]["spec"]
        for target in ref["secretTargetRef"]:
            assert target["parameter"] in {"awsAccessKeyID", "awsSecretAccessKey", "awsSessionToken"}
            assert target["name"] == "craftgen-secrets" and target["key"] in secret


# docker compose ------------------------------------------------------------------------------


def resolve(value: str) -> str:
    """Compose's `${NAME:-default}` with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_runs_the_whole_stack_with_healthy_dependencies() -> None:
    services = load_compose("docker-compose.yml")["services"]
    assert {"postgres", "redis", "minio", "minio-init", "api", "worker"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert shlex.join(services["redis"]["command"]).count("--appendonly yes") == 1
    for name in ("postgres", "redis", "minio"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck for depends_on"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert {dep: cond["condition"] for dep, cond in depends.items()} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "minio-init": "service_completed_successfully",
        }
        assert (ROOT / services[name]["build"]["dockerfile"]).is_file()
        assert (DEPLOY / services[name]["build"]["context"]).resolve() == ROOT
    assert services["api"]["deploy"]["replicas"] >= 2


def test_compose_points_api_and_worker_at_postgres_redis_and_minio() -> None:
    services = load_compose("docker-compose.yml")["services"]
    for name in ("api", "worker"):
        env = {key: resolve(str(value)) for key, value in services[name]["environment"].items()}
        assert urlsplit(env["CRAFTGEN_DATABASE_URL"]).scheme == "postgresql+psycopg"
        assert urlsplit(env["CRAFTGEN_DATABASE_URL"]).hostname == "postgres"
        assert env["CRAFTGEN_QUEUE_URL"].startswith("redis://redis:6379/")
        assert env["CRAFTGEN_STORAGE_URL"].startswith("s3://craftgen/")
        assert env["CRAFTGEN_S3_ENDPOINT_URL"] == "http://minio:9000"
        minio = {key: resolve(str(value)) for key, value in services["minio"]["environment"].items()}
        assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    # The bucket the store opens is the one the one-shot service creates, and it stays private.
    script = " ".join(services["minio-init"]["command"])
    assert "mc mb --ignore-existing local/craftgen " in script
    assert "mc anonymous set none local/craftgen" in script
    assert "public" not in script and "download" not in script


def test_compose_gives_the_worker_a_gpu_a_grace_period_and_a_models_volume() -> None:
    worker = load_compose("docker-compose.yml")["services"]["worker"]
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert worker["stop_grace_period"] == "10m"
    assert any(volume.endswith(":/models") or ":/models:" in volume for volume in worker["volumes"])


def test_the_cpu_override_drops_the_gpu_reservation() -> None:
    worker = load_compose("docker-compose.cpu.yml")["services"]["worker"]
    assert worker["deploy"]["resources"]["reservations"]["devices"] is None  # `!reset []`
    assert worker["environment"]["CRAFTGEN_DEVICE"] == "cpu"


# Dockerfiles ---------------------------------------------------------------------------------


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    lines = [line for line in (DEPLOY / name).read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.mark.parametrize("name", ["Dockerfile.api", "Dockerfile.worker"])
def test_no_image_carries_model_weights(name: str) -> None:
    for keyword, args in instructions(name):
        if keyword in {"COPY", "ADD"}:
            sources = [word for word in args.split() if not word.startswith("--")][:-1]
            if "--from=build" in args:
                continue  # the venv built in the first stage
            assert set(sources) <= {"pyproject.toml", "README.md", "src"}, f"{name} copies {sources}"
        if keyword == "RUN":
            assert not any(suffix in args for suffix in WEIGHT_SUFFIXES)
            assert not re.search(r"snapshot_download|from_pretrained|huggingface-cli|hf download", args)
    ignore = (DEPLOY / f"{name}.dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:4] == ["*", "!pyproject.toml", "!README.md", "!src/"]


@pytest.mark.parametrize("name", ["Dockerfile.api", "Dockerfile.worker"])
def test_images_run_as_a_non_root_user(name: str) -> None:
    users = [args for keyword, args in instructions(name) if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_the_api_image_is_slim_and_cpu_only() -> None:
    steps = instructions("Dockerfile.api")
    assert not any(re.search(r"cuda|nvidia", args, re.IGNORECASE) for _, args in steps)
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    assert {a.split()[0] for k, a in steps if k == "FROM"} == {"${PYTHON_IMAGE}"}
    assert any("download.pytorch.org/whl/cpu" in a for k, a in steps if k == "RUN")
    (cmd,) = [a for k, a in steps if k == "CMD"]
    assert cmd == '["craftgen", "api", "--host", "0.0.0.0", "--port", "8000"]'
    (health,) = [a for k, a in steps if k == "HEALTHCHECK"]
    assert "/healthz" in health


def test_the_worker_image_is_cuda_and_stops_on_sigterm() -> None:
    steps = instructions("Dockerfile.worker")
    assert any(k == "ARG" and a.startswith("CUDA_IMAGE=nvidia/cuda:") for k, a in steps)
    assert ("FROM", "${CUDA_IMAGE}") in steps
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("CMD", '["craftgen", "worker"]') in steps
    assert any(k == "RUN" and 'python -c "import pymatting"' in a for k, a in steps), "numba cache warmed"
    assert any(k == "VOLUME" and "/models" in a for k, a in steps)
    env = " ".join(a for k, a in steps if k == "ENV")
    assert "HF_HOME=/models" in env


@pytest.mark.parametrize("name", ["Dockerfile.api", "Dockerfile.worker"])
def test_images_install_the_torch_the_project_pins(name: str) -> None:
    pinned = re.search(r"^TORCH_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert pinned is not None
    assert ("ARG", f"TORCH_VERSION={pinned.group(1)}") in instructions(name)
