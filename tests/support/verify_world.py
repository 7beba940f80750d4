"""A cluster as verify reads it, canned: a healthy stack and the broken states users meet.

One World serves both test tiers: `snapshot()` for the pure checks, `routes()` for the fake
API server (tests/support/fake_kube.py), where the same objects, log and Prometheus answers
come back through the real kubernetes client and the service-proxy paths.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from components.config import Settings, load_settings
from scripts.stack_files import MappingSource, stack_config
from tests.support.fake_kube import Answer, Route, status_body
from verify.delivery import HISTORY_SECONDS, QUERIES, RANGES, STEP_SECONDS
from verify.verdict import Series, Snapshot, Unread

NOW = datetime(2026, 11, 25, 10, 42, 0, tzinfo=UTC)
T = NOW.timestamp()
NS = "cedana-monitoring"
BUCKET = "cedana-metrics"
PREFIX = "org-1/v2/vector/data"
KEY_PREFIX = f"{PREFIX}/{{{{ tags.ts }}}}/"
SECRETS = {"clusterId": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b", "authToken": "not-a-real-token"}
GPU_LABELS = {"nvidia.com/gpu.present": "true"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
AGENT_BUFFER = 536_870_912
COLLECTOR_BUFFER = 4_294_967_296


BASE = {"s3Bucket": BUCKET, "awsRegion": "us-east-1", "vectorKeyPrefix": KEY_PREFIX}


def settings_for(**overrides: Any) -> Settings:
    config = stack_config({**BASE, **overrides}, SECRETS)
    return load_settings(MappingSource(config.values, config.secret_keys))


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    gpus: int = 0,
    ready: bool = True,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "allocatable": {"cpu": "4", "nvidia.com/gpu": str(gpus)} if gpus else {"cpu": "4"},
        },
    }


def owner(kind: str, name: str) -> list[dict[str, str]]:
    return [{"kind": kind, "name": name}]


def pod(
    name: str,
    kind: str,
    workload: str,
    node_name: str | None,
    containers: tuple[str, ...] = ("main",),
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": labels or {},
            "ownerReferences": owner(kind, workload),
        },
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": c, "image": f"example/{c}:1", "env": []} for c in containers],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
            "containerStatuses": [
                {"name": c, "ready": True, "image": f"example/{c}:1", "state": {"running": {}}}
                for c in containers
            ],
        },
    }


def workload(
    kind: str, name: str, ready: int, wanted: int, spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    if kind == "DaemonSet":
        status = {"desiredNumberScheduled": wanted, "numberReady": ready}
        return {
            "metadata": {"name": name},
            "spec": {"template": {"spec": spec or {}}},
            "status": status,
        }
    return {
        "metadata": {"name": name},
        "spec": {"replicas": wanted, "template": {"spec": spec or {}}},
        "status": {"readyReplicas": ready},
    }


def counter(
    start: float, rate_per_step: float, flat_after: float | None = None
) -> tuple[tuple[float, float], ...]:
    """An hour of a counter at the scrape step, rising by `rate_per_step`, flat after
    `flat_after` (unix seconds) if given."""
    points, value = [], start
    t = T - HISTORY_SECONDS
    while t <= T:
        if flat_after is None or t <= flat_after:
            value += rate_per_step
        points.append((t, value))
        t += STEP_SECONDS
    return tuple(points)


def log_line(at: float, level: str, text: str) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return (
        f"{moment.strftime('%Y-%m-%dT%H:%M:%S.%f')}123Z {moment.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z"
        f"  {level} {text}"
    )


S3_SPAN = (
    'sink{component_kind="sink" component_id=s3_sink component_type=aws_s3}:request{request_id=7}:'
)


def retry_lines(since: float, error: str, every: float = 10.0) -> list[str]:
    """Vector's rate-limited retry warnings of the S3 sink, every `every` seconds."""
    lines, t = [], since
    while t < T:
        lines.append(
            log_line(
                t,
                "WARN",
                f"{S3_SPAN} vector::sinks::util::retries: Retrying after error."
                f" error={error} internal_log_rate_limit=true",
            )
        )
        t += every
    return lines


