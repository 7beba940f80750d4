"""The metrics bucket in the user's own account (createBucket): private, encrypted, TLS only,
expiring."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.bucket.policies import tls_only_bucket_policy
from components.common.names import PROJECT
from components.config import Settings


@dataclass(frozen=True)
class MetricsBucketArgs:
    name_prefix: str
    region: str
    expiration_days: int

    @staticmethod
    def from_settings(settings: Settings) -> MetricsBucketArgs:
        # createBucket needs a mode of your own account, which requires both (the settings' rule).
        assert settings.s3_bucket and settings.aws_region
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
