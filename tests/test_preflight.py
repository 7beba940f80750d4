"""What the program reads from the cluster before registering anything, and what it does with it:
a missing StorageClass stops `pulumi up` with the fix; listeners bind what the pods have."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config import Settings, load_settings
from components.preflight.checks import preflight
from components.preflight.facts import ClusterFacts, read_cluster
from scripts.stack_files import MappingSource
from simulation.mocks import TEST_SECRETS, ProgramRun

BASE = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1", **TEST_SECRETS}


def settings(**overrides: Any) -> Settings:
    return load_settings(MappingSource({**BASE, **overrides}, frozenset(TEST_SECRETS)))


def facts(classes: dict[str, bool], families: tuple[str, ...] = ("IPv4",)) -> ClusterFacts:
    return ClusterFacts(storage_classes=classes, ip_families=families)


def test_without_a_default_storage_class_the_collector_would_stay_pending() -> None:
    checked = preflight(settings(), facts({"local-path": False, "slow": False}))
    (problem,) = checked.problems
    assert problem.key == "vectorCollectorStorageClass"
    assert "no default StorageClass (it has: local-path, slow)" in problem.problem
    assert problem.fix == (
        "pulumi config set cedana-monitoring:vectorCollectorStorageClass local-path, or"
        " pulumi config set cedana-monitoring:vectorCollectorPersistence false"
        " (the buffer then lives in an emptyDir)"
    )


def test_a_named_storage_class_must_exist() -> None:
    checked = preflight(
        settings(vectorCollectorStorageClass="gp3"), facts({"gp2": True, "standard": False})
    )
    (problem,) = checked.problems
    assert "names StorageClass 'gp3', which the cluster does not have (it has: gp2, standard)" in (
        problem.problem
    )


@pytest.mark.parametrize(
    ("overrides", "classes"),
    [
        ({}, {"gp2": True}),
        ({"vectorCollectorStorageClass": "fast"}, {"fast": False}),
        ({"vectorCollectorPersistence": "false"}, {}),
    ],
)
def test_a_claim_that_can_bind_passes(overrides: dict[str, Any], classes: dict[str, bool]) -> None:
    assert preflight(settings(**overrides), facts(classes)).problems == []


@pytest.mark.parametrize(
    ("families", "family", "listen"),
    [
        (("IPv4",), "auto", "0.0.0.0"),
        (("IPv4", "IPv6"), "auto", "[::]"),
        (("IPv6",), "auto", "[::]"),
        (("IPv6",), "ipv4", "0.0.0.0"),
        (("IPv4",), "ipv6", "[::]"),
    ],
)
def test_listeners_bind_the_families_the_cluster_has(
    families: tuple[str, ...], family: str, listen: str
) -> None:
    checked = preflight(settings(listenIpFamily=family), facts({"gp2": True}, families))
    assert checked.listen == listen


def test_render_mode_and_an_unreachable_cluster_say_what_they_could_not_check() -> None:
    for found, why in ((None, "render mode"), ("ConnectionError: refused", "did not answer")):
        checked = preflight(settings(), found)
        assert checked.problems == []
        (warning,) = checked.warnings
        assert why in warning
        assert "not checked whether the collector's StorageClass exists" in warning
        assert checked.listen == "0.0.0.0"


def test_a_cluster_that_cannot_be_read_is_named_in_words(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n"
        "contexts: [{name: elsewhere, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    found = read_cluster("nowhere-context")
    assert isinstance(found, str)
    assert "nowhere-context" in found


def test_the_listen_address_reaches_every_vector_listener(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(listenIpFamily="ipv6")
    collector = run.charts()["vector-collector"].plain["values"]["customConfig"]
    agent = run.charts()["vector"].plain["values"]["customConfig"]
    assert collector["sources"]["agents"]["address"] == "[::]:6000"
    assert collector["sources"]["prometheus"]["address"] == "[::]:9201"
    assert collector["api"]["address"] == agent["api"]["address"] == "[::]:8686"
