"""db_migrate's pre-flight rejects bad input before it changes anything."""

GOOD = {
    "db_migrate_database_url": "postgresql://mc:secret@db.example.test:25060/mc?sslmode=verify-full",
}


def test_missing_database_url(run_role):
    result = run_role("db_migrate", {}, tasks_from="preflight")
    result.assert_rejected("db_migrate_database_url")


def test_url_that_is_not_postgresql(run_role):
    result = run_role(
        "db_migrate", {"db_migrate_database_url": "mysql://x@y/z"}, tasks_from="preflight"
    )
    result.assert_rejected("db_migrate_database_url must be a postgresql:// URL")
    assert "mysql://x@y/z" not in result.output  # the URL may hold a password: never echoed


def test_upload_that_does_not_exist(run_role, tmp_path):
    missing = tmp_path / "laptop.db"
    result = run_role(
        "db_migrate", {**GOOD, "db_migrate_sqlite_upload": str(missing)}, tasks_from="preflight"
    )
    result.assert_rejected(
        "db_migrate_sqlite_upload", str(missing), "is not a file on the controller"
    )


def test_snapshot_space_factor_below_one(run_role):
    result = run_role(
        "db_migrate", {**GOOD, "db_migrate_snapshot_space_factor": 0}, tasks_from="preflight"
    )
    result.assert_rejected("db_migrate_snapshot_space_factor")


def test_unknown_policy_type(run_role):
    result = run_role(
        "db_migrate", {**GOOD, "db_migrate_policies": ["bad_json=null"]}, tasks_from="preflight"
    )
    result.assert_rejected("db_migrate_policies")
