"""Image references: a private registry mirror, optional digest pins and pull secrets.

With `imageRegistry: registry.example.com/mirror`, an image keeps its path but not its source
registry: `ghcr.io/resmoio/kubernetes-event-exporter` becomes
`registry.example.com/mirror/resmoio/kubernetes-event-exporter`, and a Docker Hub official image
such as `python` becomes `registry.example.com/mirror/library/python`. Digests in `imageDigests`
are keyed by the upstream repository (`quay.io/prometheus/prometheus`, `python`, …).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImagePolicy:
    registry: str = ""
    digests: dict[str, str] = field(default_factory=dict)
    pull_secrets: tuple[str, ...] = ()

    def pull_secret_refs(self) -> list[dict[str, str]]:
        return [{"name": name} for name in self.pull_secrets]

    def digest(self, repository: str) -> str:
        """The pinned digest of an upstream repository, or "" when none is pinned."""
        return self.digests.get(repository) or self.digests.get(canonical(repository), "")


def split_registry(repository: str) -> tuple[str, str]:
    """("ghcr.io", "resmoio/x") for "ghcr.io/resmoio/x"; Docker Hub names get "library/"."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, repository if rest else f"library/{repository}"


def canonical(repository: str) -> str:
    registry, path = split_registry(repository)
    return f"{registry}/{path}"


def mirrored(repository: str, registry: str) -> str:
    """The repository as pulled: unchanged without a mirror, else under the mirror."""
    if not registry:
        return repository
    return f"{registry}/{split_registry(repository)[1]}"


def reference(image: str, policy: ImagePolicy) -> str:
    """A full reference for an image given as repository:tag (tag kept, digest appended)."""
    repository, _, tag = image.rpartition(":")
    digest = policy.digest(repository)
    pinned = f"{mirrored(repository, policy.registry)}:{tag}"
    return f"{pinned}@{digest}" if digest else pinned
