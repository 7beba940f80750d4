"""Every object the program registers, for a matrix of stacks, under Pulumi's mocks.

    .venv/bin/python scripts/registrations.py dump FILE      # write the registrations as JSON
    .venv/bin/python scripts/registrations.py compare A B    # field-by-field differences

A refactoring must not change what a user's `pulumi up` would do: run `dump` before and after
and `compare` the two (type, name, parent, provider, deleteBeforeReplace, dependencies, every
input with its secret markers, the exports and which of them are secret). The matrix is every
stack file, plus the four credentials modes times the three GPU modes, with the defaults and
with many options set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulumi.runtime import rpc  # noqa: E402

from simulation.mocks import (  # noqa: E402
    TEST_SECRETS,
    ProgramRun,
    run_program,
    stack_files,
    stack_name,
    stack_values,
)

BASE = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1"}
OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
CLUSTER_ID = TEST_SECRETS["clusterId"]
MODES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "cedana": ({}, TEST_SECRETS),
    "static": (
        {"credentialsMode": "static"},
        {
            "clusterId": CLUSTER_ID,
            "awsAccessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "awsSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        },
    ),
    "irsa": ({"credentialsMode": "irsa", "irsaOidcProviderArn": OIDC}, {"clusterId": CLUSTER_ID}),
    "pod-identity": (
        {"credentialsMode": "pod-identity", "eksClusterName": "prod-eks"},
        {"clusterId": CLUSTER_ID},
    ),
}
RESOURCES = {
    "requests": {"cpu": "150m", "memory": "200Mi"},
    "limits": {"cpu": "2", "memory": "3Gi"},
}
MANY_OPTIONS: dict[str, Any] = {
    "namespace": "metrics",
    "clusterDomain": "corp.internal",
    "imageRegistry": "registry.example.com/mirror",
    "imagePullSecrets": ["regcred"],
    "imageDigests": {"timberio/vector": "sha256:" + "a" * 64, "python": "sha256:" + "b" * 64},
    "vectorAgentTolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}],
    "vectorAgentResources": RESOURCES,
    "vectorCollectorResources": RESOURCES,
    "prometheusServerResources": RESOURCES,
    "gpuNodeSelector": {"gpu-type": "a100"},
    "vectorCollectorPersistence": False,
    "vectorCollectorStorageClass": "gp3",
    "vectorCompression": "zstd",
    "vectorBatchTimeoutSecs": 45,
    "vectorKeyPrefix": "metrics/{{ tags.ts }}/",
    "vectorHostMetricsCollectors": ["cpu", "memory", "cgroups"],
    "vectorApi": False,
    "vectorPriorityClassName": "high",
    "dcgmPriorityClassName": "gpu-critical",
    "shipNodeExporter": True,
    "networkPolicies": False,
    "s3Endpoint": "https://minio.example.com",
    "prometheusRetention": "12h",
    "credRefreshInterval": "30m",
    "eventExporterMaxEventAgeSeconds": 600,
    "chartRepository": "oci://registry.example.com/helm-mirror",
}


def matrix() -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    stacks = {
        f"stack-{stack_name(path)}": ({**BASE, **stack_values(path)}, TEST_SECRETS)
        for path in stack_files()
    }
    for mode, (values, secrets) in MODES.items():
        for gpu in ("install", "external", "off"):
            stacks[f"{mode}-{gpu}"] = ({**BASE, **values, "gpuMode": gpu}, secrets)
            many = {**BASE, **values, **MANY_OPTIONS, "gpuMode": gpu}
            if mode != "cedana":
                many["createBucket"] = True
            stacks[f"{mode}-{gpu}-options"] = (many, secrets)
    return stacks


def _marked(value: Any) -> Any:
    """Inputs with secret markers kept visible, numbers as the wire carries them."""
    if rpc.is_rpc_secret(value):
        return {"<secret>": _marked(rpc.unwrap_rpc_secret(value))}
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def describe(run: ProgramRun) -> dict[str, Any]:
    return {
        "resources": {
            f"{r.type}::{r.name}": {
                "parent": r.parent,
                "provider": r.provider,
                "custom": r.custom,
                "deleteBeforeReplace": r.delete_before_replace,
                "dependencies": sorted(r.dependencies),
                "inputs": _marked(r.inputs),
            }
            for r in run.resources
        },
        "outputs": json.loads(json.dumps(run.outputs, default=str, sort_keys=True)),
        "secretOutputs": sorted(run.secret_outputs),
    }


def dump(path: Path) -> None:
    described = {
        name: describe(run_program(values, secrets)) for name, (values, secrets) in matrix().items()
    }
    path.write_text(json.dumps(described, indent=1, sort_keys=True))
    count = sum(len(d["resources"]) for d in described.values())
    print(f"{len(described)} stacks, {count} registrations -> {path}")


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            if key not in after:
                found.append(f"{where}/{key}: only before")
            elif key not in before:
                found.append(f"{where}/{key}: only after")
            else:
                found += differences(before[key], after[key], f"{where}/{key}")
        return found
    if before != after:
        return [f"{where}: {before!r} -> {after!r}"[:400]]
    return []


def compare(before_path: Path, after_path: Path) -> int:
    before = json.loads(before_path.read_text())
    after = json.loads(after_path.read_text())
    found = differences(before, after)
    count = sum(len(d["resources"]) for d in before.values())
    print(f"{len(before)} stacks, {count} registrations compared: {len(found)} differences")
    for line in found[:200]:
        print(" ", line)
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump").add_argument("file", type=Path)
    both = commands.add_parser("compare")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.file)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
