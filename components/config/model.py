"""Every setting of the program, declared once: type, default, description, example, secrecy.

Pydantic parses each value from its type; the domain rules (rules.py) check what types cannot
say; the rules across settings are one model validator, whatever the order of the fields.
Pulumi.yaml's `config:` block and docs/settings.md are generated from the model's JSON schema
(scripts/pulumi_config.py). A field's docstring is its description; `examples` (else the
default) is the value the fixing `pulumi config set` shows; `group` starts a section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonDict
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from components.catalog import DEFAULT_HOST_COLLECTORS, EVENT_REASONS
from components.common.charts import local_chart_problem
from components.common.formats import uuid
from components.common.names import PROJECT
from components.common.quantities import memory_bytes
from components.config import rules as r
from components.config.types import Compression, CredentialsMode, GpuMode, Resources, Toleration
from components.config.types import resources as res

# Vector refuses disk buffers smaller than this (bytes).
VECTOR_MIN_DISK_BUFFER = 268_435_488
# The name suffix pulumi-random adds to a created bucket: "-" plus 8 characters.
BUCKET_SUFFIX_LENGTH = 9

Unset = Annotated[str | None, r.EMPTY_IS_UNSET]
Secret = Annotated[SecretStr | None, r.EMPTY_IS_UNSET]
ClusterId = Annotated[SecretStr, r.checked(lambda s: uuid(s.get_secret_value()))]
CedanaUrl = Annotated[str, r.checked(r.cedana_url), AfterValidator(lambda url: url.rstrip("/"))]
S3Endpoint = Annotated[Unset, r.checked(r.optional(r.http_url))]
HostCollectors = Annotated[tuple[r.HostCollector, ...], r.checked(r.no_repeats)]


def starts(group: str) -> JsonDict:
    return {"group": group}


class Settings(BaseModel):
    """Everything the program needs, typed and validated. Keys are the camelCase field names."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
        str_strip_whitespace=True,
    )

    credentials_mode: CredentialsMode = Field(
        CredentialsMode.CEDANA, json_schema_extra=starts("Modes")
    )
    """How Vector gets AWS credentials: cedana (refresher sidecar, STS credentials from
    Cedana), static (keys from secret config), irsa (EKS IAM Roles for Service Accounts) or
    pod-identity (EKS Pod Identity)."""
    gpu_mode: GpuMode = GpuMode.INSTALL
    """GPU metrics: install (dcgm-exporter on GPU nodes), external (collect an exporter the
    cluster already runs, see dcgmEndpoint) or off."""

    insecure_cedana_url: bool = Field(False, json_schema_extra=starts("Cedana and the bucket"))
    """Accept an http:// cedanaUrl. Only for a stand-in API in end-to-end tests; the auth token
    would cross the network in clear."""
    cedana_url: CedanaUrl = "https://api.cedana.ai"
    """Cedana API URL (https)."""
    cluster_id: ClusterId = Field(examples=["<cluster-uuid-from-cedana>"])
    """Cluster UUID from Cedana. SECRET and required."""
    auth_token: Secret = Field(None, examples=["<cedana-auth-token>"])
    """Cedana auth token. SECRET: set with `pulumi config set --secret authToken <token>`.
    Required when credentialsMode is cedana."""
    create_bucket: bool = False
    """Create the bucket in your own AWS account (s3Bucket plus a random suffix)."""
    s3_bucket: r.BucketName = Field(examples=["<bucket-from-cedana>"])
    """S3 bucket for metrics (provided by Cedana). With createBucket, the prefix of the bucket
    this program creates."""
    aws_region: r.Region = Field(examples=["us-east-1"])
    """The bucket's AWS region, e.g. us-east-1."""
    s3_endpoint: S3Endpoint = Field(None, examples=["https://minio.example.com"])
    """Endpoint of an S3-compatible store (MinIO, R2); empty means AWS S3."""
    bucket_expiration_days: int = Field(30, ge=1, le=3650)
    """Days after which objects in a created bucket expire."""

    namespace: r.Namespace = Field("cedana-monitoring", json_schema_extra=starts("Cluster"))
    """Namespace for every object (created here and deleted by `pulumi destroy`)."""
    kube_context: Unset = Field(None, examples=["<context-name>"])
    """kubeconfig context to deploy to; empty means the current context."""
    cluster_domain: r.DnsName = "cluster.local"
    """The cluster's DNS domain, used in every in-cluster URL."""
    render_dir: Unset = Field(None, examples=["./rendered"])
    """If set, write every Kubernetes manifest to this directory instead of applying it
    (GitOps). Secrets are written there in plain text."""
    network_policies: bool = True
    """Deny ingress in the namespace except the flows the data path needs."""
    https_proxy: r.ProxyUrl = Field("", examples=["http://proxy.corp.example:3128"])
    """An HTTPS proxy (http://host:port, CONNECT) for the collector's egress: S3 and Cedana's
    API. In-cluster names, loopback and noProxy are reached directly."""
    no_proxy: tuple[str, ...] = Field((), examples=['["10.0.0.0/8",".corp.example"]'])
    """More hosts, domains (.corp.example) or address ranges (10.0.0.0/8) reached without the
    proxy, beside loopback, .svc and the cluster domain."""
    listen_ip_family: Literal["auto", "ipv4", "ipv6"] = "auto"
    """Where Vector listens: auto reads the cluster (IPv6 in its Services: all addresses, [::];
    else 0.0.0.0, which also works on nodes whose kernel has IPv6 disabled); ipv4 or ipv6
    decide without asking (render mode)."""

    image_registry: r.Registry = Field(
        "", examples=["registry.example.com/mirror"], json_schema_extra=starts("Images")
    )
    """Registry (and path) that mirrors every image, e.g. registry.example.com/mirror."""
    image_pull_secrets: tuple[r.SecretName, ...] = Field((), examples=['["regcred"]'])
    """Names of image pull Secrets (in the namespace) for every pod."""
    image_digests: dict[str, r.Digest] = Field(
        {}, examples=['{"timberio/vector":"sha256:<digest>"}']
    )
    """Optional digest pins, image repository -> sha256 digest."""

    prometheus_chart_version: r.ChartVersion = Field(
        "29.27.0", json_schema_extra=starts("Prometheus")
    )
    """Exact version of chart prometheus-community/prometheus."""
    prometheus_retention: r.PrometheusDuration = "6h"
    """How long Prometheus keeps samples; it only relays cAdvisor and DCGM to the collector."""
    prometheus_storage_size: r.MemoryQuantity = "4Gi"
    """Size limit of Prometheus' emptyDir data volume."""
    prometheus_server_resources: Resources = res("200m", "512Mi", "1", "2Gi")
    """Requests and limits of the Prometheus server."""
    kube_state_metrics_resources: Resources = res("50m", "128Mi", "250m", "512Mi")
    """Requests and limits of kube-state-metrics."""
    node_exporter_resources: Resources = res("20m", "32Mi", "200m", "128Mi")
    """Requests and limits of node-exporter (per node)."""

    vector_chart_version: r.ChartVersion = Field("0.56.0", json_schema_extra=starts("Vector"))
    """Exact version of chart vector/vector (both releases)."""
    vector_agent_resources: Resources = res("50m", "64Mi", "500m", "256Mi")
    """Requests and limits of the per-node Vector agent."""
    vector_collector_resources: Resources = res("100m", "256Mi", "1", "1Gi")
    """Requests and limits of the single cluster-level Vector collector."""
    vector_agent_tolerations: tuple[Toleration, ...] = Field(
        (Toleration(operator="Exists", effect="NoSchedule"),),
        examples=['[{"operator":"Exists","effect":"NoSchedule"}]'],
    )
    """Tolerations of the Vector agent; the default reaches tainted (GPU) nodes."""
    vector_priority_class_name: str = Field("", examples=["<priority-class>"])
    """PriorityClass of the Vector pods; empty means none."""
    vector_api: bool = True
    """Vector's API on :8686 in the agent and collector pods: the kubelet's health probes and
    `vector top` (NetworkPolicy keeps other pods out); false turns off both."""
    vector_key_prefix: r.KeyPrefix = Field(
        "vector/data/{{ tags.ts }}/", examples=["'vector/data/{{ tags.ts }}/'"]
    )
    """Object key prefix (a Vector template; Helm escaping is added by the program)."""
    vector_batch_max_bytes: int = Field(10_485_760, ge=1024)
    """Largest S3 object Vector writes, in bytes."""
    vector_batch_timeout_secs: int = Field(30, ge=1, le=3600)
    """Longest time the collector holds a batch before writing it, in seconds: about 60/this
    objects a minute, whatever the number of nodes."""
    vector_compression: Compression = "none"
    """Compression of objects (none, gzip, zlib, zstd, snappy)."""
    vector_agent_buffer_bytes: int = Field(536_870_912, ge=VECTOR_MIN_DISK_BUFFER)
    """Disk buffer of each agent (bytes, on the node's /var/lib/vector)."""
    vector_collector_buffer_bytes: int = Field(4_294_967_296, ge=VECTOR_MIN_DISK_BUFFER)
    """Disk buffer of the collector, the only S3 writer (bytes, on its persistent volume, or in
    an emptyDir of that size without persistence)."""
    vector_collector_persistence: bool = True
    """Keep the collector's buffer on a persistent volume (a StatefulSet volume claim), so a
    drain or an eviction loses nothing; false keeps it in a size-limited emptyDir."""
    vector_collector_storage_class: r.StorageClass = Field("", examples=["gp3"])
    """StorageClass of the collector's volume; empty means the cluster's default."""
    vector_collector_storage_size: r.MemoryQuantity = "5Gi"
    """Size of the collector's volume; it must hold vectorCollectorBufferBytes with 10% to
    spare."""
    vector_host_metrics_collectors: HostCollectors = Field(
        DEFAULT_HOST_COLLECTORS, examples=['["cpu","disk","host","load","memory"]']
    )
    """host_metrics collectors each agent runs: any of cpu, memory, load, disk, host and cgroups
    (bounded to 3 levels: large). network, tcp, filesystem and process are refused: from the
    agent's pod they would describe the pod, not the node."""
    ship_node_exporter: bool = False
    """Also ship each node's node-exporter metrics (collector tag node-exporter). Only then is
    a node-exporter installed (or an existing one read: useExistingNodeExporter)."""
    node_exporter_port: int = Field(9100, ge=1, le=65535)
    """Port node-exporter listens on in each node's host network: pick a free one where
    another node-exporter (kube-prometheus-stack, a vendor agent) already holds 9100."""
    use_existing_node_exporter: bool = False
    """Read the node-exporter the cluster already runs on every node, at the node's IP and
    nodeExporterPort, instead of installing one (shipNodeExporter)."""

    cred_refresher_image: r.Image = Field(
        "python:3.13.7-alpine3.22",
        json_schema_extra=starts("Credential refresher (credentialsMode cedana)"),
    )
    """Image that runs the refresher script (official Python image, exact tag)."""
    cred_refresher_resources: Resources = res("10m", "32Mi", "100m", "64Mi")
    """Requests and limits of the refresher sidecar."""
    cred_refresh_interval: r.RefreshInterval = "45m"
    """How often the refresher asks Cedana for new credentials (Go duration)."""

    event_exporter_image: r.Image = Field(
        "ghcr.io/resmoio/kubernetes-event-exporter:v1.7", json_schema_extra=starts("Event exporter")
    )
    """Image of the Kubernetes event exporter (exact tag)."""
    event_exporter_resources: Resources = res("50m", "64Mi", "200m", "256Mi")
    """Requests and limits of the event exporter."""
    event_exporter_max_event_age_seconds: int = Field(900, ge=60, le=86_400)
    """Events older than this are not exported (the exporter's default of 5 s drops events)."""
    event_reasons: tuple[r.EventReason, ...] = Field(
        EVENT_REASONS, examples=['["Killing","Evicted","OOMKilling"]']
    )
    """Reasons of the Kubernetes Events shipped one by one (metric kubernetes_event, with the
    reason, the object, its namespace and the node as tags); empty ships none. The exporter's
    counters are shipped either way."""

    dcgm_chart_version: r.ChartVersion = Field("4.8.2", json_schema_extra=starts("GPU"))
    """Exact version of chart dcgm-exporter (gpuMode install)."""
    dcgm_resources: Resources = res("100m", "128Mi", "500m", "512Mi")
    """Requests and limits of dcgm-exporter (per GPU node)."""
    dcgm_priority_class_name: str = Field("", examples=["<priority-class>"])
    """PriorityClass of dcgm-exporter; empty means none."""
    gpu_node_selector: dict[r.LabelName, r.LabelValue] = Field(
        {}, examples=['{"gpu-type": "a100"}']
    )
    """Node labels that select GPU nodes (label -> value). Empty means the built-in selection,
    which covers the GPU labels of GPU Operator, NFD, GKE, AKS, Karpenter and EKS Auto Mode."""
    dcgm_endpoint: r.HttpUrl = (
        "http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics"
    )
    """The exporter the cluster already runs (gpuMode external)."""

    aws_access_key_id: Secret = Field(
        None,
        examples=["<aws-access-key-id>"],
        json_schema_extra=starts(
            "AWS access (credentialsMode static, irsa, pod-identity; createBucket)"
        ),
    )
    """AWS access key id. SECRET; required when credentialsMode is static."""
    aws_secret_access_key: Secret = Field(None, examples=["<aws-secret-access-key>"])
    """AWS secret access key. SECRET; required when credentialsMode is static."""
    irsa_oidc_provider_arn: r.OidcProviderArn = Field(
        None,
        examples=["arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>"],
    )
    """ARN of the EKS cluster's IAM OIDC provider (credentialsMode irsa)."""
    eks_cluster_name: r.EksClusterName = Field(None, examples=["<eks-cluster-name>"])
    """Name of the EKS cluster (credentialsMode pod-identity)."""

    chart_repository: r.ChartRepository = Field(
        "", examples=["oci://registry.example.com/helm-mirror"], json_schema_extra=starts("Charts")
    )
    """A Helm repository (https://…) or OCI registry (oci://…) that mirrors the three charts
    under their own names; empty means each chart's upstream repository."""
    charts_dir: Unset = Field(None, examples=["./charts"])
    """A directory holding the pinned charts, as <name>-<version>.tgz or unpacked <name>/
    (air-gapped clusters): every chart is installed from there and nothing is downloaded."""

    @model_validator(mode="after")
    def _rules_across_settings(self) -> Self:
        found = [
            InitErrorDetails(
                type=PydanticCustomError("rule", "{problem}", {"problem": message, "fix": fix}),
                loc=(field,),
                input=getattr(self, field),
            )
            for field, message, fix in across(self)
        ]
        if found:
            raise ValidationError.from_exception_data(type(self).__name__, found)
        return self

    def chart_versions(self) -> dict[str, str]:
        """The charts this stack installs, name -> exact version."""
        versions = {
            "prometheus": self.prometheus_chart_version,
            "vector": self.vector_chart_version,
        }
        if self.gpu_mode is GpuMode.INSTALL:
            versions["dcgm-exporter"] = self.dcgm_chart_version
        return versions


