"""A ClusterRole and its binding to one service account: the RBAC every reader here needs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.labels import labels


def cluster_role_for(
    resource_name: str,
    parent: pulumi.Resource,
    role_name: str,
    component: str,
    rules: list[dict[str, Any]],
    service_account: pulumi.Input[str],
    namespace: pulumi.Input[str],
) -> k8s.rbac.v1.ClusterRole:
    """`<resource_name>` and `<resource_name>-binding`, both named `role_name` in the cluster.

    Fixed cluster-scoped names are replaced by deleting first.
    """
    fixed = pulumi.ResourceOptions(parent=parent, delete_before_replace=True)
    metadata = {"name": role_name, "labels": labels(component)}
    role = k8s.rbac.v1.ClusterRole(resource_name, metadata=metadata, rules=rules, opts=fixed)
    k8s.rbac.v1.ClusterRoleBinding(
        f"{resource_name}-binding",
        metadata=metadata,
        role_ref={
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role.metadata.name,
        },
        subjects=[{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
        opts=fixed,
    )
    return role
