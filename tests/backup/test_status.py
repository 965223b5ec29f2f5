"""The status file and the table `mc-backup status` prints from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mc_backup.restore import _outcome, compare_counts, counts_table, verdict
from mc_backup.status import StatusFile, age_hours, backup_too_old, status_table

FULL = {
    "last_success": {
        "time": "2025-03-03T10:00:00Z",
        "file": "mc-20250303T100000Z.dump",
        "size": 1234,
        "sha256": "ab" * 32,
        "reason": "scheduled",
        "release": "r42",
        "tables": 4,
        "rows": 55,
        "snapshot": "1a2b3c4d",
    },
    "last_offsite": {"time": "2025-03-03T10:00:00Z", "snapshot": "1a2b3c4d"},
    "last_drill": {
        "result": "PASS",
        "time": "2025-03-03T11:00:00Z",
        "restore_seconds": 1.5,
        "duration_seconds": 2.0,
        "backup_age_hours": 1.0,
    },
    "last_check": {"result": "PASS", "time": "2025-03-03T12:00:00Z"},
    "last_failure": {"time": "2025-03-02T10:00:00Z", "error": "x" * 300},
}


@pytest.fixture(autouse=True)
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T12:30:00Z")


def test_missing_or_damaged_status_reads_as_empty(tmp_path: Path) -> None:
    status = StatusFile(tmp_path / "status.json")
    assert status.load() == {}
    status.path.write_text("{ half")
    assert status.load() == {}


def test_updates_merge(tmp_path: Path) -> None:
    status = StatusFile(tmp_path / "status.json")
    status.update(last_success={"time": "a"})
    status.update(last_check={"result": "PASS"})
    assert status.load() == {"last_success": {"time": "a"}, "last_check": {"result": "PASS"}}


def test_age_in_hours() -> None:
    assert age_hours("2025-03-03T10:00:00Z") == "2.5"
    assert age_hours(None) == "-"


@pytest.mark.parametrize(
    ("status", "limit", "too_old"),
    [
        ({}, 2, True),
        ({"last_success": {}}, 2, True),
        (FULL, 3, False),
        (FULL, 2.5, False),
        (FULL, 2.4, True),
    ],
)
def test_too_old_for_monitoring(status: dict, limit: float, too_old: bool) -> None:
    assert backup_too_old(status, limit) is too_old


def test_table_before_the_first_backup() -> None:
    table = status_table({})
    assert "last backup        never" in table
    assert "last drill         never" in table
    assert "last failure       none" in table


def test_table_of_a_full_status() -> None:
    lines = status_table(FULL).splitlines()
    assert lines[0].split() == ["item", "value", "detail"]
    row = next(line for line in lines if line.startswith("last backup"))
    assert "2025-03-03T10:00:00Z" in row and "age 2.5 h" in row
    assert any("abababababababab" in line and "reason scheduled" in line for line in lines)
    assert any("r42" in line and "4 tables, 55 rows" in line for line in lines)
    assert any("snapshot 1a2b3c4d" in line for line in lines)
    assert any(line.startswith("last drill") and "PASS" in line for line in lines)
    failure = next(line for line in lines if line.startswith("last failure"))
    assert failure.endswith("x" * 120)


def failed_drill_table(rows: list[dict], **facts: object) -> str:
    return counts_table(
        {
            "tables": rows,
            "result": "FAIL",
            "backup": "mc.dump",
            "source": "local",
            "restore_seconds": 1.2,
            "duration_seconds": 3.4,
            **facts,
        }
    )


def test_count_comparison_finds_missing_and_different_tables() -> None:
    rows = compare_counts({"public.a": 3, "public.b": 2}, {"public.a": 3, "public.c": 0})
    assert rows == [
        {"table": "public.a", "expected": 3, "restored": 3, "content": None, "ok": True},
        {"table": "public.b", "expected": 2, "restored": None, "content": None, "ok": False},
        {"table": "public.c", "expected": None, "restored": 0, "content": None, "ok": False},
    ]
    assert verdict(rows) == "FAIL" and verdict(rows[:1]) == "PASS"
    table = failed_drill_table(rows)
    assert table.splitlines()[0].split() == ["table", "manifest", "restored", "content", "ok"]
    assert "public.b           2        None  -        NO" in table
    assert table.splitlines()[-1] == "FAIL: mc.dump (local), restore 1.2 s, total 3.4 s"


def test_content_comparison_needs_equal_checksums_as_well_as_counts() -> None:
    rows = compare_counts(
        {"public.a": 3, "public.b": 2, "public.c": 1},
        {"public.a": 3, "public.b": 2, "public.c": 0},
        {"public.a": "-12", "public.b": "7", "public.c": "5"},
        {"public.a": "-12", "public.b": "8", "public.c": "0"},
    )
    assert [(r["table"], r["content"], r["ok"]) for r in rows] == [
        ("public.a", True, True),
        ("public.b", False, False),
        ("public.c", False, False),
    ]
    assert verdict(rows) == "FAIL" and verdict(rows[:1]) == "PASS"
    table = failed_drill_table(rows, content_checked=True).splitlines()
    assert [line.split()[-2:] for line in table[1:4]] == [
        ["yes", "yes"],
        ["NO", "NO"],
        ["NO", "NO"],
    ]
    assert table[-1] == "FAIL: mc.dump (local), restore 1.2 s, total 3.4 s"


def test_the_error_names_count_and_content_differences_apart() -> None:
    manifest = {
        "tables": {"public.a": 3, "public.b": 2},
        "checksums": {"public.a": "1", "public.b": "2"},
    }
    result = _outcome(
        "drill", manifest, {"public.a": 4, "public.b": 2}, {"public.a": "9", "public.b": "3"}
    )
    assert result["result"] == "FAIL" and result["content_checked"] is True
    assert result["error"] == (
        "drill: row counts differ from the manifest: public.a 3!=4;"
        " content differs from the manifest: public.b"
    )
    old = _outcome("drill", {"tables": manifest["tables"]}, {"public.a": 3, "public.b": 2}, {})
    assert old["result"] == "PASS" and old["content_checked"] is False
    assert "error" not in old


def test_the_status_file_is_everyones_to_read_whatever_the_umask(tmp_path: Path) -> None:
    """mc-monitor reads it as another user; the backup units run with UMask=0027."""
    old = os.umask(0o027)
    try:
        StatusFile(tmp_path / "status.json").update(last_check={"result": "ok"})
    finally:
        os.umask(old)
    assert (tmp_path / "status.json").stat().st_mode & 0o777 == 0o644
