"""A real node beside kwok's: containerd and runc, the CNI plugins, a kubelet, kube-proxy and
kube-router (NetworkPolicies only), all inside the node's network namespace and a mount
namespace of the node's own.

Why a mount namespace: containerd 1.6 and the kubelet write outside their configured paths
(/run/containerd/s and /fifo, /var/lib/cni/results, /var/lib/kubelet/device-plugins — one socket
for every kubelet on the machine —, /var/log/containers, /run/xtables.lock) and mount overlay
snapshots, pod volumes and network namespace pins. In the node's namespace /run, /var/lib and
/var/log are the node's own directories and /etc/resolv.conf is empty (nothing on the node can
resolve a name outside the cluster: a pull attempt fails on loopback), so none of it reaches
the machine, and every mount goes when the namespace's last process exits. containerd and the
kubelet share that namespace (the kubelet's volume mounts must be visible to runc), as the
probe found they must share the network namespace (the CRI streaming server listens on
127.0.0.1 there).

The machine's constraints (see /opt/cedana-build/NOTES-kubernetes.md): cgroup v1 with the
cgroupfs driver (`failCgroupV1: false`), the cgroup root made beforehand in every hierarchy;
no CAP_SYS_RESOURCE, so `restrict_oom_score_adj` in containerd and `oomScoreAdj: 0` for the
kubelet and kube-proxy; no IPVS, so kube-proxy runs in iptables mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from simulation.simcluster.addresses import (
    CLUSTER_CIDR,
    CLUSTER_DNS_IP,
    CLUSTER_DOMAIN,
    SERVICE_CIDR,
    node_ip,
    pod_cidr,
    pod_gateway,
)
from simulation.simcluster.control_plane import kubeconfig
from simulation.simcluster.network import in_netns
from simulation.simcluster.node_images import NAMESPACE, Importer, NodeImages, ctr_import
from simulation.simcluster.pki import Authority
from simulation.support.processes import Process
from simulation.support.waiting import wait_until

CNI_BIN = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
NODE_BINARIES = {
    "kubelet": "Kubernetes' node binaries at the control plane's version (k8s.io/kubernetes"
    " cmd/kubelet)",
    "kube-proxy": "Kubernetes' node binaries (k8s.io/kubernetes cmd/kube-proxy)",
    "containerd": "apt-get install containerd",
    "containerd-shim-runc-v2": "apt-get install containerd",
    "ctr": "apt-get install containerd",
    "runc": "apt-get install runc",
    "crictl": "go install sigs.k8s.io/cri-tools/cmd/crictl@v1.34.0",
    "iptables": "apt-get install iptables",
    "ipset": "apt-get install ipset",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "mount": "util-linux",
    "ip": "apt-get install iproute2",
}
KUBE_ROUTER_HELP = (
    "kube-router v2.11.1 (github.com/cloudnativelabs/kube-router/v2 cmd/kube-router) on PATH,"
    " as KUBE_ROUTER, or as kube-router/kube-router under CEDANA_IMAGE_BINARIES"
)
DEFAULT_IMAGE_BINARIES = "/opt/cedana-build/images-bin"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# What the kubelet sets machine-wide when protectKernelDefaults is off
# (pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables); the run puts them back.
KUBELET_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Bound over the machine's in the node's mount namespace (see the module's note).
PRIVATE_DIRS = {"run": "/run", "var-lib": "/var/lib", "var-log": "/var/log"}
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; containerd adds ".ttrpc"
KUBE_ROUTER_USER = "cedana:kube-router"
KUBE_ROUTER_HEALTH_PORT = 20244

# The node's mount namespace: bind the node's directories, say so, then wait to be stopped.
HOLDER = r"""
import pathlib, signal, subprocess, sys
node, ready = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for source, target in [a.split("=", 1) for a in sys.argv[3:]]:
    subprocess.run(["mount", "--bind", str(node / source), target], check=True)
ready.write_text("ready")
while True:
    signal.pause()
