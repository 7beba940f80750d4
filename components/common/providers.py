"""The explicit providers every resource of the stack uses."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import Settings


def needs_aws(settings: Settings) -> bool:
    """AWS resources exist only for IRSA, Pod Identity, or a bucket created here."""
    return settings.credentials_mode.assumes_aws_role or settings.create_bucket


def build_providers(settings: Settings) -> list[pulumi.ProviderResource]:
    providers: list[pulumi.ProviderResource] = [
        k8s.Provider(
            "kubernetes",
            # None selects the kubeconfig's current context.
            context=settings.kube_context,
            render_yaml_to_directory=settings.render_dir,
        )
    ]
    if needs_aws(settings):
        providers.append(aws.Provider("aws", region=settings.aws_region))
    return providers
