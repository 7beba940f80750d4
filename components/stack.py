"""The whole monitoring stack on one cluster: composes every part and names the exports."""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws.component import AwsAccess, AwsAccessArgs
from components.bucket.component import MetricsBucket, MetricsBucketArgs
from components.common.cluster import Cluster
from components.common.images import ImagePolicy
from components.common.names import Endpoints
from components.config import GpuMode, Settings
from components.credentials.component import VectorCredentials, VectorCredentialsArgs
from components.event_exporter.component import EventExporter, EventExporterArgs
from components.foundation.component import Foundation, FoundationArgs
from components.gpu.component import DcgmArgs, DcgmExporter
from components.network_policies.component import NetworkPolicies, NetworkPoliciesArgs
from components.preflight.checks import Preflight
from components.prometheus.component import Prometheus, PrometheusArgs
from components.vector.component import Vector, VectorArgs


def verify_command(stack: str) -> str:
    """Whether data reaches Cedana, from the project: scripts/verify (verify/cli.py)."""
    return f"./scripts/verify --stack {stack}"


def cluster_of(settings: Settings, namespace_output: pulumi.Output[str]) -> Cluster:
    """Where every part is placed, from the settings and the Namespace resource."""
    return Cluster(
        namespace=settings.namespace,
        namespace_output=namespace_output,
        endpoints=Endpoints(settings.namespace, settings.cluster_domain),
        images=ImagePolicy(
            settings.image_registry, settings.image_digests, settings.image_pull_secrets
        ),
    )


class MonitoringStack(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(
        self,
        name: str,
        settings: Settings,
        checked: Preflight,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cedana:monitoring:MonitoringStack", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.exports = {}

        foundation = Foundation(
            f"{name}-foundation", FoundationArgs.from_settings(settings), opts=child
        )
        cluster = cluster_of(settings, foundation.namespace)

        bucket: pulumi.Input[str] | None = settings.s3_bucket  # None: Cedana's
        if settings.create_bucket:
            bucket = MetricsBucket(
                f"{name}-bucket", MetricsBucketArgs.from_settings(settings), opts=child
            ).bucket
        role_arn: pulumi.Output[str] | None = None
        if settings.credentials_mode.assumes_aws_role:
            role_arn = AwsAccess(
                f"{name}-aws-access", AwsAccessArgs.from_settings(settings, bucket), opts=child
            ).role_arn
            self.exports["roleArn"] = role_arn

        credentials = VectorCredentials(
            f"{name}-vector-credentials",
            VectorCredentialsArgs.from_settings(settings, cluster, bucket, role_arn),
            opts=child,
        )
        prometheus = Prometheus(
            f"{name}-prometheus", PrometheusArgs.from_settings(settings, cluster), opts=child
        )
        EventExporter(
            f"{name}-event-exporter", EventExporterArgs.from_settings(settings, cluster), opts=child
        )
        if settings.gpu_mode is GpuMode.INSTALL:
            DcgmExporter(f"{name}-dcgm", DcgmArgs.from_settings(settings, cluster), opts=child)
        if settings.network_policies:
            NetworkPolicies(
                f"{name}-network-policies",
                NetworkPoliciesArgs.from_settings(settings, cluster),
                opts=child,
            )
        Vector(
            f"{name}-vector",
            VectorArgs.from_settings(
                settings, cluster, bucket, credentials.wiring, listen=checked.listen
            ),
            # The pods read the credentials Secrets and the refresher's ConfigMap at start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[credentials, foundation]),
        )

        self.exports |= {
            "namespace": cluster.namespace_output,
            "prometheusEndpoints": prometheus.endpoints,
            "chartVersions": settings.chart_versions(),
            "credentialsMode": settings.credentials_mode.value,
            "gpuMode": settings.gpu_mode.value,
            "bucket": "Cedana's (verify names it)" if bucket is None else bucket,
            "verifyCommand": verify_command(pulumi.get_stack()),
        }
        self.register_outputs(self.exports)
