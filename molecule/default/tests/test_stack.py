"""The whole stack, from outside: what a user of the droplet would see."""

import json
import subprocess
import time

from exposure import assert_exposure_at_most  # conftest.py puts molecule/_helpers on the path
from platforms import wait_for_systemd
from stack import DROPLETS, INVENTORY, ROOT, STATE, address, ansible_playbook, through_nginx

testinfra_hosts = DROPLETS
PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -qAt -c"


def _playbook(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one of the project's playbooks against the stack; it must succeed."""
    proc = ansible_playbook(["-i", INVENTORY, str(ROOT / "playbooks" / name)], **env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def test_admin_logs_in_with_the_key_and_root_cannot(host):
    ip = address(host.backend.get_hostname())
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
    # Password logins are not offered at all (cloud-init's drop-in turned them on).
    no_keys = ["-o", "PreferredAuthentications=password,keyboard-interactive"]
    password = subprocess.run(
        [*base, *no_keys, f"mcadmin@{ip}", "true"], capture_output=True, text=True, timeout=60
    )
    assert password.returncode != 0
    assert "Permission denied (publickey)" in password.stderr, password.stderr


def test_migrated_rows_are_in_postgresql(host):
    assert int(host.check_output(f"{PSQL} 'SELECT count(*) FROM tasks'")) > 0
    assert host.check_output(f"{PSQL} 'SELECT count(*) FROM mc_migration'") != "0"


def test_docker_runs_and_firewall_is_on(host):
    assert host.service("docker").is_running
    assert "Status: active" in host.check_output("ufw status")


def test_app_answers_through_nginx_over_https(host):
    health = through_nginx(host, "GET", "/api/health")
    assert health["status"] == "ok" and health["database"] == "ok", health
    token = through_nginx(host, "POST", "/api/auth/demo")["token"]
    created = through_nginx(host, "POST", "/api/tasks", token, '{"title": "from the stack test"}')
    listed = through_nginx(host, "GET", "/api/tasks", token)["tasks"]
    assert created["task"]["id"] in [t["id"] for t in listed]


def test_app_runs_under_pm2_owned_by_systemd(host):
    assert host.service("pm2-mc").is_running and host.service("pm2-mc").is_enabled
    procs = json.loads(host.check_output("pm2-mc jlist"))
    assert procs and all(p["pm2_env"]["status"] == "online" for p in procs)
    assert all(p["pm2_env"]["exec_mode"] == "cluster_mode" for p in procs)


def test_every_unit_of_the_stack_is_sandboxed(host):
    for unit, ceiling in (
        ("pm2-mc.service", 3.5),
        ("nginx.service", 4.5),
        ("nginx-cert-status.service", 3.5),
        ("mc-backup@scheduled.service", 3.5),
        ("mc-backup-drill.service", 3.5),
        ("mc-backup-check.service", 3.5),
        ("mc-monitor.service", 3.5),
    ):
        assert_exposure_at_most(host, unit, ceiling)


def test_a_compromised_app_reads_no_other_secret(host):
    """A shell as the app user: the other services' and the admin's secrets stay closed."""
    for path in (
        "/etc/mc-backup/restic-password",
        "/etc/mc-backup/secrets.env",
        "/var/lib/mc-backup/.pgpass",
        "/home/mcadmin/.ssh/authorized_keys",
        "/etc/nginx/tls/mission-control.localhost-selfsigned.key",
        "/etc/shadow",
    ):
        assert host.file(path).exists, path
        assert host.run(f"runuser -u mc -- cat {path}").rc != 0, path
    # ...and what is its own it reads, not writes.
    assert host.run("runuser -u mc -- test -r /srv/mission-control/app/shared/.env").rc == 0
    assert host.run("runuser -u mc -- test -w /srv/mission-control/app/shared/.env").rc != 0


def test_a_backup_records_the_live_release(host):
    live = host.check_output("cat /srv/mission-control/app/current/REVISION")
    host.run_expect([0], "systemctl start mc-backup@stack-test.service")
    newest = host.check_output(
        "ls -t /var/backups/mission-control/postgresql/*.manifest.json | head -1"
    )
    assert json.loads(host.file(newest).content_string)["release"] == live


def test_everything_comes_back_after_a_reboot(host):
    """Last of this file: a halt and a start of the droplet (tmpfs /run and /tmp are new, as
    after a reboot); every service comes back by itself, the app is healthy
    through nginx, and the whole verify.yml passes again over SSH."""
    name = host.backend.get_hostname()
    subprocess.run(["docker", "kill", "--signal=SIGRTMIN+3", name], check=True, capture_output=True)
    subprocess.run(["timeout", "120", "docker", "wait", name], check=True, capture_output=True)
    subprocess.run(["docker", "start", name], check=True, capture_output=True)
    state = wait_for_systemd(name)
    failed = host.check_output("systemctl list-units --failed --plain --no-legend")
    assert state == "running", failed
    health: dict = {}
    for _ in range(60):
        try:
            health = through_nginx(host, "GET", "/api/health")
        except (AssertionError, ValueError):
            time.sleep(2)
            continue
        if health.get("status") == "ok" and health.get("database") == "ok":
            break
        time.sleep(2)
    assert health.get("status") == "ok" and health.get("database") == "ok", health
    assert "Status: active" in host.check_output("ufw status")
    # The connections of the SSH multiplexing masters died with the droplet.
    control = STATE / "cp-after-reboot"
    control.mkdir(exist_ok=True)
    proc = _playbook("verify.yml", ANSIBLE_SSH_CONTROL_PATH_DIR=str(control))
    assert "failed=0" in proc.stdout
