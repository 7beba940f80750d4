"""The checks of what flows: the collector's writes to S3, its credentials, the buffers, and
Prometheus' remote write. Pure functions of a Snapshot and the stack's settings.

Where each fact comes from:
- the last successful write: Vector's `vector_component_sent_events_total` of the `s3_sink`
  (counted only for delivered requests), an hour of it at Prometheus' scrape interval;
- the errors since: the collector's log. Vector retries the 4xx this stack asks it to retry
  (400, 401, 403) and every 5xx, connection and timeout error for ever and logs each retry
  (`Retrying after error. error=service error` for an answer with an error status,
  `dispatch failure` when S3 cannot be reached) without counting it in any metric;
  `component_errors_total` counts only what it gave up on;
- what a 403 is about: the refresher's /status (the bucket and prefix Cedana issued) against
  the bucket and key prefix the deployed collector writes to (its ConfigMap);
- the buffers: `vector_buffer_size_bytes` against `vector_buffer_max_size_bytes` (else the
  configured size);
- the remote write: Prometheus' own `prometheus_remote_storage_*` of the queue to the
  collector (failed and retried samples in 15 minutes, samples pending, how far behind).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from components.common.names import (
    AGENT_SINK,
    CEDANA_TARGET_BACKEND,
    DEFAULT_KEY_PREFIX,
    PROJECT,
    PROMETHEUS_SERVER_PORT,
    REFRESHER_HEALTH_PORT,
    S3_SINK,
    VECTOR_AGENT_RELEASE,
    VECTOR_COLLECTOR_RELEASE,
    VECTOR_METRICS_PORT,
    from_cedana,
    static_prefix,
)
from components.config import CredentialsMode, Settings
from components.prometheus.values import SELF_JOB, VECTOR_METRICS_JOB
from verify.verdict import Series, Snapshot, Unread, Verdict, ago, listed, plural, size, when
from verify.workloads import COLLECTOR_POD, collector_problem, config_set, leave_to_cedana

REMOTE_NAME = "vector-collector"  # the remote write's name (components/prometheus/values.py)
WINDOW = "15m"
HISTORY_SECONDS = 3600  # how far back the last write is looked for
STEP_SECONDS = 30  # Prometheus' scrape interval of Vector's metrics
FULL = 0.9  # a buffer this full blocks its sources soon
BEHIND_SECONDS = 180  # the remote write this far behind means the collector does not take it

_VECTOR = f'job="{VECTOR_METRICS_JOB}"'
_COLLECTOR = f'{_VECTOR},release="{VECTOR_COLLECTOR_RELEASE}"'
_S3 = f'{_COLLECTOR},component_id="{S3_SINK}"'
_QUEUE = f'job="{SELF_JOB}",remote_name="{REMOTE_NAME}"'

# Instant queries, by name.
QUERIES = {
    "up": f"up{{{_VECTOR}}}",
    "s3_errors": (
        f"sum by (error_type) (increase(vector_component_errors_total{{{_S3}}}[{WINDOW}]))"
    ),
    "dropped": (
        "sum by (release) (increase(vector_component_discarded_events_total"
        f'{{{_VECTOR},intentional="false"}}[{WINDOW}]))'
    ),
    "buffer_bytes": f"vector_buffer_size_bytes{{{_VECTOR}}}",
    "buffer_max": f"vector_buffer_max_size_bytes{{{_VECTOR}}}",
    "rw_pending": f"sum(prometheus_remote_storage_samples_pending{{{_QUEUE}}})",
    "rw_failed": (
        f"sum(increase(prometheus_remote_storage_samples_failed_total{{{_QUEUE}}}[{WINDOW}]))"
    ),
    "rw_retried": (
        f"sum(increase(prometheus_remote_storage_samples_retried_total{{{_QUEUE}}}[{WINDOW}]))"
    ),
    "rw_highest": f"max(prometheus_remote_storage_queue_highest_timestamp_seconds{{{_QUEUE}}})",
    "rw_sent": f"max(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{{{_QUEUE}}})",
    "dcgm_up": 'up{job="dcgm"}',
}
# Range queries (the last HISTORY_SECONDS at STEP_SECONDS), by name.
RANGES = {"s3_sent": f"vector_component_sent_events_total{{{_S3}}}"}


def series(snapshot: Snapshot, query: str) -> list[Series] | Unread:
    return snapshot.metrics.get(query, Unread(query, "not asked"))


def scalar(snapshot: Snapshot, query: str) -> float | None:
    found = series(snapshot, query)
    if isinstance(found, Unread) or not found:
        return None
    return found[0].value


def prometheus_now(snapshot: Snapshot) -> float:
    """Prometheus' clock (its answer to `up`), else ours: ages are measured against it."""
    up = series(snapshot, "up")
    if not isinstance(up, Unread) and up:
        return up[0].at
    return snapshot.read_at.timestamp()


