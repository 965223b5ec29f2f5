"""The nginx role rejects bad input before it changes anything on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def _cert_and_key(tmp_path: Path, name: str, curve: str | None = "prime256v1") -> tuple[str, str]:
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    newkey = (
        ["-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{curve}"]
        if curve
        else ["-newkey", "rsa:2048"]
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            *newkey,
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
    )
    return crt.read_text(), key.read_text()


@pytest.fixture
def pair_a(tmp_path):
    return _cert_and_key(tmp_path, "a.test")


@pytest.fixture
def pair_b(tmp_path):
    return _cert_and_key(tmp_path, "b.test")


def test_unknown_tls_mode(run_role):
    run_role("nginx", {"nginx_tls_mode": "letsencrypt"}).assert_rejected(
        "nginx_tls_mode", "letsencrypt", "selfsigned, acme, provided"
    )


def test_unknown_tls_profile(run_role):
    run_role("nginx", {"nginx_tls_profile": "old"}).assert_rejected("nginx_tls_profile", "old")


def test_acme_without_server_name(run_role):
    run_role(
        "nginx", {"nginx_tls_mode": "acme", "nginx_acme_email": "ops@example.com"}
    ).assert_rejected("nginx_server_name must be set")


def test_acme_with_an_ip_as_server_name(run_role):
    run_role(
        "nginx",
        {
            "nginx_tls_mode": "acme",
            "nginx_server_name": "192.0.2.10",
            "nginx_acme_email": "ops@example.com",
        },
    ).assert_rejected("nginx_server_name must be set")


def test_acme_without_contact_email(run_role):
    run_role(
        "nginx", {"nginx_tls_mode": "acme", "nginx_server_name": "mc.example.com"}
    ).assert_rejected("nginx_acme_email must be a contact e-mail")


def test_provided_without_certificate(run_role):
    run_role("nginx", {"nginx_tls_mode": "provided"}).assert_rejected(
        "nginx_tls_certificate must hold the PEM certificate"
    )


def test_provided_certificate_not_matching_its_key(run_role, pair_a, pair_b):
    cert_a, _ = pair_a
    _, key_b = pair_b
    result = run_role(
        "nginx",
        {
            "nginx_tls_mode": "provided",
            "nginx_tls_certificate": cert_a,
            "nginx_tls_private_key": key_b,
        },
    )
    result.assert_rejected("nginx_tls_certificate does not match nginx_tls_private_key")
    assert key_b.splitlines()[1] not in result.output  # the key is never printed


def test_provided_rsa_certificate_with_modern_profile(run_role, tmp_path):
    cert, key = _cert_and_key(tmp_path, "rsa.test", curve=None)
    run_role(
        "nginx",
        {
            "nginx_tls_mode": "provided",
            "nginx_tls_profile": "modern",
            "nginx_tls_certificate": cert,
            "nginx_tls_private_key": key,
        },
    ).assert_rejected("nginx_tls_profile modern needs an ECDSA certificate")


def test_bad_upstream_and_rate_limit(run_role):
    run_role("nginx", {"nginx_upstream_servers": ["127.0.0.1"]}).assert_rejected(
        "nginx_upstream_servers"
    )
    run_role("nginx", {"nginx_rate_limit_window_ms": 10}).assert_rejected(
        "nginx_rate_limit_window_ms"
    )


def test_maintenance_entry_point_needs_the_switch(run_role):
    run_role("nginx", {}, tasks_from="maintenance").assert_rejected("nginx_maintenance")


def test_valid_provided_input_gets_past_validation(run_role, pair_a):
    # Good input passes every check and only fails when it reaches the host
    # (which does not exist): proof that the checks above are the ones rejecting.
    cert, key = pair_a
    result = run_role(
        "nginx",
        {
            "nginx_tls_mode": "provided",
            "nginx_tls_certificate": cert,
            "nginx_tls_private_key": key,
            "nginx_tls_profile": "modern",
        },
    )
    assert result.failed
    assert "does not match" not in result.output
    assert "UNREACHABLE" in result.output or "mc-no-such-host" in result.output


def test_rate_limit_exemption_that_is_no_address(run_role):
    run_role("nginx", {"nginx_rate_limit_exempt": ["127.0.0.1", "the-monitor"]}).assert_rejected(
        "nginx_rate_limit_exempt", "the-monitor", "not an IP address or CIDR"
    )
