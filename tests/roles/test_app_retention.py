"""The app role's retention (tasks/cleanup.yml) on a folder of releases.

Runs the role's own task file on the controller (local connection) against
release folders and records the test writes, so every rule is checked on the
real find/stat/file tasks without a droplet.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from conftest import ansible_playbook


def make_release(root: Path, rid: str, status: str, proven: bool = False) -> None:
    folder = root / "releases" / rid
    folder.mkdir(parents=True)
    record = {"id": rid, "status": status, "revision": "0" * 40, "ref": "test"}
    if proven:
        record.update(proven_at="2026-12-01T00:00:00Z", soak_seconds=10, watch_seconds=20)
    (folder / "RELEASE.json").write_text(json.dumps(record) + "\n")


def run_cleanup(root: Path, tmp_path: Path, keep: int, keep_failed: int) -> set[str]:
    play = textwrap.dedent(
        f"""\
        - name: Retention
          hosts: localhost
          connection: local
          gather_facts: false
          tasks:
            - name: Run the app role's cleanup
              ansible.builtin.include_role:
                name: app
                tasks_from: cleanup
              vars:
                app_deploy_to: {root}
                app_keep_releases: {keep}
                app_keep_failed_releases: {keep_failed}
        """
    )
    (tmp_path / "play.yml").write_text(play)
    proc = ansible_playbook(
        "-i",
        "localhost,",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(tmp_path / "play.yml"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {p.name for p in (root / "releases").iterdir()}


def test_the_newest_proven_release_survives_any_number_of_newer_ones(tmp_path):
    root = tmp_path / "app"
    # One release proven by the soak and the watch, then (newer) releases
    # marked healthy by the old one-answer gate and many failed ones; the live
    # one is an unproven one.
    make_release(root, "20261201T000000Z-00000000", "healthy", proven=True)
    old_gate = [f"20261201T0{n}0000Z-0000000{n}" for n in range(1, 6)]
    for rid in old_gate:
        make_release(root, rid, "healthy")
    failed = [f"20261201T1{n}0000Z-1000000{n}" for n in range(0, 7)]
    for rid in failed:
        make_release(root, rid, "failed")
    (root / "current").symlink_to(f"releases/{old_gate[-1]}")

    kept = run_cleanup(root, tmp_path, keep=2, keep_failed=1)

    assert kept == {
        "20261201T000000Z-00000000",  # the newest proven one, however old
        old_gate[-1],  # live
        old_gate[-2],  # the two newest healthy ones
        failed[-1],  # the newest failed one, for inspection
    }


def test_the_live_release_is_not_kept_twice_as_the_proven_one(tmp_path):
    root = tmp_path / "app"
    proven = [f"20261201T0{n}0000Z-0000000{n}" for n in range(1, 5)]
    for rid in proven:
        make_release(root, rid, "healthy", proven=True)
    (root / "current").symlink_to(f"releases/{proven[-1]}")

    kept = run_cleanup(root, tmp_path, keep=1, keep_failed=0)

    # Live, and the newest proven release other than the live one.
    assert kept == {proven[-1], proven[-2]}
