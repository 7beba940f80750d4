"""What Cedana ingests: the shipped series, the jobs they come from, intervals and tags.

Both the Prometheus part (which scrapes cAdvisor and DCGM and keeps only these series) and the
Vector part (which ships them) read this module, so the data keeps one shape: the original
install's filters, intervals and `collector` tags, which Cedana's ingestion expects.
"""

from __future__ import annotations

from enum import StrEnum

# Prometheus job names: the chart's cAdvisor job, and this stack's DCGM job.
CADVISOR_JOB = "kubernetes-nodes-cadvisor"
DCGM_JOB = "dcgm"

# The original install's filters.
KUBE_STATE_METRICS = ("kube_pod_owner", "kube_pod_info", "kube_job_owner")
CADVISOR_SERIES = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")
CADVISOR_PREFIXES = ("container_cpu_", "container_memory_")
DCGM_PREFIXES = ("DCGM_FI_DEV_", "DCGM_FI_PROF_")

# Scrape intervals (seconds), per data set, as the original install has them.
INTERVALS = {
    "host_metrics": 60,
    "cadvisor": 60,
    "event-exporter": 30,
    "kube-state-metrics": 15,
    "dcgm-exporter": 15,
    "node-exporter": 60,
}

# What Cedana's ingestion reads in the `collector` tag.
COLLECTOR_TAGS = {
    "host_metrics": None,  # host metrics keep Vector's own tags, as in the original
    "kube-state-metrics": "kube-state-metrics",
    "cadvisor": "cadvisor",
    "event-exporter": "event-exporter",
    "dcgm-exporter": "dcgm",
    "node-exporter": "node-exporter",
}


def name_regex(prefixes: tuple[str, ...]) -> str:
    """A Prometheus regex matching every metric name that starts with one of the prefixes."""
    return "|".join(p + ".*" for p in prefixes)


# host_metrics collectors that describe the node from inside the agent's pod: they read
# /host/proc and /host/sys (the chart's PROCFS_ROOT and SYSFS_ROOT).
NODE_COLLECTORS = {
    "cpu": "per-CPU time of the node (/proc/stat)",
    "memory": "the node's memory and swap (/proc/meminfo)",
    "load": "the node's load averages (/proc/loadavg)",
    "disk": "the node's block devices (/proc/diskstats)",
    "host": "the node's uptime and boot time",
    "cgroups": "the node's cgroup tree (/sys/fs/cgroup), bounded to a few levels: large",
}
# Collectors that would describe the agent's own pod while being tagged as the node's: they
# need the host's namespaces, which the agent deliberately does not get.
POD_COLLECTORS = {
    "network": "reads /proc/net/dev of the pod's network namespace (needs hostNetwork)",
    "tcp": "reads /proc/net/tcp of the pod's network namespace (needs hostNetwork)",
    "filesystem": "lists the container's mounts, not the node's (needs the host's mounts)",
    "process": "sees only the container's processes (needs hostPID)",
}
DEFAULT_HOST_COLLECTORS = ("cpu", "disk", "host", "load", "memory")

# Kubernetes events Cedana reads (pod terminations, preemptions, evictions, OOM kills, job
# failures): the exporter posts each to the collector, which ships it as one metric event.
EVENT_REASONS = (
    "Killing",
    "Preempting",
    "Evicted",
    "OOMKilling",
    "SystemOOM",
    "BackoffLimitExceeded",
    "DeadlineExceeded",
)
EVENT_METRIC = "kubernetes_event"
EVENT_TAGS = ("reason", "type", "kind", "namespace", "name", "node", "uid")


class CredentialsMode(StrEnum):
    """How Vector gets AWS credentials."""

    CEDANA = "cedana"
    STATIC = "static"
    IRSA = "irsa"
    POD_IDENTITY = "pod-identity"

    @property
    def runs_refresher(self) -> bool:
        """Cedana's STS credentials reach Vector through the refresher sidecar."""
        return self is CredentialsMode.CEDANA

    @property
    def assumes_aws_role(self) -> bool:
        """An IAM role of the user's own account, assumed through Vector's service account."""
        return self in (CredentialsMode.IRSA, CredentialsMode.POD_IDENTITY)

    @property
    def uses_own_account(self) -> bool:
        """Credentials of the user's AWS account (which can also create a bucket)."""
        return self is not CredentialsMode.CEDANA


class GpuMode(StrEnum):
    """Where GPU metrics come from."""

    INSTALL = "install"
    EXTERNAL = "external"
    OFF = "off"

    @property
    def collects(self) -> bool:
        return self is not GpuMode.OFF
