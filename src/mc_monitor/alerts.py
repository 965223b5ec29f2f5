"""Sending an alert: the alert command and the webhook (MC_MONITOR_WEBHOOK_URL)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from mc_monitor import web
from mc_monitor.config import Config
from mc_monitor.log import log
from mc_monitor.model import Alert

WEBHOOK_ENV = "MC_MONITOR_WEBHOOK_URL"


def channels(config: Config, env: Mapping[str, str]) -> list[str]:
    """The configured ones, by name."""
    return [
        name
        for name, configured in (
            ("alert command", bool(config.alert_command)),
            ("webhook", bool(env.get(WEBHOOK_ENV))),
        )
        if configured
    ]


def payload(config: Config, alert: Alert) -> dict:
    text = alert.text(config.host)
    # Slack reads text, Discord content.
    return {
        "host": config.host,
        "check": alert.check,
        "state": alert.state,
        "summary": alert.summary,
        "time": alert.time,
        "text": text,
        "content": text,
    }


def run_command(config: Config, alert: Alert, env: Mapping[str, str]) -> bool:
    command_env = dict(
        env,
        MC_ALERT_HOST=config.host,
        MC_ALERT_CHECK=alert.check,
        MC_ALERT_STATE=alert.state,
        MC_ALERT_SUMMARY=alert.summary,
        MC_ALERT_TIME=alert.time,
        MC_ALERT_TEXT=alert.text(config.host),
    )
    # The command is never printed: it may hold a token.
    try:
        subprocess.run(
            config.alert_command,
            shell=True,
            env=command_env,
            stdout=subprocess.DEVNULL,
            timeout=60,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        log(f"alert command failed (exit {exc.returncode})")
    except subprocess.TimeoutExpired:
        log("alert command failed: still running after 60 s")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in a summary
        log(f"alert command failed: {getattr(exc, 'strerror', None) or type(exc).__name__}")
    else:
        return True
    return False


def send(config: Config, alert: Alert, env: Mapping[str, str]) -> dict[str, bool]:
    """Through every configured channel; which delivered it. Never raises: a broken
    channel is logged and the others still run."""
    delivered = {}
    if config.alert_command:
        delivered["alert command"] = run_command(config, alert, env)
    url = env.get(WEBHOOK_ENV, "")
    if url:
        error = web.call(url, payload(config, alert), timeout=15)
        if error:
            log(f"alert webhook failed: {error}")
        delivered["webhook"] = error is None
    return delivered
