"""Mozilla's modern profile (TLS 1.3 only) on ECDSA chains, selfsigned and provided modes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from edge_helpers import assert_security_headers_once, container_ip, curl, run_sslyze

TLS_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "tls"


def test_tls13_only(host, name):
    base = f"openssl s_client -connect 127.0.0.1:443 -servername {name} </dev/null"
    assert host.run(base + " -tls1_3").rc == 0
    assert host.run(base + " -tls1_2").rc != 0


def test_headers_once_and_http2(host, name):
    status, headers, _ = curl(host, name, "/api/health", "--http2")
    assert status == 200
    assert_security_headers_once(headers)


def test_certificate_mode(host, name):
    mode = host.ansible.get_variables()["nginx_tls_mode"]
    suffix = "-selfsigned" if mode == "selfsigned" else ""
    key = host.file(f"/etc/nginx/tls/{name}{suffix}.key")
    assert key.mode == 0o600
    status = json.loads(host.check_output("nginx-cert-status"))
    assert status["server_name"] == name and status["state"] == "ok"


def test_sslyze_mozilla_modern(host, name, sslyze, tmp_path):
    if host.ansible.get_variables()["nginx_tls_mode"] == "provided":
        ca = TLS_DIR / "ca.pem"
    else:
        ca = tmp_path / "selfsigned.pem"
        ca.write_text(host.file(f"/etc/nginx/tls/{name}-selfsigned.crt").content_string)
    proc = run_sslyze(sslyze, "modern", name, container_ip(host), ca, tmp_path / "out.json")
    if host.ansible.get_variables()["nginx_tls_mode"] == "provided":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "OK - Compliant" in proc.stdout
    else:
        # A self-signed certificate cannot pass path validation (no CA signed it);
        # every other modern check (protocols, ciphers, curves, key, lifespan) must.
        report = proc.stdout.split("COMPLIANCE AGAINST TLS CONFIGURATION", 1)[1]
        failures = re.findall(r"^\s+\* (\w+):", report, re.MULTILINE)
        assert failures in ([], ["certificate_path_validation"]), report