def prometheus_fix(read: Unread, namespace: str) -> str:
    """What to do when Prometheus did not answer through the API server's proxy."""
    why = read.why.lower()
    if read.status in (401, 403):
        return f"your kubeconfig user needs `get` on services/proxy in namespace {namespace}"
    if read.status == 404:
        return "pulumi up (no Service prometheus-server)"
    if "no endpoints" in why:
        return "Prometheus is not ready: see the workloads line"
    return (
        f"the API server cannot reach Prometheus' pod on :{PROMETHEUS_SERVER_PORT}: pulumi up"
        " (restores the NetworkPolicy api-server-to-prometheus), or let the control plane reach"
        f" the nodes on :{PROMETHEUS_SERVER_PORT} and :{REFRESHER_HEALTH_PORT} (firewall rules"
        " of private GKE and EKS clusters)"
    )


def refresher_fix(read: Unread, namespace: str) -> str:
    """What to do when the refresher's /status did not answer through the API server."""
    if read.status in (401, 403):
        return f"your kubeconfig user needs `get` on pods/proxy in namespace {namespace}"
    if read.status == 404 and "not found" in read.why.lower() and "pods" in read.why:
        return "see the workloads line (vector-collector)"
    if read.status == 404:
        return "pulumi up (the refresher predates /status)"
    return (
        f"the API server cannot reach {COLLECTOR_POD}:{REFRESHER_HEALTH_PORT}: see the workloads"
        " line; pulumi up restores the NetworkPolicy api-server-to-refresher-status"
    )


# --- The collector's writes to S3 -------------------------------------------------------------


def last_increase(found: list[Series]) -> float | None:
    """When a counter last went up (its first point showing the new value), across series;
    a drop to a non-zero value is a restart that counted since."""
    latest: float | None = None
    for s in found:
        for (_, before), (t, after) in pairwise(s.points):
            if after > before or (after < before and after > 0):
                latest = t if latest is None else max(latest, t)
    return latest


def increase_since(found: list[Series], since: float) -> float:
    total = 0.0
    for s in found:
        for (_, before), (t, after) in pairwise(s.points):
            if t > since:
                total += after - before if after >= before else after
    return total


@dataclass(frozen=True)
class LogEvent:
    at: float
    kind: str  # refused, no such bucket, unreachable, timed out, credentials
    text: str


# An S3 line of Vector's log, by what it means; the first match wins.
LOG_KINDS = (
    ("no such bucket", re.compile(r"Unknown bucket|NoSuchBucket")),
    (
        "refused",
        re.compile(r"service error|response error|Non-retriable|AccessDenied|Forbidden|\b403\b"),
    ),
    (
        "unreachable",
        re.compile(
            r"dispatch failure|[Cc]onnection (refused|reset)|dns error|failed to lookup",
        ),
    ),
    ("timed out", re.compile(r"timed out|[Tt]imeout")),
    ("credentials", re.compile(r"failed to construct request|CredentialsNotLoaded|no credentials")),
)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_stamp(text: str) -> float | None:
    """The kubelet's RFC 3339 timestamp (nanoseconds allowed) as unix seconds."""
    match = _STAMP.match(text)
    if not match:
        return None
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return moment.astimezone(UTC).timestamp() + float(f"0.{fraction or 0}")


