"""The rules that relate one setting to others (a mode's requirements, a bucket name's room for
its suffix, a volume that must hold the buffer, charts that must be in `chartsDir`).

`Settings` inherits them. Fields are validated in declaration order, so each rule reads, in
`info.data`, only settings declared (and validated) before the one it checks; a setting that
failed its own check is absent, and the rule stays quiet rather than report twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from components.common.charts import local_chart_problem
from components.config import rules
from components.config.parse import fail, set_command
from components.config.types import CredentialsMode, GpuMode

# The name suffix pulumi-random adds to a created bucket: "-" plus 8 characters.
BUCKET_SUFFIX_LENGTH = 9


class RulesAcrossSettings(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_default=True,
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,
    )

    @field_validator("cedana_url", mode="after", check_fields=False)
    @classmethod
    def _cedana_url(cls, value: str, info: ValidationInfo) -> str:
        insecure = info.data.get("insecure_cedana_url", False)
        problem = (rules.insecure_cedana_url if insecure else rules.cedana_url)(value)
        if problem:
            fail(f"{problem} (got {value!r})")
        return value.rstrip("/")

    @field_validator("auth_token", mode="after", check_fields=False)
    @classmethod
    def _auth_token_in_cedana_mode(cls, value: SecretStr | None, info: ValidationInfo) -> Any:
        mode = info.data.get("credentials_mode")
        if value is None and mode is CredentialsMode.CEDANA:
            fail("is required when credentialsMode is cedana")
        return value

    @field_validator("create_bucket", mode="after", check_fields=False)
    @classmethod
    def _own_account_for_a_bucket(cls, value: bool, info: ValidationInfo) -> bool:
        mode = info.data.get("credentials_mode")
        if value and mode is not None and not mode.uses_own_account:
            fail(
                "needs credentials of your own AWS account: credentialsMode irsa, pod-identity"
                " or static (Cedana's credentials only reach Cedana's bucket)",
                set_command("credentialsMode", "irsa"),
            )
        return value

    @field_validator("s3_bucket", mode="after", check_fields=False)
    @classmethod
    def _room_for_the_suffix(cls, value: str, info: ValidationInfo) -> str:
        longest = 63 - BUCKET_SUFFIX_LENGTH
        if info.data.get("create_bucket") and len(value) > longest:
            fail(
                f"must be at most {longest} characters when createBucket is true"
                " (a random suffix is added)",
                set_command("s3Bucket", "<shorter-bucket-name>"),
            )
        return value

    @field_validator("vector_collector_storage_size", mode="after", check_fields=False)
    @classmethod
    def _volume_holds_the_buffer(cls, value: str, info: ValidationInfo) -> str:
        buffer = info.data.get("vector_collector_buffer_bytes")
        if buffer and info.data.get("vector_collector_persistence"):
            needed = buffer * 11 // 10
            if rules.memory_bytes(value) < needed:
                fail(
                    f"must hold the collector's buffer ({buffer} bytes) with 10% to spare:"
                    f" at least {needed // 2**20}Mi (got {value!r})"
                )
        return value

    @field_validator("charts_dir", mode="after", check_fields=False)
    @classmethod
    def _charts_are_there(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("chart_repository"):
            fail("set chartsDir or chartRepository, not both")
        if not Path(value).is_dir():
            fail(f"is not a directory (got {value!r})")
        wanted = {
            "prometheus": info.data.get("prometheus_chart_version"),
            "vector": info.data.get("vector_chart_version"),
        }
        if info.data.get("gpu_mode") is GpuMode.INSTALL:
            wanted["dcgm-exporter"] = info.data.get("dcgm_chart_version")
        problems = [
            local_chart_problem(value, name, version) for name, version in wanted.items() if version
        ]
        if any(problems):
            fail("; ".join(p for p in problems if p))
        return value

    @field_validator("aws_access_key_id", "aws_secret_access_key", mode="after", check_fields=False)
    @classmethod
    def _keys_in_static_mode(cls, value: SecretStr | None, info: ValidationInfo) -> Any:
        if value is None and info.data.get("credentials_mode") is CredentialsMode.STATIC:
            fail("is required when credentialsMode is static")
        return value

    @field_validator("irsa_oidc_provider_arn", mode="after", check_fields=False)
    @classmethod
    def _provider_in_irsa_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("credentials_mode") is CredentialsMode.IRSA:
            fail("is required when credentialsMode is irsa")
        return value

    @field_validator("eks_cluster_name", mode="after", check_fields=False)
    @classmethod
    def _cluster_in_pod_identity_mode(cls, value: str | None, info: ValidationInfo) -> Any:
        if value is None and info.data.get("credentials_mode") is CredentialsMode.POD_IDENTITY:
            fail("is required when credentialsMode is pod-identity")
        return value
