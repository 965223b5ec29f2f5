"""postgresql_client rejects bad input before it changes anything."""

GOOD = {
    "postgresql_client_ca_cert": "",
    "postgresql_client_host": "db.example.test",
    "postgresql_client_port": 25060,
    "postgresql_client_database": "mission_control_production",
    "postgresql_client_user": "mission_control",
    "postgresql_client_password": "x" * 32,
}


def test_ca_file_that_does_not_exist(run_role, tmp_path):
    missing = tmp_path / "nope" / "ca-certificate.crt"
    result = run_role("postgresql_client", {**GOOD, "postgresql_client_ca_cert": str(missing)})
    result.assert_rejected(
        "postgresql_client_ca_cert", str(missing), "does not exist on the controller"
    )


def test_unknown_source(run_role):
    result = run_role("postgresql_client", {**GOOD, "postgresql_client_source": "tarball"})
    result.assert_rejected("postgresql_client_source", "tarball")


def test_version_that_is_not_a_major(run_role):
    result = run_role("postgresql_client", {**GOOD, "postgresql_client_version": "16.2"})
    result.assert_rejected("postgresql_client_version", "16.2")


def test_port_out_of_range(run_role, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("not checked here\n")
    result = run_role(
        "postgresql_client",
        {**GOOD, "postgresql_client_ca_cert": str(ca), "postgresql_client_port": 70000},
    )
    result.assert_rejected("postgresql_client_port", "70000")


def test_connection_without_password(run_role, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("not checked here\n")
    result = run_role(
        "postgresql_client",
        {**GOOD, "postgresql_client_ca_cert": str(ca), "postgresql_client_password": ""},
    )
    result.assert_rejected("postgresql_client_password")
