"""The simulated cluster's address plan: every address a pod, a node or a Service gets comes from
198.18.0.0/15, the range RFC 2544 sets aside for benchmark networks (no real host has one), and
lives only in network namespaces the run creates. The control plane stays on 127.0.0.1.

    198.18.0.0/24        the hub's bridge: 198.18.0.1 the hub itself, 198.18.0.2 the relay
                         address (the API server's advertised address and every exposed
                         loopback service), 198.18.0.(10+i) real node i
    198.18.(10+i).0/24   real node i's pods (CNI bridge and host-local inside the node)
    198.18.128.0/17      kwok's fake pod addresses (never routed: nothing runs)
    198.19.0.0/16        Services: 198.19.0.1 the `kubernetes` Service, 198.19.0.10 the
                         cluster DNS
"""

from __future__ import annotations

import ipaddress

CLUSTER_RANGE = ipaddress.ip_network("198.18.0.0/15")
HUB_NETWORK = ipaddress.ip_network("198.18.0.0/24")
HUB_ADDRESS = "198.18.0.1"
RELAY_ADDRESS = "198.18.0.2"
SERVICE_CIDR = "198.19.0.0/16"
KUBERNETES_SERVICE_IP = "198.19.0.1"
CLUSTER_DNS_IP = "198.19.0.10"
CLUSTER_DOMAIN = "cluster.local"
KWOK_POD_CIDR = "198.18.128.0/17"
# kube-proxy's cluster CIDR: traffic from outside it to a Service is masqueraded.
CLUSTER_CIDR = str(CLUSTER_RANGE)
# Real node i has 198.18.0.(10+i) and pods in 198.18.(10+i).0/24, below kwok's /17.
FIRST_NODE = 10
MAX_REAL_NODES = 128 - FIRST_NODE


def _check(index: int) -> None:
    if not 0 <= index < MAX_REAL_NODES:
        raise ValueError(f"real node {index}: the address plan has room for {MAX_REAL_NODES}")


def node_ip(index: int) -> str:
    _check(index)
    return str(HUB_NETWORK.network_address + FIRST_NODE + index)


def pod_cidr(index: int) -> str:
    _check(index)
    return f"198.18.{FIRST_NODE + index}.0/24"


def pod_gateway(index: int) -> str:
    """The node's own address on its pods' bridge (their default route)."""
    return str(ipaddress.ip_network(pod_cidr(index)).network_address + 1)


def in_cluster_range(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip in CLUSTER_RANGE
