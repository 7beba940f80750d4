"""The domain rules of settings, each a named check: value in, problem (or None) out.

Pydantic checks types, ranges and choices; these check what only this domain knows, in words a
user can act on (the formats Kubernetes, AWS and OCI define are in components/common/formats).
Each rule becomes a type (`BucketName`, …) through `checked`; the loader adds the key, the
value and the `pulumi config set` that fixes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from components.catalog import NODE_COLLECTORS, POD_COLLECTORS
from components.common.formats import (
    DNS_LABEL,
    dns_name,
    go_duration_seconds,
    image,
    label_name,
    s3_bucket,
)
from components.common.quantities import CPU, MEMORY

# Namespaces every cluster already has: this program creates its namespace and deletes it on
# `pulumi destroy`, so it must never be one of these.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_HELM_ESCAPES = ('{{ "{{" }}', "{{`", '{{"{{"}}')
Rule = Callable[[Any], str | None]


def problem(message: str, fix: str | None = None) -> NoReturn:
    """Rejects a value; `fix` replaces the setting's own `pulumi config set` suggestion."""
    raise PydanticCustomError("rule", "{problem}", {"problem": message, "fix": fix})


def checked(rule: Rule) -> AfterValidator:
    """A rule as a pydantic validator (run after the type is checked)."""

    def validate(value: Any) -> Any:
        found = rule(value)
        if found:
            problem(found)
        return value

    return AfterValidator(validate)


def matching(pattern: str, message: str) -> Rule:
    """The rule of a value that must match a regular expression in full."""
    compiled = re.compile(pattern)
    return lambda value: None if compiled.fullmatch(value) else message


def optional(rule: Rule) -> Rule:
    """The rule of a setting that may be unset (None passes)."""
    return lambda value: None if value is None else rule(value)


def _empty_is_unset(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# Pulumi config has no null: an optional setting left empty ("") is unset.
EMPTY_IS_UNSET = BeforeValidator(_empty_is_unset)


def http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


def cedana_url(value: str) -> str | None:
    """The API's base URL (https is required across settings, unless insecureCedanaUrl)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an https:// URL"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    if parts.path.rstrip("/").endswith("/v2"):
        return "must be the API's base URL without /v2 (the refresher adds /v2/monitoring/…)"
    return None


def namespace(value: str) -> str | None:
    if len(value) > 63 or not DNS_LABEL.fullmatch(value):
        return "must be a DNS label: lowercase letters, digits and '-', at most 63 characters"
    if value in RESERVED_NAMESPACES:
        return "is a namespace every cluster has; `pulumi destroy` would delete it"
    return None


def refresh_interval(value: str) -> str | None:
    seconds = go_duration_seconds(value)
    if seconds is None:
        return "must be a duration such as 45m, 30s or 1h30m"
    return "must be at least 10s" if seconds < 10 else None


def key_prefix(value: str) -> str | None:
    if any(escape in value for escape in _HELM_ESCAPES):
        return "give the plain Vector template (vector/data/{{ tags.ts }}/); Helm escaping is added"
    if value.startswith("/"):
        return "must not start with '/'"
    if value.count("{{") != value.count("}}"):
        return "has unbalanced {{ }} template braces"
    return None


def proxy_url(value: str) -> str | None:
    parts = urlsplit(value)
    if not value:
        return None
    if parts.scheme != "http" or not parts.hostname:
        return "must be an http://host:port proxy (it tunnels TLS with CONNECT)"
    if parts.username or parts.password:
        return "must not carry a user or password (proxies that need credentials are not supported)"
    return None


def chart_repository(value: str) -> str | None:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("https", "http", "oci") or not parts.hostname):
        return "must be a Helm repository URL (https://…) or an OCI registry path (oci://…)"
    return None


def host_collector(collector: str) -> str | None:
    if collector in POD_COLLECTORS:
        return (
            f"{collector!r} would describe the agent's pod, not the node:"
            f" it {POD_COLLECTORS[collector]}"
        )
    if collector not in NODE_COLLECTORS:
        return f"{collector!r} is not one of {', '.join(NODE_COLLECTORS)}"
    return None


def no_repeats(values: Sequence[Any]) -> str | None:
    return "lists an entry twice" if len(set(values)) != len(values) else None


# --- The domain's types, as settings declare them ---------------------------------------------


def like(pattern: str, message: str) -> AfterValidator:
    return checked(matching(pattern, message))


def optional_like(pattern: str, message: str) -> AfterValidator:
    return checked(optional(matching(pattern, message)))


_REGION = r"[a-z]{2}(-[a-z]+){1,2}-\d{1,2}"
_SEMVER = r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?"
_PROMETHEUS_DURATION = r"(\d+(ms|s|m|h|d|w|y))+"
_REGISTRY = r"([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9._-]+)*)?"
_STORAGE_CLASS = r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)?"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"
_OIDC_ARN = r"arn:aws(-cn|-us-gov)?:iam::\d{12}:oidc-provider/[A-Za-z0-9./_-]+"
_EKS_NAME = r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}"

BucketName = Annotated[str, checked(s3_bucket)]
Region = Annotated[str, like(_REGION, "must be an AWS region such as us-east-1")]
Namespace = Annotated[str, checked(namespace)]
DnsName = Annotated[str, checked(dns_name)]
ChartVersion = Annotated[str, like(_SEMVER, "must be an exact chart version such as 1.2.3")]
PrometheusDuration = Annotated[
    str, like(_PROMETHEUS_DURATION, "must be a duration such as 6h or 90m")
]
CpuQuantity = Annotated[str, like(CPU.pattern, "must be a CPU quantity such as 100m or 1")]
MemoryQuantity = Annotated[str, like(MEMORY.pattern, "must be a memory quantity such as 128Mi")]
RefreshInterval = Annotated[str, checked(refresh_interval)]
Image = Annotated[str, checked(image)]
Registry = Annotated[
    str,
    like(
        _REGISTRY,
        "must be a registry host with an optional path, such as registry.example.com/mirror",
    ),
]
KeyPrefix = Annotated[str, checked(key_prefix)]
StorageClass = Annotated[
    str,
    like(_STORAGE_CLASS, "must be a StorageClass name (lowercase letters, digits, '-' and '.')"),
]
ChartRepository = Annotated[str, checked(chart_repository)]
ProxyUrl = Annotated[str, checked(proxy_url)]
HttpUrl = Annotated[str, checked(http_url)]
SecretName = Annotated[str, like(r"[a-z0-9.-]+", "is not a Secret name")]
Digest = Annotated[str, like(r"sha256:[a-f0-9]{64}", "must look like sha256:<64 hex characters>")]
LabelName = Annotated[str, checked(label_name)]
LabelValue = Annotated[
    str, like(_LABEL_VALUE, "must be a label value: at most 63 letters, digits, '-', '_' or '.'")
]
HostCollector = Annotated[str, checked(host_collector)]
EventReason = Annotated[
    str, like(r"[A-Za-z][A-Za-z0-9]*", "must be an Event reason such as Evicted")
]
OidcProviderArn = Annotated[
    str | None,
    EMPTY_IS_UNSET,
    optional_like(
        _OIDC_ARN, "must be an IAM OIDC provider ARN: arn:aws:iam::<account>:oidc-provider/<issuer>"
    ),
]
EksClusterName = Annotated[
    str | None,
    EMPTY_IS_UNSET,
    optional_like(
        _EKS_NAME, "must be an EKS cluster name: letters, digits, '-' and '_', at most 100"
    ),
]
