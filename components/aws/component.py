"""The AWS side, in the user's own account: the role Vector assumes (credentialsMode irsa and
pod-identity), scoped to the key prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policies import (
    irsa_trust_policy,
    pod_identity_trust_policy,
    writer_policy,
)
from components.common.names import DEFAULT_KEY_PREFIX, PROJECT, VECTOR_COLLECTOR_RELEASE
from components.config import CredentialsMode, Settings


@dataclass(frozen=True)
class AwsAccessArgs:
    mode: CredentialsMode  # irsa or pod-identity
    namespace: str
    service_accounts: list[str]
    bucket: pulumi.Input[str]
    region: str
    key_prefix: str
    oidc_provider_arn: str | None = None
    eks_cluster_name: str | None = None

    @staticmethod
    def from_settings(settings: Settings, bucket: pulumi.Input[str]) -> AwsAccessArgs:
        assert settings.aws_region  # required in the modes that assume a role (settings' rule)
        return AwsAccessArgs(
            mode=settings.credentials_mode,
            namespace=settings.namespace,
            # Only the collector writes to S3; the agents hold no credentials.
            service_accounts=[VECTOR_COLLECTOR_RELEASE],
            bucket=bucket,
            region=settings.aws_region,
            key_prefix=settings.vector_key_prefix or DEFAULT_KEY_PREFIX,
            oidc_provider_arn=settings.irsa_oidc_provider_arn,
            eks_cluster_name=settings.eks_cluster_name,
        )


class AwsAccess(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:AwsAccess", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.mode is CredentialsMode.IRSA:
            assert args.oidc_provider_arn is not None
            trust = irsa_trust_policy(args.oidc_provider_arn, args.namespace, args.service_accounts)
        else:
            trust = pod_identity_trust_policy()
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Vector of {PROJECT} (namespace {args.namespace}) writes metrics to S3",
            assume_role_policy=json.dumps(trust),
            max_session_duration=3600,
            tags={"app.kubernetes.io/part-of": PROJECT},
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-write-metrics",
            role=role.id,
            policy=pulumi.Output.from_input(args.bucket).apply(
                lambda bucket: json.dumps(writer_policy(bucket, args.region, args.key_prefix))
            ),
            opts=child,
        )
        if args.mode is CredentialsMode.POD_IDENTITY:
            assert args.eks_cluster_name is not None
            for account in args.service_accounts:
                aws.eks.PodIdentityAssociation(
                    f"{name}-{account}",
                    cluster_name=args.eks_cluster_name,
                    namespace=args.namespace,
                    service_account=account,
                    role_arn=role.arn,
                    opts=child,
                )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn})
