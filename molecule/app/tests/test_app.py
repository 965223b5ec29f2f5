"""The deploy story, end to end, against the droplet and its database.

Converge deployed v1 (from a git tag). These tests run in order: v2 under load,
a v3 that crashes on start, rollback, a container restart, kill -9 of a
worker, a repeated deploy, an unknown git ref. Traffic goes only to the
droplet's loopback, from inside the droplet, in bounded loops.
"""

from __future__ import annotations

import json
import subprocess
import time

from story import (
    CONTAINER,
    DEPLOY_TO,
    EPHEMERAL,
    GOOD_DEPLOY_SECONDS,
    STORY_HOSTS,
    Load,
    assert_root_owns_the_code,
    current,
    get,
    http,
    records,
)
from story import playbook as _playbook

testinfra_hosts = STORY_HOSTS


def playbook(name: str, *extra: str):
    """The story's playbook runs, on its droplet only (the other keeps v1 for
    test_bad_releases.py and costs no time here)."""
    return _playbook(name, *extra, "-l", CONTAINER)


def test_v1_serves_from_git_with_the_database(host):
    health = get(host, "/api/health")
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["version"] == "1.0.0"
    rec = records(host)[current(host)]
    assert rec["status"] == "healthy" and rec["source"] == "git"
    assert host.file(f"{DEPLOY_TO}/current/REVISION").content_string.strip() == rec["revision"]
    token = http(host, "POST", "/api/auth/demo")["token"]
    created = http(host, "POST", "/api/tasks", json.dumps({"title": "ship it"}), token)
    assert created["task"]["title"] == "ship it"
    assert "ship it" in [t["title"] for t in http(host, "GET", "/api/tasks", "", token)["tasks"]]


def test_env_file_is_private_and_daemon_belongs_to_systemd(host):
    env = host.file(f"{DEPLOY_TO}/shared/.env")
    assert env.user == "root" and env.group == "mc" and env.mode == 0o640
    assert host.service("pm2-mc").is_running and host.service("pm2-mc").is_enabled
    main_pid = host.check_output("systemctl show -p MainPID --value pm2-mc")
    daemon = host.check_output("cat /var/lib/mission-control/.pm2/pm2.pid")
    assert main_pid == daemon
    assert host.check_output(f"ps -o user= -p {daemon}") == "mc"
    assert host.package("procps").is_installed
    # cluster mode, 2 workers, logs with timestamps under /var/log
    procs = json.loads(host.check_output("pm2-mc jlist"))
    assert [p["pm2_env"]["exec_mode"] for p in procs] == ["cluster_mode"] * 2
    assert host.file("/var/log/mission-control/mission-control.out.log").exists


def test_deploy_v2_under_load_loses_no_request(host):
    load = Load(host, "load-v2")
    started = time.monotonic()
    run = playbook(
        "deploy.yml", "-e", "app_source=artifact", "-e", f"app_artifact={EPHEMERAL / 'v2.tar.gz'}"
    )
    GOOD_DEPLOY_SECONDS["v2 (artifact, under load)"] = time.monotonic() - started
    stats = load.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert get(host, "/api/health")["version"] == "2.0.0"
    assert stats["failed"] == 0, stats
    assert stats["ok"] > 100 and "2.0.0" in stats["versions"], stats
    assert records(host)[current(host)]["status"] == "healthy"
    assert_root_owns_the_code(host)


