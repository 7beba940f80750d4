"""The stack's settings: read once from Pulumi config, validated, and frozen.

`load_settings` turns raw config strings into one typed `Settings` object or raises a
`ConfigError` that lists every problem with its key, what is wrong, and the exact
`pulumi config set` command that fixes it. It runs before any resource is registered.

The defaults below must stay identical to the `config:` block of Pulumi.yaml, which is the
documentation users read; tests/test_settings.py compares the two.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit
from uuid import UUID

from cred_refresher.cred_refresher import parse_duration

PROJECT = "cedana-monitoring"

CredentialsMode = Literal["cedana", "static", "irsa", "pod-identity"]
GpuMode = Literal["install", "external", "off"]
CREDENTIALS_MODES: tuple[CredentialsMode, ...] = ("cedana", "static", "irsa", "pod-identity")
GPU_MODES: tuple[GpuMode, ...] = ("install", "external", "off")
COMPRESSIONS = ("none", "gzip", "zlib", "zstd", "snappy")

# Namespaces every cluster already has: this program creates its namespace and deletes it on
# `pulumi destroy`, so it must never be one of these.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

# Vector refuses disk buffers smaller than this (bytes).
VECTOR_MIN_DISK_BUFFER = 268_435_488
# The name suffix pulumi-random adds to a created bucket: "-" plus 8 characters.
BUCKET_SUFFIX_LENGTH = 9


class ConfigSource(Protocol):
    """Where raw settings come from: Pulumi config at run time, a dict in tests."""

    def get(self, key: str) -> str | None: ...

    def is_secret(self, key: str) -> bool: ...


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key}: {self.problem}\n    fix: {self.fix}"


class ConfigError(Exception):
    """One or more configuration mistakes; the message names every key and its fix."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration for {PROJECT}:\n{lines}")

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


class SecretValue:
    """A secret config value; its repr never shows the value."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "SecretValue(****)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container, as Kubernetes quantities."""

    requests: dict[str, str]
    limits: dict[str, str]

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        return {"requests": dict(self.requests), "limits": dict(self.limits)}


def set_command(key: str, example: str, *, secret: bool = False) -> str:
    flag = "--secret " if secret else ""
    return f"pulumi config set {flag}{PROJECT}:{key} {example}"


def set_path_command(key: str, example: str) -> str:
    return f"pulumi config set --path '{PROJECT}:{key}' '{example}'"


# ---------------------------------------------------------------------------------------------
# Defaults (identical to Pulumi.yaml).

DEFAULT_DCGM_ENDPOINT = "http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics"
DEFAULT_AGENT_TOLERATIONS: list[dict[str, str]] = [{"operator": "Exists", "effect": "NoSchedule"}]


def _res(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": cpu_req, "memory": mem_req},
        "limits": {"cpu": cpu_lim, "memory": mem_lim},
    }


DEFAULTS: dict[str, Any] = {
    "cedanaUrl": "https://api.cedana.ai",
    "insecureCedanaUrl": False,
    "authToken": "",
    "namespace": "cedana-monitoring",
    "kubeContext": "",
    "clusterDomain": "cluster.local",
    "credentialsMode": "cedana",
    "gpuMode": "install",
    "renderDir": "",
    "imageRegistry": "",
    "imagePullSecrets": [],
    "imageDigests": {},
    "networkPolicies": True,
    "prometheusChartVersion": "29.27.0",
    "prometheusRetention": "6h",
    "prometheusStorageSize": "4Gi",
    "prometheusServerResources": _res("200m", "512Mi", "1", "2Gi"),
    "kubeStateMetricsResources": _res("50m", "128Mi", "250m", "512Mi"),
    "nodeExporterResources": _res("20m", "32Mi", "200m", "128Mi"),
    "vectorChartVersion": "0.56.0",
    "vectorAgentResources": _res("50m", "64Mi", "500m", "256Mi"),
    "vectorCollectorResources": _res("100m", "256Mi", "1", "1Gi"),
    "vectorAgentTolerations": DEFAULT_AGENT_TOLERATIONS,
    "vectorPriorityClassName": "",
    "vectorApi": True,
    "vectorKeyPrefix": "vector/data/{{ tags.ts }}/",
    "vectorBatchMaxBytes": 10_485_760,
    "vectorBatchTimeoutSecs": 15,
    "vectorCompression": "none",
    "vectorAgentBufferBytes": 536_870_912,
    "vectorCollectorBufferBytes": 4_294_967_296,
    "shipNodeExporter": False,
    "s3Endpoint": "",
    "credRefresherImage": "python:3.13.7-alpine3.22",
    "credRefresherResources": _res("10m", "32Mi", "100m", "64Mi"),
    "credRefreshInterval": "45m",
    "eventExporterImage": "ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
    "eventExporterResources": _res("50m", "64Mi", "200m", "256Mi"),
    "eventExporterMaxEventAgeSeconds": 900,
    "dcgmChartVersion": "4.8.2",
    "dcgmResources": _res("100m", "128Mi", "500m", "512Mi"),
    "dcgmPriorityClassName": "",
    "dcgmEndpoint": DEFAULT_DCGM_ENDPOINT,
    "gpuNodeSelector": {},
    "awsAccessKeyId": "",
    "awsSecretAccessKey": "",
    "irsaOidcProviderArn": "",
    "eksClusterName": "",
    "createBucket": False,
    "bucketExpirationDays": 30,
}

