"""Settings: defaults match Pulumi.yaml, good values load, every bad value names its key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError, create_model, model_validator

from components.common.formats import go_duration_seconds
from components.common.formats import s3_bucket as s3_bucket_problem
from components.config import ConfigError, Settings, declarations, load_settings
from cred_refresher import cred_refresher as refresher
from scripts.pulumi_config import PULUMI_YAML, SETTINGS_MD
from scripts.pulumi_config import main as pulumi_config_main
from scripts.pulumi_yaml import config_block
from scripts.stack_files import MappingSource
from simulation.mocks import ROOT, TEST_SECRETS, project_config

SECRET_KEYS = frozenset(k for k, d in declarations().items() if d.secret)

GOOD = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1", **TEST_SECRETS}
IRSA = {
    "credentialsMode": "irsa",
    "irsaOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/A",
}


def load(**overrides: Any) -> Any:
    values = {**GOOD, **overrides}
    values = {k: v for k, v in values.items() if v is not None}
    secret = frozenset(k for k in values if k in SECRET_KEYS)
    return load_settings(MappingSource(values, secret))


def problems(**overrides: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(**overrides)
    return caught.value


# --- Pulumi.yaml is the documentation: it must agree with the code --------------------------


def test_pulumi_yaml_is_generated_from_the_settings_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.argv", ["pulumi_config.py", "--check"])
    assert pulumi_config_main() == 0, "run scripts/pulumi_config.py"
    # What the CLI reads is exactly the model's declaration of every setting.
    assert project_config() == config_block()
    assert list(project_config()) == list(declarations())


def test_a_stale_pulumi_yaml_is_detected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "Pulumi.yaml"
    stale.write_text(PULUMI_YAML.read_text().replace("default: 6h", "default: 7h"))
    monkeypatch.setattr("scripts.pulumi_config.PULUMI_YAML", stale)
    monkeypatch.setattr("sys.argv", ["pulumi_config.py", "--check"])
    assert pulumi_config_main() == 1


def test_required_settings_have_no_default_so_the_cli_demands_them() -> None:
    declared = project_config()
    required = [k for k, d in declarations().items() if d.required]
    assert required == ["clusterId"]
    for key in required:
        assert "default" not in declared[key], key


def test_pulumi_yaml_config_follows_the_cli_schema_rules() -> None:
    # The Pulumi CLI (3.187+) accepts these types; arrays need `items`; defaults must match;
    # `secret: true` with a default is refused at run time, so secrets never carry one.
    type_checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    for key, declaration in project_config().items():
        assert set(declaration) <= {"type", "items", "description", "secret", "default"}, key
        assert declaration["type"] in type_checks, key
        assert declaration.get("description"), f"{key} has no description"
        if declaration["type"] == "array":
            assert declaration["items"]["type"] in type_checks, key
        if "default" in declaration:
            assert type_checks[declaration["type"]](declaration["default"]), key
            assert not declaration.get("secret"), f"{key}: a secret cannot have a default"


def test_secret_settings_are_documented_as_secret() -> None:
    for key in SECRET_KEYS:
        declaration = project_config()[key]
        assert declaration.get("secret") or "SECRET" in declaration["description"], key


# --- Good values ----------------------------------------------------------------------------


def test_a_minimal_stack_loads_with_the_documented_defaults() -> None:
    settings = load()
    assert settings.namespace == "cedana-monitoring"
    assert settings.credentials_mode == "cedana"
    assert settings.gpu_mode == "install"
    assert settings.cedana_url == "https://api.cedana.ai"
    assert settings.kube_context is None
    assert settings.vector_key_prefix is None
    assert settings.prometheus_server_resources.to_kubernetes()["limits"] == {
        "cpu": "1",
        "memory": "2Gi",
    }


def test_secrets_never_show_in_the_settings_repr() -> None:
    text = repr(load())
    for secret in TEST_SECRETS.values():
        assert secret not in text


def test_overrides_are_typed() -> None:
    settings = load(
        namespace="metrics",
        vectorBatchTimeoutSecs="45",
        shipNodeExporter="true",
        gpuNodeSelector='{"gpu": "yes"}',
        vectorAgentTolerations="[]",
    )
    assert settings.namespace == "metrics"
    assert settings.vector_batch_timeout_secs == 45
    assert settings.ship_node_exporter is True
    assert settings.gpu_node_selector == {"gpu": "yes"}
    assert settings.vector_agent_tolerations == ()


@pytest.mark.parametrize(
    "bucket",
    ["abc", "cedana-metrics", "my.bucket.name", "a" * 63, "bucket-123"],
)
def test_valid_bucket_names_pass(bucket: str) -> None:
    assert s3_bucket_problem(bucket) is None


# --- Bad values: each names its key and the command that fixes it ---------------------------

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("clusterId", {"clusterId": None}, "pulumi config set --secret cedana-monitoring:clusterId"),
    ("authToken", {"authToken": None}, "pulumi config set --secret cedana-monitoring:authToken"),
    # Only Cedana's answer can name the bucket and its region: every other mode needs both.
    ("s3Bucket", {"s3Bucket": None, **IRSA}, "pulumi config set cedana-monitoring:s3Bucket"),
    ("awsRegion", {"awsRegion": None, **IRSA}, "pulumi config set cedana-monitoring:awsRegion"),
    ("clusterId", {"clusterId": "cluster-1"}, "--secret cedana-monitoring:clusterId"),
    ("s3Bucket", {"s3Bucket": "Cedana_Metrics"}, "cedana-monitoring:s3Bucket"),
    ("s3Bucket", {"s3Bucket": "ab"}, "cedana-monitoring:s3Bucket"),
    ("s3Bucket", {"s3Bucket": "192.168.1.1"}, "cedana-monitoring:s3Bucket"),
    ("s3Bucket", {"s3Bucket": "my..bucket"}, "cedana-monitoring:s3Bucket"),
    ("s3Bucket", {"s3Bucket": "xn--bucket"}, "cedana-monitoring:s3Bucket"),
    ("s3Bucket", {"s3Bucket": "-bucket"}, "cedana-monitoring:s3Bucket"),
    ("awsRegion", {"awsRegion": "US-EAST-1"}, "cedana-monitoring:awsRegion us-east-1"),
    ("awsRegion", {"awsRegion": "useast1"}, "cedana-monitoring:awsRegion"),
    ("cedanaUrl", {"cedanaUrl": "http://api.cedana.ai"}, "cedana-monitoring:cedanaUrl https://"),
    ("cedanaUrl", {"cedanaUrl": "api.cedana.ai"}, "cedana-monitoring:cedanaUrl"),
    ("cedanaUrl", {"cedanaUrl": "https://acme.cedana.ai/v2"}, "cedana-monitoring:cedanaUrl"),
    (
        "cedanaUrl",
        {"cedanaUrl": "http://stand-in:8080", "insecureCedanaUrl": "false"},
        "cedana-monitoring:cedanaUrl",
    ),
    ("namespace", {"namespace": "Cedana_Monitoring"}, "cedana-monitoring:namespace"),
    ("namespace", {"namespace": "a" * 64}, "cedana-monitoring:namespace"),
    ("namespace", {"namespace": "kube-system"}, "cedana-monitoring:namespace"),
    ("credentialsMode", {"credentialsMode": "legacy"}, "cedana-monitoring:credentialsMode"),
    ("gpuMode", {"gpuMode": "on"}, "cedana-monitoring:gpuMode"),
    ("prometheusChartVersion", {"prometheusChartVersion": "^29.0"}, "prometheusChartVersion"),
    ("vectorChartVersion", {"vectorChartVersion": "latest"}, "vectorChartVersion"),
    ("prometheusRetention", {"prometheusRetention": "six hours"}, "prometheusRetention"),
    ("vectorBatchTimeoutSecs", {"vectorBatchTimeoutSecs": "soon"}, "vectorBatchTimeoutSecs"),
    ("vectorBatchTimeoutSecs", {"vectorBatchTimeoutSecs": "0"}, "vectorBatchTimeoutSecs"),
    ("vectorCompression", {"vectorCompression": "lz4"}, "vectorCompression"),
    ("vectorAgentBufferBytes", {"vectorAgentBufferBytes": "1000"}, "vectorAgentBufferBytes"),
    ("shipNodeExporter", {"shipNodeExporter": "yes"}, "shipNodeExporter"),
    ("vectorKeyPrefix", {"vectorKeyPrefix": 'vector/{{ "{{" }} tags.ts {{ "}}" }}/'}, "KeyPrefix"),
    ("vectorKeyPrefix", {"vectorKeyPrefix": "/vector/data/"}, "vectorKeyPrefix"),
    (
        "vectorAgentResources",
        {"vectorAgentResources": {"requests": {"cpu": "1"}}},
        "--path 'cedana-monitoring:vectorAgentResources'",
    ),
    (
        "vectorAgentResources",
        {
            "vectorAgentResources": {
                "requests": {"cpu": "2", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }
        },
        "vectorAgentResources",
    ),
    (
        "dcgmResources",
        {
            "dcgmResources": {
                "requests": {"cpu": "100m", "memory": "1 GB"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            }
        },
        "dcgmResources",
    ),
    ("vectorAgentTolerations", {"vectorAgentTolerations": '{"key": "x"}'}, "Tolerations"),
    (
        "vectorAgentTolerations",
        {"vectorAgentTolerations": [{"operator": "Maybe"}]},
        "vectorAgentTolerations",
    ),
    (
        "gpuNodeSelector",
        {"gpuNodeSelector": '["gpu"]'},
        "--path 'cedana-monitoring:gpuNodeSelector'",
    ),
    ("gpuNodeSelector", {"gpuNodeSelector": "gpu=true"}, "gpuNodeSelector"),
    ("gpuNodeSelector", {"gpuNodeSelector": {"bad label!": "x"}}, "gpuNodeSelector"),
    ("dcgmEndpoint", {"dcgmEndpoint": "nvidia-dcgm-exporter:9400"}, "dcgmEndpoint"),
    ("credRefreshInterval", {"credRefreshInterval": "45 minutes"}, "credRefreshInterval"),
    ("credRefreshInterval", {"credRefreshInterval": "1s"}, "credRefreshInterval"),
    ("eventExporterImage", {"eventExporterImage": "ghcr.io/x/y:latest"}, "eventExporterImage"),
    ("eventExporterImage", {"eventExporterImage": "ghcr.io/x/y"}, "eventExporterImage"),
    ("credRefresherImage", {"credRefresherImage": "python@sha256:abc"}, "credRefresherImage"),
    ("imageRegistry", {"imageRegistry": "https://registry.example.com"}, "imageRegistry"),
    ("imagePullSecrets", {"imagePullSecrets": "regcred"}, "imagePullSecrets"),
    ("imageDigests", {"imageDigests": {"timberio/vector": "abc"}}, "imageDigests"),
    ("clusterDomain", {"clusterDomain": "Cluster_Local"}, "clusterDomain"),
    (
        "eventExporterMaxEventAgeSeconds",
        {"eventExporterMaxEventAgeSeconds": "5"},
        "eventExporterMaxEventAgeSeconds",
    ),
    ("s3Endpoint", {"s3Endpoint": "minio:9000"}, "s3Endpoint"),
    (
        "awsAccessKeyId",
        {"credentialsMode": "static", "authToken": None},
        "--secret cedana-monitoring:awsAccessKeyId",
    ),
    (
        "awsSecretAccessKey",
        {"credentialsMode": "static", "authToken": None, "awsAccessKeyId": "AKIAEXAMPLE"},
        "--secret cedana-monitoring:awsSecretAccessKey",
    ),
    ("irsaOidcProviderArn", {"credentialsMode": "irsa"}, "irsaOidcProviderArn"),
    (
        "irsaOidcProviderArn",
        {"credentialsMode": "irsa", "irsaOidcProviderArn": "arn:aws:iam::1:role/x"},
        "irsaOidcProviderArn",
    ),
    ("eksClusterName", {"credentialsMode": "pod-identity"}, "eksClusterName"),
    ("eksClusterName", {"eksClusterName": "bad name!"}, "eksClusterName"),
    ("createBucket", {"createBucket": "true"}, "credentialsMode irsa"),
    ("bucketExpirationDays", {"bucketExpirationDays": "0"}, "bucketExpirationDays"),
]


@pytest.mark.parametrize(
    ("key", "overrides", "fix"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)]
)
def test_a_bad_setting_is_rejected_naming_its_key_and_fix(
    key: str, overrides: dict[str, Any], fix: str
) -> None:
    error = problems(**overrides)
    assert key in error.keys
    message = str(error)
    assert f"cedana-monitoring:{key}:" in message
    assert "fix: pulumi config set" in message
    assert fix in message


def test_a_secret_stored_in_plain_text_is_refused() -> None:
    values = {**GOOD}
    with pytest.raises(ConfigError) as caught:
        load_settings(MappingSource(values, frozenset({"clusterId"})))
    assert caught.value.keys == ["authToken"]
    assert "plain text" in str(caught.value)
    assert "pulumi config set --secret cedana-monitoring:authToken" in str(caught.value)


def test_a_rejected_secret_is_never_echoed() -> None:
    error = problems(clusterId="not-a-uuid-but-secret-looking-9f8e7d")
    assert "not-a-uuid-but-secret-looking-9f8e7d" not in str(error)


def test_every_problem_is_reported_at_once() -> None:
    error = problems(clusterId=None, awsRegion="nowhere", gpuMode="maybe")
    assert {"clusterId", "awsRegion", "gpuMode"} <= set(error.keys)


def test_an_http_stand_in_needs_the_explicit_insecure_switch() -> None:
    settings = load(cedanaUrl="http://stand-in:8080/", insecureCedanaUrl="true")
    assert settings.cedana_url == "http://stand-in:8080"


def test_auth_token_is_optional_outside_cedana_mode() -> None:
    settings = load(
        credentialsMode="irsa",
        authToken=None,
        irsaOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    )
    assert settings.auth_token is None


def test_a_created_bucket_leaves_room_for_its_random_suffix() -> None:
    error = problems(
        s3Bucket="b" * 60,
        createBucket="true",
        credentialsMode="irsa",
        irsaOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/oidc.example/id/A",
    )
    assert error.keys == ["s3Bucket"]


def test_the_readme_links_the_settings_reference() -> None:
    assert "(docs/settings.md)" in (ROOT / "README.md").read_text()


def test_a_mistyped_key_is_an_error_naming_the_closest_setting() -> None:
    error = problems(gpumode="off", vectorCompresion="gzip")
    assert error.keys == ["gpumode", "vectorCompresion"]
    message = str(error)
    assert (
        "cedana-monitoring:gpumode: is not a setting of cedana-monitoring; did you mean gpuMode?"
    ) in message
    assert (
        "fix: pulumi config set cedana-monitoring:gpuMode install"
        " && pulumi config rm cedana-monitoring:gpumode"
    ) in message
    assert "did you mean vectorCompression?" in message


def test_a_key_like_no_setting_is_still_named() -> None:
    error = problems(somethingElse="1")
    assert error.keys == ["somethingElse"]
    assert "is not a setting of cedana-monitoring (see Pulumi.yaml)" in str(error)
    assert "pulumi config rm cedana-monitoring:somethingElse" in str(error)


# --- One model, parsed by pydantic, below every part -----------------------------------------


def test_a_stale_settings_reference_is_detected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text(SETTINGS_MD.read_text().replace("`6h`", "`7h`"))
    monkeypatch.setattr("scripts.pulumi_config.SETTINGS_MD", stale)
    monkeypatch.setattr("sys.argv", ["pulumi_config.py", "--check"])
    assert pulumi_config_main() == 1


def test_the_settings_reference_lists_every_setting_with_its_default_and_fix() -> None:
    reference = SETTINGS_MD.read_text()
    for key, declaration in declarations().items():
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{key}` |"))
        assert declaration.fix().replace("|", "\\|") in row, key
        assert ("| yes |" in row) == declaration.secret, key
    assert "| `vectorBatchTimeoutSecs` | integer | `30` |" in reference
    assert "| `clusterId` | string | required | yes |" in reference
    assert "| `s3Bucket` | string | unset |" in reference


def test_the_settings_model_has_a_json_schema() -> None:
    schema = Settings.model_json_schema()
    assert schema["properties"]["vectorBatchTimeoutSecs"]["maximum"] == 3600
    assert schema["properties"]["clusterId"]["writeOnly"] is True


def test_the_settings_import_neither_pulumi_nor_a_part() -> None:
    # Pulumi hidden: importing it fails, so the settings must not need it.
    probe = (
        "import sys\n"
        "for name in ('pulumi', 'pulumi_kubernetes', 'pulumi_aws', 'pulumi_random'):\n"
        "    sys.modules[name] = None\n"
        "import components.config\n"
        "parts = sorted(m for m in sys.modules if m.startswith('components.')\n"
        "    and m.split('.')[1] not in ('config', 'common', 'catalog'))\n"
        "print(parts)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("resources", "key_in_message", "fix"),
    [
        (
            {
                "requests": {"cpu": "1 core", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
            "vectorAgentResources: requests.cpu must be a CPU quantity such as 100m or 1"
            " (got '1 core')",
            "pulumi config set --path 'cedana-monitoring:vectorAgentResources.requests.cpu'"
            " --plaintext '100m'",
        ),
        (
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}},
            "vectorAgentResources: limits.memory is required but not set",
            "pulumi config set --path 'cedana-monitoring:vectorAgentResources.limits.memory'"
            " --plaintext '128Mi'",
        ),
        (
            {
                "requests": {"cpu": "1", "memory": "1Gi", "gpu": "1"},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
            "vectorAgentResources: requests.gpu is not one of its fields (cpu, memory)",
            "pulumi config set --path 'cedana-monitoring:vectorAgentResources' --plaintext",
        ),
    ],
)
def test_a_bad_field_inside_an_object_is_named_down_to_the_field(
    resources: dict[str, Any], key_in_message: str, fix: str
) -> None:
    error = problems(vectorAgentResources=resources)
    assert error.keys == ["vectorAgentResources"]
    assert f"cedana-monitoring:{key_in_message}" in str(error)
    assert f"fix: {fix}" in str(error)


def test_a_bad_toleration_is_named_by_its_position_and_field() -> None:
    error = problems(vectorAgentTolerations=[{"operator": "Exists"}, {"effect": "Sometimes"}])
    assert "vectorAgentTolerations: [1].effect must be one of" in str(error)
    assert "(got 'Sometimes')" in str(error)


def test_rules_across_settings_do_not_depend_on_the_order_of_fields() -> None:
    # The same model with its fields declared in reverse order reports the same problems.
    reversed_fields: Any = {
        name: (info.annotation, info) for name, info in reversed(Settings.model_fields.items())
    }
    reversed_model = create_model(
        "ReversedSettings",
        __config__=Settings.model_config,
        __validators__={"across": model_validator(mode="after")(_rules_of(Settings))},
        **reversed_fields,
    )
    config = {**GOOD, "credentialsMode": "static", "createBucket": True, "authToken": None}
    config = {k: v for k, v in config.items() if v is not None}
    found = []
    for model in (Settings, reversed_model):
        with pytest.raises(ValidationError) as caught:
            model.model_validate_json(json.dumps(config))
        found.append(sorted(str(e["loc"][0]) for e in caught.value.errors()))
    assert found[0] == found[1] == ["aws_access_key_id", "aws_secret_access_key"]


def _rules_of(model: Any) -> Any:
    def across(self: Any) -> Any:
        return model._rules_across_settings(self)

    return across


def test_the_go_duration_rule_reads_durations_as_the_refresher_does() -> None:
    for text in ("45m", "1h30m", "1.5s", "500ms", "10s", "2h", ".5h", "1h0m0s"):
        assert go_duration_seconds(text) == pytest.approx(refresher.parse_duration(text)), text
    for text in ("45 minutes", "1d", "", "m", "-5m"):
        assert go_duration_seconds(text) is None, text
        with pytest.raises(ValueError):
            refresher.parse_duration(text)
