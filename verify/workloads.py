"""The checks of what runs: every workload ready, an agent on every node, DCGM on every GPU
node, the collector's volume bound. Pure functions of a Snapshot and the stack's settings."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from components.common.names import (
    DCGM_RELEASE,
    EVENT_EXPORTER_NAME,
    FIRST_ANSWER_CONTAINER,
    PROJECT,
    VECTOR_AGENT_RELEASE,
    VECTOR_COLLECTOR_RELEASE,
    Endpoints,
    helm_fullname,
)
from components.config import GpuMode, Settings
from components.preflight.checks import storage_problems
from components.preflight.facts import DEFAULT_CLASS_ANNOTATIONS, ClusterFacts
from verify.placement import (
    gpus,
    is_ready,
    is_virtual,
    name,
    pod_spec,
    selects,
    taint_text,
    untolerated,
)
from verify.verdict import Snapshot, Unread, Verdict, listed

COLLECTOR_POD = f"{VECTOR_COLLECTOR_RELEASE}-0"  # the StatefulSet's one replica
COLLECTOR_CLAIM = f"data-{COLLECTOR_POD}"  # the chart's volumeClaimTemplate `data`
DCGM_DAEMONSET = helm_fullname(DCGM_RELEASE, "dcgm-exporter")
GPU_LABEL = "nvidia.com/gpu.present"


def config_set(key: str, value: str, *, path: bool = False) -> str:
    """The `pulumi config set` of one setting, quoted for a shell."""
    flag = "--path " if path else ""
    return f"pulumi config set {flag}{shlex.quote(f'{PROJECT}:{key}')} {shlex.quote(value)}"


def leave_to_cedana(key: str) -> str:
    """The fix of a setting that disagrees with Cedana's answer: unset it, so the answer rules."""
    return (
        f"pulumi config rm {shlex.quote(f'{PROJECT}:{key}')} (the collector then writes where"
        " Cedana's answer says), then pulumi up"
    )


def expected_workloads(settings: Settings) -> list[tuple[str, str]]:
    """(kind, name) of every workload the stack runs, as the charts name them."""
    endpoints = Endpoints(settings.namespace, settings.cluster_domain)
    expected = [
        ("Deployment", endpoints.prometheus_server_service),
        ("Deployment", endpoints.kube_state_metrics_service),
        ("Deployment", EVENT_EXPORTER_NAME),
        ("DaemonSet", VECTOR_AGENT_RELEASE),
        ("StatefulSet", VECTOR_COLLECTOR_RELEASE),
    ]
    if settings.gpu_mode is GpuMode.INSTALL:
        expected.append(("DaemonSet", DCGM_DAEMONSET))
    if settings.ship_node_exporter and not settings.use_existing_node_exporter:
        expected.append(("DaemonSet", endpoints.node_exporter_service))
    return expected


# The setting that sizes each workload's pods, for "Insufficient cpu" and OOM kills.
RESOURCES_SETTING = {
    VECTOR_AGENT_RELEASE: "vectorAgentResources",
    VECTOR_COLLECTOR_RELEASE: "vectorCollectorResources",
    "prometheus-server": "prometheusServerResources",
    "prometheus-kube-state-metrics": "kubeStateMetricsResources",
    EVENT_EXPORTER_NAME: "eventExporterResources",
    DCGM_DAEMONSET: "dcgmResources",
    "prometheus-prometheus-node-exporter": "nodeExporterResources",
}
CONTAINER_RESOURCES = {"cred-refresher": "credRefresherResources"}


@dataclass(frozen=True)
class PodProblem:
    """Why one pod is not ready, as the API says it."""

    pod: str
    reason: str  # Unschedulable, CrashLoopBackOff, ImagePullBackOff, OOMKilled, NotReady, …
    message: str = ""
    container: str | None = None
    image: str | None = None

    def text(self) -> str:
        where = f" ({self.container})" if self.container else ""
        message = " ".join(self.message.split())
        message = message if len(message) <= 160 else message[:157] + "..."
        return f"{self.pod} {self.reason}{where}" + (f": {message}" if message else "")


