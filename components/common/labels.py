"""Labels every object of this stack carries."""

from __future__ import annotations

from components.common.names import PROJECT


def labels(component: str, **extra: str) -> dict[str, str]:
    """The app.kubernetes.io labels for one component of the stack."""
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
        **extra,
    }


def selector(component: str) -> dict[str, str]:
    """The stable subset of `labels` used in selectors (selectors are immutable)."""
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PROJECT}
