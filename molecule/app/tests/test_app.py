"""The deploy story, end to end, against the droplet and its database.

Converge deployed v1 (from a git tag). These tests run in order: v2 under load,
a v3 that crashes on start, rollback, a container restart, kill -9 of a
worker, a repeated deploy, an unknown git ref. Traffic goes only to the
droplet's loopback, from inside the droplet, in bounded loops.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
DEPLOY_TO = "/srv/mission-control/app"
CONTAINER = "mc-app-debian12"
# The story runs on one droplet (tests/test_runtime.py checks every droplet).
_droplets = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("app")
testinfra_hosts = [h for h in _droplets if h == CONTAINER]

LOAD_SCRIPT = r"""
import json, sys, threading, time, urllib.request
base = "http://127.0.0.1:3001"
limit, stop_file, out = float(sys.argv[1]), sys.argv[2], sys.argv[3]
req = urllib.request.Request(base + "/api/auth/demo", method="POST", data=b"")
token = json.load(urllib.request.urlopen(req, timeout=5))["token"]
lock = threading.Lock()
stats = {"ok": 0, "failed": 0, "errors": [], "versions": {}}
def worker(n):
    i = 0
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            open(stop_file).close()
            return
        except OSError:
            pass
        i += 1
        path = "/api/health" if i % 2 else "/api/tasks"
        r = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(r, timeout=5) as resp:
                body = json.load(resp)
                with lock:
                    stats["ok"] += 1
                    v = body.get("version")
                    if v:
                        stats["versions"][v] = stats["versions"].get(v, 0) + 1
        except Exception as err:
            with lock:
                stats["failed"] += 1
                stats["errors"].append(f"{path}: {err}")
        time.sleep(0.02)
threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
stats["errors"] = stats["errors"][:20]
json.dump(stats, open(out, "w"))
"""


def playbook(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_FACT_CACHING="memory",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(Path(INVENTORY).parent),
            str(PROJECT / "playbooks" / name),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


HTTP_SCRIPT = r"""
import sys, urllib.request
method, url, data, token = sys.argv[1:5]
headers = {"Content-Type": "application/json"}
if token:
    headers["Authorization"] = "Bearer " + token
body = data.encode() if data else None
req = urllib.request.Request(url, method=method, data=body, headers=headers)
print(urllib.request.urlopen(req, timeout=5).read().decode())
"""


def http(host, method: str, path: str, data: str = "", token: str = "") -> dict:
    """One request from inside the droplet to the app on loopback."""
    host.check_output(f"cat > /tmp/mc_request.py <<'EOF'\n{HTTP_SCRIPT}\nEOF")
    url = f"http://127.0.0.1:3001{path}"
    return json.loads(
        host.check_output("python3 /tmp/mc_request.py %s %s %s %s", method, url, data, token or "")
    )


def get(host, path: str) -> dict:
    return http(host, "GET", path)


def records(host) -> dict[str, dict]:
    out = host.check_output(f"awk 1 {DEPLOY_TO}/releases/*/RELEASE.json")
    return {r["id"]: r for r in map(json.loads, out.splitlines())}


def current(host) -> str:
    return host.check_output(f"basename $(readlink {DEPLOY_TO}/current)")


class Load:
    """A bounded load loop inside the droplet (at most 300 s, or until stopped)."""

    def __init__(self, host, name: str) -> None:
        self.host, self.name = host, name
        host.run(f"rm -f /tmp/{name}.stop /tmp/{name}.json")
        host.check_output(f"cat > /tmp/load.py <<'EOF'\n{LOAD_SCRIPT}\nEOF")
        args = f"300 /tmp/{name}.stop /tmp/{name}.json"
        host.check_output(f"nohup python3 /tmp/load.py {args} >/tmp/{name}.log 2>&1 &")
        time.sleep(2)

    def stop(self) -> dict:
        time.sleep(2)
        self.host.check_output(f"touch /tmp/{self.name}.stop")
        for _ in range(30):
            if self.host.file(f"/tmp/{self.name}.json").exists:
                return json.loads(self.host.file(f"/tmp/{self.name}.json").content_string)
            time.sleep(1)
        raise AssertionError(self.host.run(f"cat /tmp/{self.name}.log").stdout)


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
    assert env.user == "mc" and env.mode == 0o600
    assert host.service("pm2-mc").is_running and host.service("pm2-mc").is_enabled
    main_pid = host.check_output("systemctl show -p MainPID --value pm2-mc")
    daemon = host.check_output("cat /srv/mission-control/.pm2/pm2.pid")
    assert main_pid == daemon
    assert host.check_output(f"ps -o user= -p {daemon}") == "mc"
    assert host.package("procps").is_installed
    # cluster mode, 2 workers, logs with timestamps under /var/log
    procs = json.loads(host.check_output("pm2-mc jlist"))
    assert [p["pm2_env"]["exec_mode"] for p in procs] == ["cluster_mode"] * 2
    assert host.file("/var/log/mission-control/mission-control.out.log").exists


def test_deploy_v2_under_load_loses_no_request(host):
    load = Load(host, "load-v2")
    run = playbook(
        "deploy.yml", "-e", "app_source=artifact", "-e", f"app_artifact={EPHEMERAL / 'v2.tar.gz'}"
    )
    stats = load.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert get(host, "/api/health")["version"] == "2.0.0"
    assert stats["failed"] == 0, stats
    assert stats["ok"] > 100 and "2.0.0" in stats["versions"], stats
    assert records(host)[current(host)]["status"] == "healthy"


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


def test_deploying_the_live_revision_changes_nothing(host):
    run = playbook("deploy.yml")  # the inventory's source: git tag v1, live after the rollback
    assert run.returncode == 0, run.stdout[-3000:]
    assert "changed=0" in run.stdout, run.stdout[-3000:]
    assert "no new release" in " ".join(run.stdout.split())  # the callback wraps lines


def test_unknown_git_ref_fails_before_any_change(host):
    before = host.check_output(f"ls {DEPLOY_TO}/releases")
    run = playbook("deploy.yml", "-e", "app_git_ref=v9-no-such-tag")
    assert run.returncode != 0
    assert "app_git_ref" in run.stdout and "v9-no-such-tag" in run.stdout
    assert host.check_output(f"ls {DEPLOY_TO}/releases") == before
    assert get(host, "/api/health")["version"] == "1.0.0"
