"""The pipeline lab: the real Vector (agents and collector), the real Prometheus and the
program's credential refresher, on loopback, with the configurations the program generates.

    ./scripts/lab [--json FILE] [--agents 5] [--scale 6]     # the fault scenarios
    ./scripts/lab --sizes 1,5,20 [--json FILE]               # steady state at several sizes

Around them: a fake Cedana API issuing two-minute credentials, moto's S3 behind a front that
checks those credentials (and plays an outage and a 403), fixtures serving kube-state-metrics,
the event exporter, every node's cAdvisor and every GPU node's DCGM. Needs `vector` (or
VECTOR_BIN) and `prometheus` (or PROMETHEUS_BIN); everything else comes from the venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.server import ThreadedMotoServer

from components.common.names import CEDANA_TARGET_BACKEND, static_prefix
from components.credentials.wiring import RefresherSettings, refresher_container
from simulation.lab import analysis
from simulation.lab.configs import (
    BUCKET,
    LAB_SECRETS,
    REGION,
    Ports,
    agent_vector_config,
    collector_vector_config,
    lab_settings,
    prometheus_config,
    scaled,
)
from simulation.lab.relay import Relay
from simulation.lab.verify_probe import observed_jobs, probe
from simulation.standins.cedana_api import FakeCedana
from simulation.standins.exporters import ExporterFixtures
from simulation.standins.s3_front import S3Front
from simulation.support.loopback import LoopbackWatch, descends_from
from simulation.support.ports import free_port
from simulation.support.processes import Process, Sampler, stop_all
from simulation.support.report import figures_table
from simulation.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
REFRESHER = ROOT / "cred_refresher" / "cred_refresher.py"
CREDENTIAL_LIFETIME = timedelta(minutes=2)
LAB_PREFIX = "org-lab/v2/vector/data"  # Cedana's answer: an org's prefix, as in production
MOVED_PREFIX = "org-lab-moved/v2/vector/data"
ENDPOINT_TOKEN = "lab-endpoint-token-7d1e"


def binary(env: str, name: str) -> str | None:
    return os.environ.get(env) or shutil.which(name)


def missing_for_lab() -> list[str]:
    """What the lab needs that this machine lacks, each with how to get it."""
    missing = []
    if not binary("VECTOR_BIN", "vector"):
        missing.append(
            "vector 0.56 (https://vector.dev/docs/setup/installation/: the official .deb/.rpm,"
            " or the release tarball; or set VECTOR_BIN)"
        )
    if not binary("PROMETHEUS_BIN", "prometheus"):
        missing.append("prometheus (Debian/Ubuntu: apt-get install prometheus; or PROMETHEUS_BIN)")
    return missing


class RotatingCedana(FakeCedana):
    """A fake Cedana API that issues a new key on every call, valid for `lifetime` and, as
    Cedana's session policies, only for keys under the prefix it names (an org's)."""

    def __init__(self) -> None:
        super().__init__(bucket=BUCKET, prefix=LAB_PREFIX)
        self.lifetime = CREDENTIAL_LIFETIME
        self.generation = 0
        self.expiry: dict[str, float] = {}
        self.allowed: dict[str, str] = {}  # key id -> the path prefix it may write under
        self._issue = threading.Lock()

    def credentials(self) -> dict[str, str]:
        with self._issue:
            self.generation += 1
            body = super().credentials()
        assert self.last_expiration is not None
        self.expiry[body["access_key_id"]] = self.last_expiration.timestamp()
        self.allowed[body["access_key_id"]] = f"/{BUCKET}/{self.prefix}/"
        return body

    def authorize(self, key_id: str, path: str) -> str | None:
        expires = self.expiry.get(key_id)
        if expires is None:
            return "InvalidAccessKeyId"
        if time.time() >= expires:
            return "ExpiredToken"
        # Writes (a path with a key) only under the prefix; the bucket itself (health checks).
        is_object = "/" in path.split("?", 1)[0].strip("/")
        return "AccessDenied" if is_object and not path.startswith(self.allowed[key_id]) else None


@dataclass
class Lab:
    workdir: Path
    agents: int
    scale: float
    processes: dict[str, Process] = field(default_factory=dict)
    phases: list[tuple[str, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        self.intervals = scaled(self.scale)
        self.nodes = [f"lab-node-{i}" for i in range(max(self.agents, 3))]
        self.gpu_nodes = self.nodes[1::2][:4]
        # Port 0: moto binds it and reports the port the kernel chose.
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.cedana = RotatingCedana()
        self.fixtures = ExporterFixtures(self.nodes, self.gpu_nodes)
        # Ours only: the machine is shared (see LoopbackWatch).
        self.watch = LoopbackWatch(ours=descends_from(os.getpid()))
        # Each Vector's own metrics: pod name -> (port, release, node), for verify's probe.
        self.vector_metrics: dict[str, tuple[int, str, str]] = {}
        self.target_file = self.workdir / "target" / "target.secrets"

    # --- bring-up -------------------------------------------------------------------------

    def start(self) -> None:
        self.watch.start()
        self.moto.start()
        moto_port = self.moto.get_host_and_port()[1]
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{moto_port}",
            region_name=REGION,
            aws_access_key_id="lab",
            aws_secret_access_key="lab",
        ).create_bucket(Bucket=BUCKET)
        self.cedana.__enter__()
        self.s3 = S3Front(moto_port, self.cedana.authorize)
        self.s3.start()
        fixtures_port = self.fixtures.start()
        self.settings = lab_settings(f"http://127.0.0.1:{self.s3.port}")
        self.ports = Ports(free_port(), free_port(), fixtures_port, free_port(), free_port())
        self.relay = Relay(self.ports.collector_agents)
        self.relay.start()

        self._start_refresher()
        self._start_collector()
        for i in range(self.agents):
            self._start_agent(i)
        self._start_prometheus()
        for process in self.processes.values():
            process.wait_healthy()
        self.sampler = Sampler(list(self.processes.values()))
        self.sampler.start()

    def _process(self, name: str, argv: list[str], env: dict[str, str], health: str | None) -> None:
        process = Process(name, argv, env, self.workdir / f"{name}.log", health)
        process.start()
        self.processes[name] = process

    def _start_refresher(self) -> None:
        port, health = free_port(), free_port()
        token_file = self.workdir / "endpoint-token"
        token_file.write_text(ENDPOINT_TOKEN)
        self.credentials_uri = f"http://127.0.0.1:{port}/credentials"
        self.token_file = token_file
        # The container the program defines, with the lab's addresses and secrets.
        container = refresher_container(
            RefresherSettings(
                image="lab",
                resources={},
                cedana_url=self.cedana.url,
                refresh_interval=self.settings.cred_refresh_interval,
                bucket=BUCKET,
                script_checksum="",
                key_prefix=static_prefix(self.settings.vector_key_prefix or ""),
                target=self.settings.left_to_cedana(),
            )
        )
        secrets = {
            "CEDANA_AUTH_TOKEN": LAB_SECRETS["authToken"],
            "CLUSTER_ID": LAB_SECRETS["clusterId"],
        }
        local = {
            "CREDENTIALS_FILE": str(self.workdir / "credentials" / "aws-credentials"),
            "CREDENTIALS_ENDPOINT": f"127.0.0.1:{port}",
            "CREDENTIALS_AUTH_TOKEN_FILE": str(token_file),
            "HEALTH_PORT": str(health),
            "TARGET_FILE": str(self.target_file),
        }
        env = {"PATH": os.environ.get("PATH", "")}
        for item in container["env"]:
            name = item["name"]
            env[name] = local.get(name) or secrets.get(name) or str(item.get("value", ""))
        self.refresher_health = health
        if "TARGET_FILE" in env:
            # The collector pod's init container: Cedana's first answer before Vector starts.
            first = subprocess.run(  # noqa: S603 (our own script, our own arguments)
                [sys.executable, str(REFRESHER)],
                env={**env, "UNTIL_CREDENTIALS": "true"},
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert first.returncode == 0, first.stderr.decode()
        self._process(
            "refresher", [sys.executable, str(REFRESHER)], env, f"http://127.0.0.1:{health}/ready"
        )

    def _vector(self, name: str, config: dict[str, Any], env: dict[str, str], api: int) -> None:
        path = self.workdir / f"{name}.yaml"
        argv = ["--config", str(path), "--quiet"]
        if "secret" in config:
            # As in the collector's pod: the answer's file, in a directory Vector watches.
            config["secret"][CEDANA_TARGET_BACKEND]["path"] = str(self.target_file)
            argv += ["--config-dir", str(self.target_file.parent), "--watch-config"]
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        Path(config["data_dir"]).mkdir(parents=True, exist_ok=True)
        vector = binary("VECTOR_BIN", "vector")
        assert vector is not None
        base = {"PATH": os.environ.get("PATH", ""), "VECTOR_LOG": "info", "HOME": str(self.workdir)}
        self._process(
            name,
            [vector, *argv],
            {**base, **env},
            f"http://127.0.0.1:{api}/health",
        )

    def _start_collector(self) -> None:
        metrics = free_port()
        self.vector_metrics["vector-collector-0"] = (metrics, "vector-collector", self.nodes[0])
        config = collector_vector_config(
            self.settings,
            self.ports,
            data_dir=str(self.workdir / "collector-data"),
            intervals=self.intervals,
            metrics_port=metrics,
        )
        self.collector_config = config
        env = {
            # The chain ends at the container provider: no IMDS, no profile, no env keys.
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.credentials_uri,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(self.token_file),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.workdir / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "none"),
        }
        self._vector("collector", config, env, self.ports.collector_api)

    def _start_agent(self, i: int) -> None:
        api, metrics = free_port(), free_port()
        self.vector_metrics[f"vector-{self.nodes[i]}"] = (metrics, "vector", self.nodes[i])
        config = agent_vector_config(
            self.settings,
            collector=f"127.0.0.1:{self.relay.port}",
            api_port=api,
            fixtures=self.ports.fixtures,
            data_dir=str(self.workdir / f"agent-{i}-data"),
            intervals=self.intervals,
            metrics_port=metrics,
        )
        self._vector(f"agent-{i}", config, {"VECTOR_SELF_NODE_NAME": self.nodes[i]}, api)

    def _start_prometheus(self) -> None:
        port = free_port()
        self.prometheus_port = port
        config = prometheus_config(
            self.settings,
            fixtures=self.ports.fixtures,
            remote_write_port=self.ports.remote_write,
            nodes=self.nodes,
            gpu_nodes=self.gpu_nodes,
            intervals=self.intervals,
            observed=observed_jobs(self.vector_metrics, port),
        )
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        prometheus = binary("PROMETHEUS_BIN", "prometheus")
        assert prometheus is not None
        self._process(
            "prometheus",
            [
                prometheus,
                f"--config.file={path}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            {"PATH": os.environ.get("PATH", "")},
            f"http://127.0.0.1:{port}/-/ready",
        )

    def verify(self) -> dict[str, Any]:
        """scripts/verify's data-path verdicts (S3 writes, credentials, buffers, remote
        write) from the lab's real engines, by check name."""
        return probe(
            self.settings,
            prometheus_port=self.prometheus_port,
            refresher_health_port=self.refresher_health,
            collector_log=self.workdir / "collector.log",
            collector_config=self.collector_config,
        )

    # --- the timeline ---------------------------------------------------------------------

    def phase(self, name: str, seconds: float, during: Any = None, after: Any = None) -> None:
        started = time.time()
        if during:
            during()
        time.sleep(seconds)
        if after:
            after()
        self.phases.append((name, started, time.time()))

    def phase_at(self, at: float) -> str:
        outside = "warm-up" if at < self.phases[0][1] else "drain"
        return next((name for name, start, end in self.phases if start <= at <= end), outside)

    def restart(self, name: str, pause: float = 5.0) -> None:
        process = self.processes[name]
        started = time.time()
        process.kill()
        time.sleep(pause)
        process.start()
        process.wait_healthy()
        process.down.append((started, time.time()))

    def drain(self, quiet: float, limit: float) -> None:
        """Waits until no object has been written for `quiet` seconds (at most `limit`: what
        is still on its way then counts as lost)."""

        def quiet_for() -> bool:
            return time.time() - max((w.at for w in self.s3.writes), default=0.0) >= quiet

        with contextlib.suppress(TimeoutError):
            wait_until(quiet_for, limit, "S3 writes to stop", every=1)

    def stop(self) -> None:
        sampler = getattr(self, "sampler", None)
        if sampler:
            sampler.stop()
        self.watch.stop()
        stop_all(list(self.processes.values()))
        for closer in (self.relay.cut, self.s3.stop, self.fixtures.stop, self.moto.stop):
            try:
                closer()
            except Exception as error:
                print(f"lab teardown: {error}", file=sys.stderr)
        self.cedana.__exit__()


