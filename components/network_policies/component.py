"""NetworkPolicies of the namespace (networkPolicies: true)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.cluster import Cluster
from components.common.labels import labels
from components.config import CredentialsMode, GpuMode, Settings
from components.network_policies.specs import network_policies


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    install_dcgm: bool
    refresher: bool = False  # the credential refresher's health port, for verify

    @staticmethod
    def from_settings(settings: Settings, cluster: Cluster) -> NetworkPoliciesArgs:
        return NetworkPoliciesArgs(
            cluster.namespace_output,
            install_dcgm=settings.gpu_mode is GpuMode.INSTALL,
            refresher=settings.credentials_mode is CredentialsMode.CEDANA,
        )


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:NetworkPolicies", name, {}, opts)
        for policy, spec in network_policies(args.install_dcgm, args.refresher).items():
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
