"""The refresher behind a corporate proxy: HTTPS_PROXY tunnels (CONNECT) to Cedana's API, and
NO_PROXY names what is reached directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cred_refresher import cred_refresher as refresher
from simulation.standins.cedana_api import FakeCedana
from simulation.standins.connect_proxy import ConnectProxy
from simulation.support.waiting import wait_until
from tests.support.sidecar import Launcher, ready

# Only the proxy resolves this name: a refresher that reaches it went through the proxy.
OUTSIDE = "api.cedana.egress.test"


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana() as fake:
        yield fake


def test_the_refresher_reaches_cedana_through_the_proxy(tmp_path: Path, api: FakeCedana) -> None:
    port = int(api.url.rsplit(":", 1)[1])
    with ConnectProxy(hosts={OUTSIDE: "127.0.0.1"}) as proxy:
        launcher = Launcher(tmp_path, api)
        try:
            sidecar = launcher.start(
                CEDANA_URL=f"http://{OUTSIDE}:{port}",
                INSECURE_CEDANA_URL="true",
                HTTPS_PROXY=proxy.url,
                NO_PROXY="127.0.0.1,localhost,.svc,.cluster.local",
            )
            ready(sidecar)
            assert (OUTSIDE, port) in proxy.tunnels
            assert "Proxy: 127.0.0.1:" in sidecar.output()
        finally:
            launcher.finish()


def test_no_proxy_sends_the_api_directly(tmp_path: Path, api: FakeCedana) -> None:
    with ConnectProxy() as proxy:
        launcher = Launcher(tmp_path, api)
        try:
            sidecar = launcher.start(HTTPS_PROXY=proxy.url, NO_PROXY="127.0.0.0/8")
            ready(sidecar)
            wait_until(lambda: len(api.requests) >= 1, what="a direct request")
            assert proxy.tunnels == []
        finally:
            launcher.finish()


@pytest.mark.parametrize(
    ("host", "no_proxy", "direct"),
    [
        ("vector-collector.obs.svc.cluster.local", ".svc,.cluster.local", True),
        ("api.cedana.ai", ".svc,.cluster.local", False),
        ("cluster.local", "cluster.local", True),
        ("evilcluster.local", "cluster.local", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("[fd00::1]", "fd00::/8", True),
        ("api.cedana.ai", "*", True),
        ("API.Cedana.AI.", "api.cedana.ai", True),
        ("api.cedana.ai", "", False),
    ],
)
def test_no_proxy_matches_hosts_domains_and_ranges(host: str, no_proxy: str, direct: bool) -> None:
    assert refresher.bypasses_proxy(host, no_proxy) is direct


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://proxy.corp:3128", "is not an http://host:port proxy"),
        ("http://user:secret@proxy.corp:3128", "a proxy user or password is not supported"),
    ],
)
def test_a_bad_proxy_stops_the_refresher_naming_the_variable(value: str, message: str) -> None:
    env = {
        "CEDANA_URL": "https://api.cedana.ai",
        "CEDANA_AUTH_TOKEN": "token",
        "CLUSTER_ID": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
        "HTTPS_PROXY": value,
    }
    with pytest.raises(refresher.StartupError, match="Invalid HTTPS_PROXY") as caught:
        refresher.load_config(env)
    assert message in str(caught.value)
    assert "secret" not in str(caught.value)