# --- figures -------------------------------------------------------------------------------


def tolerances(intervals: dict[str, int]) -> dict[str, float]:
    by_data_set = {
        "kube-state-metrics": intervals["kube-state-metrics"],
        "event-exporter": intervals["event-exporter"],
        "cadvisor": intervals["cadvisor"],
        "dcgm": intervals["dcgm-exporter"],
    }
    return {name: every / 2 for name, every in by_data_set.items()}


def figures(lab: Lab, window: tuple[float, float], api_calls: int) -> dict[str, Any]:
    written_at = {w.key.split("?", 1)[0].split(f"/{BUCKET}/", 1)[-1]: w.at for w in lab.s3.writes}
    delivery = analysis.read_delivery(lab.moto.get_host_and_port()[1], BUCKET, written_at)
    served = analysis.compare_served(
        lab.fixtures.served, delivery.events, window, tolerances(lab.intervals)
    )
    down = {
        lab.nodes[i]: lab.processes[f"agent-{i}"].down
        for i in range(lab.agents)
        if lab.processes[f"agent-{i}"].down
    }
    host = analysis.host_metrics_counts(
        delivery.events, lab.intervals["host_metrics"], window, down
    )
    counts = {**served, "host": host}
    duration = window[1] - window[0]
    objects, volume = analysis.per_minute(delivery.objects, window)
    p50, p95 = analysis.latency(delivery.events, window)
    in_window = [e for e in delivery.events if window[0] <= e.at <= window[1]]
    collector = lab.processes["collector"]
    events_per_second = len(in_window) / duration
    result: dict[str, Any] = {
        "agents": lab.agents,
        "scale": lab.scale,
        "intervals_seconds": lab.intervals,
        "measured_seconds": round(duration, 1),
        "duplicates": sum(c.duplicates for c in counts.values()),
        "gaps": sum(c.gaps for c in counts.values()),
        "unmatched_in_s3": sum(c.unmatched for c in counts.values()),
        "samples_served": sum(c.served for c in counts.values()),
        "per_data_set": {
            name: {"served": c.served, "duplicates": c.duplicates, "gaps": c.gaps}
            for name, c in sorted(counts.items())
        },
        "objects_per_minute": round(objects, 2),
        "bytes_per_minute": round(volume),
        "latency_p50_seconds": round(p50, 1),
        "latency_p95_seconds": round(p95, 1),
        "events_per_second": round(events_per_second, 1),
        "cedana_api_calls_per_hour": round(api_calls * 3600 / duration, 1),
        "credential_rotations": len(lab.cedana.expiry),
        "collector_cpu_seconds_per_1000_events": round(
            collector.cpu_seconds() / max(1, len(delivery.events)) * 1000, 3
        ),
        "rss": {name: analysis.rss_summary(p.rss) for name, p in lab.processes.items()},
        "connections_off_the_machine": lab.watch.stop(),
        "connections_not_the_runs": [*lab.watch.others, *lab.watch.before],
    }
    gap_times = [t for c in counts.values() for t in c.gap_times]
    duplicate_writes = [t for c in counts.values() for t in c.duplicate_writes]
    for name, start, end in lab.phases:
        result.setdefault("phase_gaps", {})[name] = sum(start <= t <= end for t in gap_times)
    if duplicate_writes:
        result["duplicates_written_in"] = dict(Counter(map(lab.phase_at, duplicate_writes)))
    return result


