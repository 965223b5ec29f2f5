"""Backups, drills and restores of a real PostgreSQL database, through the command
line as the systemd units run it (local copies only: restic is the molecule
scenario's)."""

from __future__ import annotations

import json
import subprocess
from hashlib import md5
from pathlib import Path

import pytest

from mc_backup import database
from mc_backup.cli import main
from mc_backup.files import sha256_of

from .conftest import OWNER, SEED_COUNTS, SERVICE, alert_lines
from .test_retention import KEPT, SERIES


@pytest.fixture
def config(make_config, app_db) -> str:
    return str(make_config(pg_bin_dir=app_db.postgres.bin_dir))


def status(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "state" / "status.json").read_text())


def mc_backup(config: str, *args: str) -> int:
    return main(["--config", config, *args])


def row_hash(text: str) -> int:
    """A row's share of a table checksum: its text's MD5, first 64 bits, signed."""
    return int.from_bytes(md5(text.encode()).digest()[:8], "big", signed=True)


def replace_dump(app_db, dump: Path) -> None:
    """A pg_dump of the database as it is now in place of `dump`, with the size and
    sha256 its manifest records (so it passes the file check); the manifest's
    counts and checksums stay those of the original dump."""
    pg_dump = f"{app_db.postgres.bin_dir}/pg_dump"
    subprocess.run(
        [pg_dump, "--format=custom", f"--file={dump}", f"--dbname=service={SERVICE}"],
        check=True,
        capture_output=True,
    )
    path = dump.with_suffix(".manifest.json")
    manifest = json.loads(path.read_text())
    manifest.update(size=dump.stat().st_size, sha256=sha256_of(dump))
    path.write_text(json.dumps(manifest))


