"""pg_dump of the app database, with row counts and content checksums taken in
the same snapshot."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mc_backup import database
from mc_backup.clock import iso, utcnow
from mc_backup.context import Context
from mc_backup.errors import BackupError
from mc_backup.files import fsync_dir, sha256_of, write_json_atomic
from mc_backup.log import log
from mc_backup.manifest import FORMAT, dump_name, manifest_of, temporary_of
from mc_backup.runner import last_lines


def release_of(release_file: str) -> str:
    """The deployed release id: `none` without the file, `unknown` when it is empty."""
    try:
        return Path(release_file).read_text().strip().splitlines()[0][:100] or "unknown"
    except (OSError, IndexError):
        return "none"


def take_dump(ctx: Context, directory: Path, reason: str) -> dict:
    """A verified dump and its manifest in `directory`: the manifest plus the dump's path."""
    cfg = ctx.config
    started = time.monotonic()
    when = utcnow()
    conn = database.connect(cfg)
    try:
        snapshot, dbname, server_version = database.export_snapshot(conn)
        name = dump_name(dbname, when)
        final = directory / name
        tmp = temporary_of(final)
        if final.exists():
            raise BackupError(f"{final} exists already (two backups in the same second?)")
        argv = [
            cfg.tool("pg_dump"),
            "--format=custom",
            f"--snapshot={snapshot}",
            f"--file={tmp}",
            *cfg.pg_dump_args,
            f"--dbname={cfg.conninfo()}",
        ]
        log(f"dumping {dbname} (PostgreSQL {server_version}) to {final}")
        proc = ctx.runner.start(argv)
        try:
            counts, checksums = database.count_and_checksum(conn)
        finally:
            # the snapshot must stay valid until pg_dump has finished
            _, err = proc.communicate()
        conn.rollback()
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"dump failed: {exc}") from None
    finally:
        conn.close()
    if proc.returncode != 0:
        how = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit {proc.returncode}"
        )
        raise BackupError(
            f"pg_dump failed ({how}): {last_lines(err or '')}; the dump was not recorded"
        )
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    size = tmp.stat().st_size
    digest = sha256_of(tmp)
    ctx.runner.run(
        [cfg.tool("pg_restore"), "--list", str(tmp)], what="pg_restore --list of the new dump"
    )
    os.rename(tmp, final)
    fsync_dir(directory)
    manifest = {
        "format": FORMAT,
        "file": name,
        "database": dbname,
        "server_version": server_version,
        "time": iso(when),
        "reason": reason,
        "release": release_of(cfg.release_file),
        "host": cfg.host,
        "size": size,
        "sha256": digest,
        "tables": counts,
        "checksums": checksums,
        "dump_seconds": round(time.monotonic() - started, 3),
    }
    write_json_atomic(manifest_of(final), manifest)
    log(f"dump ok: {size} bytes, sha256 {digest[:12]}, {len(counts)} tables")
    return {**manifest, "path": str(final)}