def log_events(text: str) -> list[LogEvent]:
    """The warnings and errors of the S3 sink, with their time and meaning, oldest first.

    Vector rate-limits a repeated message (one per 10 s, then a count), so these are samples
    of the errors, not every one. The healthcheck's "Invalid credentials" (a 403 on HeadBucket,
    which credentials scoped to a prefix get even when writes work) is not an error here.
    """
    found = []
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        if S3_SINK not in rest or not re.search(r"\b(WARN|ERROR)\b", rest):
            continue
        if "Healthcheck" in rest and "Unknown bucket" not in rest:
            continue
        at = parse_stamp(stamp)
        kind = next((k for k, pattern in LOG_KINDS if pattern.search(rest)), None)
        if at is not None and kind is not None:
            found.append(LogEvent(at, kind, rest.strip()))
    return found


@dataclass(frozen=True)
class Destination:
    bucket: str
    key_prefix: str  # the static part, before the first template field
    host: str  # where the collector connects

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"


CEDANA_FIELD = re.compile(rf"SECRET\[{CEDANA_TARGET_BACKEND}\.(\w+)\]")


def destination(snapshot: Snapshot, settings: Settings) -> Destination:
    """Where the deployed collector writes (its ConfigMap), else what the stack says."""
    sink: dict[str, Any] = {}
    if not isinstance(snapshot.collector_config, Unread):
        sink = (snapshot.collector_config.get("sinks") or {}).get(S3_SINK) or {}
    # Where the stack leaves them to Cedana, the refresher says what its answer named.
    target = _issued(snapshot.refresher).get("target") or {}

    def resolved(value: object) -> str:
        return CEDANA_FIELD.sub(lambda m: str(target.get(m[1], f"<Cedana's {m[1]}>")), str(value))

    bucket = resolved(sink.get("bucket") or settings.s3_bucket or from_cedana("bucket"))
    region = resolved(sink.get("region") or settings.aws_region or from_cedana("region"))
    default_prefix = from_cedana("key_prefix") if settings.left_to_cedana() else DEFAULT_KEY_PREFIX
    prefix = sink.get("key_prefix") or settings.vector_key_prefix or default_prefix
    key_prefix = static_prefix(resolved(prefix))
    endpoint = sink.get("endpoint") or settings.s3_endpoint
    host = (
        re.sub(r"^[a-z]+://", "", str(endpoint)).split("/")[0]
        if endpoint
        else f"{bucket}.s3.{region}.amazonaws.com"
    )
    return Destination(bucket, key_prefix, host)


def write_threshold(settings: Settings, errors: bool) -> float:
    """How long without a write means writes stopped. With S3 errors logged since the last
    write: two batch timeouts and two scrape intervals (the collector writes at least once a
    batch timeout while data comes in); without any: at least five minutes, so a quiet spell
    is not taken for a failure."""
    if errors:
        return 2.0 * settings.vector_batch_timeout_secs + 2 * STEP_SECONDS
    return max(300.0, 3.0 * settings.vector_batch_timeout_secs + 4 * STEP_SECONDS)


def _issued(status: dict[str, Any] | Unread | None) -> dict[str, Any]:
    return status if isinstance(status, dict) else {}


