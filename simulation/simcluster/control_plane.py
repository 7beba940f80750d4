"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, and kwok simulating nodes (no kubelet, no containers).

Every component binds 127.0.0.1 only. Binaries come from PATH (official ones: the Kubernetes
release's server tarball, etcd's release, `go install sigs.k8s.io/kwok/cmd/kwok@v0.8.0`).

With real nodes (`egress_socket` set) the API server advertises the relay address 198.18.0.2,
where the hub's relay takes kubelets and pods to it (so the `kubernetes` Service has an
endpoint they reach), and dials kubelets, pods and Services through the CONNECT proxy on
`egress_socket` (its egress selector), never from the root namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from simulation.simcluster.addresses import KWOK_POD_CIDR, RELAY_ADDRESS, SERVICE_CIDR
from simulation.simcluster.pki import Authority
from simulation.support.ports import free_port
from simulation.support.processes import Process
from simulation.support.waiting import wait_until

BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kubectl",
)
STAGES = Path(__file__).with_name("kwok_stages.yaml")
# Pod addresses kwok hands out: 32,768 in the cluster's range (never routed: nothing runs).
POD_CIDR = KWOK_POD_CIDR
# Nodes need an address that is not loopback (an EndpointSlice refuses one, and Pulumi then
# waits for a Service's endpoints forever). Nothing connects to it, since no kubelet runs; the
# simulation's loopback watch checks that. TEST-NET-2 (RFC 5737): no real host.
NODE_IP = "198.51.100.10"
# What a kubectl that did not answer (yet) raises.
KUBECTL_FAILED = (RuntimeError, subprocess.TimeoutExpired)


def missing_control_plane_binaries() -> list[str]:
    return [name for name in BINARIES if not shutil.which(name)]


def kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, name: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster: {{server: "{server}", certificate-authority: "{ca}"}}
users:
- name: {name}
  user: {{client-certificate: "{cert}", client-key: "{key}"}}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
current-context: {name}
"""
    )
    path.chmod(0o600)
    return path


def egress_selector(path: Path, socket: Path) -> Path:
    """The API server's egress selector: connections to the cluster (kubelets, pods,
    Services) through an HTTP CONNECT proxy on a Unix socket."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "apiserver.k8s.io/v1beta1",
                "kind": "EgressSelectorConfiguration",
                "egressSelections": [
                    {
                        "name": "cluster",
                        "connection": {
                            "proxyProtocol": "HTTPConnect",
                            "transport": {"uds": {"udsName": str(socket)}},
                        },
                    }
                ],
            }
        )
    )
    return path


