"""The command line's exit statuses and messages, without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mc_backup.cli import main

from .conftest import alert_lines


def test_check_config_accepts_the_good_and_names_the_bad(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(make_config())]) == 0
    assert main(["check-config", str(make_config(keep_daily=0))]) == 2
    assert "mc-backup: error: configuration" in capsys.readouterr().err
    assert main(["check-config", str(tmp_path / "absent.json")]) == 2


def test_a_bad_configuration_is_a_usage_error_for_every_command(
    make_config, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_config(keep_weekly=-1)
    for command in (["status"], ["run"], ["drill"], ["prune"], ["alert-unit", "x.service"]):
        assert main(["--config", str(path), *command]) == 2
        assert "keep_weekly must be at least 1 (got -1)" in capsys.readouterr().err


def test_the_config_path_comes_from_the_environment(
    make_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_BACKUP_CONFIG", str(make_config()))
    assert main(["status"]) == 0


def test_a_bad_reason_is_refused_before_anything_runs(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(make_config()), "run", "--reason", "no spaces; please"]) == 2
    assert "--reason must match" in capsys.readouterr().err
    assert alert_lines(tmp_path) == []


def test_unknown_subcommands_and_options_are_usage_errors(make_config) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(make_config()), "backup-now"])
    assert caught.value.code == 2


def test_status_before_the_first_backup(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(make_config())
    assert main(["--config", path, "status"]) == 0
    assert "last backup        never" in capsys.readouterr().out
    assert main(["--config", path, "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out) == {}
    # monitoring: no backup at all is too old
    assert main(["--config", path, "status", "--max-age-hours", "2"]) == 1


def test_status_max_age(make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(make_config())
    (tmp_path / "state" / "status.json").write_text(
        json.dumps({"last_success": {"time": "2025-03-03T10:00:00Z"}})
    )
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T11:30:00Z")
    assert main(["--config", path, "status", "--max-age-hours", "2"]) == 0
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T12:30:00Z")
    assert main(["--config", path, "status", "--max-age-hours", "2"]) == 1


def test_offsite_commands_without_a_repository(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(make_config())
    assert main(["--config", path, "init"]) == 0
    assert capsys.readouterr().out.strip() == "no offsite repository configured"
    for command in (["check"], ["drill", "--from", "offsite"]):
        assert main(["--config", path, *command]) == 2
        assert "no offsite repository configured" in capsys.readouterr().err
    assert alert_lines(tmp_path) == []


def test_prune_without_backups(make_config, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(make_config()), "prune"]) == 0
    assert capsys.readouterr().out.strip() == "pruned"


def test_a_drill_without_a_local_backup_fails_and_alerts(
    make_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(make_config()), "drill"]) == 1
    assert "mc-backup: FAILED: no local backup matches 'latest'" in capsys.readouterr().err
    assert alert_lines(tmp_path) == [f"drill|no local backup matches 'latest' in {tmp_path / 'pg'}"]


def test_a_database_libpq_cannot_find_fails_the_run_and_alerts(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "no-services.conf"))
    monkeypatch.setenv("INVOCATION_ID", "inv-1")
    path = str(make_config())
    assert main(["--config", path, "run", "--reason", "scheduled"]) == 1
    lines = alert_lines(tmp_path)
    assert len(lines) == 1 and lines[0].startswith("run|cannot connect to service=mc_test")
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert "last_success" not in status and status["last_failure"]["invocation"] == "inv-1"
    # systemd's OnFailure= hook for the same run stays quiet
    monkeypatch.setenv("MONITOR_INVOCATION_ID", "inv-1")
    assert main(["--config", path, "alert-unit", "mc-backup@scheduled.service"]) == 0
    assert len(alert_lines(tmp_path)) == 1
