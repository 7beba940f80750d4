"""Every setting, declared once: type, default, docstring, example. Pulumi.yaml and docs/settings.md
are generated from its JSON schema; the rules across settings run after every field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonDict
from pydantic_core import InitErrorDetails, ValidationError

from components.catalog import DEFAULT_HOST_COLLECTORS, EVENT_REASONS, CredentialsMode, GpuMode
from components.common.charts import local_charts_problem
from components.common.formats import uuid
from components.common.names import PROJECT
from components.common.quantities import cpu_millis, memory_bytes
from components.config import rules as r

# Vector refuses disk buffers smaller than this (bytes).
VECTOR_MIN_DISK_BUFFER = 268_435_488
# The name suffix pulumi-random adds to a created bucket: "-" plus 8 characters.
BUCKET_SUFFIX_LENGTH = 9


RESOURCES_EXAMPLE = (
    '{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}'
)
Compression = Literal["none", "gzip", "zlib", "zstd", "snappy"]


STRICT = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel)


class Nested(BaseModel):
    """An object inside a setting: unknown fields are mistakes, values never change."""

    model_config = STRICT | ConfigDict(populate_by_name=True)


class Quantities(Nested):
    cpu: Annotated[r.CpuQuantity, Field(examples=["100m"])]
    memory: Annotated[r.MemoryQuantity, Field(examples=["128Mi"])]


class Resources(Nested):
    """Requests and limits of one container, as Kubernetes quantities."""

    model_config = ConfigDict(json_schema_extra={"examples": [RESOURCES_EXAMPLE]})

    requests: Quantities
    limits: Quantities

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        if cpu_millis(self.requests.cpu) > cpu_millis(self.limits.cpu):
            r.problem("requests.cpu must not exceed limits.cpu")
        if memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory):
            r.problem("requests.memory must not exceed limits.memory")
        return self

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        return self.model_dump()


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Any:
    return Resources(
        requests=Quantities(cpu=cpu_request, memory=memory_request),
        limits=Quantities(cpu=cpu_limit, memory=memory_limit),
    )


class Toleration(Nested):
    """A Kubernetes toleration, with the fields the API server takes."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] | None = None
    value: str | None = None
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    @model_serializer(mode="wrap")
    def _given_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Exactly the fields given, so the pod spec (and Pulumi.yaml) says what the stack says.
        return {k: v for k, v in handler(self).items() if v is not None}

    def to_kubernetes(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


Secret = Annotated[SecretStr | None, r.EMPTY_IS_UNSET]
ClusterId = Annotated[SecretStr, r.checked(lambda s: uuid(s.get_secret_value()))]
CedanaUrl = Annotated[str, r.checked(r.cedana_url), AfterValidator(lambda url: url.rstrip("/"))]
S3Endpoint = Annotated[r.Unset, r.checked(r.http_url)]
HostCollectors = Annotated[tuple[r.HostCollector, ...], r.checked(r.no_repeats)]


def setting(default: Any = ..., example: str | None = None, group: str | None = None) -> Any:
    """A setting's default, the value its `pulumi config set` shows, the docs section it starts."""
    extra: JsonDict | None = {"group": group} if group else None
    return Field(default, examples=[example] if example else None, json_schema_extra=extra)


class Settings(BaseModel):
    """Everything the program needs, typed and validated. Keys are the camelCase field names."""

    model_config = STRICT | ConfigDict(
        use_attribute_docstrings=True, hide_input_in_errors=True, str_strip_whitespace=True
    )

    credentials_mode: CredentialsMode = setting(CredentialsMode.CEDANA, group="Modes")
    """How Vector gets AWS credentials: cedana (STS from Cedana), static, irsa or pod-identity."""
    gpu_mode: GpuMode = GpuMode.INSTALL
    """GPU metrics: install (dcgm-exporter on GPU nodes), external (see dcgmEndpoint) or off."""

    insecure_cedana_url: bool = setting(False, group="Cedana and the bucket")
    """Accept an http:// cedanaUrl: only for a stand-in API in tests (the token goes in clear)."""
    cedana_url: CedanaUrl = "https://api.cedana.ai"
    """Cedana API URL (https)."""
    cluster_id: ClusterId = setting(example="<cluster-uuid-from-cedana>")
    """Cluster UUID from Cedana. SECRET and required."""
    auth_token: Secret = setting(None, "<cedana-auth-token>")
    """Cedana auth token. SECRET; required when credentialsMode is cedana."""
    create_bucket: bool = False
    """Create the bucket in your own AWS account (s3Bucket plus a random suffix)."""
    s3_bucket: r.BucketName = setting(None, "<bucket>")
    """S3 bucket for metrics; empty: Cedana's (cedana mode). With createBucket, its prefix."""
    aws_region: r.Region = setting(None, "us-east-1")
    """The bucket's AWS region, e.g. us-east-1; empty: Cedana's (cedana mode)."""
    s3_endpoint: S3Endpoint = setting(None, "https://minio.example.com")
    """Endpoint of an S3-compatible store (MinIO, R2); empty means AWS S3."""
    bucket_expiration_days: int = Field(30, ge=1, le=3650)
    """Days after which objects in a created bucket expire."""

    namespace: r.Namespace = setting("cedana-monitoring", group="Cluster")
    """Namespace for every object (created here and deleted by `pulumi destroy`)."""
    kube_context: r.Unset = setting(None, "<context-name>")
    """kubeconfig context to deploy to; empty means the current context."""
    cluster_domain: r.DnsName = "cluster.local"
    """The cluster's DNS domain, used in every in-cluster URL."""
    render_dir: r.Unset = setting(None, "./rendered")
    """Write every manifest here instead of applying it (GitOps); Secrets too, in plain text."""
    network_policies: bool = True
    """Deny ingress in the namespace except the flows the data path needs."""
    https_proxy: r.ProxyUrl = setting("", "http://proxy.corp.example:3128")
    """An HTTPS proxy (http://host:port) for the collector's egress to S3 and Cedana's API."""
    no_proxy: tuple[str, ...] = setting((), '["10.0.0.0/8",".corp.example"]')
    """More hosts, .domains or CIDRs reached without the proxy (loopback and .svc always are)."""
    listen_ip_family: Literal["auto", "ipv4", "ipv6"] = "auto"
    """Where Vector listens: auto reads the cluster (IPv6 in its Services: all addresses, [::];
    else 0.0.0.0, which also works on nodes whose kernel has IPv6 disabled); ipv4 or ipv6
    decide without asking (render mode)."""

    image_registry: r.Registry = setting("", "registry.example.com/mirror", group="Images")
    """Registry (and path) that mirrors every image, e.g. registry.example.com/mirror."""
    image_pull_secrets: tuple[r.SecretName, ...] = setting((), '["regcred"]')
    """Names of image pull Secrets (in the namespace) for every pod."""
    image_digests: dict[str, r.Digest] = setting({}, '{"timberio/vector":"sha256:<digest>"}')
    """Optional digest pins, image repository -> sha256 digest."""

    prometheus_chart_version: r.ChartVersion = setting("29.27.0", group="Prometheus")
    """Exact version of chart prometheus-community/prometheus."""
    prometheus_retention: r.PrometheusDuration = "6h"
    """How long Prometheus keeps samples; it only relays cAdvisor and DCGM to the collector."""
    prometheus_storage_size: r.MemoryQuantity = "4Gi"
    """Size limit of Prometheus' emptyDir data volume."""
    prometheus_server_resources: Resources = resources("200m", "512Mi", "1", "2Gi")
    """Requests and limits of the Prometheus server."""
    kube_state_metrics_resources: Resources = resources("50m", "128Mi", "250m", "512Mi")
    """Requests and limits of kube-state-metrics."""
    node_exporter_resources: Resources = resources("20m", "32Mi", "200m", "128Mi")
    """Requests and limits of node-exporter (per node)."""

    vector_chart_version: r.ChartVersion = setting("0.56.0", group="Vector")
    """Exact version of chart vector/vector (both releases)."""
    vector_agent_resources: Resources = resources("50m", "64Mi", "500m", "256Mi")
    """Requests and limits of the per-node Vector agent."""
    vector_collector_resources: Resources = resources("100m", "256Mi", "1", "1Gi")
    """Requests and limits of the single cluster-level Vector collector."""
    vector_agent_tolerations: tuple[Toleration, ...] = setting(
        (Toleration(operator="Exists", effect="NoSchedule"),),
        '[{"operator":"Exists","effect":"NoSchedule"}]',
    )
    """Tolerations of the Vector agent; the default reaches tainted (GPU) nodes."""
    vector_priority_class_name: str = setting("", "<priority-class>")
    """PriorityClass of the Vector pods; empty means none."""
    vector_api: bool = True
    """Vector's API on :8686 (the kubelet's health probes, `vector top`); false turns off both."""
    vector_key_prefix: r.KeyPrefix = setting(None, "'vector/data/{{ tags.ts }}/'")
    """Object key prefix, a Vector template; empty: Cedana's prefix (cedana mode), else this."""
    vector_batch_max_bytes: int = Field(10_485_760, ge=1024)
    """Largest S3 object Vector writes, in bytes."""
    vector_batch_timeout_secs: int = Field(30, ge=1, le=3600)
    """Longest a batch waits before it is written, in seconds: 60/this objects a minute."""
    vector_compression: Compression = "none"
    """Compression of objects (none, gzip, zlib, zstd, snappy)."""
    vector_agent_buffer_bytes: int = Field(536_870_912, ge=VECTOR_MIN_DISK_BUFFER)
    """Disk buffer of each agent (bytes, on the node's /var/lib/vector)."""
    vector_collector_buffer_bytes: int = Field(4_294_967_296, ge=VECTOR_MIN_DISK_BUFFER)
    """Disk buffer of the collector, the only S3 writer (bytes, on its volume or emptyDir)."""
    vector_collector_persistence: bool = True
    """Keep the collector's buffer on a volume claim, safe from drains; false: an emptyDir."""
    vector_collector_storage_class: r.StorageClass = setting("", "gp3")
    """StorageClass of the collector's volume; empty means the cluster's default."""
    vector_collector_storage_size: r.MemoryQuantity = "5Gi"
    """Size of the collector's volume: vectorCollectorBufferBytes and 10% to spare."""
    vector_host_metrics_collectors: HostCollectors = setting(
        DEFAULT_HOST_COLLECTORS, '["cpu","disk","host","load","memory"]'
    )
    """host_metrics collectors each agent runs: any of cpu, memory, load, disk, host and cgroups
    (bounded to 3 levels: large). network, tcp, filesystem and process are refused: from the
    agent's pod they would describe the pod, not the node."""
    ship_node_exporter: bool = False
    """Also ship each node's node-exporter metrics; only then is one installed (or read)."""
    node_exporter_port: int = Field(9100, ge=1, le=65535)
    """Port node-exporter listens on in each node's host network: pick a free one where
    another node-exporter (kube-prometheus-stack, a vendor agent) already holds 9100."""
    use_existing_node_exporter: bool = False
    """Read the cluster's own node-exporter (node IP, nodeExporterPort) instead of installing."""

    cred_refresher_image: r.Image = setting(
        "python:3.13.7-alpine3.22", group="Credential refresher (credentialsMode cedana)"
    )
    """Image that runs the refresher script (official Python image, exact tag)."""
    cred_refresher_resources: Resources = resources("10m", "32Mi", "100m", "64Mi")
    """Requests and limits of the refresher sidecar."""
    cred_refresh_interval: r.RefreshInterval = "45m"
    """How often the refresher asks Cedana for new credentials (Go duration)."""

    event_exporter_image: r.Image = setting(
        "ghcr.io/resmoio/kubernetes-event-exporter:v1.7", group="Event exporter"
    )
    """Image of the Kubernetes event exporter (exact tag)."""
    event_exporter_resources: Resources = resources("50m", "64Mi", "200m", "256Mi")
    """Requests and limits of the event exporter."""
    event_exporter_max_event_age_seconds: int = Field(900, ge=60, le=86_400)
    """Events older than this are not exported (the exporter's default of 5 s drops events)."""
    event_reasons: tuple[r.EventReason, ...] = setting(
        EVENT_REASONS, '["Killing","Evicted","OOMKilling"]'
    )
    """Reasons of the Events shipped one by one (metric kubernetes_event); empty ships none."""

    dcgm_chart_version: r.ChartVersion = setting("4.8.2", group="GPU")
    """Exact version of chart dcgm-exporter (gpuMode install)."""
    dcgm_resources: Resources = resources("100m", "128Mi", "500m", "512Mi")
    """Requests and limits of dcgm-exporter (per GPU node)."""
    dcgm_priority_class_name: str = setting("", "<priority-class>")
    """PriorityClass of dcgm-exporter; empty means none."""
    gpu_node_selector: dict[r.LabelName, r.LabelValue] = setting({}, '{"gpu-type": "a100"}')
    """Node labels that select GPU nodes (label -> value). Empty means the built-in selection,
    which covers the GPU labels of GPU Operator, NFD, GKE, AKS, Karpenter and EKS Auto Mode."""
    dcgm_endpoint: r.HttpUrl = (
        "http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics"
    )
    """The exporter the cluster already runs (gpuMode external)."""

    aws_access_key_id: Secret = setting(
        None,
        "<aws-access-key-id>",
        group="AWS access (credentialsMode static, irsa, pod-identity; createBucket)",
    )
    """AWS access key id. SECRET; required when credentialsMode is static."""
    aws_secret_access_key: Secret = setting(None, "<aws-secret-access-key>")
    """AWS secret access key. SECRET; required when credentialsMode is static."""
    irsa_oidc_provider_arn: r.OidcProviderArn = setting(
        None, "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>"
    )
    """ARN of the EKS cluster's IAM OIDC provider (credentialsMode irsa)."""
    eks_cluster_name: r.EksClusterName = setting(None, "<eks-cluster-name>")
    """Name of the EKS cluster (credentialsMode pod-identity)."""

    chart_repository: r.ChartRepository = setting(
        "", "oci://registry.example.com/helm-mirror", group="Charts"
    )
    """A Helm (https://) or OCI (oci://) mirror of the charts; empty means their upstreams."""
    charts_dir: r.Unset = setting(None, "./charts")
    """A directory of the pinned charts (<name>-<version>.tgz or <name>/): nothing is downloaded."""

    @model_validator(mode="after")
    def _rules_across_settings(self) -> Self:
        found = [
            InitErrorDetails(type=r.broken_rule(why, fix), loc=(field,), input=getattr(self, field))
            for field, why, fix in across(self)
        ]
        if found:
            raise ValidationError.from_exception_data(type(self).__name__, found)
        return self

    def left_to_cedana(self) -> bool:
        """Whether Cedana's answer names the bucket, its region or the key prefix."""
        unset = None in (self.s3_bucket, self.aws_region, self.vector_key_prefix)
        return self.credentials_mode is CredentialsMode.CEDANA and unset

    def chart_versions(self) -> dict[str, str]:
        """The charts this stack installs, name -> exact version."""
        charts = {"prometheus": self.prometheus_chart_version, "vector": self.vector_chart_version}
        if self.gpu_mode is GpuMode.INSTALL:
            charts["dcgm-exporter"] = self.dcgm_chart_version
        return charts


def set_command(config_key: str, example: str) -> str:
    return f"pulumi config set {PROJECT}:{config_key} {example}"


def across(s: Settings) -> Iterator[tuple[str, str, str | None]]:
    """Each broken rule across settings: (field, problem, fix or None for the field's own)."""
    if not s.insecure_cedana_url and not s.cedana_url.startswith("https://"):
        yield "cedana_url", "must be an https:// URL", None
    if s.create_bucket and not s.credentials_mode.uses_own_account:
        yield (
            "create_bucket",
            "needs credentials of your own AWS account: credentialsMode irsa, pod-identity or"
            " static (Cedana's credentials only reach Cedana's bucket)",
            set_command("credentialsMode", "irsa"),
        )
    longest = 63 - BUCKET_SUFFIX_LENGTH
    if s.create_bucket and len(s.s3_bucket or "") > longest:
        yield (
            "s3_bucket",
            f"must be at most {longest} characters when createBucket is true (a random suffix is"
            " added)",
            set_command("s3Bucket", "<shorter-bucket-name>"),
        )
    needed = s.vector_collector_buffer_bytes * 11 // 10
    if s.vector_collector_persistence and memory_bytes(s.vector_collector_storage_size) < needed:
        yield (
            "vector_collector_storage_size",
            f"must hold the collector's buffer ({s.vector_collector_buffer_bytes} bytes) with 10%"
            f" to spare: at least {needed // 2**20}Mi",
            None,
        )
    if s.use_existing_node_exporter and not s.ship_node_exporter:
        yield (
            "use_existing_node_exporter",
            "reads a node-exporter only for shipNodeExporter, which is false",
            set_command("shipNodeExporter", "true"),
        )
    for field in REQUIRED_BY_MODE[s.credentials_mode]:
        if getattr(s, field) is None:
            yield field, f"is required when credentialsMode is {s.credentials_mode}", None
    if s.charts_dir is not None:
        both = s.chart_repository and "set chartsDir or chartRepository, not both"
        if found := both or local_charts_problem(s.charts_dir, s.chart_versions()):
            yield "charts_dir", found, None


BUCKET = ("s3_bucket", "aws_region")  # only Cedana's answer can name them
REQUIRED_BY_MODE = {
    CredentialsMode.CEDANA: ("auth_token",),
    CredentialsMode.STATIC: (*BUCKET, "aws_access_key_id", "aws_secret_access_key"),
    CredentialsMode.IRSA: (*BUCKET, "irsa_oidc_provider_arn"),
    CredentialsMode.POD_IDENTITY: (*BUCKET, "eks_cluster_name"),
}
