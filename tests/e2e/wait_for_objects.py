"""Waits until objects appear under a key prefix of a bucket, or fails after a bound.

    python tests/e2e/wait_for_objects.py --endpoint URL --bucket B --prefix vector/data/ \
        --timeout 300

Prints the first keys it finds (and a sample object's first line). Needs boto3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

# Run as a script (the e2e workflow): the repository's packages are not on sys.path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simulation.support.waiting import wait_until


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="e2e-root",
        aws_secret_access_key="e2e-root-secret",
    )
    keys: list[str] = []

    def objects_listed() -> bool:
        listing = s3.list_objects_v2(Bucket=args.bucket, Prefix=args.prefix)
        keys[:] = [item["Key"] for item in listing.get("Contents", [])]
        return bool(keys)

    try:
        wait_until(objects_listed, args.timeout, "objects", every=5)
    except TimeoutError:
        print(f"no object under s3://{args.bucket}/{args.prefix} after {args.timeout:.0f} s")
        return 1
    print(f"{len(keys)} object(s) under s3://{args.bucket}/{args.prefix}, e.g.:")
    for key in keys[:5]:
        print(f"  {key}")
    sample = s3.get_object(Bucket=args.bucket, Key=keys[0])["Body"].read()
    print(f"first line: {sample.splitlines()[0][:300].decode(errors='replace')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
