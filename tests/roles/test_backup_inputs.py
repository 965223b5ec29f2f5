"""The backup role refuses bad input before it changes anything, and the
mc-backup program's retention and configuration checks behave as documented.

Role checks run through the run_role fixture (a host that does not exist: a
task that got past validation would fail with a connection error instead).
The program is loaded from roles/backup/files/mc-backup and tested with fake
timestamps; it needs no database for this.
"""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "backup_restic_repository": "sftp:backup@backup.example.net:/srv/restic",
    "backup_restic_password": "correct horse battery staple",
    "backup_restic_sftp_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n",
}


@pytest.mark.parametrize(
    "var",
    [
        "backup_keep_hourly",
        "backup_keep_daily",
        "backup_keep_weekly",
        "backup_keep_safety",
        "backup_sqlite_keep_days",
    ],
)
@pytest.mark.parametrize("value", [0, -3])
def test_retention_counts_below_one_are_rejected(run_role, var, value):
    run_role("backup", {**GOOD, var: value}).assert_rejected(
        "every retention count must be at least 1", f"{var}={value}"
    )


def test_missing_restic_password_is_rejected(run_role):
    run_role("backup", {**GOOD, "backup_restic_password": ""}).assert_rejected(
        "backup_restic_password must be set", GOOD["backup_restic_repository"]
    )


def test_sftp_repository_needs_a_key(run_role):
    run_role("backup", {**GOOD, "backup_restic_sftp_private_key": ""}).assert_rejected(
        "needs backup_restic_sftp_private_key"
    )


def test_s3_repository_needs_keys(run_role):
    run_role(
        "backup",
        {
            **GOOD,
            "backup_restic_repository": "s3:https://fra1.digitaloceanspaces.com/mc-backups/prod",
        },
    ).assert_rejected("AWS_ACCESS_KEY_ID")


def test_unknown_repository_scheme_is_rejected(run_role):
    run_role("backup", {**GOOD, "backup_restic_repository": "ftp://x/y"}).assert_rejected(
        "must start with sftp:"
    )


def test_wrong_types_are_rejected_by_the_argument_specs(run_role):
    run_role("backup", {**GOOD, "backup_keep_daily": "many"}).assert_rejected("backup_keep_daily")
    run_role("backup", {**GOOD, "backup_drill_source": "tape"}).assert_rejected(
        "backup_drill_source"
    )


def test_bad_drill_prefix_and_webhook_are_rejected(run_role):
    run_role("backup", {**GOOD, "backup_drill_database_prefix": "Drill; DROP"}).assert_rejected(
        "backup_drill_database_prefix"
    )
    run_role("backup", {**GOOD, "backup_alert_webhook_url": "ftp://hook"}).assert_rejected(
        "backup_alert_webhook_url"
    )


def test_local_only_backups_need_no_password(run_role):
    # Valid input gets past validation and fails only on reaching the absent host.
    run = run_role("backup", {"backup_restic_repository": ""})
    assert run.failed
    assert "at least 1" not in run.output and "must be set" not in run.output
    assert "mc-no-such-host" in run.output


# ----------------------------------------------------------------- the program


@pytest.fixture(scope="module")
def mcb():
    path = ROOT / "roles" / "backup" / "files" / "mc-backup"
    loader = importlib.machinery.SourceFileLoader("mc_backup", str(path))
    spec = importlib.util.spec_from_loader("mc_backup", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC)


def test_retention_keeps_the_newest_per_bucket(mcb):
    times = [
        t("2025-02-24T09:00"),
        t("2025-03-03T10:00"),
        t("2025-03-03T10:30"),
        t("2025-03-03T11:00"),
        t("2025-03-03T12:00"),
        t("2025-03-04T09:00"),
        t("2025-03-05T09:00"),
        t("2025-03-05T13:00"),
        t("2025-03-12T09:00"),
        t("2025-03-12T10:00"),
    ]
    kept = mcb.select_keep(times, hourly=3, daily=2, weekly=3)
    assert sorted(kept) == [
        t("2025-02-24T09:00"),
        t("2025-03-05T13:00"),
        t("2025-03-12T09:00"),
        t("2025-03-12T10:00"),
    ]


def test_hourly_series_over_two_weeks(mcb):
    start = t("2025-01-06T00:30")  # a Monday
    times = [start + dt.timedelta(hours=h) for h in range(24 * 14)]
    kept = mcb.select_keep(times, hourly=24, daily=7, weekly=4)
    newest = times[-1]
    hourly = {newest - dt.timedelta(hours=h) for h in range(24)}
    daily = {t(f"2025-01-{d:02d}T23:30") for d in range(13, 19)}  # 6 earlier days + today (hourly)
    weekly = {t("2025-01-12T23:30")}  # the first ISO week's newest
    assert kept == hourly | daily | weekly
    assert len(kept) == 24 + 6 + 1


def test_several_backups_in_one_hour_keep_one(mcb):
    times = [t("2025-05-01T10:05"), t("2025-05-01T10:20"), t("2025-05-01T10:50")]
    assert mcb.select_keep(times, 24, 7, 4) == {t("2025-05-01T10:50")}


def test_retention_is_monotone(mcb):
    """Pruning after every run ends where pruning once at the end does."""
    times = [t("2025-01-01T00:00") + dt.timedelta(minutes=47 * i) for i in range(400)]
    present: set = set()
    for when in times:
        present = mcb.select_keep([*present, when], 5, 4, 3)
    assert present == mcb.select_keep(times, 5, 4, 3)


def test_fake_now_for_tests(mcb, monkeypatch):
    monkeypatch.setenv("MC_BACKUP_NOW", "2025-03-03T10:00:00Z")
    assert mcb.stamp(mcb.utcnow()) == "20250303T100000Z"


def test_check_config_rejects_bad_counts(mcb, tmp_path, capsys):
    cfg = {
        key: (1 if kind is int else [] if kind is list else "x")
        for key, kind in mcb.REQUIRED_KEYS.items()
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps(cfg))
    assert mcb.main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**cfg, "keep_daily": 0}))
    assert mcb.main(["check-config", str(bad)]) == 2
    assert "keep_daily must be at least 1" in capsys.readouterr().err
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({k: v for k, v in cfg.items() if k != "service"}))
    assert mcb.main(["check-config", str(missing)]) == 2


def test_run_rejects_a_bad_reason(mcb, tmp_path, capsys):
    cfg = {
        key: (1 if kind is int else [] if kind is list else "")
        for key, kind in mcb.REQUIRED_KEYS.items()
    }
    cfg.update(state_dir=str(tmp_path), backup_dir=str(tmp_path), safety_dir=str(tmp_path))
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    assert mcb.main(["--config", str(path), "run", "--reason", "no spaces; please"]) == 2
    assert "--reason must match" in capsys.readouterr().err
