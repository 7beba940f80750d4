"""The value types of settings: the modes and container resources."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CredentialsMode(StrEnum):
    """How Vector gets AWS credentials."""

    CEDANA = "cedana"
    STATIC = "static"
    IRSA = "irsa"
    POD_IDENTITY = "pod-identity"

    @property
    def runs_refresher(self) -> bool:
        """Cedana's STS credentials reach Vector through the refresher sidecar."""
        return self is CredentialsMode.CEDANA

    @property
    def assumes_aws_role(self) -> bool:
        """An IAM role of the user's own account, assumed through Vector's service account."""
        return self in (CredentialsMode.IRSA, CredentialsMode.POD_IDENTITY)

    @property
    def uses_own_account(self) -> bool:
        """Credentials of the user's AWS account (which can also create a bucket)."""
        return self is not CredentialsMode.CEDANA


class GpuMode(StrEnum):
    """Where GPU metrics come from."""

    INSTALL = "install"
    EXTERNAL = "external"
    OFF = "off"

    @property
    def collects(self) -> bool:
        return self is not GpuMode.OFF


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container, as Kubernetes quantities."""

    requests: dict[str, str]
    limits: dict[str, str]

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        return {"requests": dict(self.requests), "limits": dict(self.limits)}
