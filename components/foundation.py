"""The namespace and the `cedana-credentials` Secret every other part lives in or reads."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.labels import labels

# The refresher sidecar reads this Secret by name, as the original install creates it.
CEDANA_CREDENTIALS_SECRET = "cedana-credentials"


@dataclass(frozen=True)
class FoundationArgs:
    namespace: str
    cluster_id: pulumi.Input[str]
    # None when the credentials mode does not talk to Cedana (no Secret then).
    auth_token: pulumi.Input[str] | None


def namespace_metadata(name: str) -> dict[str, object]:
    # Pod Security level `privileged`: node-exporter uses the host's network and PID namespaces,
    # the Vector agent mounts host paths (/proc, /sys, /var/lib) and dcgm-exporter needs
    # SYS_ADMIN and the kubelet's pod-resources socket. `restricted` or `baseline` would reject
    # those pods; everything else here still runs as non-root with a hardened security context.
    return {
        "name": name,
        "labels": labels(
            "namespace",
            **{
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "privileged",
                "pod-security.kubernetes.io/audit": "privileged",
            },
        ),
    }


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
                    "labels": labels("cedana-credentials"),
                },
                type="Opaque",
                string_data={
                    "authToken": pulumi.Output.secret(args.auth_token),
                    "clusterId": pulumi.Output.secret(args.cluster_id),
                },
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        self.register_outputs({"namespace": self.namespace})