def objects_by_prefix(lab: Lab) -> dict[str, int]:
    """Objects written, by the prefix of Cedana's answer they went under (else `other`)."""
    counts: Counter[str] = Counter()
    for write in lab.s3.writes:
        key = write.key.split("?", 1)[0].split(f"/{BUCKET}/", 1)[-1]
        counts[
            next((p for p in (LAB_PREFIX, MOVED_PREFIX) if key.startswith(f"{p}/")), "other")
        ] += 1
    return dict(counts)


def refused_outside(lab: Lab, *phases: str) -> dict[str, dict[str, int]]:
    """Refused writes outside the given phases: phase -> S3 error code -> count."""
    found: dict[str, Counter[str]] = {}
    for at, _, code in lab.s3.refused:
        phase = lab.phase_at(at)
        if phase not in phases:
            found.setdefault(phase, Counter())[code] += 1
    return {phase: dict(codes) for phase, codes in sorted(found.items())}


def first_write_after(lab: Lab, phase: str) -> float | None:
    """Seconds from the end of a phase to the first object S3 accepted after it."""
    end = next(e for name, _, e in lab.phases if name == phase)
    after = [w.at for w in lab.s3.writes if w.at > end]
    return round(min(after) - end, 1) if after else None


def rotation_gap_seconds(lab: Lab, faults: list[tuple[float, float]]) -> float:
    """Seconds in which writes were refused because the credentials had expired (outside the
    deliberate faults): zero when Vector always holds fresh credentials."""
    expired = sorted(
        at
        for at, _, code in lab.s3.refused
        if code in ("ExpiredToken", "InvalidAccessKeyId")
        and not any(s <= at <= e for s, e in faults)
    )
    if not expired:
        return 0.0
    spans, start, last = 0.0, expired[0], expired[0]
    for at in expired[1:]:
        if at - last > 5:
            spans += last - start + 1
            start = at
        last = at
    return round(spans + last - start + 1, 1)


