"""Reads one cluster for verify, through the Kubernetes API only (the kubernetes client).

Plain GETs of the lists the checks need, the collector's log, and — through the API server's
proxy, so no port-forward and nothing exposed — Prometheus' HTTP API
(`services/prometheus-server:80/proxy/api/v1/query`) and the refresher's status
(`pods/vector-collector-0:8081/proxy/status`). Every read runs in parallel under one bounded
timeout, and each one that fails becomes an `Unread` saying why, so one missing answer never
hides the others.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from components.common.names import (
    PROMETHEUS_SERVICE_PORT,
    REFRESHER_HEALTH_PORT,
    VECTOR_COLLECTOR_RELEASE,
    Endpoints,
    helm_fullname,
)
from components.config import CredentialsMode, GpuMode, Settings
from verify.delivery import HISTORY_SECONDS, QUERIES, RANGES, STEP_SECONDS
from verify.verdict import Series, Snapshot, Unread
from verify.workloads import COLLECTOR_POD

# Every read at once (some twenty): an unanswered one costs the timeout once, not per turn.
WORKERS = 32
LOG_SECONDS = HISTORY_SECONDS  # the collector's log as far back as the last write is looked for
LOG_LINES = 5000
COLLECTOR_CONFIGMAP = helm_fullname(VECTOR_COLLECTOR_RELEASE, "vector")
CONFIG_KEY = "vector.yaml"  # the chart's key for customConfig


def api_client(context: str | None) -> client.ApiClient:
    """A client for one kubeconfig context (None: the current one); KUBECONFIG as kubectl
    reads it. One try per request: verify's timeout bounds every read."""
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=os.environ.get("KUBECONFIG") or None,
        context=context,
        client_configuration=configuration,
        persist_config=False,
    )
    configuration.retries = 0
    configuration.connection_pool_maxsize = WORKERS
    return client.ApiClient(configuration)


def _why(error: BaseException, timeout: float) -> Unread:
    if isinstance(error, ApiException):
        body = (
            error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else error.body
        )
        message = str(body or error.reason or "")
        try:
            parsed = json.loads(message)
            message = str(parsed.get("message") or parsed.get("error") or message)
        except (ValueError, AttributeError):
            pass
        message = " ".join(message.split())[:200]
        return Unread("", f"{error.status} {message}".strip(), error.status)
    text = str(error)
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return Unread("", f"no answer within {timeout:g} s")
    if "refused" in text.lower():
        return Unread("", "connection refused")
    first = text.splitlines()[0][:200] if text else ""
    return Unread("", f"{type(error).__name__}: {first}".rstrip(": "))


