"""What the cluster's facts mean for the settings (pure: settings and facts in, verdicts out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.common.names import PROJECT
from components.config import Problem, Settings
from components.preflight.facts import ClusterFacts

IPV4_ANY, ANY = "0.0.0.0", "[::]"  # noqa: S104 - listeners inside the pod, behind NetworkPolicy


@dataclass(frozen=True)
class Preflight:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Where Vector's listeners bind: `[::]` fails where the kernel has no IPv6.
    listen: str = IPV4_ANY


def _set(key: str, value: str) -> str:
    return f"pulumi config set {PROJECT}:{key} {value}"


def storage_problems(settings: Settings, facts: ClusterFacts) -> list[Problem]:
    """The collector's claim needs the class it names, or a default one; else it stays Pending."""
    if not settings.vector_collector_persistence:
        return []
    named = settings.vector_collector_storage_class
    have = ", ".join(sorted(facts.storage_classes)) or "none"
    without = (
        f"{_set('vectorCollectorPersistence', 'false')} (the buffer then lives in an emptyDir)"
    )
    if named and named not in facts.storage_classes:
        problem = f"names StorageClass {named!r}, which the cluster does not have (it has: {have})"
    elif not named and facts.default_storage_class is None:
        problem = (
            "is empty and the cluster has no default StorageClass (it has: "
            f"{have}): the collector's volume claim would stay Pending"
        )
    else:
        return []
    example = next(iter(sorted(facts.storage_classes)), "<storage-class>")
    fix = f"{_set('vectorCollectorStorageClass', example)}, or {without}"
    return [Problem("vectorCollectorStorageClass", problem, fix)]


def listen_address(settings: Settings, facts: ClusterFacts | None) -> str:
    """`[::]` (IPv4 and IPv6) on clusters with IPv6, `0.0.0.0` elsewhere: nodes of IPv4
    clusters often run kernels without IPv6, where `[::]` cannot be bound."""
    if settings.listen_ip_family != "auto":
        return ANY if settings.listen_ip_family == "ipv6" else IPV4_ANY
    return ANY if facts is not None and "IPv6" in facts.ip_families else IPV4_ANY


def preflight(settings: Settings, facts: ClusterFacts | str | None) -> Preflight:
    """Verdicts on the settings from what the cluster says; None: render mode, not asked."""
    if not isinstance(facts, ClusterFacts):
        why = "render mode" if facts is None else f"the cluster did not answer ({facts})"
        assumed = listen_address(settings, None)
        return Preflight(
            warnings=[
                f"{why}: not checked whether the collector's StorageClass exists, nor whether"
                f" the cluster has IPv6 (Vector listens on {assumed}; set listenIpFamily)"
            ],
            listen=assumed,
        )
    return Preflight(storage_problems(settings, facts), [], listen_address(settings, facts))
