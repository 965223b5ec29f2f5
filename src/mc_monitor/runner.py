"""One round: the checks, the state's changes and their alerts, the dead-man ping."""

from __future__ import annotations

import fcntl
from collections.abc import Mapping
from dataclasses import dataclass

from mc_monitor import deadman
from mc_monitor.alerts import send
from mc_monitor.checks import run_checks
from mc_monitor.clock import utcnow
from mc_monitor.config import Config
from mc_monitor.log import log
from mc_monitor.model import Alert, Result
from mc_monitor.state import StateFile, transitions


@dataclass(frozen=True)
class Round:
    results: list[Result]
    alerts: list[Alert]
    state: dict

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)


def run_round(config: Config, env: Mapping[str, str]) -> Round:
    """Raises OSError when the state cannot be kept (and then does not ping the dead-man)."""
    now = utcnow()
    results = run_checks(config)
    store = StateFile(config.state_path)
    store.path.parent.mkdir(parents=True, exist_ok=True)
    # A round started by hand while the timer's runs: the second reads the first's
    # state, so a change alerts once.
    with open(store.path.with_name("lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state, alerts = transitions(store.load(), results, now, config.repeat_minutes)
        for alert in alerts:
            log(f"alert: {alert.text(config.host)}")
            send(config, alert, env)
        store.save(state)
    done = Round(results, alerts, state)
    if done.ok:
        deadman.ping(env, config.timeout_seconds)
    return done
