"""Rounds as the timer runs them (`mc-monitor run`, minute after minute with
MC_MONITOR_NOW): alerts on a change only, the repeat, the channels, the dead-man
ping, and what `mc-monitor status` shows afterwards."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mc_monitor.cli import main
from mc_monitor.clock import iso, parse_iso

from .conftest import Server, state_of

T0 = parse_iso("2025-03-03T10:00:00Z")


class Rounds:
    def __init__(self, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.config = config
        self.monkeypatch = monkeypatch

    def at(self, minute: float, *args: str) -> int:
        """`mc-monitor run` at T0 + minute; its exit status."""
        self.monkeypatch.setenv("MC_MONITOR_NOW", iso(T0 + dt.timedelta(minutes=minute)))
        return main(["--config", str(self.config), "run", *args])


@pytest.fixture
def app(serve: Callable[..., Server]) -> Server:
    return serve()


@pytest.fixture
def hook(serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> Server:
    server = serve()
    monkeypatch.setenv("MC_MONITOR_WEBHOOK_URL", server.url("/hook/t0ken"))
    return server


def rounds(make_config, monkeypatch, app: Server, **changes: object) -> Rounds:
    checks = {"app_direct": {"url": app.url(), "max_ms": 2000}}
    return Rounds(make_config(checks, **changes), monkeypatch)


def alerts_of(hook: Server) -> list[tuple[str, str]]:
    return [(body["check"], body["state"]) for body in hook.bodies]


def test_one_alert_when_the_app_goes_down_and_one_when_it_is_back(
    make_config, monkeypatch, app: Server, hook: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    run = rounds(make_config, monkeypatch, app)
    assert run.at(0) == 0
    assert hook.requests == []
    assert capsys.readouterr().out == "all ok (1 checks)\n"

    app.status = 502
    assert run.at(1) == 1
    [body] = hook.bodies
    summary = body["summary"]
    assert re.fullmatch(r"502 in \d+ ms", summary)
    assert body == {
        "host": "mc-droplet",
        "check": "app_direct",
        "state": "failing",
        "summary": summary,
        "time": "2025-03-03T10:01:00Z",
        "text": f"[mc-droplet] app_direct is failing: {summary}",
        "content": f"[mc-droplet] app_direct is failing: {summary}",
    }
    assert hook.requests[0]["path"] == "/hook/t0ken"
    assert hook.requests[0]["type"] == "application/json"
    out, err = capsys.readouterr()
    assert out == "1 failing: app_direct\n"
    assert err == f"mc-monitor: alert: [mc-droplet] app_direct is failing: {summary}\n"

    for minute in (2, 3, 4):
        assert run.at(minute) == 1
    assert len(hook.bodies) == 1

    app.status = 200
    assert run.at(5) == 0
    assert alerts_of(hook) == [("app_direct", "failing"), ("app_direct", "recovered")]
    assert hook.bodies[1]["text"].startswith("[mc-droplet] app_direct recovered: 200 in ")
    assert run.at(6) == 0
    assert len(hook.bodies) == 2


def test_a_failure_that_holds_repeats_after_repeat_minutes(
    make_config, monkeypatch, app: Server, hook: Server
) -> None:
    app.status = 500
    run = rounds(make_config, monkeypatch, app, repeat_minutes=5)
    for minute in (0, 1, 2, 3):
        assert run.at(minute) == 1
    assert alerts_of(hook) == [("app_direct", "failing")]
    assert run.at(6) == 1
    assert alerts_of(hook) == [("app_direct", "failing"), ("app_direct", "still failing")]
    assert hook.bodies[1]["text"].startswith("[mc-droplet] app_direct is still failing: 500 in")
    assert run.at(7) == 1
    assert len(hook.bodies) == 2


def test_latency_over_max_ms_alerts(make_config, monkeypatch, app: Server, hook: Server) -> None:
    app.delay = 0.3
    run = Rounds(make_config({"app_direct": {"url": app.url(), "max_ms": 50}}), monkeypatch)
    assert run.at(0) == 1
    [body] = hook.bodies
    assert re.fullmatch(r"200 in \d+ ms \(max 50 ms\)", body["summary"])


def test_the_dead_man_hears_of_all_ok_rounds_only(
    make_config, monkeypatch, app: Server, serve: Callable[..., Server]
) -> None:
    deadman = serve()
    monkeypatch.setenv("MC_MONITOR_DEADMAN_URL", deadman.url("/ping/uuid-1"))
    run = rounds(make_config, monkeypatch, app)
    assert run.at(0) == 0
    assert [(r["method"], r["path"]) for r in deadman.requests] == [("GET", "/ping/uuid-1")]
    app.status = 500
    assert run.at(1) == 1
    assert run.at(2) == 1
    assert len(deadman.requests) == 1
    app.status = 200
    assert run.at(3) == 0
    assert len(deadman.requests) == 2


def test_the_alert_command_gets_the_alert_in_its_environment(
    make_config, monkeypatch, app: Server, tmp_path: Path
) -> None:
    log = tmp_path / "alerts.log"
    command = (
        'printf \'%s|%s|%s|%s|%s|%s\\n\' "$MC_ALERT_HOST" "$MC_ALERT_CHECK" '
        f'"$MC_ALERT_STATE" "$MC_ALERT_SUMMARY" "$MC_ALERT_TIME" "$MC_ALERT_TEXT" >> {log}'
    )
    run = rounds(make_config, monkeypatch, app, alert_command=command)
    app.status = 503
    assert run.at(0) == 1
    app.status = 200
    assert run.at(1) == 0
    lines = log.read_text().splitlines()
    assert [line.split("|")[:3] for line in lines] == [
        ["mc-droplet", "app_direct", "failing"],
        ["mc-droplet", "app_direct", "recovered"],
    ]
    summary, time, text = lines[0].split("|")[3:]
    assert summary.startswith("503 in ") and time == "2025-03-03T10:00:00Z"
    assert text == f"[mc-droplet] app_direct is failing: {summary}"


def test_a_broken_channel_does_not_stop_the_other(
    make_config, monkeypatch, app: Server, hook: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    hook.status = 500
    app.status = 500
    run = rounds(make_config, monkeypatch, app, alert_command="exit 3 # t0ken")
    assert run.at(0) == 1
    err = capsys.readouterr().err
    assert "alert command failed (exit 3)" in err
    assert "alert webhook failed: HTTP 500" in err
    assert "t0ken" not in err
    assert alerts_of(hook) == [("app_direct", "failing")]
    # the state is kept all the same: no second alert
    assert run.at(1) == 1
    assert len(hook.bodies) == 1


def test_test_alert_goes_through_every_channel(
    make_config, tmp_path: Path, hook: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "alerts.log"
    config = str(make_config({}, alert_command=f'echo "$MC_ALERT_STATE" >> {log}'))
    assert main(["test-alert", "--config", config]) == 0
    assert capsys.readouterr().out == "alert command: sent\nwebhook: sent\n"
    assert log.read_text() == "test\n"
    [body] = hook.bodies
    assert (body["check"], body["state"]) == ("mc-monitor", "test")
    assert body["text"] == "[mc-droplet] mc-monitor test alert: sent by mc-monitor test-alert"
    hook.status = 404
    assert main(["--config", config, "test-alert"]) == 1
    assert capsys.readouterr().out == "alert command: sent\nwebhook: FAILED\n"


def test_test_alert_without_a_channel(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(make_config({})), "test-alert"]) == 1
    assert capsys.readouterr().err == (
        "mc-monitor: no alert channel: set alert_command or MC_MONITOR_WEBHOOK_URL\n"
    )


def test_status_after_rounds(
    make_config,
    monkeypatch,
    app: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flag = tmp_path / "reboot-required"
    checks = {
        "app_direct": {"url": app.url()},
        "disk": {"paths": [str(tmp_path)], "max_percent": 100},
        "reboot": {"file": str(flag)},
    }
    config = str(make_config(checks))
    assert main(["--config", config, "status"]) == 1
    assert capsys.readouterr().out == "never run: no round has finished yet\n"

    run = Rounds(Path(config), monkeypatch)
    assert run.at(0) == 0
    capsys.readouterr()
    assert main(["--config", config, "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["all ok", "last round 2025-03-03T10:00:00Z"]
    assert lines[3].split() == ["check", "state", "since", "summary", "checked"]
    rows = {line.split()[0]: line for line in lines[5:]}
    assert list(rows) == ["app_direct", f"disk:{tmp_path}", "reboot"]
    assert rows["reboot"].split() == [
        "reboot",
        "ok",
        "2025-03-03T10:00:00Z",
        "no",
        "reboot",
        "required",
        "2025-03-03T10:00:00Z",
    ]

    flag.touch()
    assert run.at(3, "--verbose") == 1
    out = capsys.readouterr().out
    assert out.startswith("1 failing\nlast round 2025-03-03T10:03:00Z\n")
    assert main(["status", "--config", config]) == 1
    out = capsys.readouterr().out
    assert re.search(
        r"\nreboot +FAILING +2025-03-03T10:03:00Z +reboot required +2025-03-03T10:03:00Z\n", out
    )
    assert re.search(
        r"\napp_direct +ok +2025-03-03T10:00:00Z +200 in \d+ ms +2025-03-03T10:03", out
    )

    assert main(["--config", config, "status", "--json"]) == 1
    state = json.loads(capsys.readouterr().out)
    assert state == state_of(tmp_path)
    assert state["checks"]["reboot"]["ok"] is False
    assert state["checks"]["reboot"]["last_alert"] == "2025-03-03T10:03:00Z"


def test_a_state_that_cannot_be_kept_fails_the_run_without_a_ping(
    make_config,
    monkeypatch,
    app: Server,
    serve: Callable[..., Server],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deadman = serve()
    monkeypatch.setenv("MC_MONITOR_DEADMAN_URL", deadman.url("/ping"))
    (tmp_path / "not-a-folder").write_text("")
    run = rounds(make_config, monkeypatch, app, state_dir=str(tmp_path / "not-a-folder"))
    assert run.at(0) == 1
    assert capsys.readouterr().err == (
        f"mc-monitor: cannot keep the state in {tmp_path / 'not-a-folder'}: File exists\n"
    )
    assert deadman.requests == []