def test_a_backup_is_a_checked_dump_with_its_row_counts(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mc_backup(config, "run", "--reason", "scheduled") == 0
    assert "last backup" in capsys.readouterr().out
    last = status(tmp_path)["last_success"]
    dump = Path(last["path"])
    assert dump.parent == tmp_path / "pg" and dump.name.startswith(f"{app_db.name}-")
    manifest = json.loads(dump.with_suffix(".manifest.json").read_text())
    assert manifest["tables"] == SEED_COUNTS and manifest["format"] == 2
    # the checksums are those of the data: recomputed now (autocommit connection),
    # and for one table from its rows' text
    with app_db.connect() as conn:
        assert database.count_and_checksum(conn) == (SEED_COUNTS, manifest["checksums"])
        rows = conn.execute("SELECT ROW(t.*)::text FROM tasks AS t").fetchall()
    assert manifest["checksums"]["public.tasks"] == str(sum(row_hash(r) for (r,) in rows))
    assert manifest["database"] == app_db.name and manifest["release"] == "r42"
    assert manifest["host"] == "droplet" and manifest["reason"] == "scheduled"
    assert manifest["sha256"] == sha256_of(dump) == last["sha256"]
    assert manifest["size"] == dump.stat().st_size == last["size"]
    assert last["tables"] == 3 and last["rows"] == 54 and last["snapshot"] == ""
    listing = subprocess.run(
        [f"{app_db.postgres.bin_dir}/pg_restore", "--list", str(dump)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "TABLE DATA audit Events" in listing
    assert sorted(p.name for p in (tmp_path / "pg").iterdir()) == [
        dump.name,
        dump.with_suffix(".manifest.json").name,
    ]


def test_a_failed_pg_dump_is_never_recorded_and_the_next_run_cleans_up(
    make_config, app_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = str(make_config(pg_bin_dir=app_db.postgres.bin_dir))
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:00Z")
    assert mc_backup(good, "run", "--reason", "first") == 0
    first = status(tmp_path)["last_success"]
    bad = str(
        make_config(
            "bad.json", pg_bin_dir=app_db.postgres.bin_dir, pg_dump_args=["--no-such-option"]
        )
    )
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:01Z")
    assert mc_backup(bad, "run", "--reason", "broken") == 1
    assert status(tmp_path)["last_success"] == first
    assert alert_lines(tmp_path)[-1].startswith("run|pg_dump failed (exit 1):")
    assert len(list((tmp_path / "pg").glob("*.dump"))) == 1
    # what a killed run leaves: a temporary file, a dump renamed without its manifest
    (tmp_path / "pg" / f".{app_db.name}-20250101T000000Z.dump.tmp").write_bytes(b"half")
    (tmp_path / "pg" / f"{app_db.name}-20250101T000001Z.dump").write_bytes(b"no manifest")
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:02Z")
    assert mc_backup(good, "run", "--reason", "after-kill") == 0
    names = [p.name for p in (tmp_path / "pg").iterdir()]
    assert not [n for n in names if n.endswith(".tmp") or "20250101" in n]
    assert status(tmp_path)["last_success"]["reason"] == "after-kill"
    # The first good backup's time stays (mc-monitor: a drill is due from then).
    assert status(tmp_path)["first_success"] == "2025-03-03T10:00:00Z"


def test_an_unreachable_database_fails_alerts_once_and_keeps_the_last_good_backup(
    config: str, app_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:00Z")
    assert mc_backup(config, "run") == 0
    good = status(tmp_path)["last_success"]
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T11:00:00Z")
    closed = app_db.postgres.service_file(tmp_path / "down.conf", app_db.name, port=1)
    monkeypatch.setenv("PGSERVICEFILE", str(closed))
    assert mc_backup(config, "run") == 1
    lines = alert_lines(tmp_path)
    assert len(lines) == 1 and lines[0].startswith("run|cannot connect to service=mc_test")
    assert status(tmp_path)["last_success"] == good
    assert "cannot connect" in status(tmp_path)["last_failure"]["error"]


def test_the_drill_restores_into_a_scratch_database_and_drops_it(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mc_backup(config, "run") == 0
    # the scratch database of an interrupted drill
    with app_db.postgres.admin() as conn:
        conn.execute(f"CREATE DATABASE mc_restore_drill_20200101t000000z OWNER {OWNER}")
    capsys.readouterr()
    assert mc_backup(config, "--json", "drill") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["result"] == "PASS" and result["source"] == "local"
    assert {r["table"]: r["restored"] for r in result["tables"]} == SEED_COUNTS
    assert result["content_checked"] is True
    assert all(r["content"] is True and r["ok"] for r in result["tables"])
    assert result["duration_seconds"] >= result["restore_seconds"] > 0
    drill = status(tmp_path)["last_drill"]
    assert drill["result"] == "PASS" and "tables" not in drill
    with app_db.postgres.admin() as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'mc_restore_drill%'"
        ).fetchone()[0]
    assert left == 0
    assert (
        mc_backup(config, "drill", "--backup", Path(status(tmp_path)["last_success"]["file"]).stem)
        == 0
    )
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["table", "manifest", "restored", "content", "ok"]
    assert table[2].split() == ["public.tasks", "50", "50", "yes", "yes"]
    assert table[-1].startswith("PASS: ") and "row counts only" not in table[-1]


def test_a_wrong_value_with_the_right_counts_fails_the_drill_and_the_restore(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mc_backup(config, "run") == 0
    dump = Path(status(tmp_path)["last_success"]["path"])
    with app_db.connect() as conn:
        conn.execute("UPDATE tasks SET title = 'Task 7, changed' WHERE id = 7")
    replace_dump(app_db, dump)
    capsys.readouterr()
    assert mc_backup(config, "--json", "drill") == 1
    result = json.loads(capsys.readouterr().out)
    assert result["result"] == "FAIL" and result["content_checked"] is True
    assert {r["table"]: r["restored"] for r in result["tables"]} == SEED_COUNTS
    assert {r["table"]: (r["content"], r["ok"]) for r in result["tables"]} == {
        "audit.Events": (True, True),
        "public.tasks": (False, False),
        "public.users": (True, True),
    }
    error = f"restore drill of {dump.name}: content differs from the manifest: public.tasks"
    assert result["error"] == error
    assert status(tmp_path)["last_drill"]["result"] == "FAIL"
    # the in-place restore of that dump fails the same way (the app database then
    # holds the dump's data, which is what it held already)
    assert mc_backup(config, "restore", "--confirm", app_db.name, "--no-safety-dump") == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if "public.tasks" in line)
    assert row.split() == ["public.tasks", "50", "50", "NO", "NO"]
    assert status(tmp_path)["last_restore"]["result"] == "FAIL"
    assert alert_lines(tmp_path) == [
        f"drill|{error}",
        f"restore|in-place restore of {dump.name}: content differs from the manifest: public.tasks",
    ]


def test_a_manifest_from_before_checksums_is_checked_on_row_counts_only(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mc_backup(config, "run") == 0
    path = Path(status(tmp_path)["last_success"]["path"]).with_suffix(".manifest.json")
    manifest = json.loads(path.read_text())
    del manifest["checksums"]
    path.write_text(json.dumps({**manifest, "format": 1}))
    capsys.readouterr()
    assert mc_backup(config, "--json", "drill") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["result"] == "PASS" and result["content_checked"] is False
    assert all(r["content"] is None and r["ok"] for r in result["tables"])
    assert status(tmp_path)["last_drill"]["content_checked"] is False
    assert mc_backup(config, "drill") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2].split() == ["public.tasks", "50", "50", "-", "yes"]
    assert table[-1].endswith("; row counts only (no checksums)")


def test_checksums_do_not_depend_on_the_session_settings(app_db) -> None:
    with app_db.connect() as conn:
        conn.execute(
            "CREATE TABLE audit.stamps (t timestamptz, span interval, x float8, b bytea);"
            " INSERT INTO audit.stamps VALUES"
            " ('2025-03-03 10:00:00.123456+00', '1 day 02:03:04', 0.1, '\\x00ff')"
        )
    texts, sums = set(), set()
    for zone, autocommit in (("Asia/Tokyo", True), ("America/New_York", False)):
        with app_db.connect() as conn:
            conn.execute(f"SET TimeZone = '{zone}'")
            texts.add(conn.execute("SELECT ROW(t.*)::text FROM audit.stamps AS t").fetchone()[0])
            conn.autocommit = autocommit
            counts, checksums = database.count_and_checksum(conn)
            assert counts["audit.stamps"] == 1
            sums.add(checksums["audit.stamps"])
            # the pinned settings ended with count_and_checksum's own transaction
            assert conn.execute("SHOW TimeZone").fetchone()[0] == zone
    assert len(texts) == 2  # the row's text in the session's zone differs...
    assert len(sums) == 1  # ...its checksum does not


def test_a_corrupt_dump_fails_the_drill_before_any_restore(
    config: str, app_db, tmp_path: Path
) -> None:
    assert mc_backup(config, "run") == 0
    dump = Path(status(tmp_path)["last_success"]["path"])
    data = bytearray(dump.read_bytes())
    data[-1] ^= 0xFF
    dump.write_bytes(bytes(data))
    assert mc_backup(config, "drill") == 1
    assert alert_lines(tmp_path) == [
        f"drill|{dump.name}: checksum/size differ from the manifest (corrupt copy)"
    ]
    assert "last_drill" not in status(tmp_path)


def test_a_database_without_tables_is_not_backed_up(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new, empty database (a droplet being rebuilt): its dump would displace
    the last real backup as the newest."""
    with app_db.connect() as conn:
        conn.execute("DROP SCHEMA audit CASCADE")
        conn.execute("DROP TABLE tasks, users CASCADE")
        assert conn.execute(database.USER_TABLES).fetchall() == []
    assert mc_backup(config, "run", "--reason", "scheduled") == 0
    assert "no backup taken: the database has no tables yet" in capsys.readouterr().err
    assert list((tmp_path / "pg").glob("*.dump")) == []
    state = tmp_path / "state" / "status.json"
    assert not state.exists() or "last_success" not in status(tmp_path)
    assert alert_lines(tmp_path) == []


def test_in_place_restore_needs_the_name_and_brings_back_the_backup_point(
    config: str, app_db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mc_backup(config, "run", "--reason", "before-change") == 0
    point = status(tmp_path)["last_success"]
    with app_db.connect() as conn:
        conn.execute("DELETE FROM tasks WHERE id > 10")
        conn.execute("UPDATE tasks SET title = 'changed' WHERE id = 1")
        conn.execute("INSERT INTO users (email) VALUES ('late@example.test')")
    damaged = app_db.counts()

    assert mc_backup(config, "restore") == 2
    assert f"pass --confirm {app_db.name}" in capsys.readouterr().err
    assert mc_backup(config, "restore", "--confirm", "mission_control") == 2
    assert app_db.counts() == damaged

    assert mc_backup(config, "restore", "--confirm", app_db.name) == 0
    assert app_db.counts() == SEED_COUNTS
    with app_db.connect() as conn:
        assert conn.execute("SELECT title FROM tasks WHERE id = 1").fetchone()[0] == "Task 1"
    restore = status(tmp_path)["last_restore"]
    assert restore["result"] == "PASS" and restore["backup"] == point["file"]
    assert restore["release"] == point["release"] == "r42"
    assert 0 <= restore["backup_age_hours"] < 1
    assert restore["content_checked"] is True
    safety = Path(restore["safety_dump"]["file"])
    assert safety.parent == tmp_path / "safety"
    assert json.loads(safety.with_suffix(".manifest.json").read_text())["tables"] == damaged
    assert alert_lines(tmp_path) == []


def test_retention_over_a_series_of_runs(
    make_config, app_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(
        make_config(pg_bin_dir=app_db.postgres.bin_dir, keep_hourly=3, keep_daily=2, keep_weekly=3)
    )
    for when in SERIES:
        monkeypatch.setenv("MC_BACKUP_NOW", when.isoformat())
        assert mc_backup(config, "run", "--reason", "retention") == 0
    stamps = sorted(p.name.split("-")[-1] for p in (tmp_path / "pg").glob("*.dump"))
    assert stamps == [f"{t:%Y%m%dT%H%M%SZ}.dump" for t in KEPT]
    assert len(list((tmp_path / "pg").iterdir())) == 2 * len(KEPT)
