"""The AWS side, in the user's own account: the role Vector assumes (credentialsMode irsa and
pod-identity), scoped to the key prefix, and the metrics bucket (createBucket): private,
encrypted, expiring."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.policies import (
    irsa_trust_policy,
    pod_identity_trust_policy,
    tls_only_bucket_policy,
    writer_policy,
)
from components.common.names import PROJECT, VECTOR_COLLECTOR_RELEASE
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
        return AwsAccessArgs(
            mode=settings.credentials_mode,
            namespace=settings.namespace,
            # Only the collector writes to S3; the agents hold no credentials.
            service_accounts=[VECTOR_COLLECTOR_RELEASE],
            bucket=bucket,
            region=settings.aws_region,
            key_prefix=settings.vector_key_prefix,
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


@dataclass(frozen=True)
class MetricsBucketArgs:
    name_prefix: str
    region: str
    expiration_days: int

    @staticmethod
    def from_settings(settings: Settings) -> MetricsBucketArgs:
        return MetricsBucketArgs(
            name_prefix=settings.s3_bucket,
            region=settings.aws_region,
            expiration_days=settings.bucket_expiration_days,
        )


class MetricsBucket(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: MetricsBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:MetricsBucket", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Bucket names are global: a random suffix makes the name unique, and, kept in state,
        # stable across updates.
        suffix = random.RandomString(
            f"{name}-suffix",
            length=8,
            upper=False,
            special=False,
            keepers={"prefix": args.name_prefix},
            opts=child,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.concat(args.name_prefix, "-", suffix.result),
            tags={"app.kubernetes.io/part-of": PROJECT},
            opts=child,
        )
        bucket_child = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=bucket_child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True,
                }
            ],
            opts=bucket_child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-metrics",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": args.expiration_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=bucket_child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.bucket.apply(
                lambda b: json.dumps(tls_only_bucket_policy(b, args.region))
            ),
            opts=bucket_child,
        )
        self.bucket = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "arn": self.arn})
