"""Helpers shared by the nginx scenarios' testinfra tests (nginx, nginx_modern)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SSLYZE_VENV = ROOT / ".state" / "sslyze-venv"
SSLYZE_VERSION = "6.3.1"
SECURITY_HEADERS = (
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
)
SEED_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "img-src 'self' data: https:; connect-src 'self' https://api.openclaw.ai"
)


@pytest.fixture(autouse=True)
def _only_droplets(host):
    if "app" not in host.ansible.get_variables().get("group_names", []):
        pytest.skip("not a droplet")


@pytest.fixture
def name(host) -> str:
    return host.ansible.get_variables()["nginx_server_name"]


def curl(host, name: str, path: str, *args: str, scheme: str = "https") -> tuple[int, dict, str]:
    """GET over the droplet's own loopback; returns status, headers (lists), body."""
    port = 443 if scheme == "https" else 80
    cmd = host.run(
        " ".join(
            [
                "curl",
                "-sk",
                "-D",
                "-",
                "--max-time",
                "10",
                "--resolve",
                f"{name}:{port}:127.0.0.1",
                *args,
                f"'{scheme}://{name}{path}'",
            ]
        )
    )
    assert cmd.rc == 0, cmd.stderr
    head, _, body = cmd.stdout.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.setdefault(key.strip().lower(), []).append(value.strip())
    return status, headers, body


def assert_security_headers_once(headers: dict, preload: bool = False) -> None:
    for header in SECURITY_HEADERS:
        assert len(headers.get(header, [])) == 1, (header, headers)
    hsts = "max-age=31536000; includeSubDomains" + ("; preload" if preload else "")
    assert headers["strict-transport-security"] == [hsts]
    assert headers["content-security-policy"] == [SEED_CSP]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["referrer-policy"] == ["no-referrer"]
    assert headers["x-frame-options"] == ["SAMEORIGIN"]
    assert "x-powered-by" not in headers


def served_serial(host, name: str) -> str:
    out = host.check_output(
        "openssl s_client -connect 127.0.0.1:443 -servername %s </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial",
        name,
    )
    return out.strip().split("=", 1)[1]


def container_ip(host) -> str:
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="session")
def sslyze() -> Path:
    """sslyze in its own venv under .state/ (kept out of requirements.txt)."""
    exe = SSLYZE_VENV / "bin" / "sslyze"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SSLYZE_VENV)], check=True)
        subprocess.run(
            [str(SSLYZE_VENV / "bin" / "pip"), "install", "-q", f"sslyze=={SSLYZE_VERSION}"],
            check=True,
        )
    return exe


def run_sslyze(exe: Path, profile: str, name: str, ip: str, ca_file: Path, out: Path):
    proc = subprocess.run(
        [
            str(exe),
            f"--mozilla_config={profile}",
            f"--certinfo_ca_file={ca_file}",
            f"--json_out={out}",
            f"{name}:443{{{ip}}}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def run_playbook(playbook: Path, limit: str, **extra: object) -> subprocess.CompletedProcess:
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "roles"))
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            inventory,
            "--limit",
            limit,
            "-e",
            json.dumps(extra),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def parse_json(body: str) -> dict:
    return json.loads(body)


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text, re.MULTILINE))
