"""What the program reads from the cluster before it registers anything.

A real cluster is messy (no default StorageClass, nodes without IPv6), and a `pulumi up` that
waits forever for a Pending claim says nothing. So the program looks first, through the same
kubeconfig and context the Kubernetes provider uses, and says what it could not check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubernetes import client, config

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


@dataclass(frozen=True)
class ClusterFacts:
    storage_classes: dict[str, bool]  # name -> the cluster's default
    ip_families: tuple[str, ...]  # of the cluster's own `kubernetes` Service: IPv4, IPv6

    @property
    def default_storage_class(self) -> str | None:
        return next((name for name, default in self.storage_classes.items() if default), None)


def read_cluster(context: str | None, timeout: float = 10.0) -> ClusterFacts | str:
    """The facts, or in words why they could not be read (no kubeconfig, no answer, …)."""
    try:
        # KUBECONFIG read now, not when the client library was imported.
        kubeconfig = os.environ.get("KUBECONFIG") or None
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
        classes = client.StorageV1Api(api).list_storage_class(_request_timeout=timeout)
        service = client.CoreV1Api(api).read_namespaced_service(
            "kubernetes", "default", _request_timeout=timeout
        )
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    return ClusterFacts(
        storage_classes={
            item.metadata.name: any(
                (item.metadata.annotations or {}).get(a) == "true"
                for a in DEFAULT_CLASS_ANNOTATIONS
            )
            for item in classes.items
        },
        ip_families=tuple(service.spec.ip_families or ("IPv4",)),
    )
