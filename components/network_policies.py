"""NetworkPolicies of the namespace (networkPolicies: true)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.labels import labels
from components.network_policy_specs import network_policies


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    install_dcgm: bool


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:NetworkPolicies", name, {}, opts)
        for policy, spec in network_policies(args.install_dcgm).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={
                    "name": policy,
                    "namespace": args.namespace,
                    "labels": labels("network-policy"),
                },
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
        self.register_outputs({})
