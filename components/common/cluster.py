"""Where every part is placed: built once from the settings and the Namespace resource."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.common.images import ImagePolicy
from components.common.names import Endpoints
from components.config import Settings


@dataclass(frozen=True)
class Cluster:
    """The namespace (its plain name for URLs and subjects, and the Namespace resource's output
    for `metadata.namespace`, so objects wait for it), the address book and the image policy."""

    namespace: str
    namespace_output: pulumi.Output[str]
    endpoints: Endpoints
    images: ImagePolicy

    @staticmethod
    def of(settings: Settings, namespace_output: pulumi.Output[str]) -> Cluster:
        return Cluster(
            namespace=settings.namespace,
            namespace_output=namespace_output,
            endpoints=Endpoints(settings.namespace, settings.cluster_domain),
            images=ImagePolicy(
                settings.image_registry, settings.image_digests, settings.image_pull_secrets
            ),
        )
