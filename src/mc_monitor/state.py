"""The state file (state_dir/state.json): each check's last result, since when it
holds and when it last alerted; and the decision which results alert."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from mc_monitor.clock import iso, parse_iso
from mc_monitor.model import Alert, Result


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict:
        """Empty before the first round, and when the file is unreadable (then checks
        that fail alert again, as on the first round)."""
        try:
            state = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def save(self, state: dict) -> None:
        """Readers (mc-monitor status) see the old file or the new one, never half of it."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(state, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            # Nothing secret in it: mc-status run by anyone may read it.
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename survives a crash
        finally:
            os.close(folder)


def _previous(state: dict, name: str) -> dict | None:
    checks = state.get("checks")
    entry = checks.get(name) if isinstance(checks, dict) else None
    return entry if isinstance(entry, dict) and isinstance(entry.get("ok"), bool) else None


def _time(text: object) -> dt.datetime | None:
    try:
        return parse_iso(text) if isinstance(text, str) else None
    except ValueError:
        return None


def transitions(
    previous: dict, results: list[Result], now: dt.datetime, repeat_minutes: float
) -> tuple[dict, list[Alert]]:
    """The new state and the alerts of a round. A check alerts when it changes state
    (failing, recovered), when it fails on its first round, and, with repeat_minutes,
    every repeat_minutes while it keeps failing. Checks no longer configured are dropped."""
    stamp = iso(now)
    checks: dict[str, dict] = {}
    alerts: list[Alert] = []
    for result in results:
        before = _previous(previous, result.name)
        since, last_alert, change = stamp, None, None
        if before is None:
            change = None if result.ok else "failing"
        elif before["ok"] != result.ok:
            change = "recovered" if result.ok else "failing"
        else:
            since = before["since"] if _time(before.get("since")) else stamp
            last_alert = before.get("last_alert") if _time(before.get("last_alert")) else None
            last = _time(last_alert) or _time(since) or now
            if (
                not result.ok
                and repeat_minutes > 0
                and now - last >= dt.timedelta(minutes=repeat_minutes)
            ):
                change = "still failing"
        if change:
            alerts.append(Alert(result.name, change, result.summary, stamp))
            last_alert = stamp
        checks[result.name] = {
            "ok": result.ok,
            "since": since,
            "summary": result.summary,
            "checked": stamp,
            "last_alert": last_alert,
            "value": result.value,
        }
    return {"round": stamp, "checks": checks}, alerts


def failing(state: dict) -> list[str]:
    checks = state.get("checks")
    if not isinstance(checks, dict):
        return []
    return [
        name
        for name, entry in checks.items()
        if not (isinstance(entry, dict) and entry.get("ok") is True)
    ]
