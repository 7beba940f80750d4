"""IAM policy documents, least privilege (pure: names in, JSON-ready dicts out).

Vector's aws_s3 sink needs exactly two things: PutObject under its key prefix, and ListBucket on
the bucket for its start-up health check (HeadBucket). Nothing else, no wildcard action, and no
resource beyond the bucket and the prefix.
"""

from __future__ import annotations

from typing import Any

from components.common.names import static_prefix

VERSION = "2012-10-17"
STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def bucket_arn(bucket: str, region: str) -> str:
    return f"arn:{partition(region)}:s3:::{bucket}"


def writer_policy(bucket: str, region: str, key_prefix: str) -> dict[str, Any]:
    arn = bucket_arn(bucket, region)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "WriteMetricObjects",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{arn}/{static_prefix(key_prefix)}*"],
            },
            {
                "Sid": "SinkHealthCheck",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [arn],
            },
        ],
    }


def oidc_issuer(provider_arn: str) -> str:
    """arn:aws:iam::<account>:oidc-provider/<issuer> -> <issuer>."""
    return provider_arn.split(":oidc-provider/", 1)[1]


def service_account_subject(namespace: str, account: str) -> str:
    return f"system:serviceaccount:{namespace}:{account}"


def irsa_trust_policy(
    provider_arn: str, namespace: str, service_accounts: list[str]
) -> dict[str, Any]:
    issuer = oidc_issuer(provider_arn)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:aud": STS_AUDIENCE,
                        f"{issuer}:sub": [
                            service_account_subject(namespace, a) for a in service_accounts
                        ],
                    }
                },
            }
        ],
    }


def pod_identity_trust_policy() -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
