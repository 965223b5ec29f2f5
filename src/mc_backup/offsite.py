"""The offsite copy: a restic repository holding each verified dump and its manifest.

Nothing here removes a snapshot: the droplet's credentials may only add (an SFTP
target serves the repository through `rclone serve restic --append-only`), and
retention offsite runs from the controller (playbooks/offsite-prune.yml)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from pathlib import Path

from mc_backup.clock import iso, utcnow
from mc_backup.context import Context
from mc_backup.errors import BackupError, UsageError
from mc_backup.manifest import manifest_of
from mc_backup.runner import last_lines

TAG_BACKUP, TAG_SAFETY = "mc-pg", "mc-pg-safety"
NOT_CONFIGURED = "no offsite repository configured (backup_restic_repository)"


def release_tag(release: str) -> str:
    return "release:" + re.sub(r"[^A-Za-z0-9_.:-]", "_", release)


def restic_time(when: str) -> str:
    """The manifest's time as `restic backup --time` takes it (read as UTC: TZ=UTC)."""
    return when.replace("T", " ").rstrip("Z")


def snapshot_id(backup_output: str) -> str:
    """The snapshot id in `restic backup --json` output (its summary message), or ''."""
    found = ""
    for line in backup_output.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(line)
            if message.get("message_type") == "summary":
                found = message.get("snapshot_id", "")
    return found


def matching_snapshots(snapshots: list[dict], selector: str) -> list[dict]:
    """`latest` (all of them), a short id, an id prefix, or the name of a file in it."""
    if selector == "latest":
        return snapshots
    return [
        s
        for s in snapshots
        if s.get("short_id") == selector
        or s["id"].startswith(selector)
        or any(Path(p).name == selector for p in s.get("paths", []))
    ]


class Restic:
    def __init__(self, ctx: Context) -> None:
        if not ctx.config.offsite:
            raise UsageError(NOT_CONFIGURED)
        self.ctx = ctx
        self.config = ctx.config
        self.repository = ctx.config.repository_label

    def argv(self, *args: str) -> list[str]:
        """restic with the configured backend options (-o) before its arguments."""
        options = [item for option in self.config.restic_options for item in ("-o", option)]
        return ["restic", *options, *args]

    def _quiet(self, *args: str, what: str, timeout: float | None = None) -> str:
        return self.ctx.runner.run(self.argv("--quiet", *args), what=what, timeout=timeout)

    def unlock(self) -> None:
        """Remove stale locks only: a live restic elsewhere keeps its lock."""
        self._quiet("unlock", what="restic unlock (stale locks)")

    def copy(self, manifest: dict, tag: str) -> tuple[str, float]:
        """(short snapshot id, seconds) of a new snapshot of the dump and its manifest."""
        started = time.monotonic()
        dump = Path(manifest["path"])
        self.unlock()
        argv = self.argv("backup", "--json", "--host", self.config.host)
        argv += ["--time", restic_time(manifest["time"])]
        for tag_ in (tag, f"reason:{manifest['reason']}", release_tag(manifest["release"])):
            argv += ["--tag", tag_]
        # Not --quiet: the snapshot id is in the summary it would hide.
        out = self.ctx.runner.run(
            [*argv, str(dump), str(manifest_of(dump))], what=f"restic backup to {self.repository}"
        )
        found = snapshot_id(out)
        if not found:
            raise BackupError("restic backup gave no snapshot id")
        return found[:8], round(time.monotonic() - started, 3)

    def snapshots(self, tag: str = TAG_BACKUP) -> list[dict]:
        """This host's snapshots with the tag, newest first."""
        out = self.ctx.runner.run(
            self.argv("snapshots", "--json", "--host", self.config.host, "--tag", tag),
            what=f"restic snapshots on {self.repository}",
        )
        return sorted(json.loads(out or "[]") or [], key=lambda s: s["time"], reverse=True)

    def restore(self, snapshot: dict, target: Path) -> None:
        """Into an empty private folder `target` (what was there goes)."""
        try:
            if target.exists():
                shutil.rmtree(target)
        except OSError as exc:
            raise BackupError(f"clean the restore folder: {exc}") from exc
        target.mkdir(mode=0o700)
        self.unlock()
        self._quiet(
            "restore",
            snapshot["id"],
            "--target",
            str(target),
            what=f"restic restore {snapshot['short_id']}",
        )

    def check(self) -> None:
        subset = self.config.restic_check_subset
        args = ["check"] + ([f"--read-data-subset={subset}"] if subset else [])
        self._quiet(*args, what=f"restic check of {self.repository}")

    def open(self, create: bool) -> str:
        """Prove the repository opens with our password; create it when it does not exist."""
        repo = self.repository
        proc = self.ctx.runner.attempt(
            self.argv("cat", "config"), what=f"restic cat config of {repo}", timeout=120
        )
        if proc.returncode == 0:
            return f"repository {repo} reachable"
        err = proc.stderr
        if "wrong password" in err or "no key found" in err:
            raise BackupError(
                f"repository {repo} exists but backup_restic_password does not open it"
            )
        missing = (
            "Is there a repository at the following location" in err or "does not exist" in err
        )
        if missing and not create:
            raise BackupError(f"repository {repo} does not exist (backup_restic_init is false)")
        if missing:
            self.ctx.runner.run(self.argv("init"), what=f"restic init {repo}", timeout=120)
            return f"repository {repo} created"
        raise BackupError(f"repository {repo} unreachable: {last_lines(err)}")


def check_repository(ctx: Context) -> dict:
    """`mc-backup check`: restic check, its result in the status file."""
    restic = Restic(ctx)
    started = time.monotonic()
    with ctx.exclusive():
        restic.unlock()
        restic.check()
        result = {
            "time": iso(utcnow()),
            "result": "PASS",
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        ctx.status.update(last_check=result)
        return result


def open_repository(ctx: Context, create: bool) -> str:
    """`mc-backup init`: what the role's converge reports."""
    if not ctx.config.offsite:
        return "no offsite repository configured"
    return Restic(ctx).open(create)
