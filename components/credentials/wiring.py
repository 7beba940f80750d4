"""How the collector (the only S3 writer) gets AWS credentials, per credentials mode (pure).

Vector's AWS SDK takes the first source of its default chain that yields credentials, so each
mode sets exactly one source and nothing earlier in the chain (no stray AWS_ACCESS_KEY_ID, no
AWS_SHARED_CREDENTIALS_FILE: Vector reads such a file once and never again).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from components.common.names import (
    CEDANA_CREDENTIALS_SECRET,
    CEDANA_TARGET_DIR,
    CEDANA_TARGET_FILE,
    CREDENTIALS_PORT,
    FIRST_ANSWER_CONTAINER,
    REFRESHER_HEALTH_PORT,
)
from components.common.security import container_security_context

STATIC_CREDENTIALS_SECRET = "vector-aws-credentials"  # the original install's name
REFRESHER_SCRIPT_CONFIGMAP = "cred-refresher-script"
ENDPOINT_TOKEN_SECRET = "cred-refresher-endpoint-token"

CREDENTIALS_DIR = "/credentials"
SCRIPT_DIR = "/opt/cred-refresher"
SCRIPT_FILE = "cred_refresher.py"
TOKEN_DIR = "/var/run/cedana/credentials-endpoint"
TOKEN_FILE = f"{TOKEN_DIR}/token"
SCRIPT_HASH_ANNOTATION = "cedana.ai/cred-refresher-checksum"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
TARGET_VOLUME = "cedana-target"


@dataclass(frozen=True)
class CredentialWiring:
    """What a credentials mode adds to the collector's pod (the agents get nothing)."""

    env: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)  # Vector's, in place of the chart's
    pod_annotations: dict[str, str] = field(default_factory=dict)
    service_account_annotations: dict[str, pulumi.Input[str] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RefresherSettings:
    image: str
    resources: dict[str, dict[str, str]]
    cedana_url: str
    refresh_interval: str
    bucket: pulumi.Input[str] | None  # None: Cedana's
    script_checksum: str
    # The static part of Vector's key prefix: the refresher warns when the Cedana API's
    # session policy (its `prefix`) does not cover it.
    key_prefix: str
    # A plain-http Cedana URL that is not loopback (an end-to-end stand-in) must be allowed
    # explicitly, in the refresher too.
    insecure_cedana_url: bool = False
    # HTTPS_PROXY / NO_PROXY, when egress goes through a proxy.
    proxy_env: tuple[dict[str, Any], ...] = ()
    # Whether Vector writes where Cedana's answer says (a setting left the bucket, its region or
    # the key prefix to Cedana): the refresher then writes the answer for Vector to read.
    target: bool = False


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": REFRESHER_HEALTH_PORT},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def refresher_container(s: RefresherSettings) -> dict[str, Any]:
    """The cred-refresher sidecar: Cedana token in, container-credentials on loopback out."""
    env = [
        {"name": "CEDANA_URL", "value": s.cedana_url},
        _secret_env("CEDANA_AUTH_TOKEN", CEDANA_CREDENTIALS_SECRET, "authToken"),
        _secret_env("CLUSTER_ID", CEDANA_CREDENTIALS_SECRET, "clusterId"),
        {"name": "REFRESH_INTERVAL", "value": s.refresh_interval},
        {"name": "CREDENTIALS_FILE", "value": f"{CREDENTIALS_DIR}/aws-credentials"},
        {"name": "CREDENTIALS_ENDPOINT", "value": f"127.0.0.1:{CREDENTIALS_PORT}"},
        {"name": "CREDENTIALS_AUTH_TOKEN_FILE", "value": TOKEN_FILE},
        {"name": "HEALTH_PORT", "value": str(REFRESHER_HEALTH_PORT)},
        {"name": "S3_BUCKET", "value": "" if s.bucket is None else s.bucket},
        {"name": "KEY_PREFIX", "value": s.key_prefix},
        *([{"name": "INSECURE_CEDANA_URL", "value": "true"}] if s.insecure_cedana_url else []),
        *([{"name": "TARGET_FILE", "value": CEDANA_TARGET_FILE}] if s.target else []),
        *s.proxy_env,
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    return {
        "name": "cred-refresher",
        "image": s.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", f"{SCRIPT_DIR}/{SCRIPT_FILE}"],
        "env": env,
        "ports": [
            {"name": "cred-health", "containerPort": REFRESHER_HEALTH_PORT, "protocol": "TCP"}
        ],
        "volumeMounts": [
            {"name": "cred-refresher-script", "mountPath": SCRIPT_DIR, "readOnly": True},
            {"name": "aws-credentials", "mountPath": CREDENTIALS_DIR},
            {"name": "credentials-endpoint-token", "mountPath": TOKEN_DIR, "readOnly": True},
            *([{"name": TARGET_VOLUME, "mountPath": CEDANA_TARGET_DIR}] if s.target else []),
        ],
        "resources": s.resources,
        # An API outage keeps /health at 200 (the process works); /ready follows whether
        # unexpired credentials are held.
        "livenessProbe": _probe("/health", 30, 3),
        "readinessProbe": _probe("/ready", 10, 1),
        "securityContext": container_security_context(run_as_user=65534),
    }


def first_answer_container(s: RefresherSettings) -> dict[str, Any]:
    """The refresher as an init container: it waits for Cedana's first answer, writes the
    credentials (the sidecar reuses them) and where to write, and exits; Vector, which reads
    the bucket, region and key prefix from that file, starts after it."""
    sidecar = refresher_container(s)
    return {
        **{
            k: v
            for k, v in sidecar.items()
            if k not in ("ports", "livenessProbe", "readinessProbe")
        },
        "name": FIRST_ANSWER_CONTAINER,
        "env": [*sidecar["env"], {"name": "UNTIL_CREDENTIALS", "value": "true"}],
    }


def cedana_wiring(s: RefresherSettings) -> CredentialWiring:
    wiring = _cedana_wiring(s)
    return _with_target(wiring, s) if s.target else wiring


def _with_target(wiring: CredentialWiring, s: RefresherSettings) -> CredentialWiring:
    # Vector reloads when the directory changes; the secret backend then rereads the file.
    watched = ["--config-dir", "/etc/vector/", "--config-dir", CEDANA_TARGET_DIR, "--watch-config"]
    return replace(
        wiring,
        volumes=[*wiring.volumes, {"name": TARGET_VOLUME, "emptyDir": {"sizeLimit": "1Mi"}}],
        mounts=[
            *wiring.mounts,
            {"name": TARGET_VOLUME, "mountPath": CEDANA_TARGET_DIR, "readOnly": True},
        ],
        init_containers=[first_answer_container(s)],
        args=watched,
    )


def _cedana_wiring(s: RefresherSettings) -> CredentialWiring:
    return CredentialWiring(
        env=[
            {
                "name": "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "value": f"http://127.0.0.1:{CREDENTIALS_PORT}/credentials",
            },
            {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": TOKEN_FILE},
        ],
        containers=[refresher_container(s)],
        volumes=[
            # In memory: credentials never touch the node's disk.
            {"name": "aws-credentials", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {
                "name": "cred-refresher-script",
                "configMap": {"name": REFRESHER_SCRIPT_CONFIGMAP, "defaultMode": 0o444},
            },
            {
                "name": "credentials-endpoint-token",
                "secret": {"secretName": ENDPOINT_TOKEN_SECRET, "defaultMode": 0o444},
            },
        ],
        mounts=[
            {"name": "aws-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True},
            {"name": "credentials-endpoint-token", "mountPath": TOKEN_DIR, "readOnly": True},
        ],
        pod_annotations={SCRIPT_HASH_ANNOTATION: s.script_checksum},
    )


def static_wiring() -> CredentialWiring:
    return CredentialWiring(
        env=[
            _secret_env("AWS_ACCESS_KEY_ID", STATIC_CREDENTIALS_SECRET, "awsAccessKeyId"),
            _secret_env("AWS_SECRET_ACCESS_KEY", STATIC_CREDENTIALS_SECRET, "awsSecretAccessKey"),
        ]
    )


def irsa_wiring(role_arn: pulumi.Input[str] | None) -> CredentialWiring:
    # EKS' pod identity webhook sees the annotation and injects AWS_ROLE_ARN and
    # AWS_WEB_IDENTITY_TOKEN_FILE into the pods of this service account.
    return CredentialWiring(service_account_annotations={IRSA_ANNOTATION: role_arn})


def pod_identity_wiring() -> CredentialWiring:
    # The EKS Pod Identity agent injects AWS_CONTAINER_CREDENTIALS_FULL_URI for the service
    # account's association; nothing to add to the pod.
    return CredentialWiring()