def set_command(config_key: str, example: str) -> str:
    return f"pulumi config set {PROJECT}:{config_key} {example}"


def across(s: Settings) -> list[tuple[str, str, str | None]]:
    """Each broken rule across settings: (field, problem, fix or None for the field's own)."""
    mode = s.credentials_mode
    needed = s.vector_collector_buffer_bytes * 11 // 10
    longest = 63 - BUCKET_SUFFIX_LENGTH
    rules: list[tuple[bool, str, str, str | None]] = [
        (
            not s.insecure_cedana_url and not s.cedana_url.startswith("https://"),
            "cedana_url",
            "must be an https:// URL",
            None,
        ),
        (
            s.create_bucket and not mode.uses_own_account,
            "create_bucket",
            "needs credentials of your own AWS account: credentialsMode irsa, pod-identity or"
            " static (Cedana's credentials only reach Cedana's bucket)",
            set_command("credentialsMode", "irsa"),
        ),
        (
            s.create_bucket and len(s.s3_bucket) > longest,
            "s3_bucket",
            f"must be at most {longest} characters when createBucket is true (a random suffix is"
            " added)",
            set_command("s3Bucket", "<shorter-bucket-name>"),
        ),
        (
            s.vector_collector_persistence
            and memory_bytes(s.vector_collector_storage_size) < needed,
            "vector_collector_storage_size",
            f"must hold the collector's buffer ({s.vector_collector_buffer_bytes} bytes) with 10%"
            f" to spare: at least {needed // 2**20}Mi",
            None,
        ),
    ]
    rules.append(
        (
            s.use_existing_node_exporter and not s.ship_node_exporter,
            "use_existing_node_exporter",
            "reads a node-exporter only for shipNodeExporter, which is false",
            set_command("shipNodeExporter", "true"),
        )
    )
    required = {
        CredentialsMode.CEDANA: ("auth_token",),
        CredentialsMode.STATIC: ("aws_access_key_id", "aws_secret_access_key"),
        CredentialsMode.IRSA: ("irsa_oidc_provider_arn",),
        CredentialsMode.POD_IDENTITY: ("eks_cluster_name",),
    }
    rules += [
        (getattr(s, f) is None, f, f"is required when credentialsMode is {mode}", None)
        for f in required[mode]
    ]
    rules += [(True, "charts_dir", p, None) for p in charts_dir_problems(s)]
    return [(field, message, fix) for broken, field, message, fix in rules if broken]


def charts_dir_problems(s: Settings) -> list[str]:
    if s.charts_dir is None:
        return []
    if s.chart_repository:
        return ["set chartsDir or chartRepository, not both"]
    if not Path(s.charts_dir).is_dir():
        return [f"is not a directory (got {s.charts_dir!r})"]
    missing = [local_chart_problem(s.charts_dir, n, v) for n, v in s.chart_versions().items()]
    return ["; ".join(p for p in missing if p)] if any(missing) else []
