"""The simulated cluster's address plan (198.18.0.0/15, inside the run's namespaces) and what
the control plane is given so real nodes can join: the certificate names, the egress selector."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from cryptography import x509

from simulation.simcluster import addresses
from simulation.simcluster.control_plane import egress_selector
from simulation.simcluster.pki import Authority


def test_every_address_of_the_plan_is_in_the_benchmark_range_and_none_overlap() -> None:
    net = ipaddress.ip_network
    ranges = [
        addresses.HUB_NETWORK,
        net(addresses.SERVICE_CIDR),
        net(addresses.KWOK_POD_CIDR),
        *(net(addresses.pod_cidr(i)) for i in range(addresses.MAX_REAL_NODES)),
    ]
    for i, one in enumerate(ranges):
        assert one.subnet_of(addresses.CLUSTER_RANGE)  # type: ignore[arg-type]
        for other in ranges[i + 1 :]:
            assert not one.overlaps(other), (one, other)
    for ip in (addresses.KUBERNETES_SERVICE_IP, addresses.CLUSTER_DNS_IP):
        assert ipaddress.ip_address(ip) in net(addresses.SERVICE_CIDR)
    assert addresses.node_ip(0) == "198.18.0.10"
    assert addresses.pod_cidr(0) == "198.18.10.0/24"
    assert addresses.pod_gateway(0) == "198.18.10.1"
    with pytest.raises(ValueError, match="room for"):
        addresses.node_ip(addresses.MAX_REAL_NODES)


def test_the_api_servers_certificate_names_the_relay_and_the_kubernetes_service(
    tmp_path: Path,
) -> None:
    authority = Authority(tmp_path)
    cert = x509.load_pem_x509_certificate(
        authority.issue("api", "api", server=True).cert.read_bytes()
    )
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {
        addresses.RELAY_ADDRESS,
        addresses.KUBERNETES_SERVICE_IP,
    }
    kubelet = authority.issue("k", "system:node:real-0", identities=("real-0", "198.18.0.10"))
    kubelet_names = x509.load_pem_x509_certificate(kubelet.cert.read_bytes()).extensions
    san = kubelet_names.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["198.18.0.10"]
    assert san.get_values_for_type(x509.DNSName) == ["real-0"]


def test_the_api_server_reaches_the_cluster_through_the_egress_proxy(tmp_path: Path) -> None:
    config = json.loads(egress_selector(tmp_path / "egress.json", tmp_path / "e.sock").read_text())
    (selection,) = config["egressSelections"]
    assert selection["name"] == "cluster"
    assert selection["connection"]["transport"] == {"uds": {"udsName": str(tmp_path / "e.sock")}}