# --- scenarios -----------------------------------------------------------------------------


def fault_run(workdir: Path, agents: int, scale: float) -> dict[str, Any]:
    lab = Lab(workdir, agents, scale)
    try:
        lab.start()
        warm = max(30.0, 3 * lab.intervals["host_metrics"])
        time.sleep(warm)
        begin, calls = time.time(), len(lab.cedana.requests)
        steady = 10 * max(lab.intervals.values())
        lab.phase("baseline", steady)
        lab.phase("s3_outage", 120, during=lab.s3.stop, after=lab.s3.start)
        lab.phase("s3_403", 60, during=lambda: setattr(lab.s3, "mode", "forbidden"))
        lab.s3.mode = "pass"
        # Killed while the batches refused with 403 wait out their back-off: a batch written
        # in the meantime must not be written again after the restart.
        lab.phase("after_403", 10)
        lab.phase("kill_collector", 30, during=lambda: lab.restart("collector"))
        lab.phase("kill_agent", 30, during=lambda: lab.restart("agent-0"))
        lab.phase("agents_cut_off", 120, during=lab.relay.cut, after=lab.relay.start)
        # Cedana moves the cluster to another prefix: its next credentials are only for that
        # one; the refresher rewrites the answer's file and Vector reloads its sink.
        lifetime = CREDENTIAL_LIFETIME.total_seconds()
        lab.phase(
            "cedana_moves",
            1.5 * lifetime,
            during=lambda: setattr(lab.cedana, "prefix", MOVED_PREFIX),
        )
        # Cedana unreachable for three credential lifetimes: the credentials held expire, the
        # refresher answers 503, S3 is not written; then Cedana is back.
        collector_pid = lab.processes["collector"].pid
        lab.phase(
            "cedana_down",
            3 * lifetime,
            during=lambda: setattr(lab.cedana, "mode", "500"),
            after=lambda: setattr(lab.cedana, "mode", "ok"),
        )
        lab.phase("recovery", 2 * steady / 3)
        end, calls = time.time(), len(lab.cedana.requests) - calls
        lab.drain(quiet=3 * lab.settings.vector_batch_timeout_secs, limit=240)
        result = figures(lab, (begin, end), calls)
        faults = [(s, e + 30) for name, s, e in lab.phases if name in ("s3_outage", "s3_403")]
        phase = result.pop("phase_gaps")
        result |= {
            "rotation_gap_seconds": rotation_gap_seconds(lab, faults),
            "lost_after_s3_outage": phase["s3_outage"],
            "dropped_on_403": phase["s3_403"] + phase["after_403"],
            "lost_after_vector_kill": phase["kill_collector"] + phase["kill_agent"],
            "lost_when_agents_cut_off": phase["agents_cut_off"],
            "lost_when_cedana_moves": phase["cedana_moves"],
            "lost_when_cedana_is_down": phase["cedana_down"] + phase["recovery"],
            "collector_restarted_while_cedana_was_down": lab.processes["collector"].pid
            != collector_pid,
            "objects_by_prefix": objects_by_prefix(lab),
            "refused_outside_the_403_phase": refused_outside(lab, "s3_403", "after_403"),
            "first_write_after_cedana_is_back_seconds": first_write_after(lab, "cedana_down"),
            "refused_writes": {
                code: sum(1 for _, _, c in lab.s3.refused if c == code)
                for code in sorted({c for _, _, c in lab.s3.refused})
            },
        }
        return result
    finally:
        lab.stop()


