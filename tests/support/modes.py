"""The four credentials modes as test stacks: the settings and secrets each one needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulation.mocks import ProgramRun

CLUSTER_ID = "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b"
OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

MODE_CONFIG: dict[str, dict[str, Any]] = {
    "cedana": {},
    "static": {
        "credentialsMode": "static",
        "secrets": {
            "clusterId": CLUSTER_ID,
            "awsAccessKeyId": ACCESS_KEY,
            "awsSecretAccessKey": SECRET_KEY,
        },
    },
    "irsa": {
        "credentialsMode": "irsa",
        "irsaOidcProviderArn": OIDC,
        "secrets": {"clusterId": CLUSTER_ID},
    },
    "pod-identity": {
        "credentialsMode": "pod-identity",
        "eksClusterName": "prod-eks",
        "secrets": {"clusterId": CLUSTER_ID},
    },
}


def run_mode(program: Callable[..., ProgramRun], mode: str, **extra: Any) -> ProgramRun:
    config = dict(MODE_CONFIG[mode])
    config["secrets"] = dict(config.get("secrets") or {}) or None
    return program(**{**config, **extra})


def mode_overrides(credentials: str, gpu: str, node_exporter: bool) -> dict[str, Any]:
    """A stack in one credentials mode and one GPU mode, for `run_with`."""
    config = dict(MODE_CONFIG[credentials])
    if "secrets" in config:
        config["secrets"] = dict(config["secrets"])
    return {**config, "gpuMode": gpu, "shipNodeExporter": node_exporter}
