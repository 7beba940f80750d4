"""The domain rules of settings, each a named check: value in, problem (or None) out.

Each returns None when the value is fine, else a short description of the problem in words a
user can act on; the model adds the key, the value and the `pulumi config set` that fixes it.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from components.vector.pipeline import NODE_COLLECTORS, POD_COLLECTORS
from cred_refresher.cred_refresher import parse_duration

# Namespaces every cluster already has: this program creates its namespace and deletes it on
# `pulumi destroy`, so it must never be one of these.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

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


def https_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    return None


def http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


def api_path_problem(value: str) -> str | None:
    if urlsplit(value).path.rstrip("/").endswith("/v2"):
        return "must be the API's base URL without /v2 (the refresher adds /v2/monitoring/…)"
    return None


def cedana_url(value: str) -> str | None:
    return https_url(value) or api_path_problem(value)


def insecure_cedana_url(value: str) -> str | None:
    return http_url(value) or api_path_problem(value)


def uuid(value: str) -> str | None:
    try:
        UUID(value)
    except ValueError:
        return "must be a UUID such as 3f2a1c9e-7b6d-4e8f-9a0b-1c2d3e4f5a6b"
    return None


def s3_bucket(name: str) -> str | None:
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


def aws_region(value: str) -> str | None:
    return None if _REGION.fullmatch(value) else "must be an AWS region such as us-east-1"


def namespace(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        return "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
    if value in RESERVED_NAMESPACES:
        return "is a namespace every cluster has; `pulumi destroy` would delete it"
    return None


def dns_name(value: str) -> str | None:
    parts = value.split(".")
    if len(value) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in parts):
        return "must be a DNS name such as cluster.local"
    return None


def chart_version(value: str) -> str | None:
    return None if _SEMVER.fullmatch(value) else "must be an exact chart version such as 1.2.3"


def prometheus_duration(value: str) -> str | None:
    return None if _PROM_DURATION.fullmatch(value) else "must be a duration such as 6h or 90m"


def memory_quantity(value: str) -> str | None:
    return None if _MEMORY.fullmatch(value) else "must be a memory quantity such as 4Gi"


def go_duration(value: str) -> str | None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        return "must be a duration such as 45m, 30s or 1h30m"
    if seconds < 10:
        return "must be at least 10s"
    return None


def image(value: str) -> str | None:
    if "@" in value:
        return "give the image with its tag only; pin digests with imageDigests"
    if not _IMAGE.fullmatch(value):
        return "must be an image reference with an exact tag, such as repo/name:1.2.3"
    if value.rsplit(":", 1)[1] == "latest":
        return "must be pinned to an exact tag, not latest"
    return None


def registry(value: str) -> str | None:
    if value and not _REGISTRY.fullmatch(value):
        return "must be a registry host with an optional path, such as registry.example.com/mirror"
    return None


def optional_http_url(value: str) -> str | None:
    return http_url(value) if value else None


def oidc_provider_arn(value: str) -> str | None:
    if value and not _OIDC_ARN.fullmatch(value):
        return "must be an IAM OIDC provider ARN: arn:aws:iam::<account>:oidc-provider/<issuer>"
    return None


def eks_cluster_name(value: str) -> str | None:
    if value and not _EKS_NAME.fullmatch(value):
        return "must be an EKS cluster name: letters, digits, '-' and '_', at most 100"
    return None


def key_prefix(value: str) -> str | None:
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


def resources(value: Any) -> str | None:
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


def tolerations(value: Any) -> str | None:
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


def node_selector(value: Any) -> str | None:
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


def pull_secrets(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of Secret names"
    bad = [v for v in value if not _DNS_LABEL.fullmatch(v) and not re.fullmatch(r"[a-z0-9.-]+", v)]
    return f"{bad[0]!r} is not a Secret name" if bad else None


def digests(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a map of image repository to sha256 digest"
    for repo, digest in value.items():
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return f"the digest for {repo!r} must look like sha256:<64 hex characters>"
    return None


def host_collectors(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return 'must be a list of host_metrics collectors, such as ["cpu", "memory"]'
    for collector in value:
        if collector in POD_COLLECTORS:
            return (
                f"{collector!r} would describe the agent's pod, not the node:"
                f" it {POD_COLLECTORS[collector]}"
            )
        if collector not in NODE_COLLECTORS:
            return f"{collector!r} is not one of {', '.join(NODE_COLLECTORS)}"
    if len(set(value)) != len(value):
        return "lists a collector twice"
    return None


def storage_class(value: str) -> str | None:
    if value and (len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value)):
        return "must be a StorageClass name (lowercase letters, digits, '-' and '.')"
    return None


def chart_repository(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http", "oci") or not parts.hostname:
        return "must be a Helm repository URL (https://…) or an OCI registry path (oci://…)"
    return None
