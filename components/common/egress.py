"""Egress through a proxy: the environment that sends the collector's traffic to the Internet
(S3, Cedana's API) through an HTTPS proxy and keeps in-cluster traffic off it."""

from __future__ import annotations

from typing import Any

# Reached directly, always: the pod itself (the credentials endpoint on loopback) and every
# in-cluster name.
ALWAYS_DIRECT = ("127.0.0.1", "localhost", "::1", ".svc")


def no_proxy(cluster_domain: str, extra: tuple[str, ...]) -> str:
    entries = [*ALWAYS_DIRECT, f".{cluster_domain}", *extra]
    return ",".join(dict.fromkeys(entries))


def proxy_env(
    https_proxy: str, cluster_domain: str, extra: tuple[str, ...]
) -> list[dict[str, Any]]:
    """HTTPS_PROXY and NO_PROXY, in both spellings (Vector and the refresher read the lower-case
    ones first, as curl does); nothing without a proxy."""
    if not https_proxy:
        return []
    direct = no_proxy(cluster_domain, extra)
    return [
        {"name": name, "value": value}
        for names, value in (
            (("HTTPS_PROXY", "https_proxy"), https_proxy),
            (("NO_PROXY", "no_proxy"), direct),
        )
        for name in names
    ]
