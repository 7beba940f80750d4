"""The whole program under Pulumi mocks, the way `pulumi preview` runs it, per stack file."""

from __future__ import annotations

from collections.abc import Callable

import kubernetes_validate
import pulumi
import pytest

from simulation.mocks import (
    TEST_SECRETS,
    MissingConfigError,
    ProgramRun,
    run_program,
    stack_files,
    stack_name,
    stack_values,
    walk,
)

KUBERNETES_VERSIONS = ("1.30.0", "1.35.0")
OUR_TOKENS = "cedana:monitoring:"


def test_the_repository_has_at_least_one_stack_file() -> None:
    assert stack_files(), "no Pulumi.<stack>.yaml in the repository"


@pytest.fixture(params=stack_files(), ids=stack_name)
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_program(stack_values(request.param))


def test_every_stack_file_creates_the_namespace_secret_and_pinned_prometheus(
    stack_run: ProgramRun,
) -> None:
    namespace = stack_run.one("kubernetes:core/v1:Namespace").plain["metadata"]["name"]
    secret = stack_run.one("kubernetes:core/v1:Secret", "cedana-credentials")
    assert secret.plain["metadata"] == {
        "name": "cedana-credentials",
        "namespace": namespace,
        "labels": secret.plain["metadata"]["labels"],
    }
    # Marked secret in Pulumi state, value by value.
    assert all(under_secret for _, _, under_secret in walk(secret.inputs["stringData"]))
    assert secret.plain["stringData"] == {
        "authToken": TEST_SECRETS["authToken"],
        "clusterId": TEST_SECRETS["clusterId"],
    }

    prometheus = stack_run.charts()["prometheus"].plain
    assert prometheus["chart"] == "prometheus"
    assert prometheus["repositoryOpts"]["repo"] == (
        "https://prometheus-community.github.io/helm-charts"
    )
    assert prometheus["namespace"] == namespace
    assert prometheus["version"].count(".") == 2
    assert not any(c in prometheus["version"] for c in "^~*x><=")


def test_every_stack_file_defines_only_schema_valid_kubernetes_objects(
    stack_run: ProgramRun,
) -> None:
    assert_schema_valid(stack_run)


def assert_schema_valid(run: ProgramRun) -> None:
    objects = run.kubernetes_objects()
    assert objects
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_prometheus_is_a_short_lived_relay(default_run: ProgramRun) -> None:
    values = default_run.charts()["prometheus"].plain["values"]
    assert values["alertmanager"] == {"enabled": False}
    assert values["prometheus-pushgateway"] == {"enabled": False}
    server = values["server"]
    assert server["persistentVolume"] == {"enabled": False}
    assert server["retention"] == "6h"
    assert server["emptyDir"]["sizeLimit"] == "4Gi"
    for part in (server, values["kube-state-metrics"]):
        assert set(part["resources"]) == {"requests", "limits"}


def test_chart_versions_and_resources_follow_the_stack(program: Callable[..., ProgramRun]) -> None:
    run = program(
        prometheusChartVersion="29.1.0",
        prometheusRetention="2h",
        prometheusServerResources={
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "3Gi"},
        },
    )
    chart = run.charts()["prometheus"].plain
    assert chart["version"] == "29.1.0"
    assert chart["values"]["server"]["retention"] == "2h"
    assert chart["values"]["server"]["resources"]["limits"] == {"cpu": "2", "memory": "3Gi"}
    assert run.outputs["chartVersions"]["prometheus"] == "29.1.0"


