"""The backup a drill or a restore uses: the newest or a named one, local or
offsite, checked against its manifest before anything reads it."""

from __future__ import annotations

from pathlib import Path

from mc_backup.context import Context
from mc_backup.errors import BackupError
from mc_backup.manifest import DUMP_NAME, check_dump, complete_backups, read_manifest
from mc_backup.offsite import Restic, matching_snapshots


def fetch(ctx: Context, source: str, selector: str) -> tuple[Path, dict, str]:
    """(dump, manifest, label for messages); source is `local` or `offsite`,
    selector `latest`, a dump's file name, or a snapshot id."""
    if source == "local":
        dump, label = _local(ctx, selector)
    else:
        dump, label = _offsite(ctx, selector)
    manifest = read_manifest(dump)
    check_dump(dump, manifest, label)
    return dump, manifest, label


def _local(ctx: Context, selector: str) -> tuple[Path, str]:
    backups = complete_backups(Path(ctx.config.backup_dir))
    if selector != "latest":
        backups = [b for b in backups if selector in (b[1].name, b[1].stem)]
    if not backups:
        raise BackupError(f"no local backup matches {selector!r} in {ctx.config.backup_dir}")
    dump = backups[0][1]
    return dump, dump.name


def _offsite(ctx: Context, selector: str) -> tuple[Path, str]:
    restic = Restic(ctx)
    snapshots = matching_snapshots(restic.snapshots(), selector)
    if not snapshots:
        raise BackupError(f"no offsite snapshot matches {selector!r}")
    snapshot = snapshots[0]
    target = ctx.config.restore_dir
    restic.restore(snapshot, target)
    dumps = [p for p in target.rglob("*.dump") if DUMP_NAME.match(p.name)]
    if len(dumps) != 1:
        raise BackupError(f"snapshot {snapshot['short_id']} holds {len(dumps)} dumps, expected 1")
    return dumps[0], f"{dumps[0].name} (snapshot {snapshot['short_id']})"
