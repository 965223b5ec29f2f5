"""The backup role refuses bad input before it changes anything.

Role checks run through the run_role fixture (a host that does not exist: a
task that got past validation would fail with a connection error instead).
The program the role installs (src/mc_backup) is tested in tests/backup.
"""

from __future__ import annotations

import pytest

GOOD = {
    "backup_restic_repository": "sftp:backup@backup.example.net:/srv/restic",
    "backup_restic_password": "correct horse battery staple",
    "backup_restic_sftp_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n",
    "backup_restic_sftp_known_hosts": [
        "backup.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake"
    ],
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


def test_sftp_repository_needs_a_pinned_host_key(run_role):
    run_role("backup", {**GOOD, "backup_restic_sftp_known_hosts": []}).assert_rejected(
        "the target's host key pinned in backup_restic_sftp_known_hosts"
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


def test_offsite_pruning_needs_a_repository(run_role):
    run_role(
        "backup", {"backup_restic_repository": ""}, tasks_from="offsite_prune"
    ).assert_rejected("backup_restic_repository is empty for mc-no-such-host")


def test_offsite_pruning_of_an_sftp_target_needs_the_operators_key(run_role, tmp_path):
    for key_file in ("", str(tmp_path / "no-such-key")):
        run_role(
            "backup",
            {**GOOD, "backup_offsite_prune_ssh_key_file": key_file},
            tasks_from="offsite_prune",
        ).assert_rejected("set backup_offsite_prune_ssh_key_file", f'(got "{key_file}")')