def pod_problem(pod: dict[str, Any]) -> PodProblem | None:
    """None for a pod that runs and is ready."""
    pod_name = name(pod)
    status = pod.get("status") or {}
    phase = status.get("phase", "Unknown")
    if phase == "Succeeded":
        return None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            # The scheduler's why, without its note on preemption.
            message = str(condition.get("message", "")).split(" preemption:", 1)[0]
            return PodProblem(pod_name, "Unschedulable", message)
    containers = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for container in containers:
        if container.get("ready"):
            continue
        state, last = container.get("state") or {}, container.get("lastState") or {}
        terminated = last.get("terminated") or state.get("terminated") or {}
        if terminated.get("reason") == "OOMKilled":
            return PodProblem(pod_name, "OOMKilled", "", container.get("name"))
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] not in ("PodInitializing",):
            return PodProblem(
                pod_name,
                waiting["reason"],
                waiting.get("message", ""),
                container.get("name"),
                container.get("image"),
            )
        if "terminated" in state and (state["terminated"] or {}).get("exitCode") == 0:
            continue  # an init container that finished
        if "running" in state and container.get("name") == FIRST_ANSWER_CONTAINER:
            return PodProblem(
                pod_name, "WaitingForCedana", "Cedana has not answered yet", FIRST_ANSWER_CONTAINER
            )
        if "running" in state:
            return PodProblem(
                pod_name, "NotReady", "its readiness probe fails", container.get("name")
            )
    if phase != "Running":
        return PodProblem(pod_name, phase, status.get("message", "") or status.get("reason", ""))
    return None


def collector_problem(snapshot: Snapshot) -> PodProblem | None:
    """Why the collector's pod is not running and ready, if it is not (None if it is, or if
    the pods could not be read)."""
    if isinstance(snapshot.pods, Unread):
        return None
    pod = next((p for p in snapshot.pods if name(p) == COLLECTOR_POD), None)
    if pod is None:
        return PodProblem(COLLECTOR_POD, "Missing", "no such pod")
    return pod_problem(pod)


def _owned_by(pod: dict[str, Any], kind: str, workload: str) -> bool:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if kind == "Deployment" and ref.get("kind") == "ReplicaSet":
            if ref.get("name", "").rsplit("-", 1)[0] == workload:
                return True
        elif ref.get("kind") == kind and ref.get("name") == workload:
            return True
    return False


def pods_of(pods: list[dict[str, Any]], kind: str, workload: str) -> list[dict[str, Any]]:
    return [p for p in pods if _owned_by(p, kind, workload)]


def fix_for(problem: PodProblem, workload: str, settings: Settings) -> str:
    """The one thing to do about a pod that is not ready."""
    ns = settings.namespace
    resources = CONTAINER_RESOURCES.get(problem.container or "") or RESOURCES_SETTING.get(
        workload, "<workload>Resources"
    )
    message = problem.message
    if problem.reason == "Unschedulable":
        if "PersistentVolumeClaim" in message or "persistentvolumeclaim" in message:
            return "bind the collector's volume claim first: see the collector volume line"
        if "Insufficient" in message:
            return (
                f"the nodes lack room for its requests: add capacity, or lower them with"
                f" {config_set(f'{resources}.requests.memory', '<smaller>', path=True)} (or"
                " .requests.cpu), then pulumi up"
            )
        return f"kubectl describe pod -n {ns} {problem.pod}  (see the scheduler's message above)"
    if problem.reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        return (
            f"the node cannot pull {problem.image or 'the image'}: point imageRegistry at a"
            f" mirror it reaches ({config_set('imageRegistry', '<registry>')}) or add"
            " imagePullSecrets, then pulumi up"
        )
    if problem.reason == "OOMKilled":
        return (
            "raise its memory limit: "
            f"{config_set(f'{resources}.limits.memory', '<larger>', path=True)}"
            ", then pulumi up"
        )
    if problem.reason == "CreateContainerConfigError":
        return "pulumi up (it recreates the Secret or ConfigMap the container refers to)"
    if problem.container == "cred-refresher":
        return "see the credentials line"
    if problem.container == FIRST_ANSWER_CONTAINER:
        # Vector starts once Cedana has named where to write; its log says why it has not.
        return (
            f"kubectl logs -n {ns} {problem.pod} -c {FIRST_ANSWER_CONTAINER}  (the auth token,"
            " the way to Cedana's API, httpsProxy)"
        )
    container = f" -c {problem.container}" if problem.container else ""
    previous = " --previous" if problem.reason in ("CrashLoopBackOff", "Error") else ""
    return f"kubectl logs -n {ns} {problem.pod}{container}{previous}"


