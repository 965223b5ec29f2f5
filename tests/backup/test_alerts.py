"""Alerts: the alert command, the webhook (a real HTTP server on localhost), the
failure record, and the OnFailure= hook that must not alert twice."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from mc_backup.alerts import alert, alert_for_unit, one_line
from mc_backup.config import load_config
from mc_backup.context import Context

from .conftest import alert_lines


class Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status: ClassVar[int] = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(
            {"type": self.headers["Content-Type"], "body": json.loads(body), "path": self.path}
        )
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received, Hook.status = [], 204
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook/t0ken"
    finally:
        server.shutdown()
        server.server_close()


def context(make_config, tmp_path: Path, webhook_url: str = "", **changes: object) -> Context:
    if webhook_url:
        (tmp_path / "secrets.env").write_text(f"MC_BACKUP_WEBHOOK_URL={webhook_url}\n")
    return Context.from_config(load_config(str(make_config(**changes))))


def test_errors_become_one_line() -> None:
    assert (
        one_line("pg_dump failed:\n  line one\n\tline two  ") == "pg_dump failed: line one line two"
    )


def test_the_command_the_webhook_and_the_status_hear_of_a_failure(
    make_config, tmp_path: Path, webhook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:00Z")
    ctx = context(make_config, tmp_path, webhook)
    alert(ctx, "run", "cannot connect\nto service=mc_test", "inv-1")
    assert alert_lines(tmp_path) == ["run|cannot connect to service=mc_test"]
    assert Hook.received == [
        {
            "type": "application/json",
            "path": "/hook/t0ken",
            "body": {
                "host": "droplet",
                "event": "run",
                "error": "cannot connect to service=mc_test",
                "time": "2025-03-03T10:00:00Z",
                "invocation": "inv-1",
            },
        }
    ]
    assert ctx.status.load()["last_failure"] == {
        "time": "2025-03-03T10:00:00Z",
        "event": "run",
        "error": "cannot connect to service=mc_test",
        "invocation": "inv-1",
    }


def test_a_broken_channel_does_not_stop_the_others(
    make_config, tmp_path: Path, webhook: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Hook.status = 500
    ctx = context(make_config, tmp_path, webhook, alert_command="exit 3 # t0ken")
    alert(ctx, "drill", "row counts differ", "")
    err = capsys.readouterr().err
    assert "alert command failed (exit 3)" in err and "alert webhook failed: HTTP Error 500" in err
    assert "t0ken" not in err  # the command and the URL may hold a secret
    assert ctx.status.load()["last_failure"]["error"] == "row counts differ"


def test_a_bad_webhook_url_is_not_printed(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = context(make_config, tmp_path, "http://hook.example:t0ken/x")
    alert(ctx, "run", "boom", "")
    err = capsys.readouterr().err
    assert "alert webhook failed" in err and "t0ken" not in err
    assert alert_lines(tmp_path) == ["run|boom"]


def test_the_unit_hook_alerts_once_per_failed_run(make_config, tmp_path: Path) -> None:
    ctx = context(make_config, tmp_path)
    alert(ctx, "run", "pg_dump failed (killed by signal 9)", "inv-7")
    # the same run's OnFailure= hook: it already alerted
    assert alert_for_unit(ctx, "mc-backup@scheduled.service", "inv-7") is False
    # a run killed before it could report
    assert alert_for_unit(ctx, "mc-backup@killunit.service", "inv-8") is True
    assert alert_lines(tmp_path) == [
        "run|pg_dump failed (killed by signal 9)",
        "mc-backup@killunit.service|mc-backup@killunit.service failed without reporting "
        "(killed, timed out or crashed): see journalctl -u mc-backup@killunit.service",
    ]
    assert ctx.status.load()["last_failure"]["invocation"] == "inv-8"
