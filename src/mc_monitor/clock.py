"""UTC time as mc-monitor records and compares it."""

from __future__ import annotations

import datetime as dt
import os


def utcnow() -> dt.datetime:
    """Now, or MC_MONITOR_NOW (ISO 8601): the tests move time from round to round."""
    fake = os.environ.get("MC_MONITOR_NOW")
    if fake:
        return parse_iso(fake)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time in UTC; one without a zone is taken as UTC."""
    t = dt.datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
