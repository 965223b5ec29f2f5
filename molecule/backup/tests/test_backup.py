"""Effective state of the backup role: real backups, drills, failures, restores.

The tests run in file order and build on each other (seeded data, then a
backup, then failures, retention, an in-place restore). Tables are the app's
schema (files/schema/mission_control.sql) with known row counts.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner
from exposure import assert_exposure_at_most  # conftest.py puts molecule/_helpers on the path

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("app")

ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
DB = "mission_control_production"
BACKUP_DIR = "/var/backups/mission-control/postgresql"
SAFETY_DIR = "/var/backups/mission-control/postgresql-safety"
ALERTS = "/var/lib/mc-backup/state/alerts.log"
AS_BACKUP = "runuser -u mc-backup -- "
PSQL = AS_BACKUP + "psql service=mission_control --no-psqlrc -v ON_ERROR_STOP=1 -At"
SEED_COUNTS = {
    "public.users": 3,
    "public.tasks": 50,
    "public.sessions": 2,
    "public.oauth_states": 0,
}


TABLES = (
    "SELECT string_agg(schemaname || '.' || tablename, ' ') FROM pg_tables"
    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


def seeded(counts):
    return {k: v for k, v in counts.items() if k in SEED_COUNTS}


def sql(host, query):
    return host.check_output(f"{PSQL} -c {_q(query)}")


def _q(text):
    return "'" + text.replace("'", "'\\''") + "'"


def status(host):
    return json.loads(host.check_output(AS_BACKUP + "mc-backup --json status"))


# The droplet reaches the repository as mc-backup does: restic's rclone backend
# over ssh, answered by the target's append-only `rclone serve restic`.
AS_DROPLET_RESTIC = (
    AS_BACKUP + "env RESTIC_PASSWORD_FILE=/etc/mc-backup/restic-password "
    "restic --no-cache -o 'rclone.program=ssh backup-target@mc-backup-sftp' "
    "-r rclone:backup-target@mc-backup-sftp:/srv/restic "
)


def restic(host, args):
    return host.check_output(AS_DROPLET_RESTIC + args)


def alert_lines(host):
    f = host.file(ALERTS)
    return f.content_string.splitlines() if f.exists else []


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def playbook(name, *extra):
    env = dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    )
    env["ANSIBLE_FACT_CACHING"] = "memory"
    return subprocess.run(
        [
            str(
                Path(os.environ.get("VIRTUAL_ENV", "/work/main/.venv")) / "bin" / "ansible-playbook"
            ),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            *extra,
            name,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def wait_unit_done(host, unit, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = host.run(f"systemctl show -p ActiveState --value {unit}").stdout.strip()
        if state not in ("activating", "deactivating"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"{unit} still running after {timeout}s")


def test_seed_the_app_database(host):
    schema = (ROOT / "files" / "schema" / "mission_control.sql").read_text()
    host.run_expect([0], f"{PSQL} -f - <<'EOF'\n{schema}\nEOF")
    sql(host, "TRUNCATE users, tasks, sessions, oauth_states RESTART IDENTITY CASCADE")
    sql(
        host,
        "INSERT INTO users (email, name, provider, provider_id) "
        "SELECT 'u' || i || '@example.test', 'User ' || i, 'github', i::text "
        "FROM generate_series(1, 3) i",
    )
    sql(
        host,
        "INSERT INTO tasks (user_id, title) "
        "SELECT 1 + i % 3, 'Task ' || i FROM generate_series(1, 50) i",
    )
    sql(
        host,
        "INSERT INTO sessions (id, user_id, data, expires_at) "
        "SELECT 's' || i, 1, '{}', now() + interval '1 day' FROM generate_series(1, 2) i",
    )
    host.run_expect(
        [0],
        "mkdir -p /srv/mission-control/app/current"
        " && echo r42 > /srv/mission-control/app/current/REVISION",
    )


def test_every_backup_unit_is_sandboxed(host):
    for unit in (
        "mc-backup@scheduled.service",
        "mc-backup-drill.service",
        "mc-backup-check.service",
        "mc-backup-alert@mc-backup-drill.service.service",
    ):
        assert_exposure_at_most(host, unit, 3.5)


def test_timers_are_active(host):
    for timer in ("mc-backup.timer", "mc-backup-drill.timer", "mc-backup-check.timer"):
        assert host.service(timer).is_enabled
        assert host.run(f"systemctl is-active {timer}").stdout.strip() == "active"


def test_the_timers_unit_makes_a_local_and_an_offsite_backup_with_a_manifest(host):
    unit = host.check_output("systemctl show -p Unit --value mc-backup.timer")
    assert unit == "mc-backup@scheduled.service"
    host.run_expect([0], f"systemctl start {unit}")
    st = status(host)
    last = st["last_success"]
    assert last["reason"] == "scheduled"
    dump = host.file(last["path"])
    assert dump.exists and dump.user == "mc-backup" and dump.size == last["size"] > 0
    manifest = json.loads(host.file(last["path"].replace(".dump", ".manifest.json")).content_string)
    assert seeded(manifest["tables"]) == SEED_COUNTS
    assert set(manifest["tables"]) == set(sql(host, TABLES).split())
    assert manifest["release"] == "r42"
    assert manifest["sha256"] == host.check_output(f"sha256sum {last['path']}").split()[0]
    assert manifest["size"] == dump.size
    host.run_expect([0], f"{AS_BACKUP} pg_restore --list {last['path']}")
    # offsite: the snapshot named in the status holds this very dump and manifest
    assert st["last_offsite"]["snapshot"] == last["snapshot"] != ""
    snaps = json.loads(restic(host, "snapshots --json"))
    snap = next(s for s in snaps if s["short_id"] == last["snapshot"])
    assert (
        "mc-pg" in snap["tags"]
        and "reason:scheduled" in snap["tags"]
        and "release:r42" in snap["tags"]
    )
    assert sorted(Path(p).name for p in snap["paths"]) == sorted(
        [Path(last["path"]).name, Path(last["path"]).name.replace(".dump", ".manifest.json")]
    )
    table = host.check_output(AS_BACKUP + "mc-backup status")
    assert "last backup" in table and "age 0.0 h" in table and last["snapshot"] in table


def test_restore_drill_passes_and_reports_counts(host):
    host.run_expect([0], "systemctl start mc-backup-drill.service")
    drill = status(host)["last_drill"]
    assert drill["result"] == "PASS" and drill["source"] == "local"
    assert drill["restore_seconds"] > 0 and drill["duration_seconds"] >= drill["restore_seconds"]
    out = json.loads(host.check_output(AS_BACKUP + "mc-backup --json drill --from offsite"))
    assert out["result"] == "PASS"
    assert seeded({r["table"]: r["restored"] for r in out["tables"]}) == SEED_COUNTS
    assert all(r["ok"] for r in out["tables"])
    # the scratch databases are gone
    assert (
        sql(host, "SELECT count(*) FROM pg_database WHERE datname LIKE 'mc_restore_drill%'") == "0"
    )


def test_offsite_check_unit_passes(host):
    host.run_expect([0], "systemctl start mc-backup-check.service")
    assert status(host)["last_check"]["result"] == "PASS"


def test_database_down_fails_the_unit_alerts_and_keeps_the_last_good_backup(host):
    good = status(host)["last_success"]
    alerts_before = len(alert_lines(host))
    docker("exec", "mc-backup-db", "systemctl", "stop", "postgresql")
    try:
        result = host.run("systemctl start mc-backup@scheduled.service")
        assert result.rc != 0
        assert (
            host.run("systemctl is-failed mc-backup@scheduled.service").stdout.strip() == "failed"
        )
        time.sleep(3)  # the OnFailure= unit runs after the failure; it must not alert twice
        new = alert_lines(host)[alerts_before:]
        assert len(new) == 1, new
        assert new[0].startswith("run|cannot connect to service=mission_control")
        st = status(host)
        assert st["last_success"] == good
        assert "cannot connect" in st["last_failure"]["error"]
        assert good["file"] in host.check_output(AS_BACKUP + "mc-backup status")
    finally:
        docker("exec", "mc-backup-db", "systemctl", "start", "postgresql")
        host.run("systemctl reset-failed 'mc-backup@*'")
    for _ in range(30):
        if host.run(f"{PSQL} -c 'SELECT 1'").rc == 0:
            break
        time.sleep(1)


def _start_slow_backup(host, reason):
    host.run_expect([0], f"systemctl start --no-block mc-backup@{reason}.service")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        size = host.run(f"stat -c %s {BACKUP_DIR}/.*.tmp 2>/dev/null").stdout.split()
        if size and int(size[0]) > 0:
            return
        time.sleep(0.1)
    raise AssertionError("the dump never started writing")


@pytest.fixture
def bulky_database(host):
    """A table big enough that pg_dump takes seconds (time to kill it midway)."""
    sql(
        host,
        "CREATE TABLE bulk AS SELECT i, repeat(md5(i::text), 8) AS pad "
        "FROM generate_series(1, 1500000) i",
    )
    yield
    sql(host, "DROP TABLE IF EXISTS bulk")
    host.run("systemctl reset-failed 'mc-backup@*'")


def test_a_dump_killed_midway_is_never_recorded(host, bulky_database):
    good = status(host)["last_success"]
    # 1. pg_dump dies: the run notices, fails and alerts
    alerts_before = len(alert_lines(host))
    _start_slow_backup(host, "killpgdump")
    pid = host.check_output("pgrep -u mc-backup -x pg_dump")
    host.run_expect([0], f"kill -KILL {pid}")
    assert wait_unit_done(host, "mc-backup@killpgdump.service") == "failed"
    assert "killed by signal 9" in status(host)["last_failure"]["error"]
    # 2. the whole unit is killed: nothing can report, OnFailure= alerts
    _start_slow_backup(host, "killunit")
    host.run_expect([0], "systemctl kill -s KILL mc-backup@killunit.service")
    assert wait_unit_done(host, "mc-backup@killunit.service") == "failed"
    time.sleep(3)
    new = alert_lines(host)[alerts_before:]
    assert any(line.startswith("run|pg_dump failed (killed by signal 9)") for line in new), new
    assert any("mc-backup@killunit.service failed without reporting" in line for line in new), new
    # neither left a manifest or a status entry: at most a hidden temporary file
    st = status(host)
    assert st["last_success"] == good
    listing = host.check_output(f"ls -A {BACKUP_DIR}").split()
    assert all(not name.startswith(".") or name.endswith(".tmp") for name in listing)
    dumps = [n for n in listing if n.endswith(".dump")]
    assert all(n.replace(".dump", ".manifest.json") in listing for n in dumps)
    manifests = [
        json.loads(host.file(f"{BACKUP_DIR}/{n}").content_string)
        for n in listing
        if n.endswith(".manifest.json")
    ]
    assert all(m["reason"] not in ("killpgdump", "killunit") for m in manifests)
    restic_tags = {t for s in json.loads(restic(host, "snapshots --json")) for t in s["tags"]}
    assert not restic_tags & {"reason:killpgdump", "reason:killunit"}


def test_the_next_run_cleans_up_and_succeeds(host):
    host.run_expect([0], "systemctl start mc-backup@after-kill.service")
    listing = host.check_output(f"ls -A {BACKUP_DIR}").split()
    assert not [n for n in listing if n.endswith(".tmp")]
    assert status(host)["last_success"]["reason"] == "after-kill"


RETENTION_SERIES = [
    "2025-02-24T09:00:00Z",  # ISO week 9
    "2025-03-03T10:00:00Z",  # week 10, Monday
    "2025-03-03T10:30:00Z",
    "2025-03-03T11:00:00Z",
    "2025-03-03T12:00:00Z",
    "2025-03-04T09:00:00Z",
    "2025-03-05T09:00:00Z",
    "2025-03-05T13:00:00Z",
    "2025-03-12T09:00:00Z",  # week 11
    "2025-03-12T10:00:00Z",
]
# keep hourly 3, daily 2, weekly 3 (restic's rules, newest per bucket):
# hourly -> 03-12 10h, 03-12 09h, 03-05 13h; daily -> 03-12, 03-05 (13h);
# weekly -> w11 (03-12 10h), w10 (03-05 13h), w9 (02-24)
RETENTION_KEPT = [
    "2025-02-24T09:00:00Z",
    "2025-03-05T13:00:00Z",
    "2025-03-12T09:00:00Z",
    "2025-03-12T10:00:00Z",
]


def test_retention_keeps_exactly_what_the_policy_says(host):
    cfg = json.loads(host.file("/etc/mc-backup/config.json").content_string)
    cfg.update(
        backup_dir="/var/tmp/rt/pg",
        safety_dir="/var/tmp/rt/safety",
        state_dir="/var/tmp/rt/state",
        sqlite_dir="/var/tmp/rt/sqlite",
        keep_hourly=3,
        keep_daily=2,
        keep_weekly=3,
        restic_host="rt",
    )
    host.run_expect(
        [0],
        "rm -rf /var/tmp/rt && install -d -o mc-backup -g mc-backup "
        "/var/tmp/rt /var/tmp/rt/pg /var/tmp/rt/safety /var/tmp/rt/state /var/tmp/rt/sqlite",
    )
    host.run_expect(
        [0],
        f"echo {_q(json.dumps(cfg))} > /var/tmp/rt/config.json"
        " && chmod 0644 /var/tmp/rt/config.json",
    )
    # an old and a recent SQLite snapshot: only the one older than 30 days goes
    host.run_expect(
        [0],
        "touch -d '2025-01-01' /var/tmp/rt/sqlite/old.sqlite3 && "
        "touch -d '2025-03-01' /var/tmp/rt/sqlite/recent.sqlite3",
    )
    mcb = AS_BACKUP + "env MC_BACKUP_NOW={} mc-backup --config /var/tmp/rt/config.json "
    host.run_expect([0], mcb.format(RETENTION_SERIES[0]) + "init")
    for when in RETENTION_SERIES:
        host.run_expect([0], mcb.format(when) + "run --reason retention")
    stamps = sorted(
        n.split("-")[-1].removesuffix(".dump")
        for n in host.check_output("ls /var/tmp/rt/pg").split()
        if n.endswith(".dump")
    )
    expected = [t.replace("-", "").replace(":", "") for t in RETENTION_KEPT]
    assert stamps == expected
    assert len(host.check_output("ls /var/tmp/rt/pg").split()) == 2 * len(RETENTION_KEPT)
    assert host.check_output("ls /var/tmp/rt/sqlite").split() == ["recent.sqlite3"]
    # Offsite, the droplet removed nothing: it cannot. The operator's pruning
    # from the controller applies the same rules to this host's snapshots.
    assert offsite_times(host, "rt") == RETENTION_SERIES
    others = offsite_times(host, "mc-backup-debian12")
    proc = playbook(
        "playbooks/offsite-prune.yml",
        *operator(),
        *("-e", "backup_restic_host=rt"),
        *("-e", "backup_keep_hourly=3", "-e", "backup_keep_daily=2", "-e", "backup_keep_weekly=3"),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "remove 6 snapshots" in proc.stdout, proc.stdout[-3000:]
    assert offsite_times(host, "rt") == RETENTION_KEPT
    assert offsite_times(host, "mc-backup-debian12") == others


def sftp_address():
    return json.loads(docker("inspect", "mc-backup-sftp"))[0]["NetworkSettings"]["Networks"][
        "mc-backup-net"
    ]["IPAddress"]


# The operator, on the controller, with the key that may use sftp (this
# machine does not resolve the container's name: ssh is given its address,
# and checks the host key pinned under the name).
SSH_TO_SFTP_BY_ADDRESS = "-o HostName={} -o HostKeyAlias=mc-backup-sftp"


def operator():
    return (
        *("-e", f"backup_offsite_prune_ssh_key_file={EPHEMERAL / 'operator_key'}"),
        *(
            "-e",
            json.dumps(
                {"backup_offsite_prune_ssh_args": SSH_TO_SFTP_BY_ADDRESS.format(sftp_address())}
            ),
        ),
    )


def operator_restic(host, *args):
    """restic on the controller as offsite-prune.yml runs it."""
    known_hosts = EPHEMERAL / "operator_known_hosts"
    known_hosts.write_text(
        "mc-backup-sftp "
        + docker("exec", "mc-backup-sftp", "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
    )
    ssh = (
        f"ssh -i {EPHEMERAL / 'operator_key'} -o IdentitiesOnly=yes -o BatchMode=yes"
        f" -o UserKnownHostsFile={known_hosts} {SSH_TO_SFTP_BY_ADDRESS.format(sftp_address())}"
        " backup-target@mc-backup-sftp -s sftp"
    )
    env = dict(
        os.environ,
        RESTIC_PASSWORD=host.check_output("cat /etc/mc-backup/restic-password"),
        RESTIC_REPOSITORY="sftp:backup-target@mc-backup-sftp:/srv/restic",
    )
    return subprocess.run(
        ["restic", "-o", f"sftp.command={ssh}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout


def data_files():
    return sorted(
        docker("exec", "mc-backup-sftp", "find", "/srv/restic/data", "-type", "f").split()
    )


def offsite_times(host, restic_host):
    snaps = json.loads(restic(host, f"snapshots --json --host {restic_host} --tag mc-pg"))
    return sorted(s["time"][:19] + "Z" for s in snaps)


def test_the_droplet_cannot_erase_the_offsite_copies(host):
    """Whoever holds the droplet holds its key: the target lets it add and read,
    never forget, prune, delete or rewrite, whatever it asks for."""
    # Something to prune: the operator forgets an old snapshot (no prune yet).
    oldest = json.loads(restic(host, "snapshots --json --host rt"))[0]["short_id"]
    operator_restic(host, "forget", oldest)
    assert oldest not in restic(host, "snapshots --json --host rt")
    before, files = restic(host, "snapshots --json"), data_files()
    newest = json.loads(before)[-1]["short_id"]
    # Each refused delete is retried by restic for about 50 s before it gives up.
    for args in (f"forget {newest}", "prune"):
        proc = host.run(AS_DROPLET_RESTIC + args)
        assert proc.rc != 0, (args, proc.stdout, proc.stderr)
        assert "403 Forbidden" in proc.stderr, proc.stderr[-2000:]
    # Nor sftp, nor a command of its own choosing: rclone's server answers.
    proc = host.run(
        "echo 'rm /srv/restic/config' | " + AS_BACKUP + "sftp -b - backup-target@mc-backup-sftp"
    )
    assert proc.rc != 0, proc.stdout + proc.stderr
    host.run(
        AS_BACKUP
        + "ssh backup-target@mc-backup-sftp 'rm -rf /srv/restic/*; touch /srv/backup/planted'"
    )
    assert "planted" not in docker("exec", "mc-backup-sftp", "ls", "-a", "/srv/backup").split()
    assert restic(host, "snapshots --json") == before
    # Added to (a prune writes its repacked data before it would delete), never removed from.
    assert set(files) <= set(data_files())
    host.run_expect([0], AS_DROPLET_RESTIC + "check")
    # The operator's key may: its prune rewrites the index the droplet could not.
    assert "done" in operator_restic(host, "prune")
    host.run_expect([0], AS_DROPLET_RESTIC + "check")


def test_in_place_restore_brings_back_the_backup_point(host):
    proc = playbook("playbooks/backup.yml", "-e", "backup_reason=before-change")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "before-change" in proc.stdout and "last backup" in proc.stdout
    point = status(host)["last_success"]
    assert point["reason"] == "before-change"
    before = sql(host, "SELECT string_agg(id || ':' || title, ',' ORDER BY id) FROM tasks")
    # damage: rows deleted and changed, a row added
    sql(host, "DELETE FROM tasks WHERE id > 10")
    sql(host, "UPDATE tasks SET title = 'changed' WHERE id = 1")
    sql(
        host,
        "INSERT INTO users (email, name, provider, provider_id) "
        "VALUES ('late@x.test', 'Late', 'g', '9')",
    )

    refused = playbook("playbooks/restore.yml", "-e", "restore_mode=in-place")
    assert refused.returncode != 0
    assert f"restore_confirm={DB}" in refused.stdout
    assert sql(host, "SELECT count(*) FROM tasks") == "10"

    proc = playbook(
        "playbooks/restore.yml", "-e", "restore_mode=in-place", "-e", f"restore_confirm={DB}"
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "App stop/start skipped" in out and "PASS" in out
    assert sql(host, "SELECT string_agg(id || ':' || title, ',' ORDER BY id) FROM tasks") == before
    assert sql(host, "SELECT count(*) FROM users") == "3"
    restore = status(host)["last_restore"]
    assert restore["result"] == "PASS" and restore["backup"] == point["file"]
    # the safety dump holds the damaged state
    safety = restore["safety_dump"]["file"]
    assert safety.startswith(SAFETY_DIR)
    manifest = json.loads(host.file(safety.replace(".dump", ".manifest.json")).content_string)
    assert manifest["tables"]["public.tasks"] == 10 and manifest["tables"]["public.users"] == 4
    assert restore["safety_dump"]["snapshot"]


def test_restore_playbook_default_is_a_drill(host):
    proc = playbook("playbooks/restore.yml", "-e", "restore_source=offsite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "public.tasks" in proc.stdout


def test_unreachable_offsite_target_is_a_clear_error_before_any_change(host, tmp_path):
    before = host.file("/etc/mc-backup/config.json").md5sum
    play = tmp_path / "play.yml"
    play.write_text(
        "- name: Converge with an unreachable target\n  hosts: app\n  tasks:\n"
        "    - name: Run the role\n      ansible.builtin.include_role:\n        name: backup\n"
    )
    varsfile = tmp_path / "vars.json"
    varsfile.write_text(
        json.dumps(
            {
                "backup_restic_repository": "sftp:backup-target@mc-backup-nowhere:/srv/restic",
                "backup_restic_password": "x" * 20,
                "backup_restic_sftp_private_key": (EPHEMERAL / "backup_key").read_text(),
                "backup_restic_sftp_known_hosts": ["mc-backup-nowhere ssh-ed25519 AAAA"],
                "backup_restic_connect_timeout": 3,
            }
        )
    )
    proc = playbook(str(play), "-e", f"@{varsfile}")
    assert proc.returncode != 0
    assert (
        "backup_restic_repository sftp:backup-target@mc-backup-nowhere:/srv/restic is unreachable"
        in proc.stdout
    ), proc.stdout
    assert "Nothing was changed" in proc.stdout
    assert host.file("/etc/mc-backup/config.json").md5sum == before


def test_secrets_are_private(host):
    for path in ("/etc/mc-backup/restic-password", "/etc/mc-backup/secrets.env"):
        f = host.file(path)
        assert f.user == "root" and f.group == "mc-backup" and f.mode == 0o640
    key = host.file("/var/lib/mc-backup/.ssh/id_backup")
    assert key.user == "root" and key.group == "mc-backup" and key.mode == 0o640


def test_the_backup_user_cannot_change_where_root_writes(host):
    for path, owner, mode in (
        ("/var/lib/mc-backup", "root", 0o751),
        ("/var/lib/mc-backup/.ssh", "root", 0o750),
        ("/var/lib/mc-backup/state", "mc-backup", 0o751),
        ("/var/backups/mission-control", "root", 0o750),
        (BACKUP_DIR, "mc-backup", 0o750),
    ):
        f = host.file(path)
        assert (f.is_directory, f.user, f.group, f.mode) == (True, owner, "mc-backup", mode), path
    # What a compromised backup user would try: a link where root writes next.
    for attempt in (
        "ln -s /etc /var/lib/mc-backup/.ssh/config.new",
        "mv /var/lib/mc-backup/.ssh /var/lib/mc-backup/ssh.old",
        "ln -s /etc /var/lib/mc-backup/.pgpass.new",
        f"mv {BACKUP_DIR} {BACKUP_DIR}.old",
    ):
        out = host.run(AS_BACKUP + attempt)
        assert out.rc != 0 and "Permission denied" in out.stderr, attempt
    # What the backup program writes, it writes in state/; its status is everyone's
    # to read (mc-monitor), nothing else there is.
    status = host.file("/var/lib/mc-backup/state/status.json")
    assert (status.user, status.mode) == ("mc-backup", 0o644)
    listing = host.run("runuser -u nobody -- ls /var/lib/mc-backup/state")
    assert listing.rc != 0 and "Permission denied" in listing.stderr
    assert host.run("runuser -u nobody -- cat /var/lib/mc-backup/state/status.json").rc == 0


def test_root_runs_the_backup_program_as_the_backup_user(host):
    """Whatever words its arguments hold: only the check-config subcommand stays
    root's (Ansible's validate hands it a file only root reads)."""
    copy = "/root/check-config"
    host.check_output(f"install -m 0600 -o root -g root /etc/mc-backup/config.json {copy}")
    try:
        host.run_expect([0], f"mc-backup check-config {copy}")
        # As the backup user it cannot read a file in root's home: proof it switched.
        # (The word check-config as --config's value once kept it root's.)
        for argv, path in (
            ("--config check-config status", "check-config"),
            (f"--json --config={copy} status", copy),
        ):
            out = host.run(f"cd /root && mc-backup {argv}")
            assert out.rc == 2 and f"cannot read configuration {path}" in out.stderr, argv
    finally:
        host.run(f"rm -f {copy}")


def test_a_link_left_under_the_older_layout_stops_the_run(host, tmp_path):
    """An upgraded droplet: the backup user owned its home and the backups'
    folder, and may have left a link where root is about to hand it a folder."""
    before = status(host)
    victim = "/etc/mc-backup-victim"
    host.check_output(f"install -d -o root -g root -m 0755 {victim}")
    host.check_output(
        "chown mc-backup: /var/lib/mc-backup /var/backups/mission-control && "
        "mv /var/lib/mc-backup/state/status.json /var/lib/mc-backup/status.json"
    )
    host.check_output(AS_BACKUP + f"mv {SAFETY_DIR} {SAFETY_DIR}.keep")
    host.check_output(AS_BACKUP + f"ln -s {victim} {SAFETY_DIR}")
    play = tmp_path / "play.yml"
    play.write_text(
        "- name: Lay out the backup user's folders\n  hosts: app\n  tasks:\n"
        "    - name: Run the role's user entry point\n      ansible.builtin.include_role:\n"
        "        name: backup\n        tasks_from: user\n"
    )
    try:
        proc = playbook(str(play))
        assert proc.returncode != 0
        assert f"backup: {SAFETY_DIR} is a symbolic link" in proc.stdout, proc.stdout[-3000:]
        assert host.file(victim).user == "root"
        # The user moved its own status before the home became root's.
        assert host.file("/var/lib/mc-backup").user == "root"
        assert not host.file("/var/lib/mc-backup/status.json").exists
    finally:
        host.check_output(f"rm -f {SAFETY_DIR} && mv {SAFETY_DIR}.keep {SAFETY_DIR}")
        host.check_output(f"rmdir {victim}")
    proc = playbook(str(play))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert host.file("/var/backups/mission-control").user == "root"
    assert status(host)["last_success"] == before["last_success"] != {}