"""


def kube_router_binary() -> str | None:
    if os.environ.get("KUBE_ROUTER"):
        return os.environ["KUBE_ROUTER"]
    if found := shutil.which("kube-router"):
        return found
    for directory in os.environ.get("CEDANA_IMAGE_BINARIES", DEFAULT_IMAGE_BINARIES).split(":"):
        candidate = Path(directory) / "kube-router" / "kube-router"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def cgroup_hierarchies() -> list[Path]:
    """Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, name=systemd and
    the v2 one of a hybrid layout)."""
    found = []
    with Path("/proc/self/mountinfo").open() as mounts:
        for line in mounts:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2") and fields[4].startswith(str(CGROUP_ROOT)):
                found.append(Path(fields[4]))
    return found


def missing_for_real_nodes() -> list[str]:
    """What this machine lacks to run a real node, each with how to get it."""
    needs = [f"{b} ({how})" for b, how in NODE_BINARIES.items() if not shutil.which(b)]
    needs += [
        f"the CNI plugin {p} in {CNI_BIN} (apt-get install containernetworking-plugins)"
        for p in CNI_PLUGINS
        if not (CNI_BIN / p).exists()
    ]
    if not kube_router_binary():
        needs.append(KUBE_ROUTER_HELP)
    if os.geteuid() != 0:
        needs.append("root (network and mount namespaces, cgroups, iptables)")
    if not any(p.name == "memory" for p in cgroup_hierarchies()):
        needs.append("cgroup v1 controllers under /sys/fs/cgroup (the kubelet's cgroupfs driver)")
    return needs


# --- what each program is given (pure) ------------------------------------------------------


def containerd_config(directory: Path, sandbox_image: str, runc: str) -> str:
    """containerd 1.6's configuration: private paths, the CRI plugin with the sandbox image
    the node imported, overlayfs, runc with cgroupfs, the node's CNI configuration; no
    registry configuration (nothing is pulled: every image is imported first)."""
    d = directory / "containerd"
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{d / "root"}"
state = "{d / "state"}"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", \
"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", \
"io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket_path(directory)}"

[ttrpc]
  address = "{socket_path(directory)}.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{d / "opt"}"
  {cri}]
    sandbox_image = "{sandbox_image}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    # Without CAP_SYS_RESOURCE a sandbox's oom_score_adj of -998 is refused.
    restrict_oom_score_adj = true
    disable_apparmor = true
    {cri}.containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      {cri}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        {cri}.containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "{runc}"
          Root = "{d / "runc"}"
    {cri}.cni]
      bin_dir = "{CNI_BIN}"
      conf_dir = "{directory / "cni" / "net.d"}"
      max_conf_num = 1
    {cri}.registry]
      config_path = ""
"""


def cni_conflist(directory: Path, index: int) -> dict[str, Any]:
    """The pods' network: a bridge with the node as gateway, host-local addresses from the
    node's pod range, no masquerade (pods keep their addresses across nodes), host ports."""
    return {
        "cniVersion": "0.4.0",
        "name": "cedana-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(directory / "cni" / "ipam"),
                    "ranges": [[{"subnet": pod_cidr(index), "gateway": pod_gateway(index)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"},
        ],
    }


def kubelet_config(directory: Path, index: int, cgroup_root: str) -> dict[str, Any]:
    """The kubelet's configuration: cgroup v1 with cgroupfs, webhook authentication and
    authorization (a service-account token with `nodes/metrics` reads /metrics/cadvisor), the
    cluster's DNS, no machine-wide iptables chains, oomScoreAdj 0, no image garbage collection
    (nothing could be pulled back)."""
    kubelet = directory / "kubelet"
    socket = f"unix://{socket_path(directory)}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": socket,
        "imageServiceEndpoint": socket,
        "cgroupRoot": cgroup_root,
        "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"],
        "podLogsDir": str(kubelet / "pod-logs"),
        "volumePluginDir": str(kubelet / "volume-plugins"),
        "resolvConf": "",
        "address": node_ip(index),
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "tlsCertFile": str(kubelet / "serving.crt"),
        "tlsPrivateKeyFile": str(kubelet / "serving.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "30s"},
            "x509": {"clientCAFile": str(kubelet / "ca.crt")},
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": {"cacheAuthorizedTTL": "30s", "cacheUnauthorizedTTL": "5s"},
        },
        "clusterDNS": [CLUSTER_DNS_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "serializeImagePulls": False,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "localStorageCapacityIsolation": True,
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
        "oomScoreAdj": 0,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "nodeStatusUpdateFrequency": "10s",
        "maxPods": 110,
    }


def kube_proxy_config(directory: Path, name: str, index: int) -> dict[str, Any]:
    """kube-proxy in iptables mode (no IPVS here), leaving conntrack's machine-wide limits and
    the OOM score alone (neither can be changed without CAP_SYS_RESOURCE or outside the root
    namespace)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(directory / "kube-proxy.kubeconfig")},
        "hostnameOverride": name,
        "bindAddress": node_ip(index),
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "mode": "iptables",
        "clusterCIDR": CLUSTER_CIDR,
        "detectLocalMode": "ClusterCIDR",
        "nodePortAddresses": ["primary"],
        "oomScoreAdj": 0,
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
            "udpTimeout": "0s",
            "udpStreamTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "1s"},
    }


def kube_router_args(directory: Path, name: str) -> list[str]:
    """kube-router as the NetworkPolicy enforcer only: the CNI bridge routes, kube-proxy
    proxies."""
    return [
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        f"--kubeconfig={directory / 'kube-router.kubeconfig'}",
        f"--hostname-override={name}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--enable-ipv4=true",
        "--enable-ipv6=false",
        "--health-addr=127.0.0.1",
        f"--health-port={KUBE_ROUTER_HEALTH_PORT}",
        "--metrics-port=0",
        "--iptables-sync-period=1m",
        "--cache-sync-timeout=2m",
        "--v=1",
    ]


def kube_router_rbac() -> list[dict[str, Any]]:
    """What kube-router's firewall reads (its daemonset's ClusterRole, bound to its user)."""
    read = ["get", "list", "watch"]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cedana-simulation:kube-router"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces", "pods", "services", "nodes", "endpoints"],
                    "verbs": read,
                },
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["networkpolicies"],
                    "verbs": read,
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": ["get", "create", "update"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "cedana-simulation:kube-router"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cedana-simulation:kube-router",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KUBE_ROUTER_USER}
            ],
        },
    ]


def node_manifest(spec: NodeSpec, index: int, extra_labels: Mapping[str, str]) -> dict[str, Any]:
    """The Node, made before its kubelet registers (the kubelet takes it over): labels a
    kubelet may not set itself (NodeRestriction) and taints from the start, and the pod range
    its CNI configuration uses."""
    spec_fields: dict[str, Any] = {"podCIDR": pod_cidr(index), "podCIDRs": [pod_cidr(index)]}
    if spec.taints:
        spec_fields["taints"] = [dict(t) for t in spec.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": {
                "kubernetes.io/hostname": spec.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                **extra_labels,
                **spec.labels,
            },
        },
        "spec": spec_fields,
    }


def socket_path(directory: Path) -> Path:
    return directory / "containerd.sock"


# --- the node ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """A real node as a caller wants it: its name, labels (e.g. `nvidia.com/gpu.present:
    "true"` for a GPU Operator node) and taints."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()