class Reader:
    """GETs against the API server with a deadline; failures become Unread, never raise."""

    def __init__(self, api: client.ApiClient, timeout: float) -> None:
        self.api, self.timeout = api, timeout

    def get(
        self, what: str, path: str, query: list[tuple[str, str]] | None = None
    ) -> bytes | Unread:
        try:
            response = self.api.call_api(
                path,
                "GET",
                query_params=query or [],
                header_params={"Accept": "application/json, */*"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=self.timeout,
            )
            return bytes(response.data)
        except Exception as error:  # every failure is an answer: what could not be read
            why = _why(error, self.timeout)
            return Unread(what, why.why, why.status)

    def json(self, what: str, path: str, query: list[tuple[str, str]] | None = None) -> Any:
        body = self.get(what, path, query)
        if isinstance(body, Unread):
            return body
        try:
            return json.loads(body)
        except ValueError:
            return Unread(what, "the answer is not JSON")

    def items(self, what: str, path: str) -> list[dict[str, Any]] | Unread:
        found = self.json(what, path)
        if isinstance(found, Unread):
            return found
        return list(found.get("items") or [])


def parse_series(answer: Any, what: str) -> list[Series] | Unread:
    """Prometheus' answer (vector, matrix or scalar) as Series."""
    if isinstance(answer, Unread):
        return answer
    if not isinstance(answer, dict) or answer.get("status") != "success":
        error = answer.get("error", "no data") if isinstance(answer, dict) else "no data"
        return Unread(what, f"Prometheus: {error}")
    data = answer.get("data") or {}
    kind, result = data.get("resultType"), data.get("result") or []
    if kind == "scalar":
        return [Series({}, ((float(result[0]), float(result[1])),))]
    found = []
    for item in result:
        points = item.get("values") or ([item["value"]] if "value" in item else [])
        found.append(
            Series(dict(item.get("metric") or {}), tuple((float(t), float(v)) for t, v in points))
        )
    return [s for s in found if s.points]


def _collector_config(reader: Reader, namespace: str) -> dict[str, Any] | Unread:
    configmap = reader.json(
        "the collector's config", f"/api/v1/namespaces/{namespace}/configmaps/{COLLECTOR_CONFIGMAP}"
    )
    if isinstance(configmap, Unread):
        return configmap
    text = (configmap.get("data") or {}).get(CONFIG_KEY)
    try:
        parsed = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        return Unread("the collector's config", f"no {CONFIG_KEY} in {COLLECTOR_CONFIGMAP}")
    return parsed


def _text(reader: Reader, what: str, path: str, query: list[tuple[str, str]]) -> str | Unread:
    body = reader.get(what, path, query)
    return body if isinstance(body, Unread) else body.decode("utf-8", "replace")


class JsonReader(Protocol):
    """What reads JSON answers: the API server's proxy here, the lab's loopback elsewhere."""

    def json(self, what: str, path: str, query: list[tuple[str, str]] | None = None) -> Any: ...


def _query(
    reader: JsonReader, name: str, path: str, query: list[tuple[str, str]]
) -> list[Series] | Unread:
    return parse_series(reader.json(f"Prometheus ({name})", path, query), name)


def metric_tasks(
    reader: JsonReader, api: str, settings: Settings, end: float
) -> dict[str, Callable[[], list[Series] | Unread]]:
    """The Prometheus queries the checks read, by name, against Prometheus' HTTP API at `api`
    (`…/api/v1`); the range queries cover the hour up to `end` (unix seconds), on a grid of
    whole steps, so two reads a second apart see the same points (and the same last write)."""
    queries = dict(QUERIES)
    if settings.gpu_mode is not GpuMode.EXTERNAL:
        del queries["dcgm_up"]
    tasks: dict[str, Callable[[], list[Series] | Unread]] = {
        name: partial(_query, reader, name, f"{api}/query", [("query", query)])
        for name, query in queries.items()
    }
    end = end // STEP_SECONDS * STEP_SECONDS  # the last whole step: never a point ahead
    for name, query in RANGES.items():
        window = [
            ("query", query),
            ("start", f"{end - HISTORY_SECONDS:.0f}"),
            ("end", f"{end:.0f}"),
            ("step", str(STEP_SECONDS)),
        ]
        tasks[name] = partial(_query, reader, name, f"{api}/query_range", window)
    return tasks


def read_snapshot(
    api: client.ApiClient, settings: Settings, timeout: float, now: datetime | None = None
) -> Snapshot:
    """Everything the checks need, read in parallel; each read bounded by `timeout`."""
    reader = Reader(api, timeout)
    ns = settings.namespace
    endpoints = Endpoints(ns, settings.cluster_domain)
    prometheus = (
        f"/api/v1/namespaces/{ns}/services/{endpoints.prometheus_server_service}:"
        f"{PROMETHEUS_SERVICE_PORT}/proxy/api/v1"
    )
    read_at = now or datetime.now(UTC)
    end = read_at.timestamp()
    apps = f"/apis/apps/v1/namespaces/{ns}"
    tasks: dict[str, Callable[[], Any]] = {
        "nodes": lambda: reader.items("nodes", "/api/v1/nodes"),
        "pods": lambda: reader.items("pods", f"/api/v1/namespaces/{ns}/pods"),
        "deployments": lambda: reader.items("deployments", f"{apps}/deployments"),
        "daemonsets": lambda: reader.items("daemonsets", f"{apps}/daemonsets"),
        "statefulsets": lambda: reader.items("statefulsets", f"{apps}/statefulsets"),
        "claims": lambda: reader.items(
            "volume claims", f"/api/v1/namespaces/{ns}/persistentvolumeclaims"
        ),
        "storage_classes": lambda: reader.items(
            "storage classes", "/apis/storage.k8s.io/v1/storageclasses"
        ),
        "collector_config": lambda: _collector_config(reader, ns),
        "collector_log": lambda: _text(
            reader,
            "the collector's log",
            f"/api/v1/namespaces/{ns}/pods/{COLLECTOR_POD}/log",
            [
                ("container", "vector"),
                ("sinceSeconds", str(LOG_SECONDS)),
                ("tailLines", str(LOG_LINES)),
                ("timestamps", "true"),
            ],
        ),
    }
    if settings.credentials_mode is CredentialsMode.CEDANA:
        tasks["refresher"] = lambda: reader.json(
            "the refresher's status",
            f"/api/v1/namespaces/{ns}/pods/{COLLECTOR_POD}:{REFRESHER_HEALTH_PORT}/proxy/status",
        )
    for name, task in metric_tasks(reader, prometheus, settings, end).items():
        tasks[f"metric:{name}"] = task
    results = run_all(tasks, timeout)
    metrics = {k.removeprefix("metric:"): v for k, v in results.items() if k.startswith("metric:")}
    return Snapshot(
        nodes=results["nodes"],
        pods=results["pods"],
        deployments=results["deployments"],
        daemonsets=results["daemonsets"],
        statefulsets=results["statefulsets"],
        claims=results["claims"],
        storage_classes=results["storage_classes"],
        collector_config=results["collector_config"],
        collector_log=results["collector_log"],
        refresher=results.get("refresher"),
        metrics=metrics,
        read_at=read_at,
    )


def run_all(tasks: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Any]:
    """Every task at once; one that has not finished a second after `timeout` (each request is
    bounded by it) is reported as unanswered, and its thread is not waited for."""
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(WORKERS, len(tasks))), thread_name_prefix="verify"
    )
    futures: dict[str, Future[Any]] = {name: pool.submit(task) for name, task in tasks.items()}
    deadline = time.monotonic() + timeout * -(-len(tasks) // WORKERS) + 1
    results: dict[str, Any] = {}
    for name, future in futures.items():
        remaining = max(0.0, deadline - time.monotonic())
        try:
            results[name] = future.result(timeout=remaining)
        except FutureTimeout:
            results[name] = Unread(name, f"no answer within {timeout:g} s")
    pool.shutdown(wait=False, cancel_futures=True)
    return results
