"""Retention: restic's bucket rules with fake timestamps, and on real folders."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pytest

from mc_backup.config import load_config
from mc_backup.manifest import complete_backups, manifest_of
from mc_backup.retention import prune_local, select_keep


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC)


# The molecule scenario's series (tests/test_backup.py takes real backups at these times).
SERIES = [
    t("2025-02-24T09:00"),  # ISO week 9
    t("2025-03-03T10:00"),  # week 10, Monday
    t("2025-03-03T10:30"),
    t("2025-03-03T11:00"),
    t("2025-03-03T12:00"),
    t("2025-03-04T09:00"),
    t("2025-03-05T09:00"),
    t("2025-03-05T13:00"),
    t("2025-03-12T09:00"),  # week 11
    t("2025-03-12T10:00"),
]
# hourly 3 -> 03-12 10h, 03-12 09h, 03-05 13h; daily 2 -> 03-12, 03-05 (13h);
# weekly 3 -> w11 (03-12 10h), w10 (03-05 13h), w9 (02-24)
KEPT = [t("2025-02-24T09:00"), t("2025-03-05T13:00"), t("2025-03-12T09:00"), t("2025-03-12T10:00")]


def test_the_newest_per_bucket_is_kept() -> None:
    assert sorted(select_keep(SERIES, hourly=3, daily=2, weekly=3)) == KEPT


def test_hourly_series_over_two_weeks() -> None:
    start = t("2025-01-06T00:30")  # a Monday
    times = [start + dt.timedelta(hours=h) for h in range(24 * 14)]
    kept = select_keep(times, hourly=24, daily=7, weekly=4)
    newest = times[-1]
    hourly = {newest - dt.timedelta(hours=h) for h in range(24)}
    daily = {t(f"2025-01-{d:02d}T23:30") for d in range(13, 19)}  # 6 earlier days + today
    weekly = {t("2025-01-12T23:30")}  # the first ISO week's newest
    assert kept == hourly | daily | weekly
    assert len(kept) == 24 + 6 + 1


def test_several_backups_in_one_hour_keep_one() -> None:
    times = [t("2025-05-01T10:05"), t("2025-05-01T10:20"), t("2025-05-01T10:50")]
    assert select_keep(times, 24, 7, 4) == {t("2025-05-01T10:50")}


def test_buckets_are_utc_whatever_the_times_zone() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    late = dt.datetime(2025, 3, 3, 0, 30, tzinfo=paris)  # 2 March 23:30 UTC
    early = dt.datetime(2025, 3, 2, 22, 0, tzinfo=dt.UTC)
    # in local time they would be two days, and daily=2 would keep both
    assert select_keep([late, early], hourly=1, daily=2, weekly=1) == {late}


def test_pruning_after_every_run_ends_where_pruning_once_does() -> None:
    times = [t("2025-01-01T00:00") + dt.timedelta(minutes=47 * i) for i in range(400)]
    present: set[dt.datetime] = set()
    for when in times:
        present = select_keep([*present, when], 5, 4, 3)
    assert present == select_keep(times, 5, 4, 3)


def test_nothing_to_keep_from_nothing() -> None:
    assert select_keep([], 24, 7, 4) == set()


def backup(directory: Path, when: dt.datetime, *, manifest: bool = True) -> Path:
    dump = directory / f"mission_control-{when:%Y%m%dT%H%M%SZ}.dump"
    dump.write_bytes(b"PGDMP")
    if manifest:
        manifest_of(dump).write_text("{}")
    return dump


def sqlite_snapshot(path: Path, age_days: float, now: dt.datetime) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    stamp = now.timestamp() - age_days * 86400
    os.utime(path, (stamp, stamp))


def test_local_folders_keep_what_the_policy_says(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = t("2025-03-12T10:05")
    monkeypatch.setenv("MC_BACKUP_NOW", now.isoformat())
    cfg = load_config(str(make_config(keep_hourly=3, keep_daily=2, keep_weekly=3, keep_safety=2)))
    for when in SERIES:
        backup(tmp_path / "pg", when)
    for hour in range(4):
        backup(tmp_path / "safety", t(f"2025-03-0{hour + 1}T08:00"))
    sqlite_snapshot(tmp_path / "sqlite" / "old.sqlite3", 31, now)
    sqlite_snapshot(tmp_path / "sqlite" / "recent.sqlite3", 29, now)

    removed = prune_local(cfg)

    assert [when for when, _ in complete_backups(tmp_path / "pg")] == sorted(KEPT, reverse=True)
    assert len(list((tmp_path / "pg").iterdir())) == 2 * len(KEPT)  # no orphan manifest
    assert sorted(p.name for p in (tmp_path / "safety").glob("*.dump")) == [
        "mission_control-20250303T080000Z.dump",
        "mission_control-20250304T080000Z.dump",
    ]
    assert sorted(p.name for p in (tmp_path / "sqlite").iterdir()) == ["recent.sqlite3"]
    assert "sqlite/old.sqlite3" in removed and len(removed) == len(SERIES) - len(KEPT) + 2 + 1


def test_a_dump_without_a_manifest_is_not_a_backup(make_config, tmp_path: Path) -> None:
    cfg = load_config(str(make_config(keep_hourly=1, keep_daily=1, keep_weekly=1)))
    kept = backup(tmp_path / "pg", t("2025-03-12T10:00"))
    stray = backup(tmp_path / "pg", t("2025-03-12T11:00"), manifest=False)
    prune_local(cfg)
    # the stray dump neither counts as the newest nor is removed by retention
    assert kept.exists() and stray.exists()