def refusal(snapshot: Snapshot, settings: Settings, where: Destination) -> tuple[str, str]:
    """Why S3 refuses the writes (a 403, most likely) and what to do, per credentials mode."""
    status = _issued(snapshot.refresher)
    mode = settings.credentials_mode
    if status.get("bucket_matches") is False:
        return (
            f"403: Cedana's credentials are for bucket {status.get('bucket')}, not {where.bucket}",
            leave_to_cedana("s3Bucket"),
        )
    if status.get("prefix_covers_key_prefix") is False:
        prefix = str(status.get("prefix") or "").rstrip("/")
        return (
            f"403: Cedana's credentials allow keys under {prefix}/ only, not {where.key_prefix}",
            leave_to_cedana("vectorKeyPrefix"),
        )
    cause = (
        "S3 answers with an error status (Vector logs 'service error' without the status: a 403"
        " AccessDenied, or a 5xx)"
    )
    if mode is CredentialsMode.CEDANA:
        issued = f"s3://{status.get('bucket')}/{status.get('prefix')}" if status else "unknown"
        return (
            cause,
            f"the credentials Cedana issued (for {issued}) do not let this cluster write to"
            f" {where.url}: send this line to Cedana support",
        )
    if mode is CredentialsMode.STATIC:
        return (
            cause,
            "give the keys in awsAccessKeyId s3:PutObject on"
            f" arn:aws:s3:::{where.bucket}/{where.key_prefix}*",
        )
    return (
        cause,
        f"pulumi up (restores the role's policy on arn:aws:s3:::{where.bucket}/"
        f"{where.key_prefix}*); check that s3Bucket names the bucket",
    )


def check_s3_writes(snapshot: Snapshot, settings: Settings) -> Verdict:
    check, where = "s3-writes", destination(snapshot, settings)
    ns = settings.namespace
    sent, up = series(snapshot, "s3_sent"), series(snapshot, "up")
    if isinstance(sent, Unread):
        return Verdict(check, False, f"S3 writes: not read ({sent})", prometheus_fix(sent, ns))
    down = collector_problem(snapshot)
    if not sent and down is not None and down.reason != "NotReady":
        return Verdict(
            check,
            False,
            f"S3 writes: none: the collector is not running ({down.pod} {down.reason})",
            "see the workloads line (vector-collector)",
            {"destination": where.url},
        )
    if not sent:
        targets = (
            []
            if isinstance(up, Unread)
            else [s for s in up if s.labels.get("release") == VECTOR_COLLECTOR_RELEASE]
        )
        if not targets:
            return Verdict(
                check,
                False,
                "S3 writes: unknown: Prometheus scrapes no metrics of the collector",
                "pulumi up (adds the scrape job and the collector's :9598; see also workloads)",
            )
        if all(s.value == 0 for s in targets):
            return Verdict(
                check,
                False,
                "S3 writes: unknown: Prometheus cannot scrape the collector's"
                f" :{VECTOR_METRICS_PORT}",
                "pulumi up (restores the NetworkPolicy prometheus-to-vector-metrics)",
            )
    now = prometheus_now(snapshot)
    last = last_increase(sent)
    written = increase_since(sent, now - 900)
    events = (
        [] if isinstance(snapshot.collector_log, Unread) else log_events(snapshot.collector_log)
    )
    since = [e for e in events if last is None or e.at > last]
    kinds = Counter(e.kind for e in since)
    dropped = scalar_by(snapshot, "dropped", "release").get(VECTOR_COLLECTOR_RELEASE, 0.0)
    gave_up = sum(scalar_by(snapshot, "s3_errors", "error_type").values())
    details = {
        "destination": where.url,
        "last_write": last,
        "events_15m": written,
        "errors_since": dict(kinds),
        "dropped_15m": dropped,
        "requests_given_up_15m": gave_up,
    }
    recent = last is not None and now - last <= write_threshold(settings, bool(since))
    errors = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    if recent and last is not None and not dropped and not gave_up:
        tail = (
            f"{plural(len(since), 'retried error')} since ({errors}), none lost"
            if since
            else "no errors since"
        )
        line = (
            f"S3 writes: last at {when(last)} ({ago(now - last)} ago) to {where.url};"
            f" {written:.0f} events in 15 min; {tail}"
        )
        return Verdict(check, True, line, None, details)
    if recent:
        line = (
            f"S3 writes: {plural(gave_up, 'request')} to {where.url} given up and"
            f" {plural(dropped, 'event')} dropped in 15 min"
        )
        fix = f"kubectl logs -n {ns} {COLLECTOR_POD} -c vector | grep -i dropping"
        return Verdict(check, False, line, fix, details)
    stopped = (
        f"no write since {when(last)} ({ago(now - last)} ago)"
        if last
        else "no write in the last hour"
    )
    line, fix = _why_no_writes(snapshot, settings, where, kinds, len(since))
    return Verdict(check, False, f"S3 writes: {stopped} to {where.url}; {line}", fix, details)


