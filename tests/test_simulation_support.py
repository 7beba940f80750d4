"""What the lab and the simulated cluster rely on: waiting, processes and the control plane's
certificates (made without the control plane's binaries)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulation.simcluster.pki import KUBERNETES_SERVICE_IP, Authority
from simulation.support.processes import Process
from simulation.support.waiting import wait_until


def test_a_wait_that_times_out_says_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="waiting for the collector to be healthy"):
        wait_until(lambda: False, 0.2, "the collector to be healthy", every=0.01)


def test_a_wait_retries_the_errors_it_is_told_to_and_stops_at_any_other() -> None:
    calls: list[int] = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("not listening yet")
        return True

    wait_until(flaky, 5, "a listener", every=0.01, ignoring=(OSError,))
    assert len(calls) == 3

    def exited() -> bool:
        raise RuntimeError("exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, 5, "a process", ignoring=(OSError,))


def test_a_process_reports_its_figures_and_its_exit(tmp_path: Path) -> None:
    up = tmp_path / "up"
    script = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(30)"
    process = Process("sleeper", [sys.executable, "-c", script, str(up)], {}, tmp_path / "log")
    process.start()
    wait_until(up.exists, 10, "the sleeper to start")
    process.sample_rss()
    assert process.rss and process.rss[0] > 1024  # KiB: a Python interpreter
    assert process.threads() >= 1
    assert process.cpu_seconds() >= 0
    assert process.stop(timeout=10) == -15  # SIGTERM
    assert not process.running()


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_control_plane_certificates_carry_what_kubernetes_checks(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    ca = _cert(authority.pair.cert)
    serving = _cert(authority.issue("apiserver", "kube-apiserver", server=True).cert)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", KUBERNETES_SERVICE_IP} <= addresses
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)

    admin = _cert(authority.issue("admin", "kubernetes-admin", "system:masters").cert)
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "kubernetes-admin"
    )
    groups = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["system:masters"]
    for cert in (serving, admin):
        cert.verify_directly_issued_by(ca)
        # Go refuses a certificate whose critical subjectAltName is empty.
        assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
        assert ExtendedKeyUsageOID.SERVER_AUTH in usages

    signing = authority.service_account_key()
    assert signing.key.stat().st_mode & 0o077 == 0
    assert b"PUBLIC KEY" in signing.cert.read_bytes()
