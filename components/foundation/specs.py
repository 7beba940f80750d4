"""The namespace's metadata (pure)."""

from __future__ import annotations

from components.common.labels import labels


def namespace_metadata(name: str) -> dict[str, object]:
    # Pod Security level `privileged`: node-exporter uses the host's network and PID namespaces,
    # the Vector agent mounts host paths (/proc, /sys, /var/lib) and dcgm-exporter needs
    # SYS_ADMIN and the kubelet's pod-resources socket. `restricted` or `baseline` would reject
    # those pods; everything else here still runs as non-root with a hardened security context.
    return {
        "name": name,
        "labels": labels(
            "namespace",
            **{
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "privileged",
                "pod-security.kubernetes.io/audit": "privileged",
            },
        ),
    }