@dataclass
class World:
    settings: Settings
    nodes: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    deployments: list[dict[str, Any]]
    daemonsets: list[dict[str, Any]]
    statefulsets: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    storage_classes: list[dict[str, Any]]
    collector_config: dict[str, Any]
    log: list[str]
    refresher: dict[str, Any] | Unread | None
    metrics: dict[str, list[Series] | Unread] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)  # the stack's config beside BASE

    def stack_config(self) -> dict[str, Any]:
        """The stack file's plain config for this world (secrets are added encrypted)."""
        return {**BASE, **self.overrides}

    def snapshot(self) -> Snapshot:
        return Snapshot(
            nodes=copy.deepcopy(self.nodes),
            pods=copy.deepcopy(self.pods),
            deployments=copy.deepcopy(self.deployments),
            daemonsets=copy.deepcopy(self.daemonsets),
            statefulsets=copy.deepcopy(self.statefulsets),
            claims=copy.deepcopy(self.claims),
            storage_classes=copy.deepcopy(self.storage_classes),
            collector_config=copy.deepcopy(self.collector_config),
            collector_log="\n".join(self.log),
            refresher=copy.deepcopy(self.refresher)
            if self.settings.credentials_mode == "cedana"
            else None,
            metrics=dict(self.metrics),
            read_at=NOW,
        )

    def series(
        self, name: str, labels: dict[str, str], points: tuple[tuple[float, float], ...]
    ) -> None:
        found = self.metrics.setdefault(name, [])
        assert not isinstance(found, Unread)
        found.append(Series(labels, points))

    def set_value(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        self.metrics[name] = [Series(labels or {}, ((T, value),))]

    def pod_named(self, name: str) -> dict[str, Any]:
        return next(p for p in self.pods if p["metadata"]["name"] == name)

    def routes(self) -> dict[str, Route]:
        """The same world as the API server's answers, proxy paths included."""
        ns = self.settings.namespace
        apps = f"/apis/apps/v1/namespaces/{ns}"
        json_type = "application/json"

        def listing(items: list[dict[str, Any]]) -> Answer:
            return 200, {"kind": "List", "items": items}, json_type

        routes: dict[str, Route] = {
            "/api/v1/nodes": listing(self.nodes),
            f"/api/v1/namespaces/{ns}/pods": listing(self.pods),
            f"{apps}/deployments": listing(self.deployments),
            f"{apps}/daemonsets": listing(self.daemonsets),
            f"{apps}/statefulsets": listing(self.statefulsets),
            f"/api/v1/namespaces/{ns}/persistentvolumeclaims": listing(self.claims),
            "/apis/storage.k8s.io/v1/storageclasses": listing(self.storage_classes),
            f"/api/v1/namespaces/{ns}/configmaps/vector-collector": (
                200,
                {
                    "metadata": {"name": "vector-collector"},
                    "data": {"vector.yaml": yaml.safe_dump(self.collector_config)},
                },
                json_type,
            ),
            f"/api/v1/namespaces/{ns}/pods/vector-collector-0/log": (
                200,
                "\n".join(self.log) + "\n",
                "text/plain",
            ),
        }
        if isinstance(self.refresher, dict):
            routes[f"/api/v1/namespaces/{ns}/pods/vector-collector-0:8081/proxy/status"] = (
                200,
                self.refresher,
                json_type,
            )
        elif isinstance(self.refresher, Unread):
            code = self.refresher.status or 503
            routes[f"/api/v1/namespaces/{ns}/pods/vector-collector-0:8081/proxy/status"] = (
                code,
                status_body(code, self.refresher.why),
                json_type,
            )
        by_query = {q: n for n, q in QUERIES.items()}
        by_range = {q: n for n, q in RANGES.items()}
        proxy = f"/api/v1/namespaces/{ns}/services/prometheus-server:80/proxy/api/v1"

        def answer(query: dict[str, list[str]], names: dict[str, str], kind: str) -> Answer:
            name = names.get(query.get("query", [""])[0])
            found = self.metrics.get(name or "", [])
            if isinstance(found, Unread):
                code = found.status or 503
                return code, status_body(code, found.why), json_type
            if kind == "vector":
                result = [{"metric": s.labels, "value": [s.at, repr(s.value)]} for s in found]
            else:
                result = [
                    {"metric": s.labels, "values": [[t, repr(v)] for t, v in s.points]}
                    for s in found
                ]
            return (
                200,
                {"status": "success", "data": {"resultType": kind, "result": result}},
                json_type,
            )

        routes[f"{proxy}/query"] = lambda q: answer(q, by_query, "vector")
        routes[f"{proxy}/query_range"] = lambda q: answer(q, by_range, "matrix")
        return routes


def healthy(**overrides: Any) -> World:
    """Three nodes (one a tainted GPU node), every workload ready, writes every 30 s."""
    settings = settings_for(**overrides)
    agent_spec = {"tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]}
    dcgm_spec = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "nvidia.com/gpu.present",
                                    "operator": "In",
                                    "values": ["true"],
                                }
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }
    nodes = [node("node-a"), node("node-b"), node("gpu-1", GPU_LABELS, [GPU_TAINT], gpus=1)]
    pods = [
        pod(
            "prometheus-server-5d9c-x1",
            "ReplicaSet",
            "prometheus-server-5d9c",
            "node-a",
            ("prometheus-server", "config-reloader"),
        ),
        pod(
            "prometheus-kube-state-metrics-7f-x2",
            "ReplicaSet",
            "prometheus-kube-state-metrics-7f",
            "node-b",
        ),
        pod(
            "kubernetes-event-exporter-6b-x3",
            "ReplicaSet",
            "kubernetes-event-exporter-6b",
            "node-a",
        ),
        pod(
            "vector-collector-0",
            "StatefulSet",
            "vector-collector",
            "node-b",
            ("vector", "cred-refresher"),
        ),
        *(
            pod(f"vector-{n}", "DaemonSet", "vector", n, ("vector",))
            for n in ("node-a", "node-b", "gpu-1")
        ),
        pod("dcgm-exporters-g1", "DaemonSet", "dcgm-exporters", "gpu-1", ("exporter",)),
    ]
    world = World(
        overrides=dict(overrides),
        settings=settings,
        nodes=nodes,
        pods=pods,
        deployments=[
            workload("Deployment", "prometheus-server", 1, 1),
            workload("Deployment", "prometheus-kube-state-metrics", 1, 1),
            workload("Deployment", "kubernetes-event-exporter", 1, 1),
        ],
        daemonsets=[
            workload("DaemonSet", "vector", 3, 3, agent_spec),
            workload("DaemonSet", "dcgm-exporters", 1, 1, dcgm_spec),
        ],
        statefulsets=[workload("StatefulSet", "vector-collector", 1, 1)],
        claims=[
            {
                "metadata": {"name": "data-vector-collector-0"},
                "spec": {"storageClassName": "standard"},
                "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}},
            }
        ],
        storage_classes=[
            {
                "metadata": {
                    "name": "standard",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "volumeBindingMode": "WaitForFirstConsumer",
            }
        ],
        collector_config={
            "sinks": {
                "s3_sink": {
                    "type": "aws_s3",
                    "bucket": BUCKET,
                    "key_prefix": KEY_PREFIX,
                    "region": "us-east-1",
                }
            }
        },
        log=[log_line(T - 3000, "INFO", "vector: Vector has started. debug=false version=0.56.0")],
        refresher={
            "now": stamp(T),
            "ready": True,
            "expiration": stamp(T + 2820),
            "last_attempt": stamp(T - 540),
            "last_success": stamp(T - 540),
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "bucket": BUCKET,
            "prefix": PREFIX,
            "region": "us-east-1",
            "configured_bucket": settings.s3_bucket,
            "bucket_matches": settings.s3_bucket == BUCKET,
            "key_prefix": f"{PREFIX}/",
            "prefix_covers_key_prefix": True,
            "cedana_url": "https://api.cedana.ai",
        },
    )
    collector = {
        "job": "vector",
        "release": "vector-collector",
        "pod": "vector-collector-0",
        "node": "node-b",
    }
    world.metrics["up"] = [
        Series({"job": "vector", "release": "vector", "pod": f"vector-{n}", "node": n}, ((T, 1.0),))
        for n in ("node-a", "node-b", "gpu-1")
    ] + [Series(collector, ((T, 1.0),))]
    world.series("s3_sent", {**collector, "component_id": "s3_sink"}, counter(10_000, 1200))
    world.metrics["s3_errors"] = []
    world.metrics["dropped"] = []
    world.metrics["buffer_bytes"] = (
        [Series({**collector, "buffer_id": "s3_sink"}, ((T, 17 * 2**20),))]
        + [
            Series(
                {
                    "job": "vector",
                    "release": "vector",
                    "pod": f"vector-{n}",
                    "node": n,
                    "buffer_id": "collector",
                },
                ((T, 300_000.0),),
            )
            for n in ("node-a", "node-b", "gpu-1")
        ]
        + [Series({**collector, "buffer_id": "vector_metrics"}, ((T, 0.0),))]
    )
    world.metrics["buffer_max"] = [
        Series({**collector, "buffer_id": "s3_sink"}, ((T, float(COLLECTOR_BUFFER)),))
    ]
    world.set_value("rw_pending", 120)
    world.set_value("rw_failed", 0)
    world.set_value("rw_retried", 0)
    world.set_value("rw_highest", T - 2)
    world.set_value("rw_sent", T - 6)
    world.metrics["dcgm_up"] = []
    return world


# --- The broken states ---------------------------------------------------------------------


def stall_writes(world: World, since: float) -> None:
    collector = {
        "job": "vector",
        "release": "vector-collector",
        "pod": "vector-collector-0",
        "node": "node-b",
        "component_id": "s3_sink",
    }
    world.metrics["s3_sent"] = [Series(collector, counter(10_000, 1200, flat_after=since))]


def wrong_bucket() -> World:
    """s3Bucket is not the bucket Cedana's credentials are for: every write gets a 403."""
    world = healthy(s3Bucket="cedana-metrics-wrong")
    world.collector_config["sinks"]["s3_sink"]["bucket"] = "cedana-metrics-wrong"
    stall_writes(world, T - 900)
    world.log += retry_lines(T - 880, "service error")
    return world


def cedana_unreachable() -> World:
    """The refresher cannot reach Cedana's API: the credentials held still work, for now."""
    world = healthy()
    assert isinstance(world.refresher, dict)
    world.refresher |= {
        "last_attempt": stamp(T - 20),
        "last_error": "request failed: ConnectionRefusedError: [Errno 111] Connection refused",
        "last_error_at": stamp(T - 20),
        "consecutive_failures": 6,
    }
    return world


def collector_pending() -> World:
    """No default StorageClass: the collector's claim, and so its pod, stay Pending."""
    world = healthy()
    world.storage_classes = [
        {"metadata": {"name": "local-path"}, "volumeBindingMode": "WaitForFirstConsumer"}
    ]
    world.claims = [
        {
            "metadata": {"name": "data-vector-collector-0"},
            "spec": {},
            "status": {"phase": "Pending"},
        }
    ]
    collector = world.pod_named("vector-collector-0")
    collector["spec"]["nodeName"] = None
    collector["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": (
                    "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
                    " preemption: 0/3 nodes are available: 3 Preemption is not helpful for"
                    " scheduling."
                ),
            }
        ],
    }
    world.statefulsets = [workload("StatefulSet", "vector-collector", 0, 1)]
    world.refresher = Unread(
        "the refresher's status", '503 pod "vector-collector-0" has no IP address', 503
    )
    up = world.metrics["up"]
    assert not isinstance(up, Unread)
    world.metrics["up"] = [s for s in up if s.labels["release"] != "vector-collector"]
    world.metrics["s3_sent"] = []
    buffers = world.metrics["buffer_bytes"]
    assert not isinstance(buffers, Unread)
    world.metrics["buffer_bytes"] = [s for s in buffers if s.labels["release"] == "vector"]
    world.set_value("rw_sent", T - 3600)
    world.set_value("rw_retried", 45_000)
    world.log = []
    return world