def _why_no_writes(
    snapshot: Snapshot, settings: Settings, where: Destination, kinds: Counter[str], count: int
) -> tuple[str, str]:
    ns = settings.namespace
    status = snapshot.refresher
    if isinstance(status, dict) and not status.get("ready"):
        return "the collector holds no credentials", "see the credentials line"
    down = collector_problem(snapshot)
    if down is not None and down.container != "cred-refresher":
        return f"the collector is not running ({down.pod} {down.reason})", "see the workloads line"
    retried = f"{plural(count, 'retry')} logged since" if count else "nothing logged"
    kind = kinds.most_common(1)[0][0] if kinds else None
    if kind == "refused" or (kind is None and _mismatch(status)):
        cause, fix = refusal(snapshot, settings, where)
        return f"{cause}; {retried}", fix
    if kind == "no such bucket":
        return (
            f"bucket {where.bucket} does not exist ({retried})",
            f"{config_set('s3Bucket', '<the bucket Cedana gave you>')}, then pulumi up",
        )
    if kind in ("unreachable", "timed out"):
        through = (
            f"the proxy {settings.https_proxy} must allow CONNECT to {where.host}:443"
            if settings.https_proxy
            else f"allow the collector's egress to {where.host}:443 (firewall, security group),"
            f" or send it through a proxy: {config_set('httpsProxy', 'http://<proxy>:3128')}"
        )
        how = "cannot be reached" if kind == "unreachable" else "does not answer in time"
        return f"S3 at {where.host} {how} from the collector ({retried})", through
    if kind == "credentials":
        return "the collector cannot load AWS credentials", "see the credentials line"
    return (
        "no S3 error logged either: has the collector anything to write?",
        f"see the agents and remote write lines; kubectl logs -n {ns} {COLLECTOR_POD} -c vector",
    )


def _mismatch(status: dict[str, Any] | Unread | None) -> bool:
    issued = _issued(status)
    return issued.get("bucket_matches") is False or issued.get("prefix_covers_key_prefix") is False


def scalar_by(snapshot: Snapshot, query: str, label: str) -> dict[str, float]:
    found = series(snapshot, query)
    if isinstance(found, Unread):
        return {}
    return {s.labels.get(label, ""): s.value for s in found}


# --- The credentials --------------------------------------------------------------------------


def _stamp(status: dict[str, Any], key: str) -> float | None:
    value = status.get(key)
    return parse_stamp(str(value)) if value else None


def check_credentials(snapshot: Snapshot, settings: Settings) -> Verdict:
    mode = settings.credentials_mode
    if mode is CredentialsMode.CEDANA:
        return _cedana_credentials(snapshot, settings)
    if mode is CredentialsMode.STATIC:
        return Verdict(
            "credentials",
            True,
            "credentials: static keys (Secret vector-aws-credentials; no expiry, their"
            " permissions show in the S3 writes line)",
        )
    return _injected_credentials(snapshot, settings)


