"""Which backups stay: restic's `forget --keep-*` rules, applied to the local files.

Offsite snapshots are never removed from the droplet: its credentials may only
add (playbooks/offsite-prune.yml applies the same rules from the controller)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from mc_backup.clock import utcnow
from mc_backup.config import Config
from mc_backup.context import Context
from mc_backup.files import fsync_dir
from mc_backup.log import log
from mc_backup.manifest import complete_backups, remove_backup

Bucket = Callable[[dt.datetime], tuple[int, ...]]


def _hour(t: dt.datetime) -> tuple[int, ...]:
    return (t.year, t.month, t.day, t.hour)


def _day(t: dt.datetime) -> tuple[int, ...]:
    return (t.year, t.month, t.day)


def _iso_week(t: dt.datetime) -> tuple[int, ...]:
    year, week, _ = t.isocalendar()
    return (year, week)


def select_keep(times: list[dt.datetime], hourly: int, daily: int, weekly: int) -> set[dt.datetime]:
    """The times to keep, with restic's `forget --keep-*` bucket algorithm.

    Newest first; each policy keeps the newest backup of each of its last N
    distinct buckets (hour, day, ISO week, in UTC) that hold a backup. A backup
    kept by any policy is kept. Deterministic: depends on the times only, so
    the local copies and the offsite snapshots end up the same.
    """
    policies: list[tuple[Bucket, int]] = [(_hour, hourly), (_day, daily), (_iso_week, weekly)]
    left = [count for _, count in policies]
    last: list[tuple[int, ...] | None] = [None] * len(policies)
    keep: set[dt.datetime] = set()
    for t in sorted(set(times), reverse=True):
        for i, (bucket, _) in enumerate(policies):
            if left[i] <= 0:
                continue
            value = bucket(t.astimezone(dt.UTC))
            if value != last[i]:
                keep.add(t)
                last[i] = value
                left[i] -= 1
    return keep


def prune_local(cfg: Config) -> list[str]:
    """Apply the policy to the local folders; the names of what went."""
    removed = []
    backups = complete_backups(Path(cfg.backup_dir))
    keep = select_keep([t for t, _ in backups], cfg.keep_hourly, cfg.keep_daily, cfg.keep_weekly)
    for t, dump in backups:
        if t not in keep:
            removed.append(dump.name)
            remove_backup(dump)
    for _, dump in complete_backups(Path(cfg.safety_dir))[cfg.keep_safety :]:
        removed.append(dump.name)
        remove_backup(dump)
    sqlite_dir = Path(cfg.sqlite_dir)
    if sqlite_dir.is_dir():
        limit = utcnow().timestamp() - cfg.sqlite_keep_days * 86400
        for path in sqlite_dir.iterdir():
            if path.is_file() and path.stat().st_mtime < limit:
                removed.append(f"sqlite/{path.name}")
                path.unlink(missing_ok=True)
    if removed:
        fsync_dir(Path(cfg.backup_dir))
        log("retention removed: " + ", ".join(removed))
    return removed


def prune(ctx: Context) -> dict:
    """The local files; the caller holds the lock."""
    return {"removed": prune_local(ctx.config)}


def prune_now(ctx: Context) -> dict:
    """`mc-backup prune`."""
    with ctx.exclusive():
        return prune(ctx)
