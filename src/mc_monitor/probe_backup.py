"""mc-backup's status file: the last good backup, its offsite copy, the last restore drill."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from mc_monitor.clock import parse_iso, utcnow
from mc_monitor.describe import one_line
from mc_monitor.model import Result


def hours_ago(entry: object, now: dt.datetime) -> float | None:
    """Age of a status entry's time; None without one."""
    when = entry.get("time") if isinstance(entry, dict) else None
    try:
        return (now - parse_iso(when)).total_seconds() / 3600 if isinstance(when, str) else None
    except ValueError:
        return None


def fresh(name: str, what: str, entry: object, max_hours: float, now: dt.datetime) -> Result:
    age = hours_ago(entry, now)
    if age is None:
        return Result(name, False, f"no {what} yet")
    ok = age <= max_hours
    return Result(name, ok, f"last {what} {age:.1f} h ago (max {max_hours:g} h)", round(age, 2))


def drill(entry: object, first_backup: object, max_days: float, now: dt.datetime) -> Result:
    age = hours_ago(entry, now)
    if age is None or not isinstance(entry, dict):
        # A new droplet: the weekly drill is not due until max_days after the first backup.
        since = hours_ago({"time": first_backup}, now)
        if since is None:
            return Result("drill", True, "no restore drill yet (no backup yet)")
        days = since / 24
        if days <= max_days:
            return Result("drill", True, f"no restore drill yet (first backup {days:.1f} d ago)")
        return Result(
            "drill", False, f"no restore drill in the {days:.1f} d since the first backup"
        )
    days = age / 24
    verdict = str(entry.get("result", "?"))
    # mc-backup records PASS or FAIL.
    passed = verdict.upper() in ("PASS", "OK")
    summary = f"last drill {verdict} {days:.1f} d ago (max {max_days:g} d)"
    if not passed and entry.get("error"):
        summary += f": {one_line(str(entry['error']), 100)}"
    return Result("drill", passed and days <= max_days, summary, round(days, 2))


def backup(settings: dict, timeout: float) -> list[Result]:
    """backup, and offsite and drill when their limits are not 0."""
    path = Path(settings["status_file"])
    names = ["backup"]
    names += ["offsite"] if settings["offsite_max_age_hours"] else []
    names += ["drill"] if settings["drill_max_age_days"] else []
    try:
        status = json.loads(path.read_bytes())
    except FileNotFoundError:
        status = {}  # no backup has run yet: each entry says "no ... yet"
    except OSError as exc:
        return [Result(n, False, f"cannot read {path}: {exc.strerror}") for n in names]
    except ValueError:
        return [Result(n, False, f"{path} is not valid JSON") for n in names]
    if not isinstance(status, dict):
        return [Result(n, False, f"{path} does not hold a JSON object") for n in names]
    now = utcnow()
    results = [
        fresh("backup", "good backup", status.get("last_success"), settings["max_age_hours"], now)
    ]
    if "offsite" in names:
        limit = settings["offsite_max_age_hours"]
        results.append(fresh("offsite", "offsite copy", status.get("last_offsite"), limit, now))
    if "drill" in names:
        limit = settings["drill_max_age_days"]
        results.append(drill(status.get("last_drill"), status.get("first_success"), limit, now))
    return results
