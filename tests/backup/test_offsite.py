"""What mc-backup reads from and hands to restic (the repository itself is tested
by the molecule scenario, against a real SFTP target)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mc_backup.config import load_config
from mc_backup.context import Context
from mc_backup.offsite import (
    Restic,
    matching_snapshots,
    release_tag,
    restic_time,
    snapshot_id,
)
from mc_backup.retention import prune_now
from mc_backup.runner import environment

SUMMARY = {
    "message_type": "summary",
    "files_new": 2,
    "snapshot_id": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
}


def test_the_snapshot_id_is_in_the_summary() -> None:
    output = "\n".join(
        [
            json.dumps({"message_type": "status", "percent_done": 0.5}),
            "not json: a warning restic printed",
            json.dumps(SUMMARY),
            "[]",
        ]
    )
    assert snapshot_id(output) == SUMMARY["snapshot_id"]


def test_no_summary_no_snapshot() -> None:
    assert snapshot_id(json.dumps({"message_type": "status"})) == ""
    assert snapshot_id("") == ""


@pytest.mark.parametrize(
    ("release", "tag"),
    [
        ("r42", "release:r42"),
        ("v1.2.3+build 7/x", "release:v1.2.3_build_7_x"),
        ("none", "release:none"),
    ],
)
def test_the_release_becomes_a_tag_restic_accepts(release: str, tag: str) -> None:
    assert release_tag(release) == tag


def test_the_dump_time_is_the_snapshot_time() -> None:
    assert restic_time("2025-03-03T10:00:05Z") == "2025-03-03 10:00:05"


SNAPSHOTS = [
    {
        "id": "aaaa1111" + "0" * 56,
        "short_id": "aaaa1111",
        "time": "2025-03-04T10:00:00Z",
        "paths": ["/b/mc-20250304T100000Z.dump", "/b/mc-20250304T100000Z.manifest.json"],
    },
    {
        "id": "bbbb2222" + "0" * 56,
        "short_id": "bbbb2222",
        "time": "2025-03-03T10:00:00Z",
        "paths": ["/b/mc-20250303T100000Z.dump", "/b/mc-20250303T100000Z.manifest.json"],
    },
]


@pytest.mark.parametrize(
    ("selector", "ids"),
    [
        ("latest", ["aaaa1111", "bbbb2222"]),
        ("bbbb2222", ["bbbb2222"]),
        ("bbbb", ["bbbb2222"]),
        ("mc-20250304T100000Z.dump", ["aaaa1111"]),
        ("mc-20250301T100000Z.dump", []),
    ],
)
def test_a_snapshot_is_chosen_by_id_or_file(selector: str, ids: list[str]) -> None:
    assert [s["short_id"] for s in matching_snapshots(SNAPSHOTS, selector)] == ids


def test_restic_keeps_its_cache_in_the_state_folder(make_config, tmp_path, monkeypatch) -> None:
    # The backup user's home is root's: restic's default cache (~/.cache) is not writable.
    monkeypatch.delenv("RESTIC_CACHE_DIR", raising=False)
    cfg = load_config(str(make_config()))
    assert environment(cfg)["RESTIC_CACHE_DIR"] == str(tmp_path / "state" / "restic-cache")

    secrets = tmp_path / "secrets.env"
    secrets.write_text("RESTIC_CACHE_DIR=/var/cache/restic\n")
    cfg = load_config(str(make_config(restic_env_file=str(secrets))))
    assert environment(cfg)["RESTIC_CACHE_DIR"] == "/var/cache/restic"


def test_backend_options_come_before_the_command(make_config) -> None:
    cfg = load_config(
        str(
            make_config(
                restic_repository="rclone:backup@target:/srv/restic",
                restic_options=["rclone.program=ssh backup@target"],
            )
        )
    )
    argv = Restic(Context.from_config(cfg)).argv("snapshots", "--json")
    assert argv == ["restic", "-o", "rclone.program=ssh backup@target", "snapshots", "--json"]


def test_retention_never_touches_the_offsite_repository(make_config, tmp_path, monkeypatch) -> None:
    # A restic on PATH that records every call: pruning calls none.
    calls = tmp_path / "restic-calls"
    fake = tmp_path / "bin" / "restic"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    cfg = load_config(str(make_config(restic_repository="rclone:backup@target:/srv/restic")))
    for folder in (cfg.backup_dir, cfg.safety_dir, cfg.sqlite_dir, cfg.state_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    assert prune_now(Context.from_config(cfg)) == {"removed": []}
    assert not calls.exists()
