"""What the deploy story's tests share: playbook runs, requests from inside the
droplet, the release records, and a bounded load loop on the droplet's loopback."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
DEPLOY_TO = "/srv/mission-control/app"
CONTAINER = "mc-app-debian12"
# The story runs on one droplet (tests/test_runtime.py checks every droplet).
STORY_HOSTS = [
    h
    for h in testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("app")
    if h == CONTAINER
]

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
        time.sleep(0.05)
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


# What the bad-release tests saw, printed as a table at the end (conftest.py).
BAD_RELEASE_RESULTS: list[dict] = []
# Seconds of each good deploy (the soak and the watch included), printed too.
GOOD_DEPLOY_SECONDS: dict[str, float] = {}


def deploy_artifact(path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """deploy.yml with an artifact; the output with the callback's line wraps undone."""
    run = playbook("deploy.yml", "-e", "app_source=artifact", "-e", f"app_artifact={path}", *extra)
    return run, " ".join(run.stdout.split())


def droplet(name: str):
    """A testinfra host for a droplet of the scenario, outside the module's own hosts."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def pm2_workers(host) -> list[dict]:
    return json.loads(host.check_output("pm2-mc jlist"))


def assert_root_owns_the_code(host) -> None:
    """Everything below the code root is root's, not writable by others and not
    set-id, but the build user's npm cache; no process of the build user is left."""
    cache = f"{DEPLOY_TO}/build/.npm"
    outside_cache = f"/srv/mission-control -path {cache} -prune -o"
    for what, test in {
        "not root's": "! -user root",
        "writable by group or others": "! -type l -perm /022",
        "set-id": "-perm /6000",
    }.items():
        found = host.check_output(f"find {outside_cache} {test} -printf '%u %m %p\\n'")
        assert found == "", f"{what}: {found}"
    assert host.file(cache).user == "mc-build"
    assert host.run("pgrep -u mc-build").rc == 1
