"""cedana-monitoring: reads and validates the settings, then builds the stack on one cluster."""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
from pulumi.runtime import config as runtime_config

from components.common.names import PROJECT
from components.common.providers import build_providers
from components.config import ConfigError, load_settings
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


def main() -> None:
    try:
        settings = load_settings(PulumiConfigSource())
    except ConfigError as err:
        # A configuration mistake is reported as one message, without a Python traceback.
        raise pulumi.RunError(str(err)) from None

    stack = MonitoringStack(
        "cedana-monitoring",
        settings,
        opts=pulumi.ResourceOptions(providers=build_providers(settings)),
    )
    for name, value in stack.exports.items():
        pulumi.export(name, value)


main()
