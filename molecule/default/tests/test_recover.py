"""Disaster recovery, the scenario's last test (conftest.py runs it after the
others): after a backup, the droplet and the database are destroyed; new, empty
ones take their place (a fresh droplet: root's key, cloud-init's drop-in), and
recover.yml rebuilds production on them from the inventory and the offsite
repository alone."""

from __future__ import annotations

import json
import re
import subprocess

import testinfra
from platforms import recreate  # conftest.py puts molecule/_helpers on the path
from stack import DROPLETS, INVENTORY, ROOT, STATE, address, ansible_playbook, through_nginx

testinfra_hosts = DROPLETS
SCENARIO = ROOT / "molecule" / "default"
DATABASE = "mc-default-db"
PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -qAt"
# Every table's row count and an ordered digest of its rows' text: written here,
# not with the backup program's own checksums, which the recovery itself uses.
DIGESTS = r"""SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text),'
              ' '''')) FROM %I.%I t',
              schemaname || '.' || tablename, schemaname, tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
\gexec
"""
LATE_WRITE = "written after the backup"


def digests(host) -> dict[str, tuple[int, str]]:
    out = host.check_output(f"printf '%s' {quote(DIGESTS)} | {PSQL} -F ' '")
    rows = [line.split(" ") for line in out.splitlines() if line and not line.startswith("SET")]
    return {table: (int(count), digest) for table, count, digest in rows}


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def playbook(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    proc = ansible_playbook(["-i", INVENTORY, *argv], **kwargs)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "[WARNING]" not in proc.stdout + proc.stderr, proc.stdout[-6000:] + proc.stderr[-2000:]
    return proc


def test_a_deploy_of_other_code_than_the_required_revision_stops_before_the_host(host):
    live = host.check_output("readlink /srv/mission-control/app/current")
    proc = ansible_playbook(
        ["-i", INVENTORY, "playbooks/deploy.yml", "-e", "app_required_revision=" + "0" * 40]
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert f"but app_required_revision is {'0' * 40}" in " ".join(proc.stdout.split())
    assert "Nothing was changed" in proc.stdout
    assert host.check_output("readlink /srv/mission-control/app/current") == live


def test_recover_rebuilds_the_lost_droplet_and_database_from_offsite(host):
    droplet = host.backend.get_hostname()
    # The live release came from the README's git tag (test_readme_commands.py):
    # as for a user who deploys from git, recover.yml fetches that commit.
    repo = STATE / "readme-app.git"
    record = json.loads(host.check_output("cat /srv/mission-control/app/current/RELEASE.json"))
    assert record["source"] == "git" and record["ref"].startswith(f"{repo}@"), record
    playbook("playbooks/backup.yml", "-e", "backup_reason=before-loss")
    taken = json.loads(host.check_output("mc-backup --json status"))["last_success"]
    assert taken["reason"] == "before-loss" and taken["snapshot"], taken
    before = digests(host)
    assert before["public.tasks"][0] > 0, before
    revision = host.check_output("cat /srv/mission-control/app/current/REVISION")
    token = through_nginx(host, "POST", "/api/auth/demo")["token"]
    kept = sorted(t["id"] for t in through_nginx(host, "GET", "/api/tasks", token)["tasks"])
    assert kept
    # A write after the backup: the recovery loses it, and says how old the backup was.
    insert = f"INSERT INTO tasks (user_id, title) SELECT min(id), '{LATE_WRITE}' FROM users"
    host.check_output(f'{PSQL} -c "{insert}"')

    # Both are lost; new, empty ones come up under the same names.
    old_address = address(droplet)
    for name in (droplet, DATABASE):
        recreate(SCENARIO, name)
    for stale in {old_address, address(droplet)}:  # as a user forgets the old droplet's key
        subprocess.run(
            ["ssh-keygen", "-R", stale, "-f", str(STATE / "known_hosts")], capture_output=True
        )
    playbook("--limit", "app", str(SCENARIO / "prepare.yml"))  # a fresh droplet: root's key only
    new = testinfra.get_host(f"docker://{droplet}")
    assert new.run("test -e /srv/mission-control").rc != 0

    control = STATE / "cp-recover"  # the old droplet's SSH masters died with it
    control.mkdir(exist_ok=True)
    proc = playbook(
        "playbooks/recover.yml",
        *("-e", "app_source=git", "-e", f"app_git_repo={repo}"),
        timeout=2400,
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control),
    )
    text = " ".join(proc.stdout.split())
    seconds = re.search(r"recovery time: (\d+) s", text)
    lost = re.search(r"\(([\d.]+) min before the recovery started\)", text)
    assert "RECOVERED" in text and seconds and lost, proc.stdout[-6000:]
    (STATE / "recovery.json").write_text(
        json.dumps(
            {
                "recovery_seconds": int(seconds[1]),
                "backup_age_minutes": float(lost[1]),
                "tables": len(before),
                "rows": sum(count for count, _ in before.values()),
            }
        )
    )
    assert "Nothing was changed" not in proc.stdout

    # The rows and their content are those of the backup; the later write is lost.
    assert digests(new) == before
    count = f"{PSQL} -c \"SELECT count(*) FROM tasks WHERE title = '{LATE_WRITE}'\""
    assert new.check_output(count) == "0"
    # The release live at the backup serves again, through nginx, with that data.
    assert new.check_output("cat /srv/mission-control/app/current/REVISION") == revision
    health = through_nginx(new, "GET", "/api/health")
    assert health["status"] == "ok" and health["database"] == "ok", health
    token = through_nginx(new, "POST", "/api/auth/demo")["token"]
    assert sorted(t["id"] for t in through_nginx(new, "GET", "/api/tasks", token)["tasks"]) == kept
    # The new droplet's backups go on into the same offsite repository.
    new.run_expect([0], "systemctl start mc-backup@after-recovery.service")
    after = json.loads(new.check_output("mc-backup --json status"))["last_success"]
    assert after["snapshot"] and after["snapshot"] != taken["snapshot"]