def _readiness(kind: str, workload: dict[str, Any]) -> tuple[int, int]:
    """(ready, wanted) pods."""
    status = workload.get("status") or {}
    if kind == "DaemonSet":
        return int(status.get("numberReady") or 0), int(status.get("desiredNumberScheduled") or 0)
    wanted = (workload.get("spec") or {}).get("replicas")
    return int(status.get("readyReplicas") or 0), int(1 if wanted is None else wanted)


def check_workloads(snapshot: Snapshot, settings: Settings) -> Verdict:
    lists = {
        "Deployment": snapshot.deployments,
        "DaemonSet": snapshot.daemonsets,
        "StatefulSet": snapshot.statefulsets,
    }
    for read in (*lists.values(), snapshot.pods):
        if isinstance(read, Unread):
            return Verdict("workloads", False, f"workloads: not read ({read})", _rbac_fix(read))
    assert not isinstance(snapshot.pods, Unread)
    found = {
        (kind, name(w)): w
        for kind, items in lists.items()
        if not isinstance(items, Unread)
        for w in items
    }
    expected = expected_workloads(settings)
    missing = [n for kind, n in expected if (kind, n) not in found]
    if len(missing) == len(expected):
        return Verdict(
            "workloads",
            False,
            f"workloads: none of the stack's workloads runs in namespace {settings.namespace}",
            "pulumi up (this stack has not been deployed to this cluster, or was destroyed)",
            {"missing": missing},
        )
    not_ready: list[str] = []
    fix: str | None = None
    for kind, workload_name in expected:
        workload = found.get((kind, workload_name))
        if workload is None:
            continue
        ready, wanted = _readiness(kind, workload)
        if ready >= wanted:
            continue
        problems = [p for p in map(pod_problem, pods_of(snapshot.pods, kind, workload_name)) if p]
        why = f": {problems[0].text()}" if problems else ""
        more = f" (and {len(problems) - 1} more pods)" if len(problems) > 1 else ""
        not_ready.append(f"{workload_name} {ready}/{wanted}{why}{more}")
        if fix is None:
            fix = (
                fix_for(problems[0], workload_name, settings)
                if problems
                else (f"kubectl describe {kind.lower()} -n {settings.namespace} {workload_name}")
            )
    ready_count = len(expected) - len(missing) - len(not_ready)
    details = {"missing": missing, "not_ready": not_ready}
    if missing or not_ready:
        parts = [f"missing {listed(missing)}"] if missing else []
        parts += not_ready
        line = f"workloads: {ready_count} of {len(expected)} ready; " + "; ".join(parts)
        if missing:
            fix = f"pulumi up (recreates {listed(missing)})"
        return Verdict("workloads", False, line, fix, details)
    return Verdict(
        "workloads", True, f"workloads: {len(expected)} of {len(expected)} ready", None, details
    )