# Keys that every stack must set; the Pulumi CLI itself refuses a stack without them.
REQUIRED = ("clusterId", "s3Bucket", "awsRegion")
# Keys whose values must be stored with `--secret`.
SECRET_KEYS = frozenset({"authToken", "clusterId", "awsAccessKeyId", "awsSecretAccessKey"})
ALL_KEYS = frozenset(DEFAULTS) | frozenset(REQUIRED)


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, typed and validated."""

    cedana_url: str
    cluster_id: SecretValue
    auth_token: SecretValue | None
    s3_bucket: str
    aws_region: str
    namespace: str
    kube_context: str | None
    cluster_domain: str
    credentials_mode: CredentialsMode
    gpu_mode: GpuMode
    render_dir: str | None
    image_registry: str
    image_pull_secrets: tuple[str, ...]
    image_digests: dict[str, str]
    network_policies: bool
    prometheus_chart_version: str
    prometheus_retention: str
    prometheus_storage_size: str
    prometheus_server_resources: Resources
    kube_state_metrics_resources: Resources
    node_exporter_resources: Resources
    vector_chart_version: str
    vector_agent_resources: Resources
    vector_collector_resources: Resources
    vector_agent_tolerations: tuple[dict[str, Any], ...]
    vector_priority_class_name: str
    vector_api: bool
    vector_key_prefix: str
    vector_batch_max_bytes: int
    vector_batch_timeout_secs: int
    vector_compression: str
    vector_agent_buffer_bytes: int
    vector_collector_buffer_bytes: int
    ship_node_exporter: bool
    s3_endpoint: str | None
    cred_refresher_image: str
    cred_refresher_resources: Resources
    cred_refresh_interval: str
    event_exporter_image: str
    event_exporter_resources: Resources
    event_exporter_max_event_age_seconds: int
    dcgm_chart_version: str
    dcgm_resources: Resources
    dcgm_priority_class_name: str
    dcgm_endpoint: str
    gpu_node_selector: dict[str, str]
    aws_access_key_id: SecretValue | None
    aws_secret_access_key: SecretValue | None
    irsa_oidc_provider_arn: str | None
    eks_cluster_name: str | None
    create_bucket: bool
    bucket_expiration_days: int


# ---------------------------------------------------------------------------------------------
# Validators: each returns None when the value is fine, else a short description of the problem.

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+){1,2}-\d{1,2}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
_CPU = re.compile(r"^(\d+(\.\d+)?|\.\d+)m?$")
_MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?$")
_OIDC_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:oidc-provider/[A-Za-z0-9./_-]+$")
_EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9._-]+)*$")
_LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_HELM_ESCAPES = ('{{ "{{" }}', "{{`", '{{"{{"}}')


def _https_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    return None


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


def _api_path_problem(value: str) -> str | None:
    if urlsplit(value).path.rstrip("/").endswith("/v2"):
        return "must be the API's base URL without /v2 (the refresher adds /v2/monitoring/…)"
    return None


def _cedana_url(value: str) -> str | None:
    return _https_url(value) or _api_path_problem(value)


def _insecure_cedana_url(value: str) -> str | None:
    return _http_url(value) or _api_path_problem(value)


def _uuid(value: str) -> str | None:
    try:
        UUID(value)
    except ValueError:
        return "must be a UUID such as 3f2a1c9e-7b6d-4e8f-9a0b-1c2d3e4f5a6b"
    return None


def s3_bucket_problem(name: str) -> str | None:
    """The S3 general-purpose bucket naming rules, in words a user can act on."""
    if not 3 <= len(name) <= 63:
        return f"must be 3 to 63 characters long (got {len(name)})"
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        return "may contain only lowercase letters, digits, dots and hyphens"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must begin and end with a letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"must not start with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"must not end with {suffix!r}"
    return None


def _region(value: str) -> str | None:
    return None if _REGION.fullmatch(value) else "must be an AWS region such as us-east-1"


def _namespace(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        return "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
    if value in RESERVED_NAMESPACES:
        return "is a namespace every cluster has; `pulumi destroy` would delete it"
    return None


def _dns_name(value: str) -> str | None:
    parts = value.split(".")
    if len(value) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in parts):
        return "must be a DNS name such as cluster.local"
    return None


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _chart_version(value: str) -> str | None:
    return None if _SEMVER.fullmatch(value) else "must be an exact chart version such as 1.2.3"


def _prom_duration(value: str) -> str | None:
    return None if _PROM_DURATION.fullmatch(value) else "must be a duration such as 6h or 90m"


def _memory_quantity(value: str) -> str | None:
    return None if _MEMORY.fullmatch(value) else "must be a memory quantity such as 4Gi"


def _go_duration(value: str) -> str | None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return "must be a duration such as 45m, 30s or 1h30m"
    if seconds < 10:
        return "must be at least 10s"
    return None


def image_problem(value: str) -> str | None:
    if "@" in value:
        return "give the image with its tag only; pin digests with imageDigests"
    if not _IMAGE.fullmatch(value):
        return "must be an image reference with an exact tag, such as repo/name:1.2.3"
    if value.rsplit(":", 1)[1] == "latest":
        return "must be pinned to an exact tag, not latest"
    return None


def _registry(value: str) -> str | None:
    if value and not _REGISTRY.fullmatch(value):
        return "must be a registry host with an optional path, such as registry.example.com/mirror"
    return None


def _optional_http_url(value: str) -> str | None:
    return _http_url(value) if value else None


def _oidc_arn(value: str) -> str | None:
    if value and not _OIDC_ARN.fullmatch(value):
        return "must be an IAM OIDC provider ARN: arn:aws:iam::<account>:oidc-provider/<issuer>"
    return None


def _eks_name(value: str) -> str | None:
    if value and not _EKS_NAME.fullmatch(value):
        return "must be an EKS cluster name: letters, digits, '-' and '_', at most 100"
    return None


def _key_prefix(value: str) -> str | None:
    if any(escape in value for escape in _HELM_ESCAPES):
        return "give the plain Vector template (vector/data/{{ tags.ts }}/); Helm escaping is added"
    if value.startswith("/"):
        return "must not start with '/'"
    if value.count("{{") != value.count("}}"):
        return "has unbalanced {{ }} template braces"
    return None


def _cpu_millis(value: str) -> Decimal:
    return Decimal(value[:-1]) if value.endswith("m") else Decimal(value) * 1000


_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}


def memory_bytes(value: str) -> int:
    match = _MEMORY.fullmatch(value)
    if not match:
        raise ValueError(value)
    return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3) or ""])


def cpu_millis(value: str) -> int:
    if not _CPU.fullmatch(value):
        raise ValueError(value)
    return int(_cpu_millis(value))


def resources_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"requests", "limits"}:
        return "must be an object with exactly 'requests' and 'limits'"
    for part in ("requests", "limits"):
        section = value[part]
        if not isinstance(section, dict) or set(section) != {"cpu", "memory"}:
            return f"'{part}' must have exactly 'cpu' and 'memory'"
        if not isinstance(section["cpu"], str) or not _CPU.fullmatch(section["cpu"]):
            return f"{part}.cpu must be a CPU quantity such as 100m or 1"
        if not isinstance(section["memory"], str) or not _MEMORY.fullmatch(section["memory"]):
            return f"{part}.memory must be a memory quantity such as 128Mi"
    try:
        if cpu_millis(value["requests"]["cpu"]) > cpu_millis(value["limits"]["cpu"]):
            return "requests.cpu must not exceed limits.cpu"
        if memory_bytes(value["requests"]["memory"]) > memory_bytes(value["limits"]["memory"]):
            return "requests.memory must not exceed limits.memory"
    except (InvalidOperation, ValueError):
        return "has a quantity that cannot be parsed"
    return None


def tolerations_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of Kubernetes tolerations"
    allowed = {"key", "operator", "value", "effect", "tolerationSeconds"}
    for item in value:
        if not isinstance(item, dict) or not set(item) <= allowed:
            return f"each toleration may only have the fields {', '.join(sorted(allowed))}"
        if item.get("operator", "Equal") not in ("Equal", "Exists"):
            return "a toleration's operator must be Equal or Exists"
        if item.get("effect", "") not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            return "a toleration's effect must be NoSchedule, PreferNoSchedule or NoExecute"
    return None


def node_selector_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return 'must be a map of node label to value, such as {"gpu": "true"}'
    for label, label_value in value.items():
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label) or len(label) > 317:
            return f"{label!r} is not a valid node label name"
        if not isinstance(label_value, str) or not _LABEL_VALUE.fullmatch(label_value):
            return f"the value of {label!r} must be a label value (string, at most 63 characters)"
        if len(label_value) > 63:
            return f"the value of {label!r} is longer than 63 characters"
    return None


def _pull_secrets_problem(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of Secret names"
    bad = [v for v in value if not _DNS_LABEL.fullmatch(v) and not re.fullmatch(r"[a-z0-9.-]+", v)]
    return f"{bad[0]!r} is not a Secret name" if bad else None


def _digests_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a map of image repository to sha256 digest"
    for repo, digest in value.items():
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return f"the digest for {repo!r} must look like sha256:<64 hex characters>"
    return None


# ---------------------------------------------------------------------------------------------
# Reading raw values.


@dataclass
class _Reader:
    source: ConfigSource
    problems: list[Problem] = field(default_factory=list)

    def fail(self, key: str, problem: str, fix: str) -> None:
        self.problems.append(Problem(key, problem, fix))

    def raw(self, key: str) -> str | None:
        value = self.source.get(key)
        return None if value is None else str(value)

    def string(
        self,
        key: str,
        example: str,
        check: Callable[[str], str | None] | None = None,
        *,
        secret: bool = False,
    ) -> str:
        value = self.raw(key)
        if value is None:
            value = DEFAULTS.get(key)
        if value is None or (value == "" and key in REQUIRED):
            self.fail(key, "is required but not set", set_command(key, example, secret=secret))
            return ""
        value = value.strip()
        if secret and value and not self.source.is_secret(key):
            self.fail(
                key,
                "is stored in plain text; it must be encrypted in the stack file",
                set_command(key, example, secret=True),
            )
        problem = check(value) if check and (value or key in REQUIRED) else None
        if problem:
            self.fail(
                key,
                f"{problem} (got {_shown(value, secret)})",
                set_command(key, example, secret=secret),
            )
        return value

    def integer(self, key: str, example: str, minimum: int, maximum: int | None = None) -> int:
        raw = self.raw(key)
        if raw is None:
            return int(DEFAULTS[key])
        try:
            value = int(raw.strip())
        except ValueError:
            self.fail(key, f"must be a whole number (got {raw!r})", set_command(key, example))
            return int(DEFAULTS[key])
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
            self.fail(key, f"must be {bound} (got {value})", set_command(key, example))
        return value

    def boolean(self, key: str) -> bool:
        raw = self.raw(key)
        if raw is None:
            return bool(DEFAULTS[key])
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            self.fail(key, f"must be true or false (got {raw!r})", set_command(key, "true"))
            return bool(DEFAULTS[key])
        return lowered == "true"

    def structured(self, key: str, example: str, check: Callable[[Any], str | None]) -> Any:
        raw = self.raw(key)
        if raw is None:
            return DEFAULTS[key]
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        problem = check(value)
        if problem:
            self.fail(key, problem, set_path_command(key, example))
            return DEFAULTS[key]
        return value

    def resources(self, key: str) -> Resources:
        example = (
            '{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}'
        )
        raw = self.raw(key)
        value = DEFAULTS[key] if raw is None else _json_or_raw(raw)
        problem = resources_problem(value)
        if problem:
            self.fail(
                key, problem, f"pulumi config set --path '{PROJECT}:{key}' --plaintext '{example}'"
            )
            value = DEFAULTS[key]
        return Resources(requests=dict(value["requests"]), limits=dict(value["limits"]))


def _json_or_raw(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _shown(value: str, secret: bool) -> str:
    return "a secret value" if secret else repr(value)


def _secret(value: str) -> SecretValue | None:
    return SecretValue(value) if value else None


def load_settings(source: ConfigSource) -> Settings:
    """Builds the settings from raw config, or raises ConfigError naming every bad key."""
    r = _Reader(source)
    credentials_mode = r.string("credentialsMode", "cedana", _one_of(CREDENTIALS_MODES))
    gpu_mode = r.string("gpuMode", "install", _one_of(GPU_MODES))

    insecure = r.boolean("insecureCedanaUrl")
    cedana_url = r.string(
        "cedanaUrl", "https://api.cedana.ai", _insecure_cedana_url if insecure else _cedana_url
    ).rstrip("/")
    cluster_id = r.string("clusterId", "<cluster-uuid-from-cedana>", _uuid, secret=True)
    auth_token = r.string("authToken", "<cedana-auth-token>", secret=True)
    if credentials_mode == "cedana" and not auth_token:
        r.fail(
            "authToken",
            "is required when credentialsMode is cedana",
            set_command("authToken", "<cedana-auth-token>", secret=True),
        )
    s3_bucket = r.string("s3Bucket", "<bucket-from-cedana>", s3_bucket_problem)
    aws_region = r.string("awsRegion", "us-east-1", _region)
    namespace = r.string("namespace", "cedana-monitoring", _namespace)

    access_key = r.string("awsAccessKeyId", "<aws-access-key-id>", secret=True)
    secret_key = r.string("awsSecretAccessKey", "<aws-secret-access-key>", secret=True)
    irsa_arn = r.string(
        "irsaOidcProviderArn",
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
        _oidc_arn,
    )
    eks_cluster = r.string("eksClusterName", "<eks-cluster-name>", _eks_name)
    _check_mode_requirements(r, credentials_mode, access_key, secret_key, irsa_arn, eks_cluster)

    create_bucket = r.boolean("createBucket")
    if create_bucket and s3_bucket and len(s3_bucket) > 63 - BUCKET_SUFFIX_LENGTH:
        r.fail(
            "s3Bucket",
            f"must be at most {63 - BUCKET_SUFFIX_LENGTH} characters when createBucket is true"
            " (a random suffix is added)",
            set_command("s3Bucket", "<shorter-bucket-name>"),
        )
    if create_bucket and credentials_mode not in ("irsa", "pod-identity", "static"):
        r.fail(
            "createBucket",
            "needs credentials of your own AWS account: credentialsMode irsa, pod-identity or"
            " static (Cedana's credentials only reach Cedana's bucket)",
            set_command("credentialsMode", "irsa"),
        )

    dcgm_endpoint = r.string("dcgmEndpoint", DEFAULT_DCGM_ENDPOINT, _http_url)
    settings = Settings(
        cedana_url=cedana_url,
        cluster_id=SecretValue(cluster_id),
        auth_token=_secret(auth_token),
        s3_bucket=s3_bucket,
        aws_region=aws_region,
        namespace=namespace,
        kube_context=r.string("kubeContext", "<context-name>") or None,
        cluster_domain=r.string("clusterDomain", "cluster.local", _dns_name),
        credentials_mode=credentials_mode,  # type: ignore[arg-type]
        gpu_mode=gpu_mode,  # type: ignore[arg-type]
        render_dir=r.string("renderDir", "./rendered") or None,
        image_registry=r.string("imageRegistry", "registry.example.com/mirror", _registry).rstrip(
            "/"
        ),
        image_pull_secrets=tuple(
            r.structured("imagePullSecrets", '["regcred"]', _pull_secrets_problem)
        ),
        image_digests=dict(
            r.structured("imageDigests", '{"timberio/vector":"sha256:<digest>"}', _digests_problem)
        ),
        network_policies=r.boolean("networkPolicies"),
        prometheus_chart_version=r.string("prometheusChartVersion", "29.27.0", _chart_version),
        prometheus_retention=r.string("prometheusRetention", "6h", _prom_duration),
        prometheus_storage_size=r.string("prometheusStorageSize", "4Gi", _memory_quantity),
        prometheus_server_resources=r.resources("prometheusServerResources"),
        kube_state_metrics_resources=r.resources("kubeStateMetricsResources"),
        node_exporter_resources=r.resources("nodeExporterResources"),
        vector_chart_version=r.string("vectorChartVersion", "0.56.0", _chart_version),
        vector_agent_resources=r.resources("vectorAgentResources"),
        vector_collector_resources=r.resources("vectorCollectorResources"),
        vector_agent_tolerations=tuple(
            r.structured(
                "vectorAgentTolerations",
                '[{"operator":"Exists","effect":"NoSchedule"}]',
                tolerations_problem,
            )
        ),
        vector_priority_class_name=r.string("vectorPriorityClassName", "<priority-class>"),
        vector_api=r.boolean("vectorApi"),
        vector_key_prefix=r.string("vectorKeyPrefix", "'vector/data/{{ tags.ts }}/'", _key_prefix),
        vector_batch_max_bytes=r.integer("vectorBatchMaxBytes", "10485760", 1024),
        vector_batch_timeout_secs=r.integer("vectorBatchTimeoutSecs", "15", 1, 3600),
        vector_compression=r.string("vectorCompression", "none", _one_of(COMPRESSIONS)),
        vector_agent_buffer_bytes=r.integer(
            "vectorAgentBufferBytes", "536870912", VECTOR_MIN_DISK_BUFFER
        ),
        vector_collector_buffer_bytes=r.integer(
            "vectorCollectorBufferBytes", "4294967296", VECTOR_MIN_DISK_BUFFER
        ),
        ship_node_exporter=r.boolean("shipNodeExporter"),
        s3_endpoint=r.string("s3Endpoint", "https://minio.example.com", _optional_http_url) or None,
        cred_refresher_image=r.string(
            "credRefresherImage", "python:3.13.7-alpine3.22", image_problem
        ),
        cred_refresher_resources=r.resources("credRefresherResources"),
        cred_refresh_interval=r.string("credRefreshInterval", "45m", _go_duration),
        event_exporter_image=r.string(
            "eventExporterImage", "ghcr.io/resmoio/kubernetes-event-exporter:v1.7", image_problem
        ),
        event_exporter_resources=r.resources("eventExporterResources"),
        event_exporter_max_event_age_seconds=r.integer(
            "eventExporterMaxEventAgeSeconds", "900", 60, 86_400
        ),
        dcgm_chart_version=r.string("dcgmChartVersion", "4.8.2", _chart_version),
        dcgm_resources=r.resources("dcgmResources"),
        dcgm_priority_class_name=r.string("dcgmPriorityClassName", "<priority-class>"),
        dcgm_endpoint=dcgm_endpoint,
        gpu_node_selector=dict(
            r.structured("gpuNodeSelector", '{"gpu-type": "a100"}', node_selector_problem)
        ),
        aws_access_key_id=_secret(access_key),
        aws_secret_access_key=_secret(secret_key),
        irsa_oidc_provider_arn=irsa_arn or None,
        eks_cluster_name=eks_cluster or None,
        create_bucket=create_bucket,
        bucket_expiration_days=r.integer("bucketExpirationDays", "30", 1, 3650),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _check_mode_requirements(
    r: _Reader,
    mode: str,
    access_key: str,
    secret_key: str,
    irsa_arn: str,
    eks_cluster: str,
) -> None:
    if mode == "static":
        if not access_key:
            r.fail(
                "awsAccessKeyId",
                "is required when credentialsMode is static",
                set_command("awsAccessKeyId", "<aws-access-key-id>", secret=True),
            )
        if not secret_key:
            r.fail(
                "awsSecretAccessKey",
                "is required when credentialsMode is static",
                set_command("awsSecretAccessKey", "<aws-secret-access-key>", secret=True),
            )
    if mode == "irsa" and not irsa_arn:
        r.fail(
            "irsaOidcProviderArn",
            "is required when credentialsMode is irsa",
            set_command(
                "irsaOidcProviderArn",
                "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>",
            ),
        )
    if mode == "pod-identity" and not eks_cluster:
        r.fail(
            "eksClusterName",
            "is required when credentialsMode is pod-identity",
            set_command("eksClusterName", "<eks-cluster-name>"),
        )


@dataclass(frozen=True)
class MappingSource:
    """A ConfigSource over a plain mapping; values that are not strings are JSON-encoded."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = frozenset()

    def get(self, key: str) -> str | None:
        if key not in self.values:
            return None
        value = self.values[key]
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value)

    def is_secret(self, key: str) -> bool:
        return key in self.secret_keys
