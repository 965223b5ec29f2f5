"""A backup on disk is a dump and its manifest: naming, listing, leftovers, checks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mc_backup.errors import BackupError
from mc_backup.files import sha256_of, write_json_atomic
from mc_backup.manifest import (
    check_dump,
    complete_backups,
    dump_name,
    manifest_of,
    read_manifest,
    remove_backup,
    remove_leftovers,
    temporary_of,
)

WHEN = dt.datetime(2025, 3, 3, 10, 0, 5, tzinfo=dt.UTC)


def test_names() -> None:
    name = dump_name("mission_control_production", WHEN)
    assert name == "mission_control_production-20250303T100005Z.dump"
    dump = Path("/b") / name
    assert manifest_of(dump) == Path("/b/mission_control_production-20250303T100005Z.manifest.json")
    assert temporary_of(dump) == Path("/b/.mission_control_production-20250303T100005Z.dump.tmp")


def test_complete_backups_are_the_dumps_with_a_manifest_newest_first(tmp_path: Path) -> None:
    for name in ("db-20250303T100000Z", "db-20250304T100000Z", "db-20250302T100000Z"):
        (tmp_path / f"{name}.dump").write_bytes(b"x")
        manifest_of(tmp_path / f"{name}.dump").write_text("{}")
    (tmp_path / "db-20250305T100000Z.dump").write_bytes(b"no manifest")
    (tmp_path / "notes.dump").write_bytes(b"not a backup name")
    (tmp_path / ".db-20250306T100000Z.dump.tmp").write_bytes(b"in the making")
    found = complete_backups(tmp_path)
    assert [p.name for _, p in found] == [
        "db-20250304T100000Z.dump",
        "db-20250303T100000Z.dump",
        "db-20250302T100000Z.dump",
    ]
    assert found[0][0] == dt.datetime(2025, 3, 4, 10, tzinfo=dt.UTC)


def test_leftovers_of_an_interrupted_run_go_and_backups_stay(tmp_path: Path) -> None:
    good = tmp_path / "db-20250303T100000Z.dump"
    good.write_bytes(b"x")
    manifest_of(good).write_text("{}")
    (tmp_path / ".db-20250304T100000Z.dump.tmp").write_bytes(b"half")
    (tmp_path / ".status.json.tmp").write_text("{")
    (tmp_path / "db-20250305T100000Z.dump").write_bytes(b"renamed, no manifest")
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "db-20250303T100000Z.dump",
        "db-20250303T100000Z.manifest.json",
    ]


def test_remove_backup_takes_both_files(tmp_path: Path) -> None:
    dump = tmp_path / "db-20250303T100000Z.dump"
    dump.write_bytes(b"x")
    manifest_of(dump).write_text("{}")
    remove_backup(dump)
    assert list(tmp_path.iterdir()) == []


def a_backup(tmp_path: Path, content: bytes = b"PGDMP dump") -> tuple[Path, dict]:
    dump = tmp_path / "db-20250303T100000Z.dump"
    dump.write_bytes(content)
    manifest = {"size": len(content), "sha256": sha256_of(dump), "tables": {}}
    write_json_atomic(manifest_of(dump), manifest)
    return dump, manifest


def test_a_dump_that_matches_its_manifest_passes(tmp_path: Path) -> None:
    dump, manifest = a_backup(tmp_path)
    assert read_manifest(dump) == manifest
    check_dump(dump, manifest, dump.name)


@pytest.mark.parametrize("damage", [b"PGDMP dumq", b"PGDMP dump and more"])
def test_a_changed_dump_is_a_corrupt_copy(tmp_path: Path, damage: bytes) -> None:
    dump, manifest = a_backup(tmp_path)
    dump.write_bytes(damage)
    with pytest.raises(BackupError, match="checksum/size differ from the manifest"):
        check_dump(dump, manifest, "the label")


def test_an_unreadable_manifest_is_named(tmp_path: Path) -> None:
    dump, _ = a_backup(tmp_path)
    manifest_of(dump).write_text('{"size": ')
    with pytest.raises(BackupError, match=f"manifest of {dump.name} unreadable"):
        read_manifest(dump)


def test_atomic_json_leaves_no_temporary(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "status.json", {"b": 1, "a": [1]})
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]
    assert json.loads((tmp_path / "status.json").read_text()) == {"a": [1], "b": 1}