@dataclass
class ControlPlane:
    workdir: Path
    context: str = "simulated"
    # Real nodes: the egress proxy's socket (see the module's note).
    egress_socket: Path | None = None
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = Authority(self.workdir / "pki")
        self.front_proxy = Authority(
            self.workdir / "pki" / "front-proxy", "simulated-front-proxy-ca"
        )
        self.ports = {name: free_port() for name in ("etcd", "peer", "api", "kcm", "sched", "kwok")}
        self.server = f"https://127.0.0.1:{self.ports['api']}"

    def _config(self, name: str, common: str, organization: str | None = None) -> Path:
        pair = self.pki.issue(name, common, organization)
        return kubeconfig(
            self.workdir / f"{name}.kubeconfig",
            self.server,
            self.pki.pair.cert,
            pair.cert,
            pair.key,
            self.context,
        )

    def _start(self, name: str, argv: list[str], health: str | None = None) -> Process:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir)}
        process = Process(name, argv, env, self.workdir / f"{name}.log", health)
        process.start()
        self.processes.append(process)
        return process

    def start(self) -> None:
        p = self.ports
        pki = self.pki
        serving = pki.issue("apiserver", "kube-apiserver", server=True)
        sa = pki.service_account_key()
        proxy_client = self.front_proxy.issue("front-proxy-client", "front-proxy-client")
        self.admin = self._config("admin", "kubernetes-admin", "system:masters")
        controller_manager = self._config("kcm", "system:kube-controller-manager")
        scheduler = self._config("scheduler", "system:kube-scheduler")
        kwok_serving = pki.issue("kwok", "kwok", server=True)
        if self.egress_socket is None:
            # Loopback cannot be an endpoint of the `kubernetes` Service.
            reach = ["--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"]
        else:
            kubelet_client = pki.issue(
                "apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"
            )
            selector = egress_selector(self.workdir / "egress-selector.json", self.egress_socket)
            reach = [
                f"--advertise-address={RELAY_ADDRESS}",
                f"--egress-selector-config-file={selector}",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                f"--kubelet-certificate-authority={pki.pair.cert}",
            ]

        self._start(
            "etcd",
            [
                "etcd",
                "--name=sim",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
                f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
                f"--listen-peer-urls=http://127.0.0.1:{p['peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{p['peer']}",
                f"--initial-cluster=sim=http://127.0.0.1:{p['peer']}",
                "--quota-backend-bytes=8589934592",
                "--unsafe-no-fsync",  # a throwaway cluster: speed over durability
                "--logger=zap",
            ],
            f"http://127.0.0.1:{p['etcd']}/health",
        ).wait_healthy()
        self._start(
            "kube-apiserver",
            [
                "kube-apiserver",
                f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
                "--bind-address=127.0.0.1",
                *reach,
                f"--secure-port={p['api']}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                # A kubelet changes only its own Node and the pods bound to it.
                "--enable-admission-plugins=NodeRestriction",
                # By address: the proxy never resolves a name.
                "--kubelet-preferred-address-types=InternalIP",
                "--anonymous-auth=false",
                "--allow-privileged=true",
                f"--client-ca-file={pki.pair.cert}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                f"--requestheader-client-ca-file={self.front_proxy.pair.cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={proxy_client.cert}",
                f"--proxy-client-key-file={proxy_client.key}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                "--max-requests-inflight=1600",
                "--max-mutating-requests-inflight=800",
            ],
        )
        self.wait_ready()
        common = ["--bind-address=127.0.0.1", "--leader-elect=false"]
        self._start(
            "kube-controller-manager",
            [
                "kube-controller-manager",
                f"--kubeconfig={controller_manager}",
                f"--authentication-kubeconfig={controller_manager}",
                f"--authorization-kubeconfig={controller_manager}",
                f"--secure-port={p['kcm']}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={pki.pair.cert}",
                f"--cluster-signing-cert-file={pki.pair.cert}",
                f"--cluster-signing-key-file={pki.pair.key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--flex-volume-plugin-dir={self.workdir / 'flexvolume'}",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--concurrent-daemonset-syncs=10",
                *common,
            ],
        )
        self._start(
            "kube-scheduler",
            [
                "kube-scheduler",
                f"--kubeconfig={scheduler}",
                f"--authentication-kubeconfig={scheduler}",
                f"--authorization-kubeconfig={scheduler}",
                f"--secure-port={p['sched']}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                *common,
            ],
        )
        self._start(
            "kwok",
            [
                "kwok",
                f"--kubeconfig={self.admin}",
                f"--config={STAGES}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--manage-nodes-with-label-selector=",
                f"--node-ip={NODE_IP}",
                f"--node-port={p['kwok']}",
                f"--server-address=127.0.0.1:{p['kwok']}",
                f"--tls-cert-file={kwok_serving.cert}",
                f"--tls-private-key-file={kwok_serving.key}",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
            ],
        )
        self.wait_for_default_service_account()

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        result = subprocess.run(  # noqa: S603 - kubectl from PATH, arguments built here
            ["kubectl", f"--kubeconfig={self.admin}", *args],  # noqa: S607
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def wait_ready(self, timeout: float = 120) -> None:
        wait_until(
            lambda: self.kubectl("get", "--raw", "/readyz", timeout=10).strip() == "ok",
            timeout,
            f"kube-apiserver to be ready: see {self.workdir}",
            every=0.5,
            ignoring=KUBECTL_FAILED,
        )

    def wait_for_default_service_account(self, timeout: float = 120) -> None:
        """Pods are refused until the controller-manager has created `default` accounts."""
        wait_until(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default", timeout=10),
            timeout,
            "the controller-manager to create the default service account",
            every=0.5,
            ignoring=KUBECTL_FAILED,
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