def test_another_namespace_moves_every_object_and_chart(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(namespace="metrics-prod")
    assert run.one("kubernetes:core/v1:Namespace").plain["metadata"]["name"] == "metrics-prod"
    for obj in run.kubernetes_objects():
        if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            continue
        assert obj["metadata"]["namespace"] == "metrics-prod", obj["metadata"]["name"]
    for release, chart in run.charts().items():
        assert chart.plain["namespace"] == "metrics-prod", release
    binding = run.one(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "event-exporter-cluster-role-binding",
    )
    assert binding.plain["subjects"][0]["namespace"] == "metrics-prod"
    text = str([r.plain for r in run.resources])
    assert "cedana-monitoring.svc" not in text
    assert "metrics-prod.svc.cluster.local" in text


def test_every_kubernetes_resource_uses_the_one_explicit_provider(
    default_run: ProgramRun,
) -> None:
    providers = default_run.of_type("pulumi:providers:kubernetes")
    assert [p.name for p in providers] == ["kubernetes"]
    for resource in default_run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider is not None
            assert "pulumi:providers:kubernetes::kubernetes::" in resource.provider, resource.name


def test_the_kube_context_setting_reaches_the_provider(program: Callable[..., ProgramRun]) -> None:
    assert "context" not in program().one("pulumi:providers:kubernetes").plain
    provider = program(kubeContext="prod-eu").one("pulumi:providers:kubernetes")
    assert provider.plain["context"] == "prod-eu"


def test_components_own_their_children(default_run: ProgramRun) -> None:
    components = [r for r in default_run.resources if r.type.startswith(OUR_TOKENS)]
    assert {c.type for c in components} >= {
        "cedana:monitoring:MonitoringStack",
        "cedana:monitoring:Foundation",
        "cedana:monitoring:Prometheus",
        "cedana:monitoring:Vector",
        "cedana:monitoring:EventExporter",
        "cedana:monitoring:DcgmExporter",
    }
    for resource in default_run.resources:
        assert resource.parent, resource.name
        parent_type = resource.parent.split("::")[2].split("$")[-1]
        if resource.type in ("cedana:monitoring:MonitoringStack", "pulumi:providers:kubernetes"):
            assert parent_type == "pulumi:pulumi:Stack", resource.name
        else:
            assert parent_type.startswith(OUR_TOKENS), resource.name


def test_the_namespace_allows_the_host_access_node_agents_need(default_run: ProgramRun) -> None:
    labels = default_run.one("kubernetes:core/v1:Namespace").plain["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["app.kubernetes.io/part-of"] == "cedana-monitoring"
    assert labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_stack_outputs_tell_the_user_where_things_are(default_run: ProgramRun) -> None:
    outputs = default_run.outputs
    assert outputs["namespace"] == "cedana-monitoring"
    assert outputs["prometheusEndpoints"] == {
        "server": "http://prometheus-server.cedana-monitoring.svc.cluster.local:80",
        "kubeStateMetrics": (
            "http://prometheus-kube-state-metrics.cedana-monitoring.svc.cluster.local:8080/metrics"
        ),
        "remoteWrite": "http://vector-collector.cedana-monitoring.svc.cluster.local:9201/",
    }
    assert outputs["chartVersions"]["prometheus"]
    assert outputs["verifyCommand"] == "./scripts/verify --stack test"


def test_no_secret_reaches_an_export_or_a_non_secret_input(default_run: ProgramRun) -> None:
    secrets = set(TEST_SECRETS.values())
    assert not secrets & set(map(str, default_run.outputs.values()))
    for resource in default_run.resources:
        for path, value, under_secret in walk(resource.inputs):
            if any(s in str(value) for s in secrets):
                assert under_secret, f"{resource.name}{path} holds a secret in plain text"
                assert resource.type == "kubernetes:core/v1:Secret", resource.name


BASE_VALUES = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1"}
STATIC_SECRETS = {**TEST_SECRETS, "awsAccessKeyId": "AKIAEXAMPLE", "awsSecretAccessKey": "example"}
BAD_CONFIGS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    # (key, stack values, secrets); an empty string is an unset key whose default is "".
    ("clusterId", {}, {**TEST_SECRETS, "clusterId": ""}),
    ("authToken", {}, {"clusterId": TEST_SECRETS["clusterId"]}),
    ("clusterId", {}, {**TEST_SECRETS, "clusterId": "not-a-uuid"}),
    ("s3Bucket", {"s3Bucket": "Bad_Bucket"}, TEST_SECRETS),
    ("s3Bucket", {"s3Bucket": "", "credentialsMode": "static"}, STATIC_SECRETS),
    ("awsRegion", {"awsRegion": "Europe"}, TEST_SECRETS),
    ("cedanaUrl", {"cedanaUrl": "http://api.cedana.ai"}, TEST_SECRETS),
    ("namespace", {"namespace": "Not_A_Label"}, TEST_SECRETS),
    ("credentialsMode", {"credentialsMode": "magic"}, TEST_SECRETS),
    ("gpuMode", {"gpuMode": "maybe"}, TEST_SECRETS),
    # A mistyped key is not silently ignored (the stack would keep installing DCGM).
    ("gpumode", {"gpumode": "off"}, TEST_SECRETS),
]


@pytest.mark.parametrize(
    ("key", "values", "secrets"),
    BAD_CONFIGS,
    ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_CONFIGS)],
)
def test_a_bad_configuration_stops_the_program_before_anything_is_registered(
    key: str, values: dict[str, str], secrets: dict[str, str]
) -> None:
    run = ProgramRun()
    with pytest.raises(pulumi.RunError) as caught:
        run_program({**BASE_VALUES, **values}, secrets, run=run)
    message = str(caught.value)
    assert f"cedana-monitoring:{key}:" in message
    assert "fix: pulumi config set" in message
    assert run.resources == []


def test_the_cli_refuses_a_stack_without_a_required_key() -> None:
    with pytest.raises(MissingConfigError, match="clusterId"):
        run_program({}, {"authToken": TEST_SECRETS["authToken"]})


