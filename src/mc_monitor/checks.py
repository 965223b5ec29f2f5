"""Run the configured checks; a check that raises is a failing result, never a crash."""

from __future__ import annotations

from collections.abc import Callable

from mc_monitor import probe_backup, probe_database, probe_http, probe_system
from mc_monitor.config import Config
from mc_monitor.describe import failure
from mc_monitor.model import Result

Probe = Callable[[dict, float], list[Result]]

PROBES: dict[str, Probe] = {
    "app_edge": probe_http.app_edge,
    "app_direct": probe_http.app_direct,
    "database": probe_database.database,
    "backup": probe_backup.backup,
    "certificate": probe_system.certificate,
    "disk": probe_system.disk,
    "memory": probe_system.memory,
    "reboot": probe_system.reboot,
    "units": probe_system.units,
}


def run_checks(config: Config) -> list[Result]:
    """One after the other, each bounded by timeout_seconds, in the configuration's order."""
    results: list[Result] = []
    for name, settings in config.checks.items():
        try:
            results += PROBES[name](settings, config.timeout_seconds)
        except Exception as exc:
            results.append(Result(name, False, f"check failed: {failure(exc)}"))
    return results
