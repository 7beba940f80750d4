"""Real nodes in the simulated cluster: a kubelet with containerd, runc, the CNI plugins,
kube-proxy and kube-router joins the control plane beside kwok's nodes, CoreDNS is the cluster
DNS, and pods really run — on 198.18.0.0/15 inside namespaces the run creates, from images
imported beforehand (nothing is pulled).

Runs where the binaries and images exist (as root), and is skipped otherwise with what to
build. One run feeds every test here; its timings are printed as it goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulation.simcluster.addresses import KUBERNETES_SERVICE_IP
from simulation.simcluster.cluster import READY_BUDGET, ClusterSpec, SimulatedCluster, real_nodes
from simulation.simcluster.cluster_dns import REAL_NODE_LABEL
from simulation.simcluster.node_images import (
    NODE_IMAGES,
    PYTHON_IMAGE,
    find_images,
    missing_images_text,
)
from simulation.simcluster.real_node import missing_for_real_nodes
from simulation.simcluster.simulated_cluster import missing_for_cluster
from simulation.support.waiting import wait_until

IMAGES, MISSING_IMAGES = find_images([*NODE_IMAGES, PYTHON_IMAGE])
MISSING = missing_for_cluster() + missing_for_real_nodes()
if MISSING_IMAGES:
    MISSING.append(missing_images_text(MISSING_IMAGES))
pytestmark = pytest.mark.skipif(bool(MISSING), reason="real nodes need " + "; ".join(MISSING))

PROBE = Path(__file__).parents[1] / "support" / "cluster_probe.py"
KWOK_NODES = 3
SERVER_PORT = 8080
EAI_NONAME = -2  # getaddrinfo: the name does not exist
NXDOMAIN = 3


def pod(
    name: str, args: list[str], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    """A pod of the python image on a real node, running the probe (mounted from a ConfigMap)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {
            "nodeSelector": dict([REAL_NODE_LABEL]),
            "containers": [
                {
                    "name": "probe",
                    "image": PYTHON_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-u", *args],
                    "volumeMounts": [{"name": "probe", "mountPath": "/probe"}],
                }
            ],
            "volumes": [{"name": "probe", "configMap": {"name": "probe"}}],
            **spec,
        },
    }


DENY_BUT_ALLOWED = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "server-ingress", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "server"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"access": "allowed"}}}],
                "ports": [{"port": SERVER_PORT, "protocol": "TCP"}],
            }
        ],
    },
}


NODE_METRICS_READER = [
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "metrics-reader", "namespace": "default"},
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "test:node-metrics"},
        "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "test:node-metrics"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "test:node-metrics",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "metrics-reader", "namespace": "default"}],
    },
]


def phase(cluster: SimulatedCluster, name: str) -> str:
    status = json.loads(cluster.kubectl("get", "pod", name, "-o", "json"))["status"]
    return str(status.get("phase", ""))


def attempts(cluster: SimulatedCluster, name: str, since: float) -> list[str]:
    """A connecting pod's outcomes ("ok" or "fail …") after `since` (unix seconds)."""
    lines = cluster.kubectl("logs", name).splitlines()
    return [
        outcome
        for stamp, _, outcome in (line.partition(" ") for line in lines)
        if stamp.replace(".", "", 1).isdigit() and float(stamp) > since
    ]


def ran(cluster: SimulatedCluster, name: str) -> dict[str, Any]:
    """What a pod that runs to its end printed (one JSON object), read with `kubectl logs`:
    through the API server's egress proxy to the kubelet."""
    wait_until(lambda: phase(cluster, name) in ("Succeeded", "Failed"), 180, f"pod {name}", every=1)
    output = cluster.kubectl("logs", name)
    assert phase(cluster, name) == "Succeeded", output
    return dict(json.loads(output))