def _rbac_fix(read: Unread) -> str:
    if read.status in (401, 403):
        return "use a kubeconfig context that may list pods, workloads and nodes (kubeContext)"
    return "check that the cluster answers: kubectl --context <kubeContext> get nodes"


@dataclass(frozen=True)
class Coverage:
    """Nodes that should run a DaemonSet's pod and those without a ready one, with why."""

    eligible: list[str]
    missing: dict[str, str]  # node -> reason
    taints: dict[str, list[dict[str, Any]]]  # node -> its untolerated taints
    problems: dict[str, PodProblem]  # node -> its pod's problem
    skipped: list[str]  # NotReady or virtual nodes, not counted


def coverage(
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    workload: dict[str, Any] | None,
    wanted: list[dict[str, Any]],
) -> Coverage:
    """Which of the `wanted` nodes lack a ready pod of the DaemonSet, and why."""
    spec = pod_spec(workload) if workload else {}
    tolerations = spec.get("tolerations") or []
    by_node: dict[str, dict[str, Any]] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            by_node[node] = pod
    eligible, skipped = [], []
    missing: dict[str, str] = {}
    taints: dict[str, list[dict[str, Any]]] = {}
    problems: dict[str, PodProblem] = {}
    for node in wanted:
        node_name = name(node)
        if is_virtual(node) or not is_ready(node):
            skipped.append(node_name)
            continue
        eligible.append(node_name)
        placed = by_node.get(node_name)
        if placed is not None:
            problem = pod_problem(placed)
            if problem is not None:
                problems[node_name] = problem
                missing[node_name] = problem.text()
            continue
        blocking = untolerated(node, tolerations)
        if blocking:
            taints[node_name] = blocking
            shown = ", ".join(taint_text(t) for t in blocking)
            missing[node_name] = f"taint {shown} not tolerated"
        elif workload is not None and not selects(spec, node):
            missing[node_name] = "its labels do not match the pod's node selection"
        else:
            missing[node_name] = "no pod placed yet"
    return Coverage(eligible, missing, taints, problems, skipped)


def toleration_fix(taints: list[dict[str, Any]], index: int) -> str:
    """The toleration that lets the agents onto nodes with these taints."""
    keys = {t.get("key") for t in taints}
    effects = sorted({str(t.get("effect")) for t in taints})
    toleration: dict[str, Any] = {"operator": "Exists"}
    if len(keys) == 1:
        toleration = {"key": keys.pop(), "operator": "Exists"}
    if len(effects) == 1:
        toleration["effect"] = effects[0]
    value = json.dumps(toleration, separators=(",", ":"))
    return f"{config_set(f'vectorAgentTolerations[{index}]', value, path=True)}, then pulumi up"


def _with_skipped(line: str, skipped: list[str]) -> str:
    return f"{line} ({listed(skipped)} not Ready or virtual: not counted)" if skipped else line


def check_agents(snapshot: Snapshot, settings: Settings) -> Verdict:
    reads = (snapshot.nodes, snapshot.pods, snapshot.daemonsets)
    for read in reads:
        if isinstance(read, Unread):
            return Verdict("agents", False, f"agents: not read ({read})", _rbac_fix(read))
    assert not isinstance(snapshot.nodes, Unread) and not isinstance(snapshot.pods, Unread)
    assert not isinstance(snapshot.daemonsets, Unread)
    daemonset = next((d for d in snapshot.daemonsets if name(d) == VECTOR_AGENT_RELEASE), None)
    if daemonset is None:
        return Verdict("agents", False, "agents: no DaemonSet vector", "pulumi up")
    agents = pods_of(snapshot.pods, "DaemonSet", VECTOR_AGENT_RELEASE)
    cover = coverage(snapshot.nodes, agents, daemonset, snapshot.nodes)
    count = len(cover.eligible)
    details = {"nodes": cover.eligible, "missing": cover.missing, "skipped": cover.skipped}
    if not cover.missing:
        line = f"agents: on {count} of {count} nodes"
        return Verdict("agents", True, _with_skipped(line, cover.skipped), None, details)
    without = [f"{node} ({why})" for node, why in sorted(cover.missing.items())]
    ready = count - len(cover.missing)
    line = f"agents: on {ready} of {count} nodes; none ready on {listed(without, 3)}"
    if cover.taints:
        every = [t for taints in cover.taints.values() for t in taints]
        fix = toleration_fix(every, len(settings.vector_agent_tolerations))
    elif cover.problems:
        problem = next(iter(cover.problems.values()))
        fix = fix_for(problem, VECTOR_AGENT_RELEASE, settings)
    else:
        fix = f"kubectl describe daemonset -n {settings.namespace} {VECTOR_AGENT_RELEASE}"
    return Verdict("agents", False, _with_skipped(line, cover.skipped), fix, details)


