"""The event exporter: least-privilege RBAC, events that are not dropped, a pod that rolls."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import yaml

from components.event_exporter.specs import STDOUT_LAYOUT, WEBHOOK_LAYOUT
from simulation.mocks import ProgramRun

READ_VERBS = {"get", "list", "watch"}


def test_the_cluster_role_only_reads_events(default_run: ProgramRun) -> None:
    role = default_run.one(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "event-exporter-cluster-role"
    ).plain
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        assert "*" not in rule["apiGroups"]
        assert set(rule["verbs"]) <= READ_VERBS
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}
    ]


def test_the_binding_grants_the_role_to_the_exporter_in_its_namespace(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(namespace="observability")
    binding = run.one(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "event-exporter-cluster-role-binding",
    ).plain
    role = run.one(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "event-exporter-cluster-role"
    ).plain
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "kubernetes-event-exporter",
            "namespace": "observability",
        }
    ]
    # Cluster-scoped names carry the namespace: no clash with another install.
    assert role["metadata"]["name"] == "observability-kubernetes-event-exporter"


def test_the_exporter_keeps_events_that_are_minutes_old(default_run: ProgramRun) -> None:
    config_map = default_run.one("kubernetes:core/v1:ConfigMap", "event-exporter-config").plain
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["maxEventAgeSeconds"] >= 300
    assert config["kubeQPS"] >= 50 and config["kubeBurst"] >= config["kubeQPS"]
    assert config["omitLookup"] is True
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_:]*_", config["metricsNamePrefix"])
    assert config["metricsNamePrefix"] == "event_exporter_"
    layout = config["receivers"][0]["stdout"]["layout"]
    assert layout["reason"] == "{{ .Reason }}"
    assert config["route"]["routes"][0] == {"match": [{"receiver": "dump"}]}


def test_max_event_age_is_a_setting(program: Callable[..., ProgramRun]) -> None:
    run = program(eventExporterMaxEventAgeSeconds=3600)
    config_map = run.one("kubernetes:core/v1:ConfigMap", "event-exporter-config").plain
    assert yaml.safe_load(config_map["data"]["config.yaml"])["maxEventAgeSeconds"] == 3600


def test_a_config_change_rolls_the_pod(program: Callable[..., ProgramRun]) -> None:
    def checksum(run: ProgramRun) -> str:
        deployment = run.one("kubernetes:apps/v1:Deployment", "event-exporter-deployment").plain
        return deployment["spec"]["template"]["metadata"]["annotations"][
            "cedana.ai/config-checksum"
        ]

    default = program()
    config = default.one("kubernetes:core/v1:ConfigMap", "event-exporter-config").plain["data"]
    # The annotation is the config's own hash, so an unchanged config never rolls the pod.
    assert checksum(default) == hashlib.sha256(config["config.yaml"].encode()).hexdigest()
    assert checksum(default) != checksum(program(eventExporterMaxEventAgeSeconds=1200))


def test_the_exporter_pod_is_pinned_probed_and_unprivileged(default_run: ProgramRun) -> None:
    deployment = default_run.one("kubernetes:apps/v1:Deployment", "event-exporter-deployment").plain
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/resmoio/kubernetes-event-exporter:v1.7"
    assert container["args"] == ["-conf=/data/config.yaml"]
    assert container["ports"][0]["containerPort"] == 2112
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}


def test_the_service_exposes_the_metrics_port(default_run: ProgramRun) -> None:
    service = default_run.one("kubernetes:core/v1:Service", "event-exporter-service").plain
    assert service["metadata"]["name"] == "kubernetes-event-exporter"
    assert service["spec"]["ports"][0]["port"] == 2112


def test_the_exporter_reads_exactly_this_config(default_run: ProgramRun) -> None:
    config_map = default_run.one("kubernetes:core/v1:ConfigMap", "event-exporter-config")
    assert yaml.safe_load(config_map.plain["data"]["config.yaml"]) == {
        "logLevel": "info",
        "logFormat": "json",
        "metricsNamePrefix": "event_exporter_",
        "maxEventAgeSeconds": 900,
        "kubeQPS": 100,
        "kubeBurst": 200,
        "omitLookup": True,
        "receivers": [
            {"name": "dump", "stdout": {"layout": STDOUT_LAYOUT}},
            {
                "name": "collector",
                "webhook": {
                    "endpoint": "http://vector-collector.cedana-monitoring.svc.cluster.local:9202/events",
                    "layout": WEBHOOK_LAYOUT,
                },
            },
        ],
        "route": {
            "routes": [
                {"match": [{"receiver": "dump"}]},
                {
                    "match": [
                        {
                            "receiver": "collector",
                            "reason": "^(Killing|Preempting|Evicted|OOMKilling|SystemOOM"
                            "|BackoffLimitExceeded|DeadlineExceeded)$",
                        }
                    ]
                },
            ]
        },
    }
    assert STDOUT_LAYOUT["reason"] == "{{ .Reason }}"
    assert set(STDOUT_LAYOUT) == {
        "message",
        "reason",
        "type",
        "count",
        "kind",
        "name",
        "namespace",
        "component",
        "host",
        "firstTimestamp",
        "lastTimestamp",
    }


def test_the_events_cedana_reads_are_posted_to_the_collector_with_their_identity(
    default_run: ProgramRun,
) -> None:
    config_map = default_run.one("kubernetes:core/v1:ConfigMap", "event-exporter-config").plain
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    (webhook,) = [r["webhook"] for r in config["receivers"] if "webhook" in r]
    assert webhook["layout"]["uid"] == "{{ .UID }}"
    assert webhook["layout"]["node"] == "{{ .Source.Host }}"
    pattern = config["route"]["routes"][1]["match"][0]["reason"]
    for reason in ("Killing", "Preempting", "Evicted", "OOMKilling", "BackoffLimitExceeded"):
        assert re.fullmatch(pattern, reason), reason
    for reason in ("Scheduled", "Pulled", "KillingTime", "xEvicted"):
        assert not re.fullmatch(pattern, reason), reason


def test_no_reasons_posts_no_events_and_keeps_the_counters(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(eventReasons=[])
    config_map = run.one("kubernetes:core/v1:ConfigMap", "event-exporter-config").plain
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert [r["name"] for r in config["receivers"]] == ["dump"]
    collector = run.charts()["vector-collector"].plain["values"]["customConfig"]
    assert "events" not in collector["sources"]
    assert "event-exporter" in collector["sources"]
