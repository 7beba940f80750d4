"""Certificates for a control plane on loopback: a CA, the API server's serving certificate,
a client certificate per component, and the service-account signing key.

trustme makes the CA and every certificate. Two things it cannot do are handled here:
- it writes a critical subjectAltName into every certificate, and Go's x509 (kube-apiserver,
  kubectl, kwok) refuses a certificate whose critical SAN is empty as an unhandled critical
  extension: a client certificate therefore names its file's name as a DNS identity too;
- the service-account signing key is a bare key pair, not a certificate, which trustme does
  not make: `cryptography` (which trustme is built on) generates it.
trustme puts an organization into every subject (`trustme v<version>` unless told otherwise):
for a client certificate that is a group of the user, one no RBAC binding names.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from simulation.simcluster.addresses import KUBERNETES_SERVICE_IP, RELAY_ADDRESS

# What a serving certificate answers to: the API server as clients inside and outside the
# cluster name it, on loopback, at the relay address real nodes reach it through and at the
# `kubernetes` Service's address.
SERVING_IDENTITIES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "127.0.0.1",
    RELAY_ADDRESS,
    KUBERNETES_SERVICE_IP,
)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _write_private(path: Path, pem: bytes) -> None:
    """A private key, readable by its owner only."""
    path.write_bytes(pem)
    path.chmod(0o600)


@dataclass
class Authority:
    directory: Path
    name: str = "simulated-cluster-ca"

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name=self.name, organization_unit_name=self.name)
        self.pair = Pair(self.directory / "ca.crt", self.directory / "ca.key")
        self.ca.cert_pem.write_to_path(self.pair.cert)
        _write_private(self.pair.key, self.ca.private_key_pem.bytes())

    def issue(
        self,
        name: str,
        common: str,
        organization: str | None = None,
        *,
        server: bool = False,
        identities: Sequence[str] = (),
    ) -> Pair:
        """A certificate for `common` (the user name, for a client) in `organization` (its
        group), valid for a day; a serving one for every SERVING_IDENTITIES, or for
        `identities` (names and addresses: a kubelet's)."""
        now = datetime.datetime.now(datetime.UTC)
        leaf = self.ca.issue_cert(
            *(identities or (SERVING_IDENTITIES if server else (name,))),
            common_name=common,
            organization_name=organization,
            not_before=now - datetime.timedelta(minutes=5),
            not_after=now + datetime.timedelta(days=1),
        )
        pair = Pair(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        leaf.cert_chain_pems[0].write_to_path(pair.cert)
        _write_private(pair.key, leaf.private_key_pem.bytes())
        return pair

    def service_account_key(self) -> Pair:
        """The key pair that signs and verifies service-account tokens (not a certificate:
        made with `cryptography`, see the module's note)."""
        key = ec.generate_private_key(ec.SECP256R1())
        pair = Pair(self.directory / "sa.pub", self.directory / "sa.key")
        pair.cert.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        _write_private(
            pair.key,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return pair