def steady_run(workdir: Path, agents: int, scale: float, seconds: float) -> dict[str, Any]:
    lab = Lab(workdir, agents, scale)
    try:
        lab.start()
        time.sleep(max(30.0, 3 * lab.intervals["host_metrics"]))
        begin, calls = time.time(), len(lab.cedana.requests)
        lab.phase("steady", seconds)
        end, calls = time.time(), len(lab.cedana.requests) - calls
        lab.drain(quiet=3 * lab.settings.vector_batch_timeout_secs, limit=120)
        result = figures(lab, (begin, end), calls)
        result.pop("phase_gaps", None)
        return result
    finally:
        lab.stop()


LOSS_FIGURES = (
    "duplicates",
    "gaps",
    "rotation_gap_seconds",
    "lost_after_s3_outage",
    "lost_after_vector_kill",
    "dropped_on_403",
)


def lab_cli(argv: list[str] | None = None) -> int:
    """`./scripts/lab`: the fault run, or steady runs at several sizes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--agents", type=int, default=5, help="agents in the fault run")
    parser.add_argument("--scale", type=float, default=6.0, help="divide every interval by this")
    parser.add_argument("--sizes", help="steady runs with these agent counts, e.g. 1,5,20")
    parser.add_argument("--seconds", type=float, default=180, help="length of a steady run")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    missing = missing_for_lab()
    if missing:
        print("the lab needs: " + "; ".join(missing), file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="cedana-lab-"))
    started = datetime.now()
    try:
        if args.sizes:
            result: dict[str, Any] = {
                f"agents_{n}": steady_run(workdir / f"size-{n}", n, args.scale, args.seconds)
                for n in (int(x) for x in args.sizes.split(","))
            }
            for name, figures_ in result.items():
                print(f"## {name}\n{figures_table(figures_)}\n")
        else:
            result = fault_run(workdir / "faults", args.agents, args.scale)
            print(figures_table(result))
        result["lab_seconds"] = round((datetime.now() - started).total_seconds())
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, sort_keys=True))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(lab_cli())
