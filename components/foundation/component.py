"""The namespace and the `cedana-credentials` Secret every other part lives in or reads."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.labels import labels
from components.common.names import CEDANA_CREDENTIALS_SECRET
from components.config import Settings
from components.foundation.specs import namespace_metadata


@dataclass(frozen=True)
class FoundationArgs:
    namespace: str
    cluster_id: pulumi.Input[str]
    # None when the credentials mode does not talk to Cedana (no Secret then).
    auth_token: pulumi.Input[str] | None

    @staticmethod
    def from_settings(settings: Settings) -> FoundationArgs:
        token = settings.auth_token
        return FoundationArgs(
            namespace=settings.namespace,
            cluster_id=settings.cluster_id.get_secret_value(),
            auth_token=(
                token.get_secret_value()
                if token and settings.credentials_mode.runs_refresher
                else None
            ),
        )


class Foundation(pulumi.ComponentResource):
    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:Foundation", name, {}, opts)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=namespace_metadata(args.namespace),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = namespace.metadata.name

        if args.auth_token is not None:
            k8s.core.v1.Secret(
                f"{name}-cedana-credentials",
                metadata={
                    "name": CEDANA_CREDENTIALS_SECRET,
                    "namespace": self.namespace,
                    "labels": labels(CEDANA_CREDENTIALS_SECRET),
                },
                type="Opaque",
                string_data={
                    "authToken": pulumi.Output.secret(args.auth_token),
                    "clusterId": pulumi.Output.secret(args.cluster_id),
                },
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        self.register_outputs({"namespace": self.namespace})
