"""The webhook and dead-man URLs may hold a token: whatever goes wrong with them
(unreachable, malformed, an HTTP error), the token is in no output, no log line
and not in the state file, and the round still finishes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mc_monitor.cli import main

from .conftest import Server

TOKEN = "S3cretTok"

URLS = [
    f"https://user:{TOKEN}@127.0.0.1:1/hook?token={TOKEN}",  # unreachable
    f"http//{TOKEN}@",  # malformed
    f"http://127.0.0.1:{TOKEN}/hook",  # http.client: "nonnumeric port: 'S3cretTok'"
    f"ftp://{TOKEN}.invalid/hook",
    f"https://{TOKEN}.invalid/hook",  # does not resolve
]


def everything_printed(capfd: pytest.CaptureFixture[str]) -> str:
    out, err = capfd.readouterr()
    return out + err


@pytest.mark.parametrize("url", URLS)
def test_a_bad_url_never_shows_its_token(
    url: str,
    make_config,
    serve: Callable[..., Server],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = serve()
    monkeypatch.setenv("MC_MONITOR_WEBHOOK_URL", url)
    monkeypatch.setenv("MC_MONITOR_DEADMAN_URL", url)
    config = str(make_config({"app_direct": {"url": app.url()}}, timeout_seconds=1))
    printed = ""
    app.status = 500
    assert main(["--config", config, "run", "--verbose"]) == 1  # alerts
    printed += everything_printed(capfd)
    assert "alert webhook failed: " in printed
    app.status = 200
    assert main(["--config", config, "run"]) == 0  # alerts, pings the dead-man
    printed += everything_printed(capfd)
    assert "dead-man ping failed: " in printed
    assert main(["--config", config, "test-alert"]) == 1
    assert main(["--config", config, "status"]) == 0
    assert main(["--config", config, "status", "--json"]) == 0
    printed += everything_printed(capfd)
    assert "webhook: FAILED" in printed
    assert TOKEN not in printed
    state = (tmp_path / "state" / "state.json").read_text()
    assert "app_direct" in state and TOKEN not in state


@pytest.mark.parametrize("status", [401, 500])
def test_an_http_error_shows_the_status_only(
    status: int,
    make_config,
    serve: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    hook = serve()
    hook.status = status
    monkeypatch.setenv("MC_MONITOR_WEBHOOK_URL", hook.url(f"/hook/{TOKEN}?t={TOKEN}"))
    monkeypatch.setenv("MC_MONITOR_DEADMAN_URL", hook.url(f"/ping/{TOKEN}"))
    config = str(make_config({}))
    assert main(["--config", config, "test-alert"]) == 1
    assert main(["--config", config, "run"]) == 0
    printed = everything_printed(capfd)
    assert f"alert webhook failed: HTTP {status}" in printed
    assert f"dead-man ping failed: HTTP {status}" in printed
    assert TOKEN not in printed
    assert [r["path"] for r in hook.requests] == [f"/hook/{TOKEN}?t={TOKEN}", f"/ping/{TOKEN}"]


def test_an_unanswered_request_is_bounded_by_the_timeout(
    make_config,
    serve: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    deadman = serve()
    deadman.delay = 3
    monkeypatch.setenv("MC_MONITOR_DEADMAN_URL", deadman.url(f"/ping/{TOKEN}"))
    assert main(["--config", str(make_config({}, timeout_seconds=1)), "run"]) == 0
    printed = everything_printed(capfd)
    assert "dead-man ping failed: no answer within 1 s" in printed
    assert TOKEN not in printed
