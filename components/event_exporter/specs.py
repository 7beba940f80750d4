"""The Kubernetes event exporter's config and objects (pure: settings in, dicts out).

The exporter watches every Event: it exposes counters on :2112 (which the collector scrapes,
as the original install did), and posts each Event whose reason Cedana reads (pod
terminations, preemptions, evictions, OOM kills, job failures) to the collector's `events`
source, which ships it as one metric event carrying its reason, object and node.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from components.common.labels import labels, selector
from components.common.names import EVENT_EXPORTER_NAME, EVENT_EXPORTER_PORT
from components.common.security import container_security_context, pod_security_context
from components.config import Resources

CONFIG_MAP = f"{EVENT_EXPORTER_NAME}-config"
CONFIG_DIR = "/data"
CONFIG_FILE = "config.yaml"
CONFIG_HASH_ANNOTATION = "cedana.ai/config-checksum"
# The image's own non-root user (distroless nonroot).
EXPORTER_USER = 65532
# Busy clusters emit hundreds of events a second during rollouts and evictions; the client's
# defaults (5 QPS, burst 10) would throttle the watch and the exporter would fall behind.
KUBE_QPS = 100
KUBE_BURST = 200

# The original install's stdout layout: one JSON line per event.
STDOUT_LAYOUT = {
    "message": "{{ .Message }}",
    "reason": "{{ .Reason }}",
    "type": "{{ .Type }}",
    "count": "{{ .Count }}",
    "kind": "{{ .InvolvedObject.Kind }}",
    "name": "{{ .InvolvedObject.Name }}",
    "namespace": "{{ .Namespace }}",
    "component": "{{ .Source.Component }}",
    "host": "{{ .Source.Host }}",
    "firstTimestamp": "{{ .FirstTimestamp }}",
    "lastTimestamp": "{{ .LastTimestamp }}",
}


# What the collector receives of each Event: its identity (uid: the exporter sends an Event
# again when it restarts and lists the Events it had seen), reason, object, node and times
# (unix seconds; a zero time is -62135596800).
WEBHOOK_LAYOUT = {
    "uid": "{{ .UID }}",
    "reason": "{{ .Reason }}",
    "type": "{{ .Type }}",
    "kind": "{{ .InvolvedObject.Kind }}",
    "namespace": "{{ .InvolvedObject.Namespace }}",
    "name": "{{ .InvolvedObject.Name }}",
    "node": "{{ .Source.Host }}",
    "component": "{{ .Source.Component }}",
    "count": "{{ .Count }}",
    "firstTimestamp": "{{ .FirstTimestamp.Unix }}",
    "lastTimestamp": "{{ .LastTimestamp.Unix }}",
    "eventTime": "{{ .EventTime.Unix }}",
}


@dataclass(frozen=True)
class EventExporterSettings:
    namespace: str
    image: str
    resources: Resources
    max_event_age_seconds: int
    image_pull_secrets: tuple[str, ...] = ()
    # The collector's `events` source, and the reasons posted to it (none: no posting).
    collector_url: str = ""
    reasons: tuple[str, ...] = ()


def reason_pattern(reasons: tuple[str, ...]) -> str:
    """The exporter's rules are regular expressions: exactly these reasons."""
    return "^(" + "|".join(re.escape(r) for r in reasons) + ")$"


def exporter_config(
    max_event_age_seconds: int, collector_url: str = "", reasons: tuple[str, ...] = ()
) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = [{"name": "dump", "stdout": {"layout": STDOUT_LAYOUT}}]
    routes: list[dict[str, Any]] = [{"match": [{"receiver": "dump"}]}]
    if collector_url and reasons:
        receivers.append(
            {"name": "collector", "webhook": {"endpoint": collector_url, "layout": WEBHOOK_LAYOUT}}
        )
        routes.append({"match": [{"receiver": "collector", "reason": reason_pattern(reasons)}]})
    return {
        "logLevel": "info",
        "logFormat": "json",
        "metricsNamePrefix": "event_exporter_",
        # The exporter discards events older than this. Its default (5 s) loses every event
        # that arrives while it restarts or falls behind in a burst.
        "maxEventAgeSeconds": max_event_age_seconds,
        "kubeQPS": KUBE_QPS,
        "kubeBurst": KUBE_BURST,
        # The stdout layout and the metrics use only fields of the Event itself, so the
        # exporter need not GET each involved object: less API load, and read access to
        # events is all it needs.
        "omitLookup": True,
        "receivers": receivers,
        "route": {"routes": routes},
    }


def config_text(s: EventExporterSettings) -> str:
    config = exporter_config(s.max_event_age_seconds, s.collector_url, s.reasons)
    return yaml.safe_dump(config, sort_keys=False)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cluster_role_rules() -> list[dict[str, Any]]:
    return [{"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}]


def cluster_scoped_name(namespace: str) -> str:
    """Cluster-scoped names carry the namespace, so two installs (or the original) never clash."""
    return f"{namespace}-{EVENT_EXPORTER_NAME}"


def deployment_spec(s: EventExporterSettings, config_checksum: str) -> dict[str, Any]:
    probe = {"periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    return {
        "replicas": 1,
        # One exporter at a time: two would both count every event.
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": selector(EVENT_EXPORTER_NAME)},
        "template": {
            "metadata": {
                "labels": labels(EVENT_EXPORTER_NAME),
                "annotations": {CONFIG_HASH_ANNOTATION: config_checksum},
            },
            "spec": {
                "serviceAccountName": EVENT_EXPORTER_NAME,
                "securityContext": pod_security_context(user=EXPORTER_USER),
                "imagePullSecrets": [{"name": n} for n in s.image_pull_secrets],
                "containers": [
                    {
                        "name": "event-exporter",
                        "image": s.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [f"-conf={CONFIG_DIR}/{CONFIG_FILE}"],
                        "ports": [
                            {
                                "name": "metrics",
                                "containerPort": EVENT_EXPORTER_PORT,
                                "protocol": "TCP",
                            }
                        ],
                        "livenessProbe": {
                            "httpGet": {"path": "/-/healthy", "port": "metrics"},
                            **probe,
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/-/ready", "port": "metrics"},
                            **probe,
                        },
                        "resources": s.resources.to_kubernetes(),
                        "securityContext": container_security_context(run_as_user=EXPORTER_USER),
                        "volumeMounts": [
                            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}
                        ],
                    }
                ],
                "volumes": [{"name": "config", "configMap": {"name": CONFIG_MAP}}],
            },
        },
    }


def static_analysis_skips(image: str) -> dict[str, str]:
    """checkov findings on the Deployment that are decisions, each with its reason."""
    reasons = {
        "CKV_K8S_38": "the exporter watches Events through the Kubernetes API with its token",
        "CKV_K8S_15": "the image tag is exact (optionally a digest); IfNotPresent keeps the pod"
        " starting while the registry is unreachable",
    }
    if "@sha256:" not in image:
        reasons["CKV_K8S_43"] = "the tag is exact; digest pinning is optional (imageDigests)"
    return {
        f"checkov.io/skip{i}": f"{check}={reason}"
        for i, (check, reason) in enumerate(reasons.items(), start=1)
    }


def service_spec() -> dict[str, Any]:
    return {
        "selector": selector(EVENT_EXPORTER_NAME),
        "ports": [
            {
                "name": "metrics",
                "port": EVENT_EXPORTER_PORT,
                "targetPort": "metrics",
                "protocol": "TCP",
            }
        ],
    }