def _kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path) -> Path:
    return kubeconfig(path, server, ca, cert, key, "simulated")


@dataclass
class RealNode:
    """One real node: `start_runtime`, `import_images`, `start_agents`, then `stop`."""

    spec: NodeSpec
    index: int
    netns: str
    directory: Path
    pki: Authority
    api_server: str  # how the node reaches the API server: https://198.18.0.2:<port>
    cgroup_root: str
    processes: dict[str, Process] = field(default_factory=dict)
    mount_ns: str | None = None  # mnt:[inode] of the node's mount namespace
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ip(self) -> str:
        return node_ip(self.index)

    @property
    def socket(self) -> Path:
        return socket_path(self.directory)

    def _start(self, name: str, argv: list[str]) -> Process:
        """A program inside the node's network and mount namespaces (nsenter execs it: the
        process is the program)."""
        assert "holder" in self.processes, "the node's namespaces come first"
        holder = self.processes["holder"].pid
        process = Process(
            name,
            ["nsenter", f"--target={holder}", "--net", "--mount", "--", *argv],
            {"PATH": PATH, "HOME": str(self.directory)},
            self.directory / f"{name}.log",
        )
        process.start()
        self.processes[name] = process
        return process

    # -- start

    def start_runtime(self, sandbox_image: str) -> None:
        """The node's namespaces, cgroups and containerd, up and answering."""
        started = time.monotonic()
        if len(str(self.socket)) + len(".ttrpc") > SOCKET_PATH_LIMIT:
            raise ValueError(f"{self.socket}: too long for a Unix socket; use a shorter workdir")
        for private in PRIVATE_DIRS:
            (self.directory / private).mkdir(parents=True, exist_ok=True)
        (self.directory / "resolv.conf").write_text("")
        for sub in ("cni/net.d", "cni/ipam", "kubelet/root", "kubelet/pki", "containerd"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        (self.directory / "cni" / "net.d" / "10-cedana-pods.conflist").write_text(
            json.dumps(cni_conflist(self.directory, self.index), indent=2)
        )
        runc = shutil.which("runc") or "runc"
        config = self.directory / "containerd" / "config.toml"
        config.write_text(containerd_config(self.directory, sandbox_image, runc))
        self.create_cgroups()

        ready = self.directory / "holder.ready"
        binds = [f"{source}={target}" for source, target in PRIVATE_DIRS.items()]
        binds.append("resolv.conf=/etc/resolv.conf")
        holder = Process(
            "holder",
            in_netns(
                self.netns,
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    sys.executable,
                    "-I",
                    "-c",
                    HOLDER,
                    str(self.directory),
                    str(ready),
                    *binds,
                ],
            ),
            {"PATH": PATH},
            self.directory / "holder.log",
        )
        holder.start()
        self.processes["holder"] = holder

        def holding() -> bool:
            if not holder.running():
                raise RuntimeError(f"{self.name}: the namespace holder exited: see {holder.log}")
            return ready.exists()

        wait_until(holding, 60, f"{self.name}'s mount namespace", every=0.1)
        self.mount_ns = str(Path(f"/proc/{holder.pid}/ns/mnt").readlink())

        containerd = self._start("containerd", ["containerd", f"--config={config}"])

        def answering() -> bool:
            if not containerd.running():
                raise RuntimeError(f"{self.name}: containerd exited: see {containerd.log}")
            result = subprocess.run(  # noqa: S603 - ctr with arguments of ours
                ["ctr", "-a", str(self.socket), "version"],  # noqa: S607
                capture_output=True,
                timeout=20,
                check=False,
            )
            return result.returncode == 0

        wait_until(answering, 90, f"{self.name}'s containerd", every=0.25)
        self.timings["runtime_seconds"] = round(time.monotonic() - started, 1)

    def import_images(self, images: NodeImages, importer: Importer = ctr_import) -> None:
        """Every image the node's pods use, the sandbox's included, before any pod starts."""
        started = time.monotonic()
        importer(images.paths, self.socket)
        self.timings["import_seconds"] = round(time.monotonic() - started, 1)

    def start_agents(self) -> None:
        """The kubelet and kube-proxy, each with its own identity."""
        pki, kubelet = self.pki, self.directory / "kubelet"
        shutil.copy(pki.pair.cert, kubelet / "ca.crt")
        client = pki.issue(f"kubelet-{self.name}", f"system:node:{self.name}", "system:nodes")
        serving = pki.issue(
            f"kubelet-{self.name}-serving",
            f"system:node:{self.name}",
            identities=(self.name, self.ip),
        )
        shutil.copy(serving.cert, kubelet / "serving.crt")
        shutil.copy(serving.key, kubelet / "serving.key")
        config = kubelet / "config.json"
        config.write_text(json.dumps(kubelet_config(self.directory, self.index, self.cgroup_root)))
        ca = kubelet / "ca.crt"
        kubeconfig = _kubeconfig(
            kubelet / "kubeconfig", self.api_server, ca, client.cert, client.key
        )
        self._start(
            "kubelet",
            [
                "kubelet",
                f"--config={config}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={kubelet / 'root'}",
                f"--cert-dir={kubelet / 'pki'}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.ip}",
                "--v=1",
            ],
        )
        proxy = pki.issue(f"kube-proxy-{self.name}", "system:kube-proxy")
        _kubeconfig(
            self.directory / "kube-proxy.kubeconfig", self.api_server, ca, proxy.cert, proxy.key
        )
        proxy_config = self.directory / "kube-proxy.json"
        proxy_config.write_text(
            json.dumps(kube_proxy_config(self.directory, self.name, self.index))
        )
        self._start("kube-proxy", ["kube-proxy", f"--config={proxy_config}", "--v=1"])

    def start_firewall(self, kube_router: str, timeout: float = 120) -> None:
        """kube-router, once the node has registered its address (it finds its node by it),
        healthy: every NetworkPolicy on the node's pods enforced from here on."""
        router = self.pki.issue(f"kube-router-{self.name}", KUBE_ROUTER_USER)
        _kubeconfig(
            self.directory / "kube-router.kubeconfig",
            self.api_server,
            self.directory / "kubelet" / "ca.crt",
            router.cert,
            router.key,
        )
        process = self._start(
            "kube-router", [kube_router, *kube_router_args(self.directory, self.name)]
        )
        probe = (
            "import urllib.request, sys; sys.exit(urllib.request.urlopen("
            f"'http://127.0.0.1:{KUBE_ROUTER_HEALTH_PORT}/healthz', timeout=2).status != 200)"
        )

        def healthy() -> bool:
            if not process.running():
                raise RuntimeError(f"{self.name}: kube-router exited: see {process.log}")
            result = subprocess.run(  # noqa: S603 - our interpreter, our probe
                in_netns(self.netns, [sys.executable, "-I", "-c", probe]),
                capture_output=True,
                timeout=20,
                check=False,
            )
            return result.returncode == 0

        wait_until(healthy, timeout, f"{self.name}'s kube-router to be healthy", every=1)

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if not process.running():
                raise RuntimeError(f"{self.name}: {name} exited: see {process.log}")

    # -- cgroups

    def create_cgroups(self) -> None:
        """The kubelet's cgroup root in every v1 hierarchy (the kubelet refuses to start
        otherwise); cpuset's needs its parent's CPUs and memory nodes."""
        for hierarchy in cgroup_hierarchies():
            if hierarchy.name == "unified":
                continue  # cgroup2 of a hybrid layout: runc makes what it needs there
            path = hierarchy / self.cgroup_root.lstrip("/")
            path.mkdir(exist_ok=True)
            if hierarchy.name == "cpuset":
                for name in ("cpuset.cpus", "cpuset.mems"):
                    (path / name).write_text((hierarchy / name).read_text())

    def cgroup_processes(self) -> set[int]:
        pids: set[int] = set()
        for hierarchy in cgroup_hierarchies():
            root = hierarchy / self.cgroup_root.lstrip("/")
            for procs in root.rglob("cgroup.procs") if root.is_dir() else []:
                with contextlib.suppress(OSError, ValueError):
                    pids |= {int(p) for p in procs.read_text().split()}
        return pids

    def remove_cgroups(self, timeout: float = 30) -> list[str]:
        """Every cgroup under the node's root, deepest first; what could not go."""
        deadline = time.monotonic() + timeout
        left: list[str] = []
        while True:
            left = []
            for hierarchy in cgroup_hierarchies():
                root = hierarchy / self.cgroup_root.lstrip("/")
                if not root.is_dir():
                    continue
                for directory in sorted(
                    (p for p in [root, *root.rglob("*")] if p.is_dir()),
                    key=lambda p: len(p.parts),
                    reverse=True,
                ):
                    try:
                        directory.rmdir()
                    except OSError as error:
                        left.append(f"{directory}: {error.strerror}")
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    # -- stop

    def _crictl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - crictl with arguments of ours
            [  # noqa: S607
                "crictl",
                f"--runtime-endpoint=unix://{self.socket}",
                f"--image-endpoint=unix://{self.socket}",
                "--timeout=60s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> list[str]:
        """Everything the node started, stopped: the kubelet (so it restarts nothing), every
        pod through the CRI (containerd unmounts and deletes their networks), the agents,
        containerd, any process left in the node's cgroups or naming its socket, the mount
        namespace (its mounts go with it), the cgroups. What could not be cleaned up."""
        problems: list[str] = []
        for name in ("kubelet", "kube-router", "kube-proxy"):
            if name in self.processes:
                self.processes[name].stop(timeout=20)
        if "containerd" in self.processes and self.processes["containerd"].running():
            result = self._crictl("rmp", "--all", "--force")
            if result.returncode != 0:
                problems.append(f"{self.name}: crictl rmp: {result.stderr.strip()}")
            self.processes["containerd"].stop(timeout=30)
        strays = self.cgroup_processes() | self.shims()
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if strays:
            problems.append(f"{self.name}: killed {len(strays)} processes left after containerd")
            with contextlib.suppress(psutil.Error):
                psutil.wait_procs([psutil.Process(p) for p in strays if psutil.pid_exists(p)], 10)
        if "holder" in self.processes:
            self.processes["holder"].stop(timeout=10)
        problems += self.remove_cgroups()
        return problems

    def shims(self) -> set[int]:
        """containerd's shims for this node (they name its socket)."""
        marker = str(self.socket)
        found = set()
        for process in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error, TypeError):
                if marker in " ".join(process.info["cmdline"] or []):
                    found.add(process.pid)
        return found

    def images(self) -> set[str]:
        result = subprocess.run(  # noqa: S603 - ctr with arguments of ours
            ["ctr", "-a", str(self.socket), "-n", NAMESPACE, "images", "ls", "-q"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return {name for name in result.stdout.split() if not name.startswith("sha256:")}

    def crictl(self, *args: str) -> str:
        """crictl against the node's containerd, inside the node's network namespace (where
        the streaming server of exec and logs listens)."""
        result = subprocess.run(  # noqa: S603 - crictl with arguments of ours
            in_netns(
                self.netns,
                ["crictl", f"--runtime-endpoint=unix://{self.socket}", "--timeout=60s", *args],
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"crictl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout
