"""The collector's throughput to saturation, with this program's configuration, on this machine.

The real Vector runs the collector exactly as the program configures it (disk buffer,
acknowledgements, the remaps, JSON objects, one request at a time) writing to moto's S3 on
loopback, fed by sender Vectors that scrape kube-state-metrics-shaped series (a dozen labels
each, as the real exporter's) and forward them with the `vector` protocol, as the agents do.
Then the same collector with the S3 sink swapped for a blackhole: Vector's ceiling on this
machine, in the same run. It prints events/s and MiB/s per collector core (the collector's own
CPU time, whatever the senders take), bytes per event in S3, and which resource ran out.

    .venv/bin/python bench/collector_throughput.py [--senders 3] [--series 20000] [--seconds 60]

Needs `vector` 0.56 (or VECTOR_BIN), like the lab. Loopback only.

Status: the blackhole phase gives figures (on the 2-core development machine, 2 senders of
20,000 series: 19,183 events/s at 0.95 collector cores); the S3 phase wrote no object within
40 s there (moto beside saturated senders; not yet diagnosed), so it gives no figure yet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psutil
import yaml
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.config import Settings, load_settings
from components.vector.pipeline import S3_SINK
from scripts.stack_files import MappingSource, stack_config
from simulation.lab.configs import (
    LAB_SECRETS,
    Ports,
    collector_vector_config,
    scaled,
)
from simulation.lab.pipeline_lab import binary
from simulation.support.ports import free_port

BUCKET = "cedana-bench"
# Labels as kube-state-metrics puts on a pod series (namespace, pod, uid, node, ...).
LABELS = (
    'namespace="team-{n}",pod="worker-{i}-7d9f8b6c5d-x{i}",uid="3f2a1c9e-7b6d-4e8f-9a0b-{i:012d}",'
    'node="ip-10-0-{n}-{i}.ec2.internal",container="worker",created_by_kind="ReplicaSet",'
    'created_by_name="worker-{i}-7d9f8b6c5d",host_ip="10.0.{n}.{i}",pod_ip="10.1.{n}.{i}",'
    'priority_class="default",qos_class="Burstable",phase="Running"'
)


def exposition(series: int) -> bytes:
    lines = ["# TYPE kube_pod_container_resource_requests gauge"]
    for i in range(series):
        labels = LABELS.format(n=i % 250, i=i)
        lines.append(f"kube_pod_container_resource_requests{{{labels}}} {i % 97}.5")
    return ("\n".join(lines) + "\n").encode()


def serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sender_config(fixture: int, collector: int, data_dir: str, api: int) -> dict[str, Any]:
    return {
        "data_dir": data_dir,
        "api": {"enabled": True, "address": f"127.0.0.1:{api}"},
        "sources": {
            "scrape": {
                "type": "prometheus_scrape",
                "endpoints": [f"http://127.0.0.1:{fixture}/metrics"],
                "scrape_interval_secs": 1,
            }
        },
        "transforms": {
            "tag": {"type": "remap", "inputs": ["scrape"], "source": '.tags.host = "bench"'}
        },
        "sinks": {
            "collector": {
                "type": "vector",
                "inputs": ["tag"],
                "address": f"127.0.0.1:{collector}",
                "buffer": {"type": "memory", "max_events": 50_000, "when_full": "block"},
            }
        },
    }


SAMPLE = re.compile(r"^(\w+)\{(.*)\} (\S+)")


def counter(metrics_port: int, name: str, component: str) -> float:
    """A counter of Vector's own metrics (its prometheus_exporter sink), summed."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    total = 0.0
    for line in text.decode().splitlines():
        match = SAMPLE.match(line)
        if match and match[1] == name and f'component_id="{component}"' in match[2]:
            total += float(match[3])
    return total


def start(argv: list[str], env: dict[str, str], log: Path) -> psutil.Popen:
    handle = log.open("w")
    return psutil.Popen(argv, env=env, stdout=handle, stderr=handle)


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def s3_server() -> tuple[ThreadedMotoServer, int]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    port = moto.get_host_and_port()[1]
    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_bucket(Bucket=BUCKET)
    return moto, port


def bench_settings(s3_port: int) -> Settings:
    """The default stack, writing to moto under a set prefix (no refresher: static keys)."""
    values = {
        "s3Bucket": BUCKET,
        "awsRegion": "us-east-1",
        "s3Endpoint": f"http://127.0.0.1:{s3_port}",
        "vectorKeyPrefix": "org-bench/v2/vector/data/{{ tags.ts }}/",
    }
    config = stack_config(values, LAB_SECRETS)
    return load_settings(MappingSource(config.values, config.secret_keys))


def phase(name: str, args: argparse.Namespace, blackhole: bool, work: Path) -> dict[str, Any]:
    vector = binary("VECTOR_BIN", "vector")
    assert vector, "needs vector 0.56 (or VECTOR_BIN)"
    moto, s3_port = s3_server()
    settings = bench_settings(s3_port)
    ports = Ports(free_port(), free_port(), free_port(), free_port(), free_port())
    metrics = free_port()
    collector = collector_vector_config(
        settings, ports, data_dir=str(work / "collector"), intervals=scaled(1), metrics_port=metrics
    )
    if blackhole:
        sink = collector["sinks"][S3_SINK]
        collector["sinks"][S3_SINK] = {
            "type": "blackhole",
            "inputs": sink["inputs"],
            "buffer": sink["buffer"],
            "acknowledgements": sink["acknowledgements"],
        }
    (work / "collector").mkdir(parents=True)
    path = work / "collector.yaml"
    path.write_text(yaml.safe_dump(collector, sort_keys=False))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "VECTOR_LOG": "warn",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    processes = [start([vector, "--config", str(path)], env, work / "collector.log")]
    fixture = serve(exposition(args.series))
    try:
        wait_healthy(f"http://127.0.0.1:{ports.collector_api}/health")
        for i in range(args.senders):
            api = free_port()
            data = work / f"sender-{i}"
            data.mkdir()
            sender = sender_config(fixture.server_port, ports.collector_agents, str(data), api)
            config_path = work / f"sender-{i}.yaml"
            config_path.write_text(yaml.safe_dump(sender, sort_keys=False))
            processes.append(
                start([vector, "--config", str(config_path)], env, work / f"sender-{i}.log")
            )
            wait_healthy(f"http://127.0.0.1:{api}/health")
        time.sleep(10)  # warm-up: buffers and batches reach their steady state
        collector_process = processes[0]

        def snapshot() -> tuple[float, float, float, float, float]:
            """S3 sink's events and bytes, collector CPU seconds, now, the machine's idle."""
            return (
                counter(metrics, "vector_component_sent_events_total", S3_SINK),
                counter(metrics, "vector_component_sent_event_bytes_total", S3_SINK),
                sum(collector_process.cpu_times()[:2]),
                time.monotonic(),
                psutil.cpu_times().idle,
            )

        events0, bytes0, cpu0, at0, idle0 = snapshot()
        time.sleep(args.seconds)
        events1, bytes1, cpu1, at1, idle1 = snapshot()
        buffered = counter(metrics, "vector_buffer_events", S3_SINK)
    finally:
        for process in processes:
            process.kill()  # measured: a graceful stop would drain the buffer first
        for process in processes:
            process.wait(timeout=30)
        fixture.shutdown()
        moto.stop()
    wall = at1 - at0
    cores = (cpu1 - cpu0) / wall
    rate = (events1 - events0) / wall
    idle = (idle1 - idle0) / wall
    mib = (bytes1 - bytes0) / wall / 2**20
    return {
        "phase": name,
        "events_per_second": round(rate),
        "collector_cores": round(cores, 2),
        "events_per_second_per_core": round(rate / cores) if cores else None,
        "mib_per_second_per_core": round(mib / cores, 2) if cores else None,
        "bytes_per_event": round((bytes1 - bytes0) / max(1.0, events1 - events0)),
        "machine_idle_cores": round(idle, 2),
        "events_left_in_buffer": round(buffered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="collector-throughput-") as tmp:
        for name, blackhole in (("s3", False), ("blackhole", True)):
            results.append(phase(name, args, blackhole, Path(tmp) / name))
            print(json.dumps(results[-1]))
    s3, ceiling = results
    share = s3["events_per_second"] / max(1, ceiling["events_per_second"])
    # Which resource ran out: a collector at a whole core is CPU-bound; a machine with no idle
    # core is bound by what runs beside it (the senders, moto); else the S3 side held it back.
    if s3["collector_cores"] >= 0.9:
        limit = "the collector's CPU"
    elif s3["machine_idle_cores"] < 0.2:
        limit = "the machine's CPU (senders and moto beside the collector)"
    else:
        limit = "S3 writes (one request at a time, to moto)"
    print(f"with S3: {share:.0%} of the blackhole ceiling; limited by {limit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