def _cedana_credentials(snapshot: Snapshot, settings: Settings) -> Verdict:
    check, ns = "credentials", settings.namespace
    status = snapshot.refresher
    if status is None or isinstance(status, Unread):
        why = status or Unread("status", "not read")
        line = f"credentials: cedana: the refresher's status did not answer ({why.why})"
        down = collector_problem(snapshot)
        if down is not None and down.reason not in ("NotReady",):
            return Verdict(check, False, line, "see the workloads line (vector-collector)")
        return Verdict(check, False, line, refresher_fix(why, ns))
    now = _stamp(status, "now") or snapshot.read_at.timestamp()
    expires = _stamp(status, "expiration")
    success = _stamp(status, "last_success")
    failures = int(status.get("consecutive_failures") or 0)
    error = str(status.get("last_error") or "")
    bucket, prefix = status.get("bucket"), str(status.get("prefix") or "")
    key_prefix = str(status.get("key_prefix") or "")
    parts = ["credentials: cedana"]
    if expires is not None:
        parts.append(
            f"expire {when(expires)} (in {ago(expires - now)})"
            if expires > now
            else f"expired {when(expires)} ({ago(now - expires)} ago)"
        )
    if success is not None:
        parts.append(f"last refresh {when(success)} ({ago(now - success)} ago)")
    if bucket is not None:
        covers = status.get("prefix_covers_key_prefix")
        fit = "covers" if covers else "does not cover" if covers is False else "vs"
        parts.append(f"bucket {bucket}, prefix {prefix.rstrip('/')}/ {fit} {key_prefix or '?'}")
    details = {
        k: status.get(k) for k in ("expiration", "last_success", "last_error", "bucket", "prefix")
    }
    if not status.get("ready") or failures:
        since = _stamp(status, "last_error_at")
        failing = (
            f"refresh failing ({failures} in a row, last {ago(now - since)} ago): {error}"
            if since
            else f"refresh failing: {error}"
        )
        held = "none held" if not status.get("ready") else None
        line = ", ".join([*parts, *([held] if held else []), failing])
        return Verdict(check, False, line, _refresh_fix(error, status, settings), details)
    if status.get("bucket_matches") is False:
        line = ", ".join(parts) + f"; the collector writes to {status.get('configured_bucket')}"
        return Verdict(check, False, line, leave_to_cedana("s3Bucket"), details)
    if status.get("prefix_covers_key_prefix") is False:
        return Verdict(check, False, ", ".join(parts), leave_to_cedana("vectorKeyPrefix"), details)
    return Verdict(check, True, ", ".join(parts), None, details)


def _refresh_fix(error: str, status: dict[str, Any], settings: Settings) -> str:
    url = str(status.get("cedana_url") or settings.cedana_url)
    host = re.sub(r"^[a-z]+://", "", url).split("/")[0]
    if error.startswith(("status 401", "status 403")):
        return (
            f"pulumi config set --secret {PROJECT}:authToken '<token-from-cedana>' (and"
            " clusterId), then pulumi up"
        )
    if error.startswith(("request failed", "no complete answer")):
        through = (
            f"the proxy {settings.https_proxy} must allow CONNECT to {host}"
            if settings.https_proxy
            else f"allow the collector's egress to {host} (port 443), or send it through a proxy:"
            f" {config_set('httpsProxy', 'http://<proxy>:3128')}"
        )
        return f"the collector's pod cannot reach Cedana at {url}: {through}"
    return f"kubectl logs -n {settings.namespace} {COLLECTOR_POD} -c cred-refresher --tail=50"


