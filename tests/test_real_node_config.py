"""What a real node's programs are given, checked without starting one: containerd, the CNI
configuration, the kubelet, kube-proxy, kube-router, its Node, the cluster DNS and its images.
The real thing runs in tests/cluster/test_real_nodes.py."""

from __future__ import annotations

import json
import tarfile
import tomllib
from pathlib import Path

from simulation.simcluster import addresses
from simulation.simcluster.cluster_dns import COREFILE, coredns_manifests
from simulation.simcluster.node_images import archive_references, find_images
from simulation.simcluster.real_node import (
    NodeSpec,
    cni_conflist,
    containerd_config,
    kube_proxy_config,
    kube_router_args,
    kubelet_config,
    node_manifest,
)


def test_containerd_pulls_nothing_and_keeps_to_its_directory(tmp_path: Path) -> None:
    config = tomllib.loads(
        containerd_config(tmp_path, "registry.k8s.io/pause:3.10.1", "/usr/sbin/runc")
    )
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10.1"
    assert cri["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE here
    assert cri["registry"] == {"config_path": ""}  # no mirrors, no credentials
    assert cri["containerd"]["snapshotter"] == "overlayfs"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    for path in (
        config["root"],
        config["state"],
        config["grpc"]["address"],
        cri["cni"]["conf_dir"],
    ):
        assert Path(path).is_relative_to(tmp_path)


def test_pods_get_the_nodes_range_without_masquerade(tmp_path: Path) -> None:
    bridge = cni_conflist(tmp_path, 3)["plugins"][0]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": "198.18.13.0/24", "gateway": "198.18.13.1"}]]
    assert Path(bridge["ipam"]["dataDir"]).is_relative_to(tmp_path)


def test_the_kubelet_runs_on_cgroup_v1_and_lets_prometheus_read_cadvisor(tmp_path: Path) -> None:
    config = kubelet_config(tmp_path, 0, "/cdn-abc-n0")
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["oomScoreAdj"] == 0
    assert config["authentication"]["webhook"]["enabled"] is True  # service-account tokens
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"  # nodes/metrics via RBAC
    assert config["clusterDNS"] == [addresses.CLUSTER_DNS_IP]
    assert config["clusterDomain"] == "cluster.local"
    assert config["address"] == "198.18.0.10"
    assert config["resolvConf"] == ""  # no upstream the pods could ask
    assert config["makeIPTablesUtilChains"] is False
    assert config["imageGCHighThresholdPercent"] == 100  # nothing could be pulled back


def test_kube_proxy_uses_iptables_and_leaves_machine_wide_settings_alone(tmp_path: Path) -> None:
    config = kube_proxy_config(tmp_path, "real-0", 0)
    assert config["mode"] == "iptables"
    assert config["clusterCIDR"] == "198.18.0.0/15"
    assert config["oomScoreAdj"] == 0
    assert config["conntrack"]["maxPerCore"] == 0


def test_kube_router_only_enforces_network_policies(tmp_path: Path) -> None:
    args = kube_router_args(tmp_path, "real-0")
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(args)
    assert "--enable-cni=false" in args


def test_a_real_nodes_labels_and_taints_are_set_before_its_kubelet_registers() -> None:
    spec = NodeSpec(
        "gpu-0",
        {"nvidia.com/gpu.present": "true"},
        ({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},),
    )
    node = node_manifest(spec, 1, {"simulation.cedana.ai/kind": "real"})
    assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert node["spec"]["podCIDR"] == "198.18.11.0/24"
    assert node["spec"]["taints"][0]["key"] == "nvidia.com/gpu"


def test_coredns_answers_the_cluster_and_forwards_nowhere() -> None:
    assert "forward" not in COREFILE and "proxy" not in COREFILE
    assert COREFILE.startswith("cluster.local:53 18.198.in-addr.arpa:53 19.198.in-addr.arpa:53 {")
    assert "pods insecure" in COREFILE
    assert "rcode NXDOMAIN" in COREFILE.split(".:53")[1]
    objects = {o["kind"]: o for o in coredns_manifests()}
    assert objects["Service"]["spec"]["clusterIP"] == addresses.CLUSTER_DNS_IP
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never"


def _tar(path: Path, name: str, data: bytes) -> Path:
    source = path.with_suffix(".src")
    source.write_bytes(data)
    with tarfile.open(path, "w") as archive:
        archive.add(source, arcname=name)
    return path


def test_an_archive_names_its_image_in_either_format(tmp_path: Path) -> None:
    docker = _tar(
        tmp_path / "a.tar",
        "manifest.json",
        json.dumps([{"RepoTags": ["registry.local/a:1"]}]).encode(),
    )
    oci = _tar(
        tmp_path / "b.tar",
        "index.json",
        json.dumps(
            {"manifests": [{"annotations": {"io.containerd.image.name": "registry.local/b:2"}}]}
        ).encode(),
    )
    (tmp_path / "c.tar").write_text("not a tar")
    assert archive_references(docker) == ["registry.local/a:1"]
    assert archive_references(oci) == ["registry.local/b:2"]
    found, missing = find_images(["registry.local/a:1", "registry.local/c:3"], tmp_path)
    assert found.archives == {"registry.local/a:1": docker}
    assert missing == ["registry.local/c:3"]
