"""A backup on disk: <database>-<UTC stamp>.dump and its <same>.manifest.json.

The manifest is written last, so a dump counts only with its manifest beside
it; a dump in the making is a hidden .<name>.tmp file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from mc_backup.clock import parse_stamp, stamp
from mc_backup.errors import BackupError
from mc_backup.files import sha256_of
from mc_backup.log import log

# informational: 2 added "checksums" (readers accept manifests without them)
FORMAT = 2
DUMP_NAME = re.compile(r"^(?P<db>[A-Za-z0-9_.-]+)-(?P<ts>\d{8}T\d{6}Z)\.dump$")


def dump_name(database: str, when: dt.datetime) -> str:
    return f"{database}-{stamp(when)}.dump"


def manifest_of(dump: Path) -> Path:
    return dump.with_suffix(".manifest.json")


def temporary_of(dump: Path) -> Path:
    return dump.with_name(f".{dump.name}.tmp")


def complete_backups(directory: Path) -> list[tuple[dt.datetime, Path]]:
    """(time, dump) of the dumps that have a manifest, newest first."""
    found = []
    for dump in directory.glob("*.dump"):
        match = DUMP_NAME.match(dump.name)
        if match and manifest_of(dump).is_file():
            found.append((parse_stamp(match["ts"]), dump))
    return sorted(found, reverse=True)


def remove_backup(dump: Path) -> None:
    """The manifest first: a dump without one no longer counts."""
    manifest_of(dump).unlink(missing_ok=True)
    dump.unlink(missing_ok=True)


def remove_leftovers(directory: Path) -> None:
    """What an interrupted run left: temporary files, and dumps it renamed but never
    gave a manifest (they never counted)."""
    for path in directory.glob(".*.tmp"):
        log(f"removing the leftover of an interrupted run: {path}")
        path.unlink(missing_ok=True)
    for dump in directory.glob("*.dump"):
        if not manifest_of(dump).exists():
            log(f"removing a dump without a manifest: {dump}")
            dump.unlink(missing_ok=True)


def read_manifest(dump: Path) -> dict:
    try:
        return json.loads(manifest_of(dump).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"manifest of {dump.name} unreadable: {exc}") from exc


def check_dump(dump: Path, manifest: dict, label: str) -> None:
    """The dump is the one the manifest describes (size and sha256)."""
    if dump.stat().st_size != manifest["size"] or sha256_of(dump) != manifest["sha256"]:
        raise BackupError(f"{label}: checksum/size differ from the manifest (corrupt copy)")
