"""The Kubernetes event exporter: plain objects, metrics on :2112 for the collector."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.cluster import Cluster
from components.common.images import reference
from components.common.labels import labels
from components.common.names import EVENT_EXPORTER_NAME
from components.common.rbac import cluster_role_for
from components.config import Settings
from components.event_exporter.specs import (
    CONFIG_FILE,
    CONFIG_MAP,
    EventExporterSettings,
    checksum,
    cluster_role_rules,
    cluster_scoped_name,
    config_text,
    deployment_spec,
    service_spec,
    static_analysis_skips,
)


@dataclass(frozen=True)
class EventExporterArgs:
    spec: EventExporterSettings
    # The Namespace resource's output, so every object waits for the namespace.
    namespace: pulumi.Input[str]

    @staticmethod
    def from_settings(settings: Settings, cluster: Cluster) -> EventExporterArgs:
        return EventExporterArgs(
            spec=EventExporterSettings(
                namespace=cluster.namespace,
                image=reference(settings.event_exporter_image, cluster.images),
                resources=settings.event_exporter_resources,
                max_event_age_seconds=settings.event_exporter_max_event_age_seconds,
                image_pull_secrets=cluster.images.pull_secrets,
                collector_url=cluster.endpoints.collector_events,
                reasons=settings.event_reasons,
            ),
            namespace=cluster.namespace_output,
        )


class EventExporter(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: EventExporterArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cedana:monitoring:EventExporter", name, {}, opts)
        namespace, spec = args.namespace, args.spec
        # Fixed names (the collector finds the Service by name): replace by deleting first.
        fixed = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        def meta(object_name: str) -> dict[str, object]:
            return {
                "name": object_name,
                "namespace": namespace,
                "labels": labels(EVENT_EXPORTER_NAME),
            }

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=meta(EVENT_EXPORTER_NAME), opts=fixed
        )
        cluster_role_for(
            f"{name}-cluster-role",
            self,
            cluster_scoped_name(spec.namespace),
            EVENT_EXPORTER_NAME,
            cluster_role_rules(),
            account.metadata.name,
            namespace,
        )
        text = config_text(spec)
        config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(CONFIG_MAP), data={CONFIG_FILE: text}, opts=fixed
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={
                **meta(EVENT_EXPORTER_NAME),
                "annotations": static_analysis_skips(spec.image),
            },
            spec=deployment_spec(spec, checksum(text)),
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=[config, account]
            ),
        )
        k8s.core.v1.Service(
            f"{name}-service", metadata=meta(EVENT_EXPORTER_NAME), spec=service_spec(), opts=fixed
        )
        self.register_outputs({})
