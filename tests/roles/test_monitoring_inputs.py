"""The monitoring role refuses bad input before it changes anything, and never
shows the webhook or dead-man URL (they may hold a token) while it does.
The program the role installs (src/mc_monitor) is tested in tests/monitor."""

from __future__ import annotations

import pytest

SECRET_URL = "hooks.example.net/T0kenInTheUrl"


@pytest.mark.parametrize(
    ("var", "value", "shown"),
    [
        ("monitoring_interval_seconds", 5, "must be at least 10 (got 5)"),
        ("monitoring_repeat_minutes", -1, "monitoring_repeat_minutes 0 or more (got -1)"),
        ("monitoring_disk_max_percent", 101, "between 1 and 100"),
        ("monitoring_memory_max_percent", 0, "between 1 and 100"),
        ("monitoring_disk_paths", ["var/lib"], "absolute folders (got ['var/lib'])"),
        ("monitoring_backup_status_file", "status.json", 'empty or absolute\n(got "status.json")'),
        ("monitoring_database_host", "db.example", 'ca_file an absolute path on the host (got "")'),
    ],
)
def test_bad_values_are_rejected_naming_the_variable(run_role, var, value, shown):
    run_role("monitoring", {var: value}).assert_rejected(shown.replace("\n", " "))


@pytest.mark.parametrize("var", ["monitoring_webhook_url", "monitoring_deadman_url"])
def test_a_url_that_is_not_http_is_rejected_without_being_shown(run_role, var):
    run = run_role("monitoring", {var: f"ftp://{SECRET_URL}"})
    run.assert_rejected("monitoring_deadman_url empty or http(s):// URLs")
    assert "T0kenInTheUrl" not in run.output
