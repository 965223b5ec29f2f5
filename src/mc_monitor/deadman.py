"""The dead-man's switch: a GET of MC_MONITOR_DEADMAN_URL after a round in which
every check passed, so that silence (droplet down, timer stopped) is noticed outside."""

from __future__ import annotations

from collections.abc import Mapping

from mc_monitor import web
from mc_monitor.log import log

DEADMAN_ENV = "MC_MONITOR_DEADMAN_URL"


def ping(env: Mapping[str, str], timeout: float) -> bool | None:
    """Whether it answered; None when there is no URL."""
    url = env.get(DEADMAN_ENV, "")
    if not url:
        return None
    error = web.call(url, None, timeout)
    if error:
        log(f"dead-man ping failed: {error}")
    return error is None