def untolerated_taint() -> World:
    """A node tainted NoExecute, which the agents' default tolerations do not cover."""
    world = healthy()
    world.nodes.append(
        node("batch-1", taints=[{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    )
    world.daemonsets[0] = workload(
        "DaemonSet",
        "vector",
        3,
        3,
        {"tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]},
    )
    return world


def s3_down() -> World:
    """S3 cannot be reached from the collector (its endpoint refuses connections)."""
    world = healthy()
    stall_writes(world, T - 600)
    world.log += retry_lines(T - 590, "dispatch failure")
    buffers = world.metrics["buffer_bytes"]
    assert not isinstance(buffers, Unread)
    world.metrics["buffer_bytes"] = [
        replace(s, points=((T, 0.3 * COLLECTOR_BUFFER),))
        if s.labels.get("buffer_id") == "s3_sink"
        else s
        for s in buffers
    ]
    return world


def full_buffer() -> World:
    """S3 down long enough that the collector's buffer is nearly full (its sources block)."""
    world = s3_down()
    stall_writes(world, T - 3000)
    buffers = world.metrics["buffer_bytes"]
    assert not isinstance(buffers, Unread)
    world.metrics["buffer_bytes"] = [
        replace(s, points=((T, 0.96 * COLLECTOR_BUFFER),))
        if s.labels.get("buffer_id") == "s3_sink"
        else s
        for s in buffers
    ]
    return world


BROKEN = {
    "wrong bucket (403)": wrong_bucket,
    "Cedana unreachable": cedana_unreachable,
    "collector Pending (no storage class)": collector_pending,
    "node without an agent (untolerated taint)": untolerated_taint,
    "S3 down": s3_down,
    "full buffer": full_buffer,
}


# --- More states the docs show -------------------------------------------------------------


def prefix_outside_cedanas() -> World:
    """The key prefix is not under the prefix Cedana's credentials allow: a 403 too."""
    world = healthy(vectorKeyPrefix="vector/data/{{ tags.ts }}/")
    world.collector_config["sinks"]["s3_sink"]["key_prefix"] = "vector/data/{{ tags.ts }}/"
    assert isinstance(world.refresher, dict)
    world.refresher |= {"key_prefix": "vector/data/", "prefix_covers_key_prefix": False}
    stall_writes(world, T - 600)
    world.log.append(
        log_line(T - 60, "WARN", f"{S3_SPAN} Retrying after error. error=service error")
    )
    return world


def prometheus_out_of_reach() -> World:
    """The API server cannot reach Prometheus' pod (a firewall, a missing NetworkPolicy)."""
    world = healthy()
    why = "503 error trying to reach service: dial tcp 10.1.2.3:9090: i/o timeout"
    for name in list(world.metrics):
        world.metrics[name] = Unread(f"Prometheus ({name})", why, 503)
    return world


def unlabelled_gpu_node() -> World:
    """A node with GPUs but none of the GPU labels the exporter's selection knows."""
    world = healthy()
    world.nodes.append(node("gpu-2", gpus=8))
    world.pods.append(pod("vector-gpu-2", "DaemonSet", "vector", "gpu-2", ("vector",)))
    world.daemonsets[0]["status"] |= {"desiredNumberScheduled": 4, "numberReady": 4}
    return world


def remote_write_failing() -> World:
    """The collector refuses Prometheus' samples for good."""
    world = healthy()
    world.set_value("rw_failed", 1200)
    return world


def cedana_refuses_the_token() -> World:
    """A wrong or revoked auth token: no credentials at all."""
    world = healthy()
    assert isinstance(world.refresher, dict)
    world.refresher |= {
        "ready": False,
        "expiration": None,
        "last_success": None,
        "last_error": 'status 401, body (24 bytes): {"error":"unauthorized"}; check the'
        " cedana-credentials Secret (authToken, clusterId)",
        "last_error_at": stamp(T - 10),
        "consecutive_failures": 9,
        "bucket": None,
        "prefix": None,
        "bucket_matches": None,
        "prefix_covers_key_prefix": None,
    }
    stall_writes(world, T - 600)
    return world


DOCUMENTED = {
    "prefix outside Cedana's": prefix_outside_cedanas,
    "Prometheus out of reach": prometheus_out_of_reach,
    "unlabelled GPU node": unlabelled_gpu_node,
    "remote write failing": remote_write_failing,
    "Cedana refuses the token": cedana_refuses_the_token,
}
