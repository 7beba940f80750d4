"""A stand-in for Cedana's credentials API, for the end-to-end workflow on kind.

It answers `POST /v2/monitoring/credentials` like Cedana's API, with real short-lived
credentials issued by the S3-compatible store's STS (AssumeRole), and creates the bucket at
start-up. Configured by environment: S3_ENDPOINT (required), BUCKET, PREFIX, AUTH_TOKEN (the
bearer token to expect), PORT. Needs boto3.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

ROLE_ARN = "arn:aws:iam::123456789012:role/cedana-e2e-writer"


def sts_client(endpoint: str) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="e2e-root",
        aws_secret_access_key="e2e-root-secret",
    )


def credentials(endpoint: str, bucket: str, prefix: str) -> dict[str, str]:
    issued = sts_client(endpoint).assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="vector", DurationSeconds=900
    )["Credentials"]
    return {
        "access_key_id": issued["AccessKeyId"],
        "secret_access_key": issued["SecretAccessKey"],
        "session_token": issued["SessionToken"],
        "expiration": issued["Expiration"].isoformat(),
        "bucket": bucket,
        "prefix": prefix,
        "region": "us-east-1",
    }


def handler(endpoint: str, bucket: str, prefix: str, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != "/v2/monitoring/credentials":
                self.answer(404, {"error": "not found"})
            elif token and self.headers.get("Authorization") != f"Bearer {token}":
                self.answer(401, {"error": "unauthorized"})
            elif "cluster_id" not in json.loads(body or b"{}"):
                self.answer(400, {"error": "cluster_id is required"})
            else:
                self.answer(200, credentials(endpoint, bucket, prefix))

        def answer(self, status: int, document: dict[str, str]) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def serve(
    endpoint: str, bucket: str, prefix: str, token: str, port: int, host: str = "0.0.0.0"
) -> ThreadingHTTPServer:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="e2e-root",
        aws_secret_access_key="e2e-root-secret",
    )
    s3.create_bucket(Bucket=bucket)
    return ThreadingHTTPServer((host, port), handler(endpoint, bucket, prefix, token))


def main() -> None:
    server = serve(
        os.environ["S3_ENDPOINT"],
        os.environ.get("BUCKET", "cedana-metrics-e2e"),
        os.environ.get("PREFIX", "org-e2e/v2/vector/data"),
        os.environ.get("AUTH_TOKEN", ""),
        int(os.environ.get("PORT", "8080")),
    )
    print(f"cedana stand-in listening on :{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