def check_dcgm(snapshot: Snapshot, settings: Settings) -> Verdict:
    """gpuMode install: a ready exporter on every GPU node (selected by the stack's GPU
    selection, or offering nvidia.com/gpu)."""
    for read in (snapshot.nodes, snapshot.pods, snapshot.daemonsets):
        if isinstance(read, Unread):
            return Verdict("dcgm", False, f"dcgm: not read ({read})", _rbac_fix(read))
    assert not isinstance(snapshot.nodes, Unread) and not isinstance(snapshot.pods, Unread)
    assert not isinstance(snapshot.daemonsets, Unread)
    daemonset = next((d for d in snapshot.daemonsets if name(d) == DCGM_DAEMONSET), None)
    if daemonset is None:
        return Verdict("dcgm", False, f"dcgm: no DaemonSet {DCGM_DAEMONSET}", "pulumi up")
    spec = pod_spec(daemonset)
    selected = [n for n in snapshot.nodes if selects(spec, n)]
    unselected = [name(n) for n in snapshot.nodes if gpus(n) and not selects(spec, n)]
    exporters = pods_of(snapshot.pods, "DaemonSet", DCGM_DAEMONSET)
    cover = coverage(snapshot.nodes, exporters, daemonset, selected)
    count = len(cover.eligible) + len(unselected)
    details = {"gpu_nodes": cover.eligible + unselected, "missing": cover.missing}
    if not count:
        return Verdict(
            "dcgm", True, "dcgm: no GPU nodes (none matches the GPU selection)", None, details
        )
    if unselected:
        node = unselected[0]
        line = (
            f"dcgm: on {len(cover.eligible) - len(cover.missing)} of {count} GPU nodes;"
            f" {listed(unselected, 3)} offer nvidia.com/gpu but match no GPU label"
        )
        fix = (
            f"kubectl label node {node} {GPU_LABEL}=true (or set the stack's own selection:"
            f" {config_set('gpuNodeSelector', json.dumps({'<label>': '<value>'}))})"
        )
        return Verdict("dcgm", False, line, fix, details)
    if cover.missing:
        without = [f"{node} ({why})" for node, why in sorted(cover.missing.items())]
        ready = count - len(cover.missing)
        line = f"dcgm: on {ready} of {count} GPU nodes; none ready on {listed(without, 3)}"
        if cover.taints:
            fix = (
                "dcgm-exporter tolerates only nvidia.com/gpu and sku=gpu taints: remove or"
                " rename the taint, or run your own exporter with"
                f" {config_set('gpuMode', 'external')}"
            )
        elif cover.problems:
            fix = fix_for(next(iter(cover.problems.values())), DCGM_DAEMONSET, settings)
        else:
            fix = f"kubectl describe daemonset -n {settings.namespace} {DCGM_DAEMONSET}"
        return Verdict("dcgm", False, line, fix, details)
    return Verdict(
        "dcgm",
        True,
        _with_skipped(f"dcgm: on {count} of {count} GPU nodes", cover.skipped),
        None,
        details,
    )


