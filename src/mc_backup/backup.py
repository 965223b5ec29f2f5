"""`mc-backup run`: a dump, its offsite copy, then local retention."""

from __future__ import annotations

import re
from pathlib import Path

from mc_backup import database
from mc_backup.context import Context
from mc_backup.dump import take_dump
from mc_backup.errors import BackupError, UsageError
from mc_backup.log import log
from mc_backup.manifest import remove_leftovers
from mc_backup.offsite import TAG_BACKUP, TAG_SAFETY, Restic
from mc_backup.retention import prune

# The reason is a restic tag and a systemd instance name (mc-backup@<reason>.service).
REASON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
STATUS_FIELDS = ("time", "file", "path", "size", "sha256", "release", "reason", "dump_seconds")


def check_reason(reason: str) -> None:
    if not REASON.match(reason):
        raise UsageError(f"--reason must match {REASON.pattern} (got {reason!r})")


def run_backup(ctx: Context, reason: str) -> dict:
    """The status file's last_success entry of the new backup; {} when the
    database has no tables yet, and then nothing is recorded or sent offsite."""
    check_reason(reason)
    cfg = ctx.config
    with ctx.exclusive():
        if not database.has_tables(cfg):
            # A new, empty database (a droplet being rebuilt before recover.yml
            # restores it): its dump would become the newest offsite backup.
            log("no backup taken: the database has no tables yet; nothing recorded")
            return {}
        remove_leftovers(Path(cfg.backup_dir))
        remove_leftovers(Path(cfg.safety_dir))
        info = take_dump(ctx, Path(cfg.backup_dir), reason)
        entry = {key: info[key] for key in STATUS_FIELDS}
        entry["tables"] = len(info["tables"])
        entry["rows"] = sum(info["tables"].values())
        entry["snapshot"] = ""
        # first_success: since when a restore drill is due (mc-monitor's drill check).
        first = ctx.status.load().get("first_success") or info["time"]
        ctx.status.update(last_success=entry, first_success=first)
        offsite_error = None
        if cfg.offsite:
            try:
                entry["snapshot"], entry["offsite_seconds"] = Restic(ctx).copy(info, TAG_BACKUP)
                ctx.status.update(
                    last_success=entry,
                    last_offsite={
                        "time": info["time"],
                        "file": info["file"],
                        "snapshot": entry["snapshot"],
                    },
                )
            except BackupError as exc:
                offsite_error = exc
        prune(ctx)
        if offsite_error:
            raise offsite_error
        return entry


def safety_dump(ctx: Context) -> dict:
    """A dump of the current state before an in-place restore (and its offsite copy).
    The caller holds the lock."""
    cfg = ctx.config
    remove_leftovers(Path(cfg.backup_dir))
    remove_leftovers(Path(cfg.safety_dir))
    info = take_dump(ctx, Path(cfg.safety_dir), "pre-restore")
    entry = {"file": info["path"], "size": info["size"], "snapshot": ""}
    if cfg.offsite:
        entry["snapshot"], _ = Restic(ctx).copy(info, TAG_SAFETY)
    return entry
