"""The created bucket's own policy (pure: names in, a JSON-ready dict out)."""

from __future__ import annotations

from typing import Any

from components.aws.policies import VERSION, bucket_arn


def tls_only_bucket_policy(bucket: str, region: str) -> dict[str, Any]:
    arn = bucket_arn(bucket, region)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
