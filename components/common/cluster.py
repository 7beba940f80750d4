"""Where every part is placed: the namespace, the address book and the image policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.common.images import ImagePolicy
from components.common.names import Endpoints


@dataclass(frozen=True)
class Cluster:
    """The namespace (its plain name for URLs and subjects, and the Namespace resource's output
    for `metadata.namespace`, so objects wait for it), the address book and the image policy."""

    namespace: str
    namespace_output: pulumi.Output[str]
    endpoints: Endpoints
    images: ImagePolicy
