"""CoreDNS as the cluster DNS of a simulated cluster with real nodes: kubeadm 1.34's shape (a
Deployment and the `kube-dns` Service in kube-system, its RBAC) at 198.19.0.10, from the image
the nodes imported (never pulled).

It answers the cluster domain and the reverse zones of 198.18.0.0/15 from the API (the
kubernetes plugin, `pods insecure`), and NXDOMAIN for every other name: there is no `forward`,
so no query ever leaves the cluster's namespaces.
"""

from __future__ import annotations

from typing import Any

from simulation.simcluster.addresses import CLUSTER_DNS_IP, CLUSTER_DOMAIN
from simulation.simcluster.node_images import COREDNS_IMAGE

NAMESPACE = "kube-system"
NAME = "coredns"
LABELS = {"k8s-app": "kube-dns"}
# The reverse zones of 198.18.0.0/15 (pods, nodes, Services).
REVERSE_ZONES = ("18.198.in-addr.arpa", "19.198.in-addr.arpa")
# The label the simulation gives its real nodes, which CoreDNS keeps to (kwok's run nothing).
REAL_NODE_LABEL = ("simulation.cedana.ai/real-node", "true")

COREFILE = f"""{CLUSTER_DOMAIN}:53 {" ".join(f"{z}:53" for z in REVERSE_ZONES)} {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} {" ".join(REVERSE_ZONES)} {{
        pods insecure
        ttl 30
    }}
    prometheus :9153
    cache 30
    reload
    loadbalance
}}
.:53 {{
    errors
    prometheus :9153
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""


def coredns_manifests(
    image: str = COREDNS_IMAGE, node_selector: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    selector = node_selector if node_selector is not None else dict([REAL_NODE_LABEL])
    meta = {"name": NAME, "namespace": NAMESPACE}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"Corefile": COREFILE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "labels": LABELS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "serviceAccountName": NAME,
                        "priorityClassName": "system-cluster-critical",
                        "nodeSelector": {"kubernetes.io/os": "linux", **selector},
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {
                                "key": "node-role.kubernetes.io/control-plane",
                                "effect": "NoSchedule",
                            },
                        ],
                        # Its own answers only: no upstream, so no resolv.conf it could use.
                        "dnsPolicy": "Default",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": image,
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "70Mi"},
                                    "limits": {"memory": "170Mi"},
                                },
                                "volumeMounts": [
                                    {
                                        "name": "config-volume",
                                        "mountPath": "/etc/coredns",
                                        "readOnly": True,
                                    }
                                ],
                                "livenessProbe": {
                                    "httpGet": {"path": "/health", "port": 8080},
                                    "initialDelaySeconds": 60,
                                    "timeoutSeconds": 5,
                                    "failureThreshold": 5,
                                },
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 2,
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {
                                        "add": ["NET_BIND_SERVICE"],
                                        "drop": ["ALL"],
                                    },
                                    "readOnlyRootFilesystem": True,
                                },
                            }
                        ],
                        "volumes": [
                            {
                                "name": "config-volume",
                                "configMap": {
                                    "name": NAME,
                                    "items": [{"key": "Corefile", "path": "Corefile"}],
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": NAMESPACE,
                "labels": {**LABELS, "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9153"},
            },
            "spec": {
                "selector": LABELS,
                "clusterIP": CLUSTER_DNS_IP,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        },
    ]
