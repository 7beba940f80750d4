"""The domain rules of settings, each a named check (value in, problem or None out) that
`checked` makes a type; the formats Kubernetes, AWS and OCI define are in common/formats."""

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
    chart_repository,
    dns_name,
    go_duration_seconds,
    http_url,
    image,
    label_name,
    proxy_url,
    s3_bucket,
)
from components.common.quantities import CPU, MEMORY

# Namespaces every cluster already has: this program creates its namespace and deletes it on
# `pulumi destroy`, so it must never be one of these.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_HELM_ESCAPES = ('{{ "{{" }}', "{{`", '{{"{{"}}')
# Pulumi config has no null: an optional setting left empty ("") is unset.
EMPTY_IS_UNSET = BeforeValidator(lambda v: None if isinstance(v, str) and not v.strip() else v)
Unset = Annotated[str | None, EMPTY_IS_UNSET]


def broken_rule(message: str, fix: str | None = None) -> PydanticCustomError:
    """A broken rule; `fix` replaces the setting's own `pulumi config set` suggestion."""
    return PydanticCustomError("rule", "{problem}", {"problem": message, "fix": fix})


def problem(message: str, fix: str | None = None) -> NoReturn:
    raise broken_rule(message, fix)


def checked(rule: Callable[[Any], str | None]) -> AfterValidator:
    """A rule as a pydantic validator, run after the type is checked (an unset value passes)."""

    def validate(value: Any) -> Any:
        if value is not None and (found := rule(value)):
            problem(found)
        return value

    return AfterValidator(validate)


def like(pattern: str, message: str) -> AfterValidator:
    """The rule of a value that must match a regular expression in full."""
    compiled = re.compile(pattern)
    return checked(lambda value: None if compiled.fullmatch(value) else message)


def cedana_url(value: str) -> str | None:
    """The API's base URL (https is required across settings, unless insecureCedanaUrl)."""
    parts = urlsplit(value)
    if http_url(value):
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


def host_collector(collector: str) -> str | None:
    if collector in POD_COLLECTORS:
        why = POD_COLLECTORS[collector]
        return f"{collector!r} would describe the agent's pod, not the node: it {why}"
    if collector not in NODE_COLLECTORS:
        return f"{collector!r} is not one of {', '.join(NODE_COLLECTORS)}"
    return None


def no_repeats(values: Sequence[Any]) -> str | None:
    return "lists an entry twice" if len(set(values)) != len(values) else None


# --- The domain's types, as settings declare them ---------------------------------------------

BucketName = Annotated[Unset, checked(s3_bucket)]
Region = Annotated[
    Unset, like(r"[a-z]{2}(-[a-z]+){1,2}-\d{1,2}", "must be an AWS region such as us-east-1")
]
Namespace = Annotated[str, checked(namespace)]
DnsName = Annotated[str, checked(dns_name)]
ChartVersion = Annotated[
    str, like(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", "must be an exact chart version such as 1.2.3")
]
PrometheusDuration = Annotated[
    str, like(r"(\d+(ms|s|m|h|d|w|y))+", "must be a duration such as 6h or 90m")
]
CpuQuantity = Annotated[str, like(CPU.pattern, "must be a CPU quantity such as 100m or 1")]
MemoryQuantity = Annotated[str, like(MEMORY.pattern, "must be a memory quantity such as 128Mi")]
RefreshInterval = Annotated[str, checked(refresh_interval)]
Image = Annotated[str, checked(image)]
Registry = Annotated[
    str,
    like(
        r"([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9._-]+)*)?",
        "must be a registry host with an optional path, such as registry.example.com/mirror",
    ),
]
KeyPrefix = Annotated[Unset, checked(key_prefix)]
StorageClass = Annotated[
    str,
    like(
        r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)?",
        "must be a StorageClass name (lowercase letters, digits, '-' and '.')",
    ),
]
ChartRepository = Annotated[str, checked(chart_repository)]
ProxyUrl = Annotated[str, checked(proxy_url)]
HttpUrl = Annotated[str, checked(http_url)]
SecretName = Annotated[str, like(r"[a-z0-9.-]+", "is not a Secret name")]
Digest = Annotated[str, like(r"sha256:[a-f0-9]{64}", "must look like sha256:<64 hex characters>")]
LabelName = Annotated[str, checked(label_name)]
LabelValue = Annotated[
    str,
    like(
        r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?",
        "must be a label value: at most 63 letters, digits, '-', '_' or '.'",
    ),
]
HostCollector = Annotated[str, checked(host_collector)]
EventReason = Annotated[
    str, like(r"[A-Za-z][A-Za-z0-9]*", "must be an Event reason such as Evicted")
]
OidcProviderArn = Annotated[
    Unset,
    like(
        r"arn:aws(-cn|-us-gov)?:iam::\d{12}:oidc-provider/[A-Za-z0-9./_-]+",
        "must be an IAM OIDC provider ARN: arn:aws:iam::<account>:oidc-provider/<issuer>",
    ),
]
EksClusterName = Annotated[
    Unset,
    like(
        r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}",
        "must be an EKS cluster name: letters, digits, '-' and '_', at most 100",
    ),
]