def _injected_credentials(snapshot: Snapshot, settings: Settings) -> Verdict:
    """irsa and pod-identity: EKS injects the role into the collector's pod; verify checks
    that it did."""
    mode = settings.credentials_mode
    wanted = (
        "AWS_ROLE_ARN" if mode is CredentialsMode.IRSA else "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    )
    if isinstance(snapshot.pods, Unread):
        return Verdict(
            "credentials", False, f"credentials: {mode}: not read ({snapshot.pods})", None
        )
    pod = next(
        (p for p in snapshot.pods if (p.get("metadata") or {}).get("name") == COLLECTOR_POD), None
    )
    if pod is None:
        return Verdict(
            "credentials",
            False,
            f"credentials: {mode}: no pod {COLLECTOR_POD}",
            "see the workloads line",
        )
    containers = (pod.get("spec") or {}).get("containers") or []
    vector = next(
        (c for c in containers if c.get("name") == "vector"), containers[0] if containers else {}
    )
    env = {e.get("name"): e.get("value") for e in vector.get("env") or []}
    if wanted in env:
        role = env.get("AWS_ROLE_ARN") or "the Pod Identity association"
        return Verdict(
            "credentials",
            True,
            f"credentials: {mode}: {role} reaches {COLLECTOR_POD} (EKS refreshes it)",
        )
    fix = (
        "the EKS pod identity webhook did not add the role: check the service account's"
        " eks.amazonaws.com/role-arn annotation and irsaOidcProviderArn, then"
        if mode is CredentialsMode.IRSA
        else "the EKS Pod Identity agent did not add the role: install the eks-pod-identity-agent"
        " add-on, then"
    )
    return Verdict(
        "credentials",
        False,
        f"credentials: {mode}: {COLLECTOR_POD} has no {wanted}",
        f"{fix} kubectl delete pod -n {settings.namespace} {COLLECTOR_POD}",
    )


COLLECTOR_FULL = (
    "the collector's buffer fills while writes to S3 fail or lag: fix the S3 writes line (it"
    " drains by itself); if it fills while writes succeed, raise vectorCollectorBufferBytes and"
    " vectorCollectorStorageSize"
)
AGENTS_FULL = (
    "the agents cannot hand their data to the collector: see the workloads and S3 writes lines"
    " (the collector takes it at :6000, NetworkPolicy agents-to-collector)"
)
NOT_TAKEN = (
    "the collector does not take Prometheus' samples: see the workloads line (vector-collector);"
    " Prometheus reaches it at :9201 (NetworkPolicy prometheus-to-collector)"
)


# --- Buffers ----------------------------------------------------------------------------------


def check_buffers(snapshot: Snapshot, settings: Settings) -> Verdict:
    check = "buffers"
    sizes, maxima = series(snapshot, "buffer_bytes"), series(snapshot, "buffer_max")
    if isinstance(sizes, Unread):
        return Verdict(
            check, False, f"buffers: not read ({sizes})", prometheus_fix(sizes, settings.namespace)
        )
    configured = {
        (VECTOR_COLLECTOR_RELEASE, S3_SINK): settings.vector_collector_buffer_bytes,
        (VECTOR_AGENT_RELEASE, AGENT_SINK): settings.vector_agent_buffer_bytes,
    }
    largest = {}
    if not isinstance(maxima, Unread):
        largest = {(s.labels.get("pod"), s.labels.get("buffer_id")): s.value for s in maxima}
    fills: dict[str, list[tuple[float, str, float, float]]] = {"collector": [], "agents": []}
    for s in sizes:
        release, buffer_id, pod = (
            s.labels.get("release", ""),
            s.labels.get("buffer_id", ""),
            s.labels.get("pod", "?"),
        )
        if (release, buffer_id) not in configured:
            continue  # the metrics exporter's small memory buffer
        limit = largest.get((pod, buffer_id)) or configured[(release, buffer_id)]
        role = "collector" if release == VECTOR_COLLECTOR_RELEASE else "agents"
        fills[role].append((s.value / limit, pod, s.value, limit))
    if not fills["collector"] and not fills["agents"]:
        return Verdict(
            check,
            False,
            "buffers: no buffer metrics (Prometheus scrapes no Vector pod)",
            "pulumi up (adds the scrape job and the NetworkPolicy prometheus-to-vector-metrics)",
        )
    parts = []
    if fills["collector"]:
        fill, _, used, limit = max(fills["collector"])
        parts.append(f"collector {fill:.1%} full ({size(used)} of {size(limit)})")
    else:
        parts.append("collector not reporting")
    if fills["agents"]:
        fill, pod, _, _ = max(fills["agents"])
        parts.append(f"agents at most {fill:.1%} ({len(fills['agents'])} reporting)")
    full_collector = [p for f, p, _, _ in fills["collector"] if f >= FULL]
    full_agents = sorted(p for f, p, _, _ in fills["agents"] if f >= FULL)
    details = {"full": full_collector + full_agents}
    line = "buffers: " + ", ".join(parts)
    if full_collector:
        return Verdict(
            check,
            False,
            line,
            COLLECTOR_FULL,
            details,
        )
    if full_agents:
        return Verdict(
            check,
            False,
            f"{line}; full on {listed(full_agents, 3)}",
            AGENTS_FULL,
            details,
        )
    if not fills["collector"]:
        return Verdict(check, False, line, "see the workloads line (vector-collector)", details)
    return Verdict(check, True, line, None, details)


# --- Prometheus' remote write -----------------------------------------------------------------


def check_remote_write(snapshot: Snapshot, settings: Settings) -> Verdict:
    check = "remote-write"
    highest, sent = scalar(snapshot, "rw_highest"), scalar(snapshot, "rw_sent")
    found = series(snapshot, "rw_highest")
    if isinstance(found, Unread):
        return Verdict(
            check,
            False,
            f"remote write: not read ({found})",
            prometheus_fix(found, settings.namespace),
        )
    if highest is None or sent is None:
        return Verdict(
            check,
            False,
            f"remote write: Prometheus reports no queue {REMOTE_NAME} (its own metrics are not"
            " scraped)",
            "pulumi up (adds Prometheus' own scrape job)",
        )
    pending = scalar(snapshot, "rw_pending") or 0.0
    failed = scalar(snapshot, "rw_failed") or 0.0
    retried = scalar(snapshot, "rw_retried") or 0.0
    details = {"pending": pending, "failed_15m": failed, "retried_15m": retried}
    if sent <= 0:
        behind = "nothing sent yet"
    else:
        lag = max(0.0, highest - sent)
        details["behind_seconds"] = lag
        behind = f"{ago(lag)} behind"
    line = (
        f"remote write: {behind}, {pending:.0f} samples pending, {failed:.0f} failed and"
        f" {retried:.0f} retried in 15 min"
    )
    ns = settings.namespace
    if failed > 0:
        return Verdict(
            check,
            False,
            line,
            "the collector refused samples for good: kubectl logs -n"
            f" {ns} deploy/prometheus-server -c prometheus-server | grep remote",
            details,
        )
    if sent <= 0 or details.get("behind_seconds", 0) > BEHIND_SECONDS:
        return Verdict(
            check,
            False,
            line,
            NOT_TAKEN,
            details,
        )
    return Verdict(check, True, line, None, details)


def check_dcgm_external(snapshot: Snapshot, settings: Settings) -> Verdict:
    """gpuMode external: Prometheus scrapes the cluster's own exporter."""
    up = series(snapshot, "dcgm_up")
    if isinstance(up, Unread):
        return Verdict(
            "dcgm", False, f"dcgm: not read ({up})", prometheus_fix(up, settings.namespace)
        )
    healthy = [s for s in up if s.value == 1]
    if up and len(healthy) == len(up):
        return Verdict(
            "dcgm",
            True,
            f"dcgm: {len(up)} of {len(up)} exporters of {settings.dcgm_endpoint} scraped",
        )
    return Verdict(
        "dcgm",
        False,
        f"dcgm: {len(healthy)} of {len(up)} exporters of {settings.dcgm_endpoint} scraped",
        f"check that the exporter answers at dcgmEndpoint ({config_set('dcgmEndpoint', '<url>')})",
    )
