"""Exposition fixtures on loopback: what kube-state-metrics, the event exporter, several
kubelets' cAdvisor and several GPUs' DCGM exporters answer, with samples that change over time.

The series and labels follow what those exporters really expose (recorded from their docs and
sources: kube-state-metrics 2.x, resmoio's event exporter, cAdvisor in the kubelet,
dcgm-exporter 4.x), including series the pipeline must filter out. Every answer is recorded
(`Served`), so the lab can compare what was served with what reached S3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from simulation.support.ports import bound_port

PODS = (("ml", "train-0", "train"), ("ml", "train-1", "train"), ("web", "api-7f9c", "api"))


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class Served:
    """One answer of one endpoint: when, and which samples of shipped series it held."""

    data_set: str  # kube-state-metrics, event-exporter, cadvisor, dcgm
    node: str | None
    at: float  # time.time()
    samples: tuple[Sample, ...]


def _line(sample: Sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sample.labels)
    return f"{sample.name}{{{labels}}} {sample.value:g}"


def _exposition(families: list[tuple[str, str, str, list[Sample]]]) -> str:
    lines = []
    for name, kind, help_text, samples in families:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [_line(s) for s in samples]
    return "\n".join(lines) + "\n"


def kube_state_metrics(n: int) -> tuple[str, list[Sample]]:
    owners = [
        Sample(
            "kube_pod_owner",
            (
                ("namespace", ns),
                ("pod", pod),
                ("uid", f"uid-{pod}"),
                ("owner_kind", "Job" if app == "train" else "ReplicaSet"),
                ("owner_name", app),
                ("owner_is_controller", "true"),
            ),
            1,
        )
        for ns, pod, app in PODS
    ]
    # Pods come and go: one pod's info appears every other scrape, so the data changes.
    info = [
        Sample(
            "kube_pod_info",
            (
                ("namespace", ns),
                ("pod", pod),
                ("uid", f"uid-{pod}"),
                ("node", f"lab-node-{i % 3}"),
                ("host_ip", f"10.0.0.{i + 1}"),
                ("pod_ip", f"10.244.{i}.{n % 250 + 2}"),
                ("created_by_kind", "Job" if app == "train" else "ReplicaSet"),
                ("priority_class", ""),
            ),
            1,
        )
        for i, (ns, pod, app) in enumerate(PODS)
        if i < 2 or n % 2 == 0
    ]
    jobs = [
        Sample(
            "kube_job_owner",
            (("namespace", "ml"), ("job_name", "train"), ("owner_kind", "CronJob")),
            1,
        )
    ]
    unshipped = [
        Sample("kube_node_info", (("node", f"lab-node-{i}"), ("kernel_version", "6.1.0")), 1)
        for i in range(3)
    ] + [
        Sample(
            "kube_pod_status_phase",
            (("namespace", "ml"), ("pod", "train-0"), ("phase", "Running")),
            1,
        )
    ]
    text = _exposition(
        [
            ("kube_pod_owner", "gauge", "Information about the Pod's owner.", owners),
            ("kube_pod_info", "gauge", "Information about pod.", info),
            ("kube_job_owner", "gauge", "Information about the Job's owner.", jobs),
            ("kube_node_info", "gauge", "Information about a cluster node.", unshipped[:3]),
            ("kube_pod_status_phase", "gauge", "The pods current phase.", unshipped[3:]),
        ]
    )
    return text, owners + info + jobs


def event_exporter(n: int) -> tuple[str, list[Sample]]:
    sent = [
        Sample("event_exporter_events_sent", (("receiver", "dump"),), 40 + 3 * n),
        Sample("event_exporter_events_discarded", (), n // 5),
        Sample("event_exporter_watch_errors", (), 0),
        Sample("event_exporter_send_event_errors", (), 0),
        Sample("event_exporter_kube_api_read_cache_hits", (), 0),
        Sample("event_exporter_kube_api_read_cache_misses", (), 0),
        Sample(
            "event_exporter_build_info",
            (("goversion", "go1.21.5"), ("version", "v1.7")),
            1,
        ),
    ]
    families = [
        (s.name, "gauge" if s.name.endswith("build_info") else "counter", "Exporter metric.", [s])
        for s in sent
    ]
    return _exposition(families), sent


def cadvisor(node: str, n: int) -> tuple[str, list[Sample]]:
    cpu, memory, other = [], [], []
    for ns, pod, app in PODS:
        container = (
            ("container", app),
            ("namespace", ns),
            ("pod", pod),
            ("id", f"/kubepods.slice/pod-{pod}/{app}"),
            ("image", f"registry.example/{app}:1.0"),
            ("name", f"{app}-ctr"),
        )
        cpu.append(Sample("container_cpu_usage_seconds_total", container, 100.0 + 2.5 * n))
        memory.append(
            Sample("container_memory_working_set_bytes", container, 2**30 + 4096 * (n % 97))
        )
        other.append(Sample("container_fs_usage_bytes", container, 4096 * n))
    text = _exposition(
        [
            (
                "container_cpu_usage_seconds_total",
                "counter",
                "Cumulative cpu time consumed in seconds.",
                cpu,
            ),
            (
                "container_memory_working_set_bytes",
                "gauge",
                "Current working set in bytes.",
                memory,
            ),
            ("container_fs_usage_bytes", "gauge", "Bytes consumed by the container.", other),
        ]
    )
    return text, cpu + memory


def dcgm(node: str, n: int, gpus: int = 2) -> tuple[str, list[Sample]]:
    shipped: dict[str, list[Sample]] = {
        "DCGM_FI_DEV_GPU_UTIL": [],
        "DCGM_FI_DEV_FB_USED": [],
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": [],
    }
    values = {
        "DCGM_FI_DEV_GPU_UTIL": lambda g: (37 * n + 11 * g) % 101,
        "DCGM_FI_DEV_FB_USED": lambda g: 20000 + (n * 13 + g) % 4000,
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": lambda g: ((n * 7 + g) % 100) / 100,
    }
    for g in range(gpus):
        labels = (
            ("gpu", str(g)),
            ("UUID", f"GPU-{node}-{g}"),
            ("pci_bus_id", f"00000000:0{g}:00.0"),
            ("device", f"nvidia{g}"),
            ("modelName", "NVIDIA A100-SXM4-80GB"),
            ("Hostname", node),
            ("DCGM_FI_DRIVER_VERSION", "550.54.15"),
        )
        for name, value in values.items():
            shipped[name].append(Sample(name, labels, value(g)))
    text = _exposition(
        [(name, "gauge", f"{name} (dcgm-exporter).", samples) for name, samples in shipped.items()]
        + [("dcgm_exporter_last_scrape", "gauge", "Unshipped.", [Sample("up_dcgm", (), 1)])]
    )
    return text, [s for samples in shipped.values() for s in samples]


# path -> (data set, node, answer builder)
Route = tuple[str, str | None, Callable[[int], tuple[str, list[Sample]]]]


@dataclass
class ExporterFixtures:
    """The fixture server: one loopback port, a path per endpoint."""

    nodes: list[str]
    gpu_nodes: list[str]
    served: list[Served] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def routes(self) -> dict[str, Route]:
        routes: dict[str, Route] = {
            "/ksm/metrics": ("kube-state-metrics", None, kube_state_metrics),
            "/events/metrics": ("event-exporter", None, event_exporter),
        }
        for node in self.nodes:
            routes[f"/kubelet/{node}/metrics/cadvisor"] = (
                "cadvisor",
                node,
                partial(cadvisor, node),
            )
        for node in self.gpu_nodes:
            routes[f"/dcgm/{node}/metrics"] = ("dcgm", node, partial(dcgm, node))
        return routes

    def answer(self, path: str) -> str | None:
        route = self.routes().get(path)
        if route is None:
            return None
        data_set, node, build = route
        with self._lock:
            n = self._counts.get(path, 0)
            self._counts[path] = n + 1
            text, samples = build(n)
            self.served.append(Served(data_set, node, time.time(), tuple(samples)))
        return text

    def start(self) -> int:
        fixtures = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                text = fixtures.answer(self.path.split("?", 1)[0])
                if text is None:
                    self.send_error(404)
                    return
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return bound_port(self._server.socket)

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
