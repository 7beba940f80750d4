"""Runs __main__.py under Pulumi's mock monitor the way `pulumi preview` runs it.

The Pulumi CLI merges the project's config defaults (Pulumi.yaml) into the stack's config
(Pulumi.<stack>.yaml), refuses a stack that lacks a key without default, and hands the result to
the program. `stack_config` does the same; `run_program` then executes __main__.py against a
mock monitor that records every registered resource and the stack's exports.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.common.names import PROJECT
from scripts.stack_files import (
    ROOT,
    MissingConfigError,
    project_config,
    stack_config,
    stack_files,
    stack_name,
    stack_values,
)

__all__ = [
    "MissingConfigError",
    "project_config",
    "stack_files",
    "stack_name",
    "stack_values",
]

# Secrets a stack sets with `pulumi config set --secret`; tests supply them.
TEST_SECRETS = {
    "clusterId": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
    "authToken": "test-cedana-token-3c1d9f0e8b7a",
}


def _config_string(value: Any) -> str:
    # The CLI hands every value to the program as a string; objects and arrays as JSON.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    provider: str | None
    parent: str | None = None
    delete_before_replace: bool = False
    dependencies: tuple[str, ...] = ()

    @property
    def plain(self) -> dict[str, Any]:
        """Inputs with secret markers removed."""
        return unwrap(self.inputs)


@dataclass
class ProgramRun:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_suffix: str = "") -> Registered:
        found = [r for r in self.of_type(type_) if r.name.endswith(name_suffix)]
        assert len(found) == 1, (
            f"expected one {type_} *{name_suffix}, got {[r.name for r in found]}"
        )
        return found[0]

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object the program defines itself (not the ones charts render)."""
        objects = []
        for r in self.resources:
            if not r.custom or not r.type.startswith("kubernetes:"):
                continue
            group_version, kind = _api_version_kind(r.type)
            obj = {"apiVersion": group_version, "kind": kind, **r.plain}
            objects.append(obj)
        return objects

    def charts(self) -> dict[str, Registered]:
        """helm.v4.Chart registrations by release name."""
        return {r.plain["name"]: r for r in self.of_type("kubernetes:helm.sh/v4:Chart")}


def _api_version_kind(type_token: str) -> tuple[str, str]:
    # kubernetes:apps/v1:Deployment -> apps/v1, Deployment; kubernetes:core/v1:Secret -> v1.
    _, module, kind = type_token.split(":")
    group, version = module.split("/")
    return (version if group == "core" else module), kind


def is_secret_marker(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    """Secret markers removed; whole numbers back to int (the wire carries every number as a
    double, as the engine does, and providers read them back as integers)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, bool]]:
    """Every leaf of an input tree: (path, value, under a secret marker)."""
    yield from _walk(value, path, False)


def _walk(value: Any, path: str, secret: bool) -> Iterator[tuple[str, Any, bool]]:
    if rpc.is_rpc_secret(value):
        yield from _walk(rpc.unwrap_rpc_secret(value), path, True)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}", secret)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]", secret)
    else:
        yield path, value, secret


PendingRegistration = tuple[str | None, bool, tuple[str, ...]]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records each registration's parent URN and options, which mocks do not see."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.recording.pending_registration[(request.type, request.name)] = (
            request.parent or None,
            request.deleteBeforeReplace,
            tuple(request.dependencies),
        )
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    """Records registrations; answers with the inputs plus the outputs the program reads."""

    def __init__(self, run: ProgramRun) -> None:
        self.run = run
        # (type, name) -> parent, deleteBeforeReplace, dependencies, until the mock creates it
        self.pending_registration: dict[tuple[str, str], PendingRegistration] = {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        parent, delete_before_replace, dependencies = self.pending_registration.pop(
            (args.typ, args.name), (None, False, ())
        )
        self.run.resources.append(
            Registered(
                type=args.typ,
                name=args.name,
                inputs=args.inputs,
                custom=args.custom,
                provider=args.provider,
                parent=parent,
                delete_before_replace=delete_before_replace,
                dependencies=dependencies,
            )
        )
        outputs = dict(args.inputs)
        outputs.update(_fake_outputs(args.typ, args.name, args.inputs))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17"})}, None
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:root"}, None
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, None
        return {}, None


def fake_password(name: str) -> str:
    """What the mocked pulumi-random returns for a RandomPassword of that name."""
    return f"random-{name}-" + "x" * 32


def _fake_outputs(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Computed outputs a real provider would return."""
    if type_ == "random:index/randomPassword:RandomPassword":
        return {"result": rpc.wrap_rpc_secret(fake_password(name))}
    if type_ == "random:index/randomString:RandomString":
        return {"result": "a1b2c3d4"[: int(inputs.get("length", 8))]}
    if type_ == "random:index/randomId:RandomId":
        return {"hex": "a1b2c3d4"}
    if type_ == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::123456789012:role/{name}", "name": name}
    if type_ == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket", name)
        return {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket, "id": bucket}
    return {}


def run_program(
    values: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    run: ProgramRun | None = None,
) -> ProgramRun:
    """Runs __main__.py under mocks with the merged config; raises what the program raises.

    Pass `run` to inspect what was registered when the program fails.
    """
    secrets = TEST_SECRETS if secrets is None else secrets
    config = stack_config(values, secrets)
    run = ProgramRun() if run is None else run

    runtime_settings.ROOT.set(None)
    mocks = RecordingMocks(run)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack="test", preview=True, monitor=RecordingMonitor(mocks)
    )
    set_all_config(
        {f"{PROJECT}:{k}": _config_string(v) for k, v in config.values.items()},
        [f"{PROJECT}:{k}" for k in config.secret_keys],
    )

    def program() -> None:
        sys.path.insert(0, str(ROOT))
        # No cluster under mocks, whatever kubeconfig the machine has: the program's look at
        # the cluster finds none and says so, as a preview without a cluster does.
        kubeconfig = os.environ.get("KUBECONFIG")
        os.environ["KUBECONFIG"] = os.devnull
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        finally:
            sys.path.remove(str(ROOT))
            if kubeconfig is None:
                del os.environ["KUBECONFIG"]
            else:
                os.environ["KUBECONFIG"] = kubeconfig

    _sync_await(run_pulumi_func(program))
    _collect_outputs(run)
    return run


def _collect_outputs(run: ProgramRun) -> None:
    stack = runtime_settings.get_root_resource()
    assert stack is not None
    for name, value in stack.outputs.items():
        output = pulumi.Output.from_input(value)
        run.outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(name)
