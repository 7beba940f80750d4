"""The value types of settings: the modes and the nested objects (resources, tolerations)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.common.quantities import cpu_millis, memory_bytes
from components.config.rules import CpuQuantity, MemoryQuantity, problem


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


RESOURCES_EXAMPLE = (
    '{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}'
)
Compression = Literal["none", "gzip", "zlib", "zstd", "snappy"]


class Nested(BaseModel):
    """An object inside a setting: unknown fields are mistakes, values never change."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True
    )


class Quantities(Nested):
    cpu: Annotated[CpuQuantity, Field(examples=["100m"])]
    memory: Annotated[MemoryQuantity, Field(examples=["128Mi"])]


class Resources(Nested):
    """Requests and limits of one container, as Kubernetes quantities."""

    model_config = ConfigDict(json_schema_extra={"examples": [RESOURCES_EXAMPLE]})

    requests: Quantities
    limits: Quantities

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        if cpu_millis(self.requests.cpu) > cpu_millis(self.limits.cpu):
            problem("requests.cpu must not exceed limits.cpu")
        if memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory):
            problem("requests.memory must not exceed limits.memory")
        return self

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        return self.model_dump()


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Any:
    return Resources(
        requests=Quantities(cpu=cpu_request, memory=memory_request),
        limits=Quantities(cpu=cpu_limit, memory=memory_limit),
    )


class Toleration(Nested):
    """A Kubernetes toleration, with the fields the API server takes."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] | None = None
    value: str | None = None
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    @model_serializer(mode="wrap")
    def _given_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Exactly the fields given, so the pod spec (and Pulumi.yaml) says what the stack says.
        return {k: v for k, v in handler(self).items() if v is not None}

    def to_kubernetes(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)
