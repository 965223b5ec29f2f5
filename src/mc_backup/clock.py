"""UTC time as mc-backup names files and records events."""

from __future__ import annotations

import datetime as dt
import os

STAMP = "%Y%m%dT%H%M%SZ"  # in file names: mission_control-20250303T100000Z.dump


def utcnow() -> dt.datetime:
    """Now, or MC_BACKUP_NOW (ISO 8601): retention is tested with a series of chosen times."""
    fake = os.environ.get("MC_BACKUP_NOW")
    if fake:
        return parse_iso(fake)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time in UTC; one without a zone is taken as UTC."""
    t = dt.datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime(STAMP)


def parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, STAMP).replace(tzinfo=dt.UTC)


def hours_since(when: str) -> float:
    return (utcnow() - parse_iso(when)).total_seconds() / 3600
