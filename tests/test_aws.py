"""AWS credential modes and the optional own bucket: exactly their resources, least privilege."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from parliament import analyze_policy_string

from components.aws.policies import (
    irsa_trust_policy,
    pod_identity_trust_policy,
    writer_policy,
)
from components.bucket.policies import tls_only_bucket_policy
from simulation.mocks import ProgramRun, walk
from tests.support.modes import (
    ACCESS_KEY,
    CLUSTER_ID,
    ISSUER,
    MODE_CONFIG,
    OIDC,
    SECRET_KEY,
    run_mode,
)

AWS_TYPES_BY_MODE = {
    "cedana": set(),
    "static": set(),
    "irsa": {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"},
    "pod-identity": {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    },
}
BUCKET_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "random:index/randomString:RandomString",
}


def types(run: ProgramRun, prefix: str) -> set[str]:
    return {r.type for r in run.resources if r.type.startswith(prefix)}


def agent_values(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["vector"].plain["values"]


def env_names(values: dict[str, Any]) -> list[str]:
    return [e["name"] for e in values["env"]]


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_each_mode_registers_exactly_its_aws_resources(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    run = run_mode(program, mode)
    assert types(run, "aws:") == AWS_TYPES_BY_MODE[mode]
    providers = [r.name for r in run.of_type("pulumi:providers:aws")]
    assert providers == (["aws"] if AWS_TYPES_BY_MODE[mode] else [])
    if providers:
        assert run.one("pulumi:providers:aws").plain["region"] == "us-east-1"


def collector_values(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["vector-collector"].plain["values"]


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_only_the_collector_holds_credentials_and_only_cedana_mode_runs_the_sidecar(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    run = run_mode(program, mode)
    collector = collector_values(run)
    sidecars = [c["name"] for c in collector["extraContainers"]]
    assert sidecars == (["cred-refresher"] if mode == "cedana" else [])
    names = env_names(collector)
    # Exactly one credential source, and nothing earlier in the SDK's chain.
    assert "AWS_SHARED_CREDENTIALS_FILE" not in names
    assert ("AWS_ACCESS_KEY_ID" in names) == (mode == "static")
    assert ("AWS_CONTAINER_CREDENTIALS_FULL_URI" in names) == (mode == "cedana")
    # The agents (one per node) forward to the collector and hold nothing.
    agent = agent_values(run)
    assert agent["extraContainers"] == []
    assert agent["env"] == []
    assert agent["extraVolumes"] == [] and agent["extraVolumeMounts"] == []
    assert agent["serviceAccount"]["annotations"] == {}


def test_static_mode_keeps_the_keys_in_the_original_secret(
    program: Callable[..., ProgramRun],
) -> None:
    run = run_mode(program, "static")
    secret = run.one("kubernetes:core/v1:Secret", "static-keys")
    assert secret.plain["metadata"]["name"] == "vector-aws-credentials"
    assert secret.plain["stringData"] == {
        "awsAccessKeyId": ACCESS_KEY,
        "awsSecretAccessKey": SECRET_KEY,
    }
    assert all(secret_leaf for _, _, secret_leaf in walk(secret.inputs["stringData"]))
    env = {e["name"]: e for e in collector_values(run)["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "vector-aws-credentials",
        "key": "awsAccessKeyId",
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "awsSecretAccessKey"
    assert not run.of_type("random:index/randomPassword:RandomPassword")


def role_policies(run: ProgramRun) -> tuple[dict[str, Any], dict[str, Any]]:
    role = run.one("aws:iam/role:Role").plain
    policy = run.one("aws:iam/rolePolicy:RolePolicy").plain
    return json.loads(role["assumeRolePolicy"]), json.loads(policy["policy"])


def assert_least_privilege(permissions: dict[str, Any], bucket: str) -> None:
    actions = {a for s in permissions["Statement"] for a in s["Action"]}
    resources = {r for s in permissions["Statement"] for r in s["Resource"]}
    assert actions == {"s3:PutObject", "s3:ListBucket"}
    assert resources == {f"arn:aws:s3:::{bucket}/vector/data/*", f"arn:aws:s3:::{bucket}"}
    for statement in permissions["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "*" not in statement["Action"] and "s3:*" not in statement["Action"]
        if statement["Action"] == ["s3:PutObject"]:
            assert statement["Resource"] == [f"arn:aws:s3:::{bucket}/vector/data/*"]


def test_irsa_trusts_exactly_the_collectors_service_account(
    program: Callable[..., ProgramRun],
) -> None:
    run = run_mode(program, "irsa", namespace="metrics")
    trust, permissions = role_policies(run)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:aud": "sts.amazonaws.com",
            f"{ISSUER}:sub": ["system:serviceaccount:metrics:vector-collector"],
        }
    }
    assert_least_privilege(permissions, "cedana-metrics-example")
    role_arn = run.outputs["roleArn"]
    account = collector_values(run)["serviceAccount"]
    assert account["name"] == "vector-collector"
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": role_arn}
    assert agent_values(run)["serviceAccount"]["annotations"] == {}


def test_pod_identity_associates_only_the_collectors_service_account(
    program: Callable[..., ProgramRun],
) -> None:
    run = run_mode(program, "pod-identity")
    trust, permissions = role_policies(run)
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    assert_least_privilege(permissions, "cedana-metrics-example")
    associations = [
        r.plain for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    ]
    assert [a["serviceAccount"] for a in associations] == ["vector-collector"]
    for association in associations:
        assert association["clusterName"] == "prod-eks"
        assert association["namespace"] == "cedana-monitoring"
        assert association["roleArn"] == run.outputs["roleArn"]


def test_a_created_bucket_is_private_encrypted_tls_only_and_expiring(
    program: Callable[..., ProgramRun],
) -> None:
    run = run_mode(program, "irsa", createBucket=True, bucketExpirationDays=14)
    assert types(run, "aws:s3") | types(run, "random:") == BUCKET_TYPES
    bucket = run.one("aws:s3/bucket:Bucket").plain["bucket"]
    assert bucket.startswith("cedana-metrics-example-") and len(bucket) <= 63
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").plain
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    encryption = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).plain
    rule = encryption["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "AES256"
    lifecycle = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").plain
    assert lifecycle["rules"][0]["expiration"] == {"days": 14}
    policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").plain["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Vector writes to the created bucket, and the role may write only there.
    assert run.outputs["bucket"] == bucket
    sink = collector_values(run)["customConfig"]["sinks"]["s3_sink"]
    assert sink["bucket"] == bucket
    _, permissions = role_policies(run)
    assert_least_privilege(permissions, bucket)


def test_the_bucket_suffix_is_random_and_kept_in_state(program: Callable[..., ProgramRun]) -> None:
    run = run_mode(program, "irsa", createBucket=True)
    suffix = run.one("random:index/randomString:RandomString").plain
    assert suffix["length"] == 8 and suffix["special"] is False and suffix["upper"] is False


POLICIES = {
    "writer": writer_policy("cedana-metrics", "us-east-1", "vector/data/{{ tags.ts }}/"),
    "writer-gov": writer_policy("cedana-metrics", "us-gov-west-1", "vector/data/"),
    "tls-only": tls_only_bucket_policy("cedana-metrics", "us-east-1"),
}
# Parliament models identity and resource policies, not role trust policies: a trust policy
# has no Resource by design, and parliament predates EKS' OIDC providers. Those two findings
# are the linter's blind spots; anything else it reports fails the test.
TRUST_POLICIES = {
    "irsa": irsa_trust_policy(OIDC, "cedana-monitoring", ["vector", "vector-collector"]),
    "pod-identity": pod_identity_trust_policy(),
}
TRUST_POLICY_BLIND_SPOTS = {
    ("MALFORMED", "Statement contains neither Resource nor NotResource"),
    ("UNKNOWN_FEDERATION_SOURCE", OIDC),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_the_policy_linter_finds_nothing(name: str) -> None:
    findings = analyze_policy_string(json.dumps(POLICIES[name])).findings
    assert [(f.issue, f.detail) for f in findings] == []


@pytest.mark.parametrize("name", sorted(TRUST_POLICIES))
def test_the_policy_linter_finds_nothing_in_trust_policies_beyond_its_blind_spots(
    name: str,
) -> None:
    findings = analyze_policy_string(json.dumps(TRUST_POLICIES[name])).findings
    assert {(f.issue, str(f.detail)) for f in findings} <= TRUST_POLICY_BLIND_SPOTS


def test_the_policy_linter_would_catch_a_wildcard() -> None:
    loose = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    assert analyze_policy_string(json.dumps(loose)).findings


def test_partitions_follow_the_region() -> None:
    statement = POLICIES["writer-gov"]["Statement"][1]
    assert statement["Resource"] == ["arn:aws-us-gov:s3:::cedana-metrics"]


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_no_key_or_token_leaves_a_secret_in_any_mode(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    run = run_mode(program, mode, createBucket=mode in ("irsa", "pod-identity"))
    secrets = {
        CLUSTER_ID,
        ACCESS_KEY,
        SECRET_KEY,
        "test-cedana-token-3c1d9f0e8b7a",
    }
    for resource in run.resources:
        for path, value, under_secret in walk(resource.inputs):
            if any(s in str(value) for s in secrets):
                assert under_secret and resource.type == "kubernetes:core/v1:Secret", (
                    f"{resource.name}{path}"
                )
    exported = json.dumps(run.outputs, default=str)
    assert not any(s in exported for s in secrets)


def test_the_trust_policies_are_exactly_what_iam_and_eks_expect() -> None:
    assert pod_identity_trust_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    irsa = irsa_trust_policy(OIDC, "metrics", ["vector-collector"])
    assert list(irsa) == ["Version", "Statement"] and irsa["Version"] == "2012-10-17"


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_every_aws_resource_hangs_under_its_component(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    # A lost parent would change every URN below it: a replacement of live IAM and S3 objects.
    run = run_mode(program, mode, createBucket="true" if mode != "cedana" else "false")
    components = {r.name: r.type for r in run.resources if r.type.startswith("cedana:monitoring:")}
    for resource in run.resources:
        if resource.type.startswith(("aws:", "random:")):
            parent = (resource.parent or "").rsplit("::", 1)[-1]
            assert components.get(parent) in (
                "cedana:monitoring:AwsAccess",
                "cedana:monitoring:MetricsBucket",
                "cedana:monitoring:VectorCredentials",  # the endpoint's token
            ), (resource.type, resource.name, resource.parent)
    if mode != "cedana":
        bucket = run.one("cedana:monitoring:MetricsBucket")
        assert bucket.parent and bucket.parent.endswith("MonitoringStack::cedana-monitoring")
