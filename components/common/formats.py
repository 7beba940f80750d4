"""Formats that Kubernetes, AWS, Go, OCI, Helm and HTTP define, as checks: value in, problem
(or None) out.

The settings' rules bind them to keys; the problems are worded for a user to act on.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit
from uuid import UUID

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Go's time.ParseDuration, as the refresher reads CRED_REFRESH_INTERVAL.
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def uuid(value: str) -> str | None:
    try:
        UUID(value)
    except ValueError:
        return "must be a UUID such as 3f2a1c9e-7b6d-4e8f-9a0b-1c2d3e4f5a6b"
    return None


def s3_bucket(name: str) -> str | None:
    """The S3 general-purpose bucket naming rules, in words a user can act on."""
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        return "may contain only lowercase letters, digits, dots and hyphens"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must begin and end with a letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"must not start with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"must not end with {suffix!r}"
    return None


def dns_name(value: str) -> str | None:
    if len(value) > 253 or not all(DNS_LABEL.fullmatch(p) for p in value.split(".")):
        return "must be a DNS name such as cluster.local"
    return None


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration (45m, 1h30m, 1.5s), or None when it is not one."""
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(text):
        match = _GO_DURATION_PART.match(text, position)
        if not match:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    return total if text else None


def image(value: str) -> str | None:
    if "@" in value:
        return "give the image with its tag only; pin digests with imageDigests"
    if not re.fullmatch(
        r"[a-z0-9][a-z0-9._/:-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", value
    ):
        return "must be an image reference with an exact tag, such as repo/name:1.2.3"
    if value.rsplit(":", 1)[1] == "latest":
        return "must be pinned to an exact tag, not latest"
    return None


def label_name(value: str) -> str | None:
    dns_prefix = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    name = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
    if len(value) > 317 or not re.fullmatch(dns_prefix + name, value):
        return f"{value!r} is not a valid node label name"
    return None


def http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


def proxy_url(value: str) -> str | None:
    parts = urlsplit(value)
    if not value:
        return None
    if parts.scheme != "http" or not parts.hostname:
        return "must be an http://host:port proxy (it tunnels TLS with CONNECT)"
    if parts.username or parts.password:
        return "must not carry a user or password (proxies that need credentials are not supported)"
    return None


def chart_repository(value: str) -> str | None:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("https", "http", "oci") or not parts.hostname):
        return "must be a Helm repository URL (https://…) or an OCI registry path (oci://…)"
    return None
