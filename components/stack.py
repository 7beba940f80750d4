"""The whole monitoring stack on one cluster: composes every part and names the exports."""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws_access import AwsAccess, AwsAccessArgs
from components.bucket import MetricsBucket, MetricsBucketArgs
from components.credential_wiring import RefresherSettings
from components.dcgm import DcgmArgs, DcgmExporter
from components.endpoints import VECTOR_AGENT_RELEASE, VECTOR_COLLECTOR_RELEASE, Endpoints
from components.event_exporter import EventExporter, EventExporterArgs
from components.event_exporter_spec import EventExporterSettings
from components.foundation import Foundation, FoundationArgs
from components.images import ImagePolicy, reference
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.prometheus import Prometheus, PrometheusArgs, dcgm_target_for
from components.settings import Settings
from components.vector import Vector, VectorArgs
from components.vector_credentials import (
    VectorCredentials,
    VectorCredentialsArgs,
    refresher_script,
    script_checksum,
)
from components.vector_values import release_values


def verify_command(namespace: str) -> str:
    return f"kubectl get pods -n {namespace}"


def chart_versions(settings: Settings) -> dict[str, str]:
    versions = {
        "prometheus": settings.prometheus_chart_version,
        "vector": settings.vector_chart_version,
    }
    if settings.gpu_mode == "install":
        versions["dcgm-exporter"] = settings.dcgm_chart_version
    return versions


class MonitoringStack(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(
        self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:MonitoringStack", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        endpoints = Endpoints(settings.namespace, settings.cluster_domain)
        images = ImagePolicy(
            settings.image_registry, settings.image_digests, settings.image_pull_secrets
        )

        foundation = Foundation(
            f"{name}-foundation",
            FoundationArgs(
                namespace=settings.namespace,
                cluster_id=settings.cluster_id.value,
                auth_token=(
                    settings.auth_token.value
                    if settings.credentials_mode == "cedana" and settings.auth_token
                    else None
                ),
            ),
            opts=child,
        )
        namespace = foundation.namespace
        self.exports = {}

        bucket: pulumi.Input[str] = settings.s3_bucket
        if settings.create_bucket:
            bucket = MetricsBucket(
                f"{name}-bucket",
                MetricsBucketArgs(
                    name_prefix=settings.s3_bucket,
                    region=settings.aws_region,
                    expiration_days=settings.bucket_expiration_days,
                ),
                opts=child,
            ).bucket
        role_arn: pulumi.Output[str] | None = None
        if settings.credentials_mode in ("irsa", "pod-identity"):
            role_arn = AwsAccess(
                f"{name}-aws-access",
                AwsAccessArgs(
                    mode=settings.credentials_mode,
                    namespace=settings.namespace,
                    service_accounts=[VECTOR_AGENT_RELEASE, VECTOR_COLLECTOR_RELEASE],
                    bucket=bucket,
                    region=settings.aws_region,
                    key_prefix=settings.vector_key_prefix,
                    oidc_provider_arn=settings.irsa_oidc_provider_arn,
                    eks_cluster_name=settings.eks_cluster_name,
                ),
                opts=child,
            ).role_arn
            self.exports["roleArn"] = role_arn

        script = refresher_script()
        credentials = VectorCredentials(
            f"{name}-vector-credentials",
            VectorCredentialsArgs(
                mode=settings.credentials_mode,
                namespace=namespace,
                refresher=RefresherSettings(
                    image=reference(settings.cred_refresher_image, images),
                    resources=settings.cred_refresher_resources.to_kubernetes(),
                    cedana_url=settings.cedana_url,
                    refresh_interval=settings.cred_refresh_interval,
                    bucket=bucket,
                    script_checksum=script_checksum(script),
                ),
                script=script,
                aws_access_key_id=_value(settings.aws_access_key_id),
                aws_secret_access_key=_value(settings.aws_secret_access_key),
                role_arn=role_arn,
            ),
            opts=child,
        )

        prometheus = Prometheus(
            f"{name}-prometheus",
            PrometheusArgs.from_settings(
                settings, namespace=namespace, dcgm=dcgm_target_for(settings), images=images
            ),
            opts=child,
        )
        EventExporter(
            f"{name}-event-exporter",
            EventExporterArgs(
                spec=EventExporterSettings(
                    namespace=settings.namespace,
                    image=reference(settings.event_exporter_image, images),
                    resources=settings.event_exporter_resources,
                    max_event_age_seconds=settings.event_exporter_max_event_age_seconds,
                    image_pull_secrets=settings.image_pull_secrets,
                ),
                namespace=namespace,
            ),
            opts=child,
        )
        if settings.gpu_mode == "install":
            DcgmExporter(
                f"{name}-dcgm",
                DcgmArgs.from_settings(settings, namespace=namespace, images=images),
                opts=child,
            )

        if settings.network_policies:
            NetworkPolicies(
                f"{name}-network-policies",
                NetworkPoliciesArgs(namespace, install_dcgm=settings.gpu_mode == "install"),
                opts=child,
            )

        agent, collector = release_values(settings, endpoints, bucket, credentials.wiring, images)
        Vector(
            f"{name}-vector",
            VectorArgs(
                namespace=namespace,
                chart_version=settings.vector_chart_version,
                agent_values=agent,
                collector_values=collector,
            ),
            # The pods read the credentials Secrets and the refresher's ConfigMap at start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[credentials, foundation]),
        )

        self.exports |= {
            "namespace": namespace,
            "prometheusEndpoints": prometheus.endpoints,
            "chartVersions": chart_versions(settings),
            "credentialsMode": settings.credentials_mode,
            "gpuMode": settings.gpu_mode,
            "bucket": bucket,
            "verifyCommand": verify_command(settings.namespace),
        }
        self.register_outputs(self.exports)


def _value(secret: Any) -> str | None:
    return secret.value if secret is not None else None
