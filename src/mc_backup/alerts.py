"""Telling someone a run failed: the alert command, the webhook, and the status
file's last_failure, which also stops systemd's OnFailure= hook from alerting twice."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import urllib.request

from mc_backup.clock import iso, utcnow
from mc_backup.context import Context
from mc_backup.log import log


def one_line(text: str) -> str:
    """For logs and chat hooks."""
    return " ".join(text.split())


def alert(ctx: Context, event: str, error: str, invocation: str) -> None:
    """Never raises: a broken alert channel is logged, and the others still run.

    invocation is systemd's id of the failed run; recorded with the failure so
    that the OnFailure= hook of the same run does not alert again.
    """
    error = one_line(error)
    host = ctx.config.host
    payload = {
        "host": host,
        "event": event,
        "error": error,
        "time": iso(utcnow()),
        "invocation": invocation,
    }
    if ctx.config.alert_command:
        env = dict(
            ctx.runner.env, MC_BACKUP_EVENT=event, MC_BACKUP_ERROR=error, MC_BACKUP_HOST=host
        )
        # The command is not printed: it may hold a token.
        try:
            subprocess.run(ctx.config.alert_command, shell=True, env=env, timeout=60, check=True)
        except subprocess.CalledProcessError as exc:
            log(f"alert command failed (exit {exc.returncode})")
        except subprocess.TimeoutExpired:
            log("alert command failed: still running after 60 s")
        except OSError as exc:
            log(f"alert command failed: {exc}")
    # From the secrets file: the URL may hold a token, so it is never printed.
    url = ctx.runner.env.get("MC_BACKUP_WEBHOOK_URL", "")
    if url:
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
        except OSError as exc:
            log(f"alert webhook failed: {exc}")
        except (ValueError, http.client.HTTPException) as exc:
            # Their messages may quote the URL.
            log(f"alert webhook failed: {type(exc).__name__}")
    with contextlib.suppress(OSError):
        ctx.status.update(
            last_failure={k: payload[k] for k in ("time", "event", "error", "invocation")}
        )


def unit_invocation(unit: str) -> str:
    """The failed unit's InvocationID: systemd >= 251 hands it to OnFailure= units;
    older ones are asked (which needs D-Bus for a non-root user)."""
    return (
        os.environ.get("MONITOR_INVOCATION_ID")
        or subprocess.run(
            ["systemctl", "show", "--value", "-p", "InvocationID", unit],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )


def alert_for_unit(ctx: Context, unit: str, invocation: str) -> bool:
    """`mc-backup alert-unit UNIT` (OnFailure=): alert unless the run already did;
    whether it alerted."""
    last = ctx.status.load().get("last_failure") or {}
    if invocation and last.get("invocation") == invocation:
        log(f"{unit} already alerted")
        return False
    alert(
        ctx,
        unit,
        f"{unit} failed without reporting (killed, timed out or crashed): see journalctl -u {unit}",
        invocation,
    )
    return True