def dns_and_api(cluster: SimulatedCluster, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.monotonic()
    cluster.apply([pod("probe", ["/probe/cluster_probe.py"], restartPolicy="Never")])
    probe = ran(cluster, "probe")
    say(f"probe pod created, ran and done: {time.monotonic() - started:.1f} s")
    return probe


def kubelet_metrics(cluster: SimulatedCluster, node_ip: str) -> dict[str, Any]:
    """The kubelet's cAdvisor metrics read with a service-account token, as Prometheus reads
    them: with `nodes/metrics`, and without."""
    cluster.apply(NODE_METRICS_READER)
    args = ["/probe/cluster_probe.py", "kubelet", node_ip]
    cluster.apply(
        [
            pod("kubelet-reader", args, restartPolicy="Never", serviceAccountName="metrics-reader"),
            pod("kubelet-default", args, restartPolicy="Never"),
        ]
    )
    return {"reader": ran(cluster, "kubelet-reader"), "default": ran(cluster, "kubelet-default")}


def network_policy(cluster: SimulatedCluster, say: Callable[[str], None]) -> dict[str, Any]:
    """A server, a client the policy allows and one it does not: both connect before the
    policy, only the allowed one after."""
    started = time.monotonic()
    cluster.apply(
        [
            pod(
                "server",
                ["-m", "http.server", str(SERVER_PORT)],
                {"app": "server"},
                terminationGracePeriodSeconds=1,
            )
        ]
    )
    wait_until(lambda: phase(cluster, "server") == "Running", 180, "the server pod", every=1)
    say(f"server pod Running: {time.monotonic() - started:.1f} s")
    server = json.loads(cluster.kubectl("get", "pod", "server", "-o", "json"))["status"]["podIP"]
    connect = ["/probe/cluster_probe.py", "connect", server, str(SERVER_PORT)]
    cluster.apply(
        [
            pod(f"client-{who}", connect, {"access": who}, terminationGracePeriodSeconds=1)
            for who in ("allowed", "denied")
        ]
    )
    before = time.time()

    def connecting(who: str, outcome: str, since: float) -> bool:
        tail = attempts(cluster, f"client-{who}", since)[-3:]
        return len(tail) == 3 and all(o.startswith(outcome) for o in tail)

    wait_until(
        lambda: connecting("allowed", "ok", before) and connecting("denied", "ok", before),
        180,
        "both clients to connect before the policy",
        every=1,
        ignoring=(RuntimeError,),  # kubectl logs of a container not started yet
    )
    applied = time.time()
    cluster.apply([DENY_BUT_ALLOWED])
    wait_until(
        lambda: connecting("denied", "fail", applied),
        60,
        "the policy to refuse client-denied",
        every=1,
    )
    say(f"policy enforced: {time.time() - applied:.1f} s after it was applied")
    refused_from = time.time()
    time.sleep(3)
    return {
        "server": server,
        "allowed_before": attempts(cluster, "client-allowed", before)[:3],
        "denied_before": attempts(cluster, "client-denied", before)[:3],
        "allowed_after": attempts(cluster, "client-allowed", refused_from),
        "denied_after": attempts(cluster, "client-denied", refused_from),
    }


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[dict[str, Any]]:
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n[real nodes] {line}", end="", flush=True)

    spec = ClusterSpec(kwok_nodes=KWOK_NODES, real_nodes=real_nodes(1), images=IMAGES)
    cluster = SimulatedCluster(tmp_path_factory.mktemp("rn"), spec, say=say)
    result: dict[str, Any] = {}
    with cluster:
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
        result["nodes"] = {
            n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes
        }
        cluster.kubectl("create", "configmap", "probe", f"--from-file={PROBE}")
        result["probe"] = dns_and_api(cluster, say)
        result["kubelet"] = kubelet_metrics(cluster, cluster.nodes[0].ip)
        result["policy"] = network_policy(cluster, say)
        result["images"] = sorted(cluster.nodes[0].images())
    result |= {
        "timings": cluster.timings,
        "problems": cluster.problems,
        "leftovers": cluster.leftovers,
        "outside": cluster.outside,
        "others": cluster.others,
        "watched": cluster.watched_namespaces,
        "made": cluster.namespace_ids,
    }
    say(f"timings: {json.dumps(cluster.timings)}")
    if cluster.others:
        say(f"other programs on this machine connected elsewhere: {cluster.others[:5]}")
    yield result


def test_a_real_node_joins_ready_within_two_minutes_of_the_control_plane(
    run: dict[str, Any],
) -> None:
    assert run["nodes"]["real-0"] == "v1.34.4"
    assert sum(v.startswith("kwok") for v in run["nodes"].values()) == KWOK_NODES
    assert run["timings"]["real_nodes_ready_after_control_plane_seconds"] <= READY_BUDGET


def test_every_image_was_there_before_the_pods_and_nothing_else_arrived(
    run: dict[str, Any],
) -> None:
    assert run["images"] == sorted(IMAGES.archives)


def test_a_pod_finds_the_api_through_coredns_and_reaches_it_through_the_service(
    run: dict[str, Any],
) -> None:
    probe = run["probe"]
    assert probe["kubernetes"] == {"rcode": 0, "answers": [KUBERNETES_SERVICE_IP]}
    assert probe["resolver_kubernetes"] == [KUBERNETES_SERVICE_IP]
    assert probe["api_version"] == "v1.34.4"  # TLS verified with the pod's CA, token accepted
    assert probe["missing_service"]["rcode"] == NXDOMAIN


def test_the_cluster_dns_forwards_nowhere(run: dict[str, Any]) -> None:
    assert run["probe"]["outside"] == {"rcode": NXDOMAIN, "answers": []}
    assert run["probe"]["resolver_outside"] == EAI_NONAME


def test_kube_router_enforces_a_network_policy(run: dict[str, Any]) -> None:
    policy = run["policy"]
    assert policy["allowed_before"] == policy["denied_before"] == ["ok"] * 3
    assert policy["allowed_after"] and all(o == "ok" for o in policy["allowed_after"])
    assert policy["denied_after"] and all(o.startswith("fail") for o in policy["denied_after"])


def test_prometheus_token_with_nodes_metrics_reads_the_kubelets_cadvisor(
    run: dict[str, Any],
) -> None:
    assert run["kubelet"]["reader"] == {"status": 200, "cadvisor": True}
    assert run["kubelet"]["default"]["status"] == 403  # webhook authorization, not anonymous


def test_no_connection_leaves_loopback_or_the_cluster_range(run: dict[str, Any]) -> None:
    assert run["outside"] == []
    # The watch read the hub's, the node's and the long-lived pods' namespaces (CoreDNS, the
    # server, two clients); a pod that ends within a second may slip between two looks, but
    # its traffic crossed the node's namespace, whose connection table the watch reads too.
    assert set(run["made"].values()) <= set(run["watched"]), run["made"]
    assert len(run["watched"]) >= len(run["made"]) + 4


def _left(run: dict[str, Any], *kinds: str) -> list[str]:
    return [item for item in run["leftovers"] if item.startswith(kinds)]


def test_teardown_stops_every_process(run: dict[str, Any]) -> None:
    assert _left(run, "process") == []
    assert run["problems"] == []


def test_teardown_removes_every_namespace_link_and_rule(run: dict[str, Any]) -> None:
    assert _left(run, "netns", "link", "the root namespace's firewall") == []


def test_teardown_leaves_no_mount_cgroup_or_stray_directory(run: dict[str, Any]) -> None:
    assert _left(run, "mount", "cgroup", "path") == []


def test_the_kernel_settings_are_as_before(run: dict[str, Any]) -> None:
    assert _left(run, "sysctl") == []
    assert run["leftovers"] == []  # and nothing of any other kind
