"""The Kubernetes side of Vector's AWS credentials, per credentials mode.

- cedana: the refresher script (ConfigMap) and the loopback endpoint's token (pulumi-random,
  kept in a Secret) for the sidecar beside the collector, the only pod with credentials;
- static: the long-lived keys in the `vector-aws-credentials` Secret;
- irsa / pod-identity: nothing in the cluster but a service-account annotation (the IAM side
  is AwsAccess).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.cluster import Cluster
from components.common.egress import proxy_env
from components.common.images import reference
from components.common.labels import labels
from components.common.names import static_prefix
from components.config import CredentialsMode, Settings
from components.credentials.wiring import (
    ENDPOINT_TOKEN_SECRET,
    REFRESHER_SCRIPT_CONFIGMAP,
    SCRIPT_FILE,
    STATIC_CREDENTIALS_SECRET,
    CredentialWiring,
    RefresherSettings,
    cedana_wiring,
    irsa_wiring,
    pod_identity_wiring,
    static_wiring,
)

SCRIPT_PATH = Path(__file__).resolve().parents[2] / "cred_refresher" / SCRIPT_FILE


def refresher_script() -> str:
    return SCRIPT_PATH.read_text()


def script_checksum(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()


@dataclass(frozen=True)
class VectorCredentialsArgs:
    mode: CredentialsMode
    namespace: pulumi.Input[str]
    refresher: RefresherSettings | None = None
    script: str = ""
    aws_access_key_id: pulumi.Input[str] | None = None
    aws_secret_access_key: pulumi.Input[str] | None = None
    role_arn: pulumi.Input[str] | None = None

    @staticmethod
    def from_settings(
        settings: Settings,
        cluster: Cluster,
        bucket: pulumi.Input[str] | None,
        role_arn: pulumi.Input[str] | None,
    ) -> VectorCredentialsArgs:
        script = refresher_script()
        keys = (settings.aws_access_key_id, settings.aws_secret_access_key)
        key_id, secret_key = (k.get_secret_value() if k else None for k in keys)
        return VectorCredentialsArgs(
            mode=settings.credentials_mode,
            namespace=cluster.namespace_output,
            refresher=RefresherSettings(
                image=reference(settings.cred_refresher_image, cluster.images),
                resources=settings.cred_refresher_resources.to_kubernetes(),
                cedana_url=settings.cedana_url,
                refresh_interval=settings.cred_refresh_interval,
                bucket=bucket,
                script_checksum=script_checksum(script),
                key_prefix=static_prefix(settings.vector_key_prefix or ""),
                insecure_cedana_url=settings.insecure_cedana_url,
                target=settings.left_to_cedana(),
                proxy_env=tuple(
                    proxy_env(settings.https_proxy, settings.cluster_domain, settings.no_proxy)
                ),
            ),
            script=script,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret_key,
            role_arn=role_arn,
        )


class VectorCredentials(pulumi.ComponentResource):
    wiring: CredentialWiring

    def __init__(
        self, name: str, args: VectorCredentialsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:VectorCredentials", name, {}, opts)
        fixed = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        def meta(object_name: str) -> dict[str, Any]:
            return {
                "name": object_name,
                "namespace": args.namespace,
                "labels": labels("vector-credentials"),
            }

        if args.mode is CredentialsMode.CEDANA:
            assert args.refresher is not None
            k8s.core.v1.ConfigMap(
                f"{name}-refresher-script",
                metadata=meta(REFRESHER_SCRIPT_CONFIGMAP),
                data={SCRIPT_FILE: args.script},
                opts=fixed,
            )
            token = random.RandomPassword(
                f"{name}-endpoint-token",
                length=48,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            k8s.core.v1.Secret(
                f"{name}-endpoint-token",
                metadata=meta(ENDPOINT_TOKEN_SECRET),
                type="Opaque",
                string_data={"token": token.result},
                opts=fixed,
            )
            self.wiring = cedana_wiring(args.refresher)
        elif args.mode is CredentialsMode.STATIC:
            assert args.aws_access_key_id is not None and args.aws_secret_access_key is not None
            k8s.core.v1.Secret(
                f"{name}-static-keys",
                metadata=meta(STATIC_CREDENTIALS_SECRET),
                type="Opaque",
                string_data={
                    "awsAccessKeyId": pulumi.Output.secret(args.aws_access_key_id),
                    "awsSecretAccessKey": pulumi.Output.secret(args.aws_secret_access_key),
                },
                opts=fixed,
            )
            self.wiring = static_wiring()
        elif args.mode is CredentialsMode.IRSA:
            self.wiring = irsa_wiring(args.role_arn)
        else:
            self.wiring = pod_identity_wiring()
        self.register_outputs({})
