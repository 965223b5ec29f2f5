"""Every droplet: Node.js, PM2 under systemd and the live release; and what a
compromised app cannot do there. Runs after the story (test_app.py,
test_bad_releases.py), which left several releases on both droplets."""

from __future__ import annotations

import json
import os

import testinfra.utils.ansible_runner
from exposure import assert_exposure_at_most  # conftest.py puts molecule/_helpers on the path
from story import DEPLOY_TO, current, records

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("app")


def test_node_is_a_supported_major(host):
    major = int(host.check_output("node --version").lstrip("v").split(".")[0])
    assert major >= 18


def test_pm2_is_the_pinned_version_run_by_its_unit_as_the_app_user(host):
    assert host.check_output("pm2-mc --version").strip().splitlines()[-1] == "7.0.4"
    unit = host.service("pm2-mc")
    assert unit.is_running and unit.is_enabled
    daemon = host.check_output("systemctl show -p MainPID --value pm2-mc")
    assert host.check_output(f"ps -o user= -p {daemon}") == "mc"


def test_the_pm2_unit_is_sandboxed(host):
    assert_exposure_at_most(host, "pm2-mc.service", 3.5)
    # Inside it the app holds no capability and sees the system read-only.
    daemon = host.check_output("systemctl show -p MainPID --value pm2-mc")
    assert host.check_output(f"grep CapEff /proc/{daemon}/status").split()[1] == "0" * 16
    # Its mounts: the last one of each mount point counts.
    mountinfo = host.check_output(f"cat /proc/{daemon}/mountinfo").splitlines()
    options = {fields[4]: fields[5].split(",") for fields in map(str.split, mountinfo)}
    assert "ro" in options["/"], options["/"]
    assert "rw" in options["/var/lib/mission-control/.pm2"]
    assert "rw" in options["/var/log/mission-control"]


def test_the_live_release_serves_on_every_worker(host):
    procs = json.loads(host.check_output("pm2-mc jlist"))
    assert len(procs) == 2
    assert all(p["pm2_env"]["status"] == "online" for p in procs)
    health = json.loads(
        host.check_output(
            "python3 -c 'import urllib.request as u; "
            'print(u.urlopen("http://127.0.0.1:3001/api/health", timeout=5).read().decode())\''
        )
    )
    assert health["status"] == "ok" and health["database"] == "ok"
    live = host.check_output("basename $(readlink /srv/mission-control/app/current)")
    assert health["release"] == live


def test_the_app_user_cannot_change_what_it_runs(host):
    """A shell as the app user (a compromised app) tries to plant code or take the next converge."""
    live = current(host)
    other = next(r for r in records(host) if r != live)
    attempts = {
        "swap app for a link to /etc": f"mv {DEPLOY_TO} {DEPLOY_TO}.x; ln -sfn /etc {DEPLOY_TO}",
        "repoint current": f"ln -sfn releases/{other} {DEPLOY_TO}/current.new"
        f" && mv -T {DEPLOY_TO}/current.new {DEPLOY_TO}/current",
        "write into the live release": f"echo 'exit()' >> {DEPLOY_TO}/releases/{live}/server.js",
        "write into another release": f"touch {DEPLOY_TO}/releases/{other}/planted.js",
        "write into node_modules": f"touch {DEPLOY_TO}/releases/{live}/node_modules/planted.js",
        "mark a release healthy": f"echo '{{}}' > {DEPLOY_TO}/releases/{other}/RELEASE.json",
        "rename a release": f"mv {DEPLOY_TO}/releases/{other} {DEPLOY_TO}/releases/x",
        "edit the env file": f"echo EVIL=1 >> {DEPLOY_TO}/shared/.env",
        "plant in the build area": f"touch {DEPLOY_TO}/build/planted",
        "plant in its home": "touch /var/lib/mission-control/planted",
        "swap PM2_HOME for a link": "mv /var/lib/mission-control/.pm2 /var/lib/mission-control/x",
    }
    succeeded = [
        name
        for name, cmd in attempts.items()
        if host.run("runuser -u mc -- sh -c %s", f"set -e; {cmd}").rc == 0
    ]
    assert succeeded == [], succeeded
    # What it needs still works: it reads its env file and writes PM2's state.
    host.run_expect([0], f"runuser -u mc -- test -r {DEPLOY_TO}/shared/.env")
    host.run_expect([0], "runuser -u mc -- test -w /var/lib/mission-control/.pm2")
    assert current(host) == live
