"""Effective state: the sample's rows are in PostgreSQL, seen from the droplet."""

import os
import sqlite3
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("app")

SAMPLE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "sample.db"
PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -qAt -c"
TABLES = ("users", "tasks", "sessions", "oauth_states")


@pytest.fixture(scope="module")
def source_counts():
    with sqlite3.connect(SAMPLE) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.mark.parametrize("table", TABLES)
def test_row_counts_match_the_sample(host, source_counts, table):
    assert int(host.check_output(f"{PSQL} 'SELECT count(*) FROM {table}'")) == source_counts[table]
    assert source_counts["tasks"] > 0


def test_a_row_reads_back_as_written(host):
    with sqlite3.connect(SAMPLE) as conn:
        email, name = conn.execute("SELECT email, name FROM users ORDER BY id LIMIT 1").fetchone()
    row = host.check_output(f"{PSQL} 'SELECT email, name FROM users ORDER BY id LIMIT 1'")
    assert row == f"{email}|{name}"


def test_next_insert_continues_the_sequence(host):
    top = int(host.check_output(f"{PSQL} 'SELECT max(id) FROM users'"))
    new_id = host.check_output(
        f'{PSQL} "INSERT INTO users (email, name, provider, provider_id)'
        " VALUES ('probe@example.test', 'probe', 'test', 'probe') RETURNING id\""
    )
    host.check_output(f"{PSQL} \"DELETE FROM users WHERE email = 'probe@example.test'\"")
    assert int(new_id) == top + 1


def test_snapshot_kept_and_private(host):
    snaps = host.check_output("ls /var/backups/mission-control/sqlite").split()
    assert len(snaps) == 1 and snaps[0].startswith("mission-control-")
    assert host.file("/var/backups/mission-control/sqlite").mode == 0o700
    integrity = host.check_output(
        f"sqlite3 /var/backups/mission-control/sqlite/{snaps[0]} 'PRAGMA integrity_check'"
    )
    assert integrity == "ok"


def test_schema_version_recorded(host):
    assert host.check_output(f"{PSQL} 'SELECT count(*) FROM mc_migration'") != "0"


def test_cli_verify_reports_a_match(host):
    out = host.run(
        "env PGSERVICEFILE=/var/lib/mission-control/.pg_service.conf"
        " PGPASSFILE=/var/lib/mission-control/.pgpass"
        " mc-migrate verify --sqlite /var/lib/mission-control/migrate/upload.db"
        " --database-url 'postgresql:///?service=mission_control'"
    )
    assert out.rc == 0, out.stdout + out.stderr