def test_crashing_v3_is_refused_and_v2_keeps_serving(host):
    before = current(host)
    load = Load(host, "load-v3")
    run = playbook(
        "deploy.yml", "-e", "app_source=artifact", "-e", f"app_artifact={EPHEMERAL / 'v3.tar.gz'}"
    )
    stats = load.stop()
    assert run.returncode != 0
    assert "DEPLOY FAILED" in run.stdout and "health gate" in run.stdout, run.stdout[-3000:]
    assert "v3 refuses to start" in run.stdout
    assert current(host) == before
    assert get(host, "/api/health")["version"] == "2.0.0"
    assert stats["failed"] == 0, stats
    failed = [r for r in records(host).values() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["ref"].endswith("v3.tar.gz")


def test_rollback_lists_and_returns_to_v1(host):
    listing = playbook("rollback.yml", "-e", "app_rollback_list=true")
    assert listing.returncode == 0, listing.stdout[-3000:]
    assert "healthy" in listing.stdout and "failed" in listing.stdout
    run = playbook("rollback.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert get(host, "/api/health")["version"] == "1.0.0"
    assert records(host)[current(host)]["source"] == "git"


def test_a_failed_release_is_never_a_rollback_target(host):
    failed = next(r["id"] for r in records(host).values() if r["status"] == "failed")
    run = playbook("rollback.yml", "-e", f"app_rollback_to={failed}")
    assert run.returncode != 0
    assert "ROLLBACK REFUSED" in run.stdout and "never a" in run.stdout
    assert get(host, "/api/health")["version"] == "1.0.0"


def test_app_answers_within_10_s_of_a_restart(host):
    subprocess.run(["docker", "restart", "-t", "5", CONTAINER], check=True, capture_output=True)
    started = time.monotonic()
    while time.monotonic() - started < 30:
        probe = subprocess.run(
            [
                "docker",
                "exec",
                CONTAINER,
                "/usr/local/sbin/mc-app-probe",
                "--url",
                "http://127.0.0.1:3001/api/health",
                "--timeout",
                "1",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"app answered only after {elapsed:.1f} s"
    assert get(host, "/api/health")["version"] == "1.0.0"


def test_a_killed_worker_comes_back(host):
    procs = json.loads(host.check_output("pm2-mc jlist"))
    victim = procs[0]["pid"]
    host.check_output(f"kill -9 {victim}")
    for _ in range(30):
        time.sleep(1)
        procs = json.loads(host.check_output("pm2-mc jlist"))
        pids = [p["pid"] for p in procs if p["pm2_env"]["status"] == "online"]
        if len(pids) == 2 and victim not in pids:
            break
    assert len(pids) == 2 and victim not in pids
    assert get(host, "/api/health")["status"] == "ok"


def test_a_link_planted_under_an_older_layout_stops_the_deploy(host):
    """The old layout let the app own these folders: a link it left is refused, not followed."""
    host.check_output("mkdir -p /tmp/decoy && chown root:root /tmp/decoy && chmod 0700 /tmp/decoy")
    build = f"{DEPLOY_TO}/build"
    host.check_output(f"mv {build} {build}.saved && ln -s /tmp/decoy {build}")
    try:
        run = playbook("deploy.yml")
    finally:
        host.check_output(f"rm {build} && mv {build}.saved {build}")
    flat = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert f"{DEPLOY_TO}/build is a symbolic link" in flat, flat[-2000:]
    decoy = host.file("/tmp/decoy")
    assert decoy.user == "root" and decoy.mode == 0o700
    assert get(host, "/api/health")["status"] == "ok"


def test_deploying_the_live_revision_changes_nothing(host):
    run = playbook("deploy.yml")  # the inventory's source: git tag v1, live after the rollback
    assert run.returncode == 0, run.stdout[-3000:]
    assert "changed=0" in run.stdout, run.stdout[-3000:]
    assert "no new release" in " ".join(run.stdout.split())  # the callback wraps lines
    assert_root_owns_the_code(host)


def test_unknown_git_ref_fails_before_any_change(host):
    before = host.check_output(f"ls {DEPLOY_TO}/releases")
    run = playbook("deploy.yml", "-e", "app_git_ref=v9-no-such-tag")
    assert run.returncode != 0
    assert "app_git_ref" in run.stdout and "v9-no-such-tag" in run.stdout
    assert host.check_output(f"ls {DEPLOY_TO}/releases") == before
    assert get(host, "/api/health")["version"] == "1.0.0"
