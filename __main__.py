"""cedana-monitoring: reads and validates the settings, then builds the stack on one cluster."""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi.runtime import config as runtime_config

from components.common.names import PROJECT
from components.config import ConfigError, Settings, load_settings
from components.preflight.checks import preflight
from components.preflight.facts import read_cluster
from components.stack import MonitoringStack


class PulumiConfigSource:
    """The stack's Pulumi config, as the settings loader reads it."""

    def __init__(self) -> None:
        self._config = pulumi.Config()

    def get(self, key: str) -> str | None:
        return self._config.get(key)

    def is_secret(self, key: str) -> bool:
        return pulumi.runtime.is_config_secret(self._config.full_key(key))

    def configured_keys(self) -> Iterable[str]:
        # Everything the CLI handed over, so a mistyped key can be reported.
        every = {**(runtime_config.get_config_env() or {}), **runtime_config.CONFIG.get()}
        prefix = f"{PROJECT}:"
        return sorted(k.removeprefix(prefix) for k in every if k.startswith(prefix))


def build_providers(settings: Settings) -> list[pulumi.ProviderResource]:
    """The explicit providers every resource of the stack uses; AWS only for IRSA, Pod
    Identity or a bucket created here."""
    providers: list[pulumi.ProviderResource] = [
        k8s.Provider(
            "kubernetes",
            # None selects the kubeconfig's current context.
            context=settings.kube_context,
            render_yaml_to_directory=settings.render_dir,
        )
    ]
    if settings.credentials_mode.assumes_aws_role or settings.create_bucket:
        providers.append(aws.Provider("aws", region=settings.aws_region))
    return providers


def main() -> None:
    try:
        settings = load_settings(PulumiConfigSource())
        # The cluster is read before anything is registered (render mode never asks it).
        facts = None if settings.render_dir else read_cluster(settings.kube_context)
        checked = preflight(settings, facts)
        if checked.problems:
            raise ConfigError(checked.problems)
    except ConfigError as err:
        # A configuration mistake is reported as one message, without a Python traceback.
        raise pulumi.RunError(str(err)) from None
    for warning in checked.warnings:
        pulumi.log.warn(warning)

    stack = MonitoringStack(
        "cedana-monitoring",
        settings,
        checked,
        opts=pulumi.ResourceOptions(providers=build_providers(settings)),
    )
    for name, value in stack.exports.items():
        pulumi.export(name, value)


main()
