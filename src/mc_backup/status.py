"""The status file (state_dir/status.json): the last good backup, offsite copy,
drill, check, restore and failure; and the table `mc-backup status` prints.
Readable by everyone (mc-monitor's backup checks): it holds no secret."""

from __future__ import annotations

import json
from pathlib import Path

from mc_backup.clock import hours_since
from mc_backup.files import write_json_atomic


class StatusFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict:
        """Empty before the first run, and when the file is unreadable."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def update(self, **changes: object) -> dict:
        status = self.load()
        status.update(changes)
        write_json_atomic(self.path, status, mode=0o644)
        return status


def age_hours(when: str | None) -> str:
    return f"{hours_since(when):.1f}" if when else "-"


def backup_too_old(status: dict, max_age_hours: float) -> bool:
    """No good backup, or one older than the limit (in hours, as the table shows them)."""
    last = (status.get("last_success") or {}).get("time")
    return not last or float(age_hours(last)) > max_age_hours


def status_table(status: dict) -> str:
    ok, off = status.get("last_success") or {}, status.get("last_offsite") or {}
    drill, check = status.get("last_drill") or {}, status.get("last_check") or {}
    fail, rest = status.get("last_failure") or {}, status.get("last_restore") or {}
    rows = [
        ("last backup", ok.get("time", "never"), f"age {age_hours(ok.get('time'))} h"),
        ("  file", ok.get("file", "-"), f"{ok.get('size', 0)} bytes"),
        ("  sha256", ok.get("sha256", "-")[:16], f"reason {ok.get('reason', '-')}"),
        (
            "  release",
            ok.get("release", "-"),
            f"{ok.get('tables', 0)} tables, {ok.get('rows', 0)} rows",
        ),
        (
            "last offsite copy",
            off.get("time", "never"),
            f"snapshot {off.get('snapshot', '-')}, age {age_hours(off.get('time'))} h",
        ),
        (
            "last drill",
            drill.get("result", "never"),
            f"{drill.get('time', '-')}, restore {drill.get('restore_seconds', '-')} s, "
            f"total {drill.get('duration_seconds', '-')} s, "
            f"backup age {drill.get('backup_age_hours', '-')} h",
        ),
        ("last check", check.get("result", "never"), check.get("time", "-")),
        (
            "last restore",
            rest.get("result", "never"),
            f"{rest.get('time', '-')} {rest.get('backup', '')}".strip(),
        ),
        ("last failure", fail.get("time", "none"), (fail.get("error") or "-")[:120]),
    ]
    width = max(len(row[0]) for row in rows)
    value_width = max(len(str(row[1])) for row in rows)
    lines = [
        f"{'item':<{width}}  {'value':<{value_width}}  detail",
        "-" * (width + value_width + 40),
    ]
    lines += [
        f"{item:<{width}}  {value!s:<{value_width}}  {detail}" for item, value, detail in rows
    ]
    return "\n".join(lines)
