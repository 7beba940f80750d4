"""Exact values users depend on, found by mutation testing: the series shipped, the namespace and
region reaching every place, volume media, update strategies and the order of creation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulation.mocks import ProgramRun, walk

CADVISOR_KEEP = "container_cpu_usage_seconds_total|container_memory_working_set_bytes"
DCGM_KEEP = "DCGM_FI_DEV_.*|DCGM_FI_PROF_.*"
CHART_DEFAULT_JOBS_OFF = {
    job: {"enabled": False}
    for job in (
        "kubernetes-api-servers",
        "kubernetes-nodes",
        "kubernetes-nodes-cadvisor",
        "kubernetes-service-endpoints",
        "kubernetes-service-endpoints-slow",
        "prometheus-pushgateway",
        "kubernetes-services",
        "kubernetes-pods",
        "kubernetes-pods-slow",
    )
}
# What verify reads, kept in Prometheus: Vector's own metrics and the remote write's.
SELF_JOB = {
    "enabled": True,
    "scrape_interval": "30s",
    "metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": "prometheus_remote_storage_.*", "action": "keep"}
    ],
}
VECTOR_KEEP = (
    "vector_component_sent_events_total|vector_component_errors_total"
    "|vector_component_discarded_events_total|vector_buffer_size_bytes"
    "|vector_buffer_max_size_bytes|vector_buffer_discarded_events_total"
)


def vector_job(namespace: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "scrape_interval": "30s",
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {
                "source_labels": [
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
                    "__meta_kubernetes_pod_container_port_name",
                ],
                "separator": ";",
                "regex": "vector;(vector|vector-collector);vector-metrics",
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
            {
                "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
                "target_label": "release",
            },
        ],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": VECTOR_KEEP, "action": "keep"}
        ],
    }


CADVISOR_JOB = {
    "enabled": True,
    "metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": CADVISOR_KEEP, "action": "keep"}
    ],
}


def prometheus_values(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["prometheus"].plain["values"]


def dcgm_discovery_job(namespace: str, service: str, port: int) -> dict[str, Any]:
    return {
        "enabled": True,
        "scrape_interval": "15s",
        "metrics_path": "/metrics",
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": DCGM_KEEP, "action": "keep"}
        ],
        "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_service_name"],
                "regex": service,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_endpointslice_port"],
                "regex": str(port),
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_endpointslice_endpoint_node_name"],
                "target_label": "node",
            },
        ],
    }


def remote_write(url: str, shipped: str) -> list[dict[str, Any]]:
    return [
        {
            "url": url,
            "name": "vector-collector",
            "remote_timeout": "30s",
            "write_relabel_configs": [
                {
                    "source_labels": ["job", "__name__"],
                    "separator": ";",
                    "regex": shipped,
                    "action": "keep",
                }
            ],
            "metadata_config": {"send": False},
        }
    ]


# --- Series shipped ---------------------------------------------------------------------------


def test_prometheus_scrapes_and_ships_exactly_the_catalog_series(default_run: ProgramRun) -> None:
    values = prometheus_values(default_run)
    assert values["scrapeConfigs"] == {
        **CHART_DEFAULT_JOBS_OFF,
        "kubernetes-nodes-cadvisor": CADVISOR_JOB,
        "dcgm": dcgm_discovery_job("cedana-monitoring", "dcgm-exporters", 9400),
        "prometheus": SELF_JOB,
        "vector": vector_job("cedana-monitoring"),
    }
    assert values["server"]["remoteWrite"] == remote_write(
        "http://vector-collector.cedana-monitoring.svc.cluster.local:9201/",
        f"kubernetes-nodes-cadvisor;({CADVISOR_KEEP})|dcgm;({DCGM_KEEP})",
    )


def test_without_gpus_only_cadvisor_series_are_scraped_and_shipped(
    program: Callable[..., ProgramRun],
) -> None:
    values = prometheus_values(program(gpuMode="off"))
    assert values["scrapeConfigs"] == {
        **CHART_DEFAULT_JOBS_OFF,
        "kubernetes-nodes-cadvisor": CADVISOR_JOB,
        "prometheus": SELF_JOB,
        "vector": vector_job("cedana-monitoring"),
    }
    assert values["server"]["remoteWrite"] == remote_write(
        "http://vector-collector.cedana-monitoring.svc.cluster.local:9201/",
        f"kubernetes-nodes-cadvisor;({CADVISOR_KEEP})",
    )


def test_an_external_exporter_service_is_discovered_in_its_own_namespace_and_port(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(gpuMode="external", dcgmEndpoint="http://nv-dcgm.gpu-operator.svc:9500/metrics")
    assert prometheus_values(run)["scrapeConfigs"]["dcgm"] == dcgm_discovery_job(
        "gpu-operator", "nv-dcgm", 9500
    )


def test_an_external_exporter_url_is_scraped_with_its_scheme_path_and_default_port(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(gpuMode="external", dcgmEndpoint="https://gpu-metrics.example.com/dcgm")
    assert prometheus_values(run)["scrapeConfigs"]["dcgm"] == {
        "enabled": True,
        "scrape_interval": "15s",
        "metrics_path": "/dcgm",
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": DCGM_KEEP, "action": "keep"}
        ],
        "scheme": "https",
        "static_configs": [{"targets": ["gpu-metrics.example.com:443"]}],
    }


# --- Settings that must reach every place -----------------------------------------------------


def test_a_custom_namespace_reaches_discovery_scrape_targets_and_every_object(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(namespace="obs-ns", clusterDomain="corp.internal")
    values = prometheus_values(run)
    assert values["scrapeConfigs"]["dcgm"] == dcgm_discovery_job("obs-ns", "dcgm-exporters", 9400)
    assert values["server"]["remoteWrite"][0]["url"] == (
        "http://vector-collector.obs-ns.svc.corp.internal:9201/"
    )
    namespaces = {
        (obj["kind"], obj["metadata"]["name"]): obj["metadata"].get("namespace")
        for obj in run.kubernetes_objects()
        if obj["kind"] not in {"ClusterRole", "ClusterRoleBinding", "Namespace"}
    }
    assert set(namespaces.values()) == {"obs-ns"}
    assert {name: chart.plain["namespace"] for name, chart in run.charts().items()} == {
        "prometheus": "obs-ns",
        "dcgm-exporters": "obs-ns",
        "vector": "obs-ns",
        "vector-collector": "obs-ns",
    }
    bindings = [
        subject["namespace"]
        for obj in run.kubernetes_objects()
        if obj["kind"] == "ClusterRoleBinding"
        for subject in obj["subjects"]
    ]
    assert bindings == ["obs-ns", "obs-ns"]
    leftovers = [
        (r.name, path)
        for r in run.resources
        for path, value, _ in walk(r.inputs)
        if isinstance(value, str) and ".cedana-monitoring." in value
    ]
    assert leftovers == []


def test_the_region_reaches_the_s3_sink_and_nowhere_is_the_default_left(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(awsRegion="eu-west-2")
    places = sorted(
        (r.name, path, value)
        for r in run.resources
        for path, value, _ in walk(r.inputs)
        if isinstance(value, str) and ("eu-west-2" in value or "us-east-1" in value)
    )
    assert places == [
        (
            "cedana-monitoring-vector-collector",
            ".values.customConfig.sinks.s3_sink.region",
            "eu-west-2",
        )
    ]


def test_the_collector_scrapes_cluster_series_from_the_configured_namespace(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(namespace="obs-ns", clusterDomain="corp.internal")
    sources = run.charts()["vector-collector"].plain["values"]["customConfig"]["sources"]
    assert sources == {
        "agents": {"type": "vector", "address": "0.0.0.0:6000"},
        "prometheus": {"type": "prometheus_remote_write", "address": "0.0.0.0:9201"},
        "kube-state-metrics": {
            "type": "prometheus_scrape",
            "endpoints": [
                "http://prometheus-kube-state-metrics.obs-ns.svc.corp.internal:8080/metrics"
            ],
            "scrape_interval_secs": 15,
            "scrape_timeout_secs": 12,
        },
        "event-exporter": {
            "type": "prometheus_scrape",
            "endpoints": ["http://kubernetes-event-exporter.obs-ns.svc.corp.internal:2112/metrics"],
            "scrape_interval_secs": 30,
            "scrape_timeout_secs": 24,
        },
        "events": {
            "type": "http_server",
            "address": "0.0.0.0:9202",
            "path": "/events",
            "decoding": {"codec": "json"},
            "acknowledgements": {"enabled": True},
        },
        "internal_metrics": {"type": "internal_metrics", "scrape_interval_secs": 15},
    }


def test_only_the_shipped_kube_state_series_pass_and_vector_keeps_its_data_dir(
    default_run: ProgramRun,
) -> None:
    charts = default_run.charts()
    collector = charts["vector-collector"].plain["values"]["customConfig"]
    assert collector["transforms"]["kube_state_filter"] == {
        "type": "filter",
        "inputs": ["kube-state-metrics"],
        "condition": '.name == "kube_pod_owner" || .name == "kube_pod_info"'
        ' || .name == "kube_job_owner"',
    }
    for chart in ("vector", "vector-collector"):
        config = charts[chart].plain["values"]["customConfig"]
        assert (config["data_dir"], config["api"]) == (
            "/vector-data-dir",
            {"enabled": True, "address": "0.0.0.0:8686"},
        )


# --- Volume media and update strategies -------------------------------------------------------


def test_the_collectors_credentials_live_in_memory_and_its_buffer_on_a_volume(
    default_run: ProgramRun,
) -> None:
    values = default_run.charts()["vector-collector"].plain["values"]
    assert values["extraVolumes"] == [
        {"name": "aws-credentials", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {
            "name": "cred-refresher-script",
            "configMap": {"defaultMode": 0o444, "name": "cred-refresher-script"},
        },
        {
            "name": "credentials-endpoint-token",
            "secret": {"defaultMode": 0o444, "secretName": "cred-refresher-endpoint-token"},
        },
        # Where Cedana's answer says to write: not secret, so not only in memory.
        {"name": "cedana-target", "emptyDir": {"sizeLimit": "1Mi"}},
    ]
    assert values["persistence"] == {
        "enabled": True,
        "accessModes": ["ReadWriteOnce"],
        "size": "5Gi",
    }


def test_prometheus_keeps_a_bounded_relay_buffer_in_an_empty_dir_under_its_own_account(
    default_run: ProgramRun,
) -> None:
    values = prometheus_values(default_run)
    server = values["server"]
    assert {key: server[key] for key in ("retention", "retentionSize", "persistentVolume")} == {
        "retention": "6h",
        "retentionSize": "3276MB",
        "persistentVolume": {"enabled": False},
    }
    assert server["emptyDir"] == {"sizeLimit": "4Gi"}
    assert server["useExistingClusterRoleName"] == "cedana-monitoring-prometheus-server"
    assert values["serviceAccounts"] == {"server": {"create": True, "name": "prometheus-server"}}
    assert values["prometheus-node-exporter"] == {"enabled": False}


def test_update_strategies_replace_the_collector_in_place_and_the_event_exporter_first(
    default_run: ProgramRun,
) -> None:
    collector = default_run.charts()["vector-collector"].plain["values"]
    assert (collector["role"], collector["replicas"], collector["updateStrategy"]) == (
        "Aggregator",
        1,
        {"type": "RollingUpdate"},
    )
    agent = default_run.charts()["vector"].plain["values"]
    assert (agent["role"], agent.get("updateStrategy")) == ("Agent", None)
    exporter = default_run.one("kubernetes:apps/v1:Deployment", "event-exporter-deployment")
    assert exporter.plain["spec"]["strategy"] == {"type": "Recreate"}


# --- Order of creation ------------------------------------------------------------------------


def short(urn: str) -> str:
    return urn.rsplit("::", maxsplit=1)[-1]


def test_every_namespaced_object_waits_for_the_namespace_and_bindings_for_their_roles(
    default_run: ProgramRun,
) -> None:
    depends = {r.name: sorted({short(d) for d in r.dependencies}) for r in default_run.resources}
    ns = "cedana-monitoring-foundation-namespace"
    assert depends["cedana-monitoring-foundation-cedana-credentials"] == [ns]
    assert depends["cedana-monitoring-prometheus-chart"] == [ns]
    assert depends["cedana-monitoring-vector-agent"] == [ns]
    assert depends["cedana-monitoring-vector-collector"] == [ns]
    assert depends["cedana-monitoring-prometheus-server-cluster-role-binding"] == sorted(
        [ns, "cedana-monitoring-prometheus-server-cluster-role"]
    )
    assert depends["cedana-monitoring-event-exporter-cluster-role-binding"] == sorted(
        [
            ns,
            "cedana-monitoring-event-exporter-cluster-role",
            "cedana-monitoring-event-exporter-service-account",
        ]
    )
    assert depends["cedana-monitoring-event-exporter-deployment"] == sorted(
        [
            ns,
            "cedana-monitoring-event-exporter-config",
            "cedana-monitoring-event-exporter-service-account",
        ]
    )
    # Vector starts only once its credentials, the refresher's script and token exist.
    assert depends["cedana-monitoring-vector"] == sorted(
        [
            ns,
            "cedana-monitoring-foundation-cedana-credentials",
            "cedana-monitoring-vector-credentials-endpoint-token",
            "cedana-monitoring-vector-credentials-refresher-script",
        ]
    )
