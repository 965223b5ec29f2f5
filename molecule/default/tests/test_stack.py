"""The whole stack, from outside: what a user of the droplet would see."""

import os
import subprocess
import sys
from pathlib import Path

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("app")

ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
STATE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -qAt -c"


def _ip(name: str) -> str:
    return subprocess.check_output(
        [
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ],
        text=True,
    ).strip()


def test_verify_playbook_passes_against_the_stack():
    """playbooks/verify.yml is the same check users run against production."""
    ansible_playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run(
        [
            str(ansible_playbook),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(ROOT / "playbooks/verify.yml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout


def test_admin_logs_in_with_the_key_and_root_cannot(host):
    ip = _ip(host.backend.get_hostname())
    key = STATE / "admin_ed25519"
    base = [
        "ssh",
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
    ]
    ok = subprocess.run(
        [*base, f"mcadmin@{ip}", "sudo", "-n", "true"], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    root = subprocess.run([*base, f"root@{ip}", "true"], capture_output=True, text=True, timeout=60)
    assert root.returncode != 0


def test_migrated_rows_are_in_postgresql(host):
    assert int(host.check_output(f"{PSQL} 'SELECT count(*) FROM tasks'")) > 0
    assert host.check_output(f"{PSQL} 'SELECT count(*) FROM mc_migration'") != "0"


def test_docker_runs_and_firewall_is_on(host):
    assert host.service("docker").is_running
    assert "Status: active" in host.check_output("ufw status")