def check_collector_volume(snapshot: Snapshot, settings: Settings) -> Verdict:
    check = "collector-volume"
    if not settings.vector_collector_persistence:
        return Verdict(
            check,
            True,
            "collector volume: none asked (vectorCollectorPersistence false: an emptyDir)",
        )
    if isinstance(snapshot.claims, Unread):
        return Verdict(
            check,
            False,
            f"collector volume: not read ({snapshot.claims})",
            _rbac_fix(snapshot.claims),
        )
    claim = next((c for c in snapshot.claims if name(c) == COLLECTOR_CLAIM), None)
    if claim is None:
        return Verdict(
            check,
            False,
            f"collector volume: no claim {COLLECTOR_CLAIM} (the StatefulSet has not made one)",
            "pulumi up",
        )
    phase = (claim.get("status") or {}).get("phase", "Unknown")
    spec = claim.get("spec") or {}
    storage_class = spec.get("storageClassName") or "no class"
    if phase == "Bound":
        capacity = ((claim.get("status") or {}).get("capacity") or {}).get("storage", "?")
        return Verdict(
            check, True, f"collector volume: {COLLECTOR_CLAIM} Bound ({capacity}, {storage_class})"
        )
    line = f"collector volume: {COLLECTOR_CLAIM} {phase} ({storage_class})"
    if phase == "Lost":
        fix = (
            f"its volume is gone: kubectl delete pvc -n {settings.namespace} {COLLECTOR_CLAIM}"
            f" && kubectl delete pod -n {settings.namespace} {COLLECTOR_POD}"
            " (the buffer starts empty)"
        )
        return Verdict(check, False, line, fix)
    classes = snapshot.storage_classes
    if isinstance(classes, Unread):
        return Verdict(
            check,
            False,
            f"{line}; StorageClasses not read ({classes})",
            f"kubectl describe pvc -n {settings.namespace} {COLLECTOR_CLAIM}",
        )
    facts = ClusterFacts(
        storage_classes={
            name(c): any(
                (c.get("metadata") or {}).get("annotations", {}).get(a) == "true"
                for a in DEFAULT_CLASS_ANNOTATIONS
            )
            for c in classes
        },
        ip_families=(),
    )
    problems = storage_problems(settings, facts)
    if problems:
        problem = problems[0]
        fix = _storage_fix(settings, facts)
        return Verdict(check, False, f"{line}: vectorCollectorStorageClass {problem.problem}", fix)
    named = spec.get("storageClassName")
    mode = next((c.get("volumeBindingMode") for c in classes if name(c) == named), None)
    if mode == "WaitForFirstConsumer":
        return Verdict(
            check,
            False,
            f"{line}: waits for the collector's pod to be scheduled",
            "see the workloads line (the collector's pod)",
        )
    return Verdict(
        check,
        False,
        f"{line}: the provisioner has not made its volume",
        f"kubectl describe pvc -n {settings.namespace} {COLLECTOR_CLAIM}",
    )


def _storage_fix(settings: Settings, facts: ClusterFacts) -> str:
    """A claim without a class binds as soon as the cluster has a default one (Kubernetes
    assigns it retroactively); a named class cannot change on a made claim."""
    ns = settings.namespace
    if not facts.storage_classes:
        return (
            "install a storage provisioner (EBS CSI on EKS, for one), or keep the buffer in an"
            f" emptyDir: {config_set('vectorCollectorPersistence', 'false')}, then pulumi up"
        )
    example = sorted(facts.storage_classes)[0]
    if not settings.vector_collector_storage_class:
        return (
            f"kubectl annotate storageclass {example}"
            " storageclass.kubernetes.io/is-default-class=true"
            " (the claim then binds by itself)"
        )
    return (
        f"{config_set('vectorCollectorStorageClass', example)}; kubectl delete pvc -n {ns}"
        f" {COLLECTOR_CLAIM}; pulumi up"
    )
