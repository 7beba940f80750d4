"""Every setting of the program, declared once: type, default, description, example, secrecy.

Pulumi.yaml's `config:` block is generated from this model (`scripts/pulumi_config.py`), the
loader reads a stack's raw config through it, and every part reads the typed result. Fields are
validated in the order they are declared, so a rule that depends on another setting (a mode's
requirements) comes after the setting it reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr

from components.config import rules
from components.config.cross import RulesAcrossSettings
from components.config.parse import (
    FLAG,
    RESOURCES,
    choice,
    one_of,
    optional_text,
    secret,
    structured,
    text,
    whole,
)
from components.config.types import CredentialsMode, GpuMode, Resources
from components.vector.pipeline import DEFAULT_HOST_COLLECTORS

# Vector refuses disk buffers smaller than this (bytes).
VECTOR_MIN_DISK_BUFFER = 268_435_488
COMPRESSIONS = ("none", "gzip", "zlib", "zstd", "snappy")
RESOURCES_EXAMPLE = (
    '{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}'
)


def _res(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": cpu_req, "memory": mem_req},
        "limits": {"cpu": cpu_lim, "memory": mem_lim},
    }


def setting(default: Any = ..., *, description: str, example: str = "", group: str = "") -> Any:
    """One setting's declaration. No default (`...`) means every stack must set it.

    `example` is what the fixing `pulumi config set` shows; `group` starts a new section of
    Pulumi.yaml.
    """
    return Field(
        default,
        description=" ".join(description.split()),
        json_schema_extra={"example": example, "group": group},
    )


# --- The settings -------------------------------------------------------------------------------


class Settings(RulesAcrossSettings):
    """Everything the program needs, typed and validated. Keys are the camelCase field names."""

    # --- Modes
    credentials_mode: Annotated[CredentialsMode, choice(CredentialsMode)] = setting(
        "cedana",
        description="""How Vector gets AWS credentials: cedana (refresher sidecar, STS
        credentials from Cedana), static (keys from secret config), irsa (EKS IAM Roles for
        Service Accounts) or pod-identity (EKS Pod Identity).""",
        example="cedana",
        group="Modes",
    )
    gpu_mode: Annotated[GpuMode, choice(GpuMode)] = setting(
        "install",
        description="""GPU metrics: install (dcgm-exporter on GPU nodes), external (collect an
        exporter the cluster already runs, see dcgmEndpoint) or off.""",
        example="install",
    )

    # --- Cedana and the bucket
    insecure_cedana_url: Annotated[bool, FLAG] = setting(
        False,
        description="""Accept an http:// cedanaUrl. Only for a stand-in API in end-to-end tests;
        the auth token would cross the network in clear.""",
        group="Cedana and the bucket",
    )
    cedana_url: Annotated[str, text()] = setting(
        "https://api.cedana.ai",
        description="Cedana API URL (https).",
        example="https://api.cedana.ai",
    )
    cluster_id: Annotated[SecretStr, secret(rules.uuid, required=True)] = setting(
        description="Cluster UUID from Cedana. SECRET and required.",
        example="<cluster-uuid-from-cedana>",
    )
    auth_token: Annotated[SecretStr | None, secret()] = setting(
        "",
        description="""Cedana auth token. SECRET: set with `pulumi config set --secret authToken
        <token>`. Required when credentialsMode is cedana.""",
        example="<cedana-auth-token>",
    )
    create_bucket: Annotated[bool, FLAG] = setting(
        False,
        description="Create the bucket in your own AWS account (s3Bucket plus a random suffix).",
    )
    s3_bucket: Annotated[str, text(rules.s3_bucket, required=True)] = setting(
        description="""S3 bucket for metrics (provided by Cedana). With createBucket, the prefix
        of the bucket this program creates.""",
        example="<bucket-from-cedana>",
    )
    aws_region: Annotated[str, text(rules.aws_region, required=True)] = setting(
        description="The bucket's AWS region, e.g. us-east-1.", example="us-east-1"
    )
    s3_endpoint: Annotated[str | None, optional_text(rules.http_url)] = setting(
        "",
        description="Endpoint of an S3-compatible store (MinIO, R2); empty means AWS S3.",
        example="https://minio.example.com",
    )
    bucket_expiration_days: Annotated[int, whole(1, 3650)] = setting(
        30, description="Days after which objects in a created bucket expire.", example="30"
    )

    # --- Cluster
    namespace: Annotated[str, text(rules.namespace)] = setting(
        "cedana-monitoring",
        description="Namespace for every object (created here and deleted by `pulumi destroy`).",
        example="cedana-monitoring",
        group="Cluster",
    )
    kube_context: Annotated[str | None, optional_text()] = setting(
        "",
        description="kubeconfig context to deploy to; empty means the current context.",
        example="<context-name>",
    )
    cluster_domain: Annotated[str, text(rules.dns_name)] = setting(
        "cluster.local",
        description="The cluster's DNS domain, used in every in-cluster URL.",
        example="cluster.local",
    )
    render_dir: Annotated[str | None, optional_text()] = setting(
        "",
        description="""If set, write every Kubernetes manifest to this directory instead of
        applying it (GitOps). Secrets are written there in plain text.""",
        example="./rendered",
    )
    network_policies: Annotated[bool, FLAG] = setting(
        True,
        description="Deny ingress in the namespace except the flows the data path needs.",
    )

    # --- Images
    image_registry: Annotated[str, text(rules.registry)] = setting(
        "",
        description="""Registry (and path) that mirrors every image, e.g.
        registry.example.com/mirror.""",
        example="registry.example.com/mirror",
        group="Images",
    )
    image_pull_secrets: Annotated[
        tuple[str, ...], structured("array", rules.pull_secrets, tuple, items="string")
    ] = setting(
        [],
        description="Names of image pull Secrets (in the namespace) for every pod.",
        example='["regcred"]',
    )
    image_digests: Annotated[dict[str, str], structured("object", rules.digests, dict)] = setting(
        {},
        description="Optional digest pins, image repository -> sha256 digest.",
        example='{"timberio/vector":"sha256:<digest>"}',
    )

    # --- Prometheus
    prometheus_chart_version: Annotated[str, text(rules.chart_version)] = setting(
        "29.27.0",
        description="Exact version of chart prometheus-community/prometheus.",
        example="29.27.0",
        group="Prometheus",
    )
    prometheus_retention: Annotated[str, text(rules.prometheus_duration)] = setting(
        "6h",
        description="""How long Prometheus keeps samples; it only relays cAdvisor and DCGM to
        the collector.""",
        example="6h",
    )
    prometheus_storage_size: Annotated[str, text(rules.memory_quantity)] = setting(
        "4Gi", description="Size limit of Prometheus' emptyDir data volume.", example="4Gi"
    )
    prometheus_server_resources: Annotated[Resources, RESOURCES] = setting(
        _res("200m", "512Mi", "1", "2Gi"),
        description="Requests and limits of the Prometheus server.",
        example=RESOURCES_EXAMPLE,
    )
    kube_state_metrics_resources: Annotated[Resources, RESOURCES] = setting(
        _res("50m", "128Mi", "250m", "512Mi"),
        description="Requests and limits of kube-state-metrics.",
        example=RESOURCES_EXAMPLE,
    )
    node_exporter_resources: Annotated[Resources, RESOURCES] = setting(
        _res("20m", "32Mi", "200m", "128Mi"),
        description="Requests and limits of node-exporter (per node).",
        example=RESOURCES_EXAMPLE,
    )

    # --- Vector
    vector_chart_version: Annotated[str, text(rules.chart_version)] = setting(
        "0.56.0",
        description="Exact version of chart vector/vector (both releases).",
        example="0.56.0",
        group="Vector",
    )
    vector_agent_resources: Annotated[Resources, RESOURCES] = setting(
        _res("50m", "64Mi", "500m", "256Mi"),
        description="Requests and limits of the per-node Vector agent.",
        example=RESOURCES_EXAMPLE,
    )
    vector_collector_resources: Annotated[Resources, RESOURCES] = setting(
        _res("100m", "256Mi", "1", "1Gi"),
        description="Requests and limits of the single cluster-level Vector collector.",
        example=RESOURCES_EXAMPLE,
    )
    vector_agent_tolerations: Annotated[
        tuple[dict[str, Any], ...], structured("array", rules.tolerations, tuple, items="object")
    ] = setting(
        [{"operator": "Exists", "effect": "NoSchedule"}],
        description="Tolerations of the Vector agent; the default reaches tainted (GPU) nodes.",
        example='[{"operator":"Exists","effect":"NoSchedule"}]',
    )
    vector_priority_class_name: Annotated[str, text()] = setting(
        "",
        description="PriorityClass of the Vector pods; empty means none.",
        example="<priority-class>",
    )
    vector_api: Annotated[bool, FLAG] = setting(
        True,
        description="""Vector's API on :8686 in the agent and collector pods: the kubelet's
        health probes and `vector top` (NetworkPolicy keeps other pods out); false turns off
        both.""",
    )
    vector_key_prefix: Annotated[str, text(rules.key_prefix)] = setting(
        "vector/data/{{ tags.ts }}/",
        description="""Object key prefix (a Vector template; Helm escaping is added by the
        program).""",
        example="'vector/data/{{ tags.ts }}/'",
    )
    vector_batch_max_bytes: Annotated[int, whole(1024)] = setting(
        10_485_760, description="Largest S3 object Vector writes, in bytes.", example="10485760"
    )
    vector_batch_timeout_secs: Annotated[int, whole(1, 3600)] = setting(
        30,
        description="""Longest time the collector holds a batch before writing it, in seconds:
        about 60/this objects a minute, whatever the number of nodes.""",
        example="30",
    )
    vector_compression: Annotated[str, one_of(COMPRESSIONS)] = setting(
        "none",
        description="Compression of objects (none, gzip, zlib, zstd, snappy).",
        example="none",
    )
    vector_agent_buffer_bytes: Annotated[int, whole(VECTOR_MIN_DISK_BUFFER)] = setting(
        536_870_912,
        description="Disk buffer of each agent (bytes, on the node's /var/lib/vector).",
        example="536870912",
    )
    vector_collector_buffer_bytes: Annotated[int, whole(VECTOR_MIN_DISK_BUFFER)] = setting(
        4_294_967_296,
        description="""Disk buffer of the collector, the only S3 writer (bytes, on its persistent
        volume, or in an emptyDir of that size without persistence).""",
        example="4294967296",
    )
    vector_collector_persistence: Annotated[bool, FLAG] = setting(
        True,
        description="""Keep the collector's buffer on a persistent volume (a StatefulSet volume
        claim), so a drain or an eviction loses nothing; false keeps it in a size-limited
        emptyDir.""",
    )
    vector_collector_storage_class: Annotated[str, text(rules.storage_class)] = setting(
        "",
        description="StorageClass of the collector's volume; empty means the cluster's default.",
        example="gp3",
    )
    vector_collector_storage_size: Annotated[str, text(rules.memory_quantity)] = setting(
        "5Gi",
        description="""Size of the collector's volume; it must hold vectorCollectorBufferBytes
        with 10% to spare.""",
        example="5Gi",
    )
    vector_host_metrics_collectors: Annotated[
        tuple[str, ...], structured("array", rules.host_collectors, tuple, items="string")
    ] = setting(
        list(DEFAULT_HOST_COLLECTORS),
        description="""host_metrics collectors each agent runs: any of cpu, memory, load, disk,
        host and cgroups (bounded to 3 levels: large). network, tcp, filesystem and process are
        refused: from the agent's pod they would describe the pod, not the node.""",
        example='["cpu","disk","host","load","memory"]',
    )
    ship_node_exporter: Annotated[bool, FLAG] = setting(
        False,
        description="Also ship each node's node-exporter metrics (collector tag node-exporter).",
    )

    # --- Credential refresher (credentialsMode cedana)
    cred_refresher_image: Annotated[str, text(rules.image)] = setting(
        "python:3.13.7-alpine3.22",
        description="Image that runs the refresher script (official Python image, exact tag).",
        example="python:3.13.7-alpine3.22",
        group="Credential refresher (credentialsMode cedana)",
    )
    cred_refresher_resources: Annotated[Resources, RESOURCES] = setting(
        _res("10m", "32Mi", "100m", "64Mi"),
        description="Requests and limits of the refresher sidecar.",
        example=RESOURCES_EXAMPLE,
    )
    cred_refresh_interval: Annotated[str, text(rules.go_duration)] = setting(
        "45m",
        description="How often the refresher asks Cedana for new credentials (Go duration).",
        example="45m",
    )

    # --- Event exporter
    event_exporter_image: Annotated[str, text(rules.image)] = setting(
        "ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
        description="Image of the Kubernetes event exporter (exact tag).",
        example="ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
        group="Event exporter",
    )
    event_exporter_resources: Annotated[Resources, RESOURCES] = setting(
        _res("50m", "64Mi", "200m", "256Mi"),
        description="Requests and limits of the event exporter.",
        example=RESOURCES_EXAMPLE,
    )
    event_exporter_max_event_age_seconds: Annotated[int, whole(60, 86_400)] = setting(
        900,
        description="""Events older than this are not exported (the exporter's default of 5 s
        drops events).""",
        example="900",
    )

    # --- GPU
    dcgm_chart_version: Annotated[str, text(rules.chart_version)] = setting(
        "4.8.2",
        description="Exact version of chart dcgm-exporter (gpuMode install).",
        example="4.8.2",
        group="GPU",
    )
    dcgm_resources: Annotated[Resources, RESOURCES] = setting(
        _res("100m", "128Mi", "500m", "512Mi"),
        description="Requests and limits of dcgm-exporter (per GPU node).",
        example=RESOURCES_EXAMPLE,
    )
    dcgm_priority_class_name: Annotated[str, text()] = setting(
        "",
        description="PriorityClass of dcgm-exporter; empty means none.",
        example="<priority-class>",
    )
    gpu_node_selector: Annotated[
        dict[str, str], structured("object", rules.node_selector, dict)
    ] = setting(
        {},
        description="""Node labels that select GPU nodes (label -> value). Empty means the
        built-in selection, which covers the GPU labels of GPU Operator, NFD, GKE, AKS,
        Karpenter and EKS Auto Mode.""",
        example='{"gpu-type": "a100"}',
    )
    dcgm_endpoint: Annotated[str, text(rules.http_url)] = setting(
        "http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics",
        description="The exporter the cluster already runs (gpuMode external).",
        example="http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics",
    )

    # --- AWS access (credentialsMode static, irsa, pod-identity; createBucket)
    aws_access_key_id: Annotated[SecretStr | None, secret()] = setting(
        "",
        description="AWS access key id. SECRET; required when credentialsMode is static.",
        example="<aws-access-key-id>",
        group="AWS access (credentialsMode static, irsa, pod-identity; createBucket)",
    )
    aws_secret_access_key: Annotated[SecretStr | None, secret()] = setting(
        "",
        description="AWS secret access key. SECRET; required when credentialsMode is static.",
        example="<aws-secret-access-key>",
    )
    irsa_oidc_provider_arn: Annotated[str | None, optional_text(rules.oidc_provider_arn)] = setting(
        "",
        description="ARN of the EKS cluster's IAM OIDC provider (credentialsMode irsa).",
        example="arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>",
    )
    eks_cluster_name: Annotated[str | None, optional_text(rules.eks_cluster_name)] = setting(
        "",
        description="Name of the EKS cluster (credentialsMode pod-identity).",
        example="<eks-cluster-name>",
    )

    # --- Charts
    chart_repository: Annotated[str, text(rules.chart_repository)] = setting(
        "",
        description="""A Helm repository (https://…) or OCI registry (oci://…) that mirrors the
        three charts under their own names; empty means each chart's upstream repository.""",
        example="oci://registry.example.com/helm-mirror",
        group="Charts",
    )
    charts_dir: Annotated[str | None, optional_text()] = setting(
        "",
        description="""A directory holding the pinned charts, as <name>-<version>.tgz or unpacked
        <name>/ (air-gapped clusters): every chart is installed from there and nothing is
        downloaded.""",
        example="./charts",
    )
