"""Runs inside a pod on a real node of the simulated cluster (the standard library only): asks
the cluster DNS directly (raw queries, for the response codes) and through the pod's resolver,
and calls the API server through the `kubernetes` Service with the pod's service-account
token. Prints one JSON object.

    python3 cluster_probe.py                       # DNS and API
    python3 cluster_probe.py connect HOST PORT     # a TCP connection a second, forever
    python3 cluster_probe.py kubelet HOST          # the kubelet's cAdvisor metrics, as this pod
"""

from __future__ import annotations

import json
import random
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DNS = "198.19.0.10"
ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
A, PTR = 1, 12


def query(name: str, qtype: int = A, server: str = DNS) -> dict[str, Any]:
    """One UDP query: the response code and the A records answered."""
    header = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(header + labels + b"\0" + struct.pack(">HH", qtype, 1), (server, 53))
        data = sock.recv(4096)
    rcode, count = data[3] & 0x0F, struct.unpack(">H", data[6:8])[0]
    at = 12
    while data[at]:
        at += data[at] + 1
    at += 5
    answers = []
    for _ in range(count):
        if data[at] & 0xC0 == 0xC0:
            at += 2
        else:
            while data[at]:
                at += data[at] + 1
            at += 1
        kind, _, _, length = struct.unpack(">HHIH", data[at : at + 10])
        at += 10
        if kind == A:
            answers.append(socket.inet_ntoa(data[at : at + 4]))
        at += length
    return {"rcode": rcode, "answers": answers}


def resolve(name: str) -> list[str] | int:
    """What the pod's resolver (resolv.conf from the kubelet) makes of a name; its error
    number when it finds nothing."""
    try:
        return sorted({a[4][0] for a in socket.getaddrinfo(name, 443, socket.AF_INET)})
    except socket.gaierror as error:
        return error.errno


def get(url: str) -> tuple[int, bytes]:
    """A GET with the pod's service-account token, the server checked against the cluster's
    CA: the status and the body."""
    token = Path(ACCOUNT, "token").read_text()
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api_version() -> str:
    status, body = get("https://kubernetes.default.svc:443/version")
    return str(json.loads(body)["gitVersion"]) if status == 200 else f"HTTP {status}"


def kubelet_metrics(host: str) -> dict[str, Any]:
    status, body = get(f"https://{host}:10250/metrics/cadvisor")
    return {"status": status, "cadvisor": b"container_cpu_usage_seconds_total" in body}


def probe() -> dict[str, Any]:
    return {
        "kubernetes": query("kubernetes.default.svc.cluster.local"),
        "missing_service": query("nothere.default.svc.cluster.local"),
        "outside": query("example.com"),
        "resolver_kubernetes": resolve("kubernetes.default.svc.cluster.local"),
        "resolver_outside": resolve("example.com"),
        "api_version": api_version(),
    }


def connect_forever(host: str, port: int) -> None:
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            outcome = "ok"
        except OSError as error:
            outcome = f"fail {error!r}"
        print(f"{time.time():.3f} {outcome}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["connect"]:
        connect_forever(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["kubelet"]:
        print(json.dumps(kubelet_metrics(sys.argv[2])), flush=True)
    else:
        print(json.dumps(probe()), flush=True)
