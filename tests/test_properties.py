"""Property tests: any configuration either yields schema-valid objects or names a key.

Hypothesis draws stacks from valid and invalid values of the settings most likely to be
mistyped, in every combination of credentialsMode and gpuMode. The program must then either
register Kubernetes objects that pass the Kubernetes schemas, or stop with a configuration error
that names a key and the command that fixes it — never another exception.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pulumi
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from components.config import CredentialsMode, GpuMode, declarations
from simulation.mocks import TEST_SECRETS, ProgramRun, run_program

text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
label = st.from_regex(r"[a-z]([a-z0-9.-]{0,10}[a-z0-9])?(/[a-z][a-z0-9-]{0,8})?", fullmatch=True)
label_value = st.from_regex(r"([a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?)?", fullmatch=True)

VALID: dict[str, st.SearchStrategy[Any]] = {
    "credentialsMode": st.sampled_from([m.value for m in CredentialsMode]),
    "gpuMode": st.sampled_from([m.value for m in GpuMode]),
    "namespace": st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True).filter(
        lambda n: n not in ("default", "kube-system", "kube-public", "kube-node-lease")
    ),
    "gpuNodeSelector": st.dictionaries(label, label_value, max_size=3),
    "dcgmEndpoint": st.sampled_from(
        [
            "http://nvidia-dcgm-exporter.gpu-operator.svc.cluster.local:9400/metrics",
            "http://dcgm.monitoring.svc:9400/metrics",
            "https://10.0.0.5:9400/metrics",
        ]
    ),
    "vectorBatchTimeoutSecs": st.integers(1, 3600),
    "shipNodeExporter": st.booleans(),
    "networkPolicies": st.booleans(),
    "createBucket": st.booleans(),
    "vectorAgentTolerations": st.lists(
        st.fixed_dictionaries(
            {"operator": st.sampled_from(["Exists", "Equal"])},
            optional={"key": label, "effect": st.sampled_from(["NoSchedule", "NoExecute"])},
        ),
        max_size=3,
    ),
    "imageRegistry": st.sampled_from(["", "registry.example.com", "r.example.com:5000/mirror"]),
}
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "credentialsMode": text.filter(lambda v: v not in {m.value for m in CredentialsMode}),
    "gpuMode": text.filter(lambda v: v not in {m.value for m in GpuMode}),
    "namespace": text,
    "gpuNodeSelector": st.one_of(st.lists(text, max_size=2), text, st.integers()),
    "dcgmEndpoint": text,
    "vectorBatchTimeoutSecs": st.one_of(st.integers(max_value=0), text),
    "shipNodeExporter": text,
    "createBucket": text,
    "vectorAgentTolerations": st.one_of(text, st.lists(st.dictionaries(text, text, max_size=2))),
    "imageRegistry": text,
    "irsaOidcProviderArn": text,
    "eksClusterName": text,
}
STATIC_KEYS = {"awsAccessKeyId": "AKIAIOSFODNN7EXAMPLE", "awsSecretAccessKey": "example-secret"}
IRSA_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"


@st.composite
def stacks(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1"}
    # Half the stacks are meant to be valid, so both outcomes are exercised.
    kinds = ["default", "valid", "invalid"] if draw(st.booleans()) else ["default", "valid"]
    for key in sorted(set(VALID) | set(INVALID)):
        kind = draw(st.sampled_from(kinds))
        if kind == "valid" and key in VALID:
            values[key] = draw(VALID[key])
        elif kind == "invalid" and key in INVALID:
            values[key] = draw(INVALID[key])
    secrets = dict(TEST_SECRETS)
    if draw(st.booleans()):  # the mode's own requirements, present or missing
        secrets |= STATIC_KEYS
        values |= {"irsaOidcProviderArn": IRSA_ARN, "eksClusterName": "prod"}
    return values, secrets


def assert_names_a_key(message: str) -> None:
    named = re.findall(r"cedana-monitoring:([A-Za-z]+):", message)
    assert named, message
    assert set(named) <= set(declarations()), message
    assert message.count("fix: pulumi config set") == len(named), message


def assert_schema_valid(run: ProgramRun) -> None:
    objects = run.kubernetes_objects()
    assert objects
    for obj in objects:
        for version in ("1.30.0", "1.35.0"):
            kubernetes_validate.validate(obj, version, strict=True)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(stacks())
def test_any_configuration_builds_valid_objects_or_names_a_key(
    stack: tuple[dict[str, Any], dict[str, str]],
) -> None:
    values, secrets = stack
    run = ProgramRun()
    try:
        run_program(values, secrets, run=run)
    except pulumi.RunError as error:
        assert_names_a_key(str(error))
        assert run.resources == []
        event("stopped with a configuration error")
        return
    assert_schema_valid(run)
    event("built schema-valid objects")


MODE_CASES = [
    ({"credentialsMode": "static"}, {}, {"awsAccessKeyId", "awsSecretAccessKey"}),
    ({"credentialsMode": "irsa"}, {}, {"irsaOidcProviderArn"}),
    ({"credentialsMode": "pod-identity"}, {}, {"eksClusterName"}),
    ({"gpuMode": "external", "dcgmEndpoint": "nvidia-dcgm:9400"}, {}, {"dcgmEndpoint"}),
    ({"gpuNodeSelector": '["nvidia"]'}, {}, {"gpuNodeSelector"}),
    ({"gpuNodeSelector": "gpu=true"}, {}, {"gpuNodeSelector"}),
]


def test_each_mode_without_its_requirements_names_them() -> None:
    for overrides, extra_secrets, keys in MODE_CASES:
        values = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1", **overrides}
        run = ProgramRun()
        try:
            run_program(values, {**TEST_SECRETS, **extra_secrets}, run=run)
        except pulumi.RunError as error:
            named = set(re.findall(r"cedana-monitoring:([A-Za-z]+):", str(error)))
            assert named == keys, (overrides, named)
            assert run.resources == []
        else:
            raise AssertionError(f"{overrides} was accepted")