def test_vector_waits_for_its_credentials_and_the_namespace(default_run: ProgramRun) -> None:
    vector = default_run.one("cedana:monitoring:Vector")
    # A dependency on a component is one on each of its children: the pods start only once
    # the Secrets and the refresher's ConfigMap they mount exist.
    depends_on = {urn.split("::", 2)[-1].split("$", 1)[-1] for urn in vector.dependencies}
    assert depends_on == {
        "kubernetes:core/v1:Namespace::cedana-monitoring-foundation-namespace",
        "kubernetes:core/v1:Secret::cedana-monitoring-foundation-cedana-credentials",
        "kubernetes:core/v1:ConfigMap::cedana-monitoring-vector-credentials-refresher-script",
        "kubernetes:core/v1:Secret::cedana-monitoring-vector-credentials-endpoint-token",
        "random:index/randomPassword:RandomPassword"
        "::cedana-monitoring-vector-credentials-endpoint-token",
    }
    # Every other part is placed in the namespace through its output, so it waits for it too.
    secret = default_run.one("kubernetes:core/v1:Secret", "endpoint-token")
    assert secret.plain["metadata"]["namespace"] == "cedana-monitoring"


# --- node-exporter: installed only when shipped, on a port of the stack's choosing ----------


def test_node_exporter_is_not_installed_when_nothing_ships_it(default_run: ProgramRun) -> None:
    prometheus = default_run.charts()["prometheus"].plain["values"]
    assert prometheus["prometheus-node-exporter"] == {"enabled": False}
    agent_config = default_run.charts()["vector"].plain["values"]["customConfig"]
    assert "node-exporter" not in agent_config["sources"]


def test_a_shipped_node_exporter_listens_on_the_configured_port(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(shipNodeExporter=True, nodeExporterPort=9110)
    node_exporter = run.charts()["prometheus"].plain["values"]["prometheus-node-exporter"]
    assert node_exporter["enabled"] is True
    assert node_exporter["service"] == {
        "internalTrafficPolicy": "Local",
        "port": 9110,
        "targetPort": 9110,
    }
    assert node_exporter["tolerations"] == [{"operator": "Exists", "effect": "NoSchedule"}]
    source = run.charts()["vector"].plain["values"]["customConfig"]["sources"]["node-exporter"]
    assert source["endpoints"] == [
        "http://prometheus-prometheus-node-exporter.cedana-monitoring.svc.cluster.local:9110/metrics"
    ]


def test_an_existing_node_exporter_is_read_at_the_node_address_and_none_is_installed(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(shipNodeExporter=True, useExistingNodeExporter=True, nodeExporterPort=9100)
    prometheus = run.charts()["prometheus"].plain["values"]
    assert prometheus["prometheus-node-exporter"] == {"enabled": False}
    agent = run.charts()["vector"].plain["values"]
    source = agent["customConfig"]["sources"]["node-exporter"]
    assert source["endpoints"] == ["http://${VECTOR_SELF_NODE_IP}:9100/metrics"]
    assert {
        "name": "VECTOR_SELF_NODE_IP",
        "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}},
    } in agent["env"]


def test_an_existing_node_exporter_without_shipping_it_is_refused(
    program: Callable[..., ProgramRun],
) -> None:
    with pytest.raises(Exception, match="useExistingNodeExporter") as caught:
        program(useExistingNodeExporter=True)
    assert "pulumi config set cedana-monitoring:shipNodeExporter true" in str(caught.value)


# --- Egress through a proxy -------------------------------------------------------------------


def test_a_proxy_reaches_the_collector_and_its_refresher_and_in_cluster_names_stay_direct(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(
        httpsProxy="http://proxy.corp.example:3128",
        noProxy=["10.0.0.0/8"],
        clusterDomain="corp.internal",
    )
    collector = run.charts()["vector-collector"].plain["values"]
    expected_direct = "127.0.0.1,localhost,::1,.svc,.corp.internal,10.0.0.0/8"
    proxy = {
        "HTTPS_PROXY": "http://proxy.corp.example:3128",
        "https_proxy": "http://proxy.corp.example:3128",
        "NO_PROXY": expected_direct,
        "no_proxy": expected_direct,
    }
    vector_env = {e["name"]: e.get("value") for e in collector["env"]}
    (refresher,) = collector["extraContainers"]
    refresher_env = {e["name"]: e.get("value") for e in refresher["env"]}
    for env in (vector_env, refresher_env):
        assert {k: env.get(k) for k in proxy} == proxy
    agent = run.charts()["vector"].plain["values"]
    assert not {e["name"] for e in agent["env"]} & set(proxy)


def test_without_a_proxy_no_proxy_variable_is_set(default_run: ProgramRun) -> None:
    collector = default_run.charts()["vector-collector"].plain["values"]
    containers = [collector, *collector["extraContainers"]]
    names = {e["name"] for c in containers for e in c["env"]}
    assert not names & {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}


@pytest.mark.parametrize(
    "proxy", ["https://proxy.corp:3128", "http://user:pw@proxy.corp:3128", "proxy.corp:3128"]
)
def test_a_proxy_that_cannot_tunnel_is_refused(
    program: Callable[..., ProgramRun], proxy: str
) -> None:
    with pytest.raises(Exception, match="httpsProxy: must") as caught:
        program(httpsProxy=proxy)
    assert "user:pw" not in str(caught.value)
