"""Monitoring as the one who gets the alerts sees it: a webhook receiver on the test
network (prepare.yml) records what the droplet sends; checks run every 10 s here."""

from __future__ import annotations

import json
import subprocess
import time

from stack import DROPLETS, STATE, address

testinfra_hosts = DROPLETS
RECEIVER = "mc-default-offsite"
HOOKS = "/var/tmp/hooks.jsonl"
TOKEN = "HookTokenNeverLogged"  # in the scenario's monitoring_webhook_url
INTERVAL = 10


def received() -> list[dict]:
    out = subprocess.run(
        ["docker", "exec", RECEIVER, "cat", HOOKS], capture_output=True, text=True, check=False
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def alerts_about(check: str, state: str, since: int) -> list[dict]:
    return [a for a in received()[since:] if a.get("check") == check and a.get("state") == state]


def wait_for_alert(check: str, state: str, since: int, timeout: float) -> float:
    """Seconds until the first alert (check, state) came, counting from now."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if alerts_about(check, state, since):
            return time.monotonic() - start
        time.sleep(1)
    raise AssertionError(
        f"no {state} alert for {check} within {timeout} s; got {received()[since:]}"
    )


def test_a_stopped_app_alerts_once_and_its_recovery_once(host):
    since = len(received())
    host.run_expect([0], "systemctl stop pm2-mc")
    try:
        down = wait_for_alert("app_direct", "failing", since, timeout=120)
        wait_for_alert("app_edge", "failing", since, timeout=2 * INTERVAL + 10)
        # Three more rounds while it stays down: no repeat (monitoring_repeat_minutes 0).
        time.sleep(3 * INTERVAL + 5)
        for check in ("app_direct", "app_edge"):
            assert len(alerts_about(check, "failing", since)) == 1, received()[since:]
    finally:
        host.run_expect([0], "systemctl start pm2-mc")
    up = wait_for_alert("app_direct", "recovered", since, timeout=120)
    wait_for_alert("app_edge", "recovered", since, timeout=2 * INTERVAL + 10)
    time.sleep(INTERVAL + 5)
    for check in ("app_direct", "app_edge"):
        assert len(alerts_about(check, "failing", since)) == 1, received()[since:]
        assert len(alerts_about(check, "recovered", since)) == 1, received()[since:]
    alert = alerts_about("app_direct", "failing", since)[0]
    assert alert["host"] == "mc-default-droplet" and "app_direct" in alert["text"]
    assert alert["text"] == alert["content"]  # Slack reads text, Discord content
    (STATE / "monitoring.json").write_text(
        json.dumps({"down_to_alert_s": round(down), "up_to_recovery_s": round(up)})
    )


def test_mc_status_says_how_everything_is_over_ssh(host):
    """What the admin types on the droplet: one screen, and the same as JSON."""
    ip = address(host.backend.get_hostname())
    ssh = [
        "ssh", "-i", str(STATE / "admin_ed25519"), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", f"mcadmin@{ip}",
    ]  # fmt: skip
    screen = subprocess.run(
        [*ssh, "sudo", "mc-status"], capture_output=True, text=True, timeout=60
    ).stdout
    for check in ("app_direct", "app_edge", "database", "certificate", "memory", "disk:/"):
        assert check in screen, screen
    as_json = subprocess.run(
        [*ssh, "sudo", "mc-status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode in (0, 1), as_json.stderr  # 1: some check is failing
    state = json.loads(as_json.stdout)
    assert state["checks"]["app_direct"]["ok"] is True, state
    # The managed database's stand-in, over TLS verified against its CA, without a password.
    database = state["checks"]["database"]
    assert database["ok"] is True and "mc-default-db:25060: TLS verified" in database["summary"]


def test_the_webhook_token_reaches_no_log(host):
    assert received(), "the receiver got nothing"
    assert all(a.get("path", "").endswith(f"token={TOKEN}") for a in received() if "check" in a)
    journal = host.check_output("journalctl -u mc-monitor.service --no-pager -o cat | tail -n 2000")
    assert TOKEN not in journal
    assert TOKEN not in host.check_output("cat /var/lib/mc-monitor/state.json")
    # The secret file is root's and the monitoring user's only.
    secrets = host.file("/etc/mc-monitor/secrets.env")
    assert (secrets.user, secrets.group, secrets.mode) == ("root", "mc-monitor", 0o640)
    assert host.run("runuser -u mc -- cat /etc/mc-monitor/secrets.env").rc != 0
