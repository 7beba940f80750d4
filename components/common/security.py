"""Hardened security contexts, and the few documented exceptions workloads need."""

from __future__ import annotations

from typing import Any

NOBODY = 65534
RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}


def container_security_context(*, run_as_user: int | None = NOBODY) -> dict[str, Any]:
    """No privilege escalation, no capabilities, read-only root, seccomp RuntimeDefault.

    `run_as_user=None` keeps the image's user but still demands a non-root one.
    """
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
        context["runAsGroup"] = run_as_user
    return context


def pod_security_context(*, user: int = NOBODY) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "fsGroup": user,
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }
