"""Effective state: the droplet reaches the stand-in over verified TLS."""

import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("app")

EXPECTED_MAJOR = {"12": 15, "13": 17}
PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -At -c"


def test_client_is_the_distribution_major(host):
    release = host.system_info.release.split(".")[0]
    out = host.check_output("psql --version")
    assert out.split()[2].split(".")[0] == str(EXPECTED_MAJOR[release])
    assert host.package("libpq5").is_installed
    host.run_expect([0], "python3 -c 'import psycopg'")


def test_connects_over_verified_tls_as_a_non_superuser_owner(host):
    row = host.check_output(
        PSQL + ' "SELECT current_user, usesuper, ssl, version FROM pg_stat_ssl'
        ' JOIN pg_user ON usename = current_user WHERE pid = pg_backend_pid()"'
    )
    user, superuser, ssl, tls_version = row.split("|")
    assert user == "mission_control"
    assert superuser == "f"
    assert ssl == "t"
    assert tls_version in ("TLSv1.2", "TLSv1.3")
    owner = host.check_output(
        PSQL
        + ' "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"'
    )
    assert owner == "mission_control"


def test_pg_dump_works_against_the_server(host):
    host.run_expect(
        [0], "runuser -u mc -- pg_dump service=mission_control --schema-only -f /dev/null"
    )


def test_secrets_files_are_private(host):
    for name in (".pgpass", ".pg_service.conf"):
        f = host.file(f"/var/lib/mission-control/{name}")
        assert f.user == "mc"
        assert f.mode == 0o600
    # In a home the user cannot change: it cannot swap them for links root would follow.
    assert (
        host.run(
            "runuser -u mc -- mv /var/lib/mission-control/.pgpass /var/lib/mission-control/x"
        ).rc
        != 0
    )


def test_wrong_ca_is_refused(host):
    host.check_output(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=wrong-ca -keyout /tmp/wrong-ca.key -out /tmp/wrong-ca.crt 2>/dev/null"
    )
    host.check_output("chmod 0644 /tmp/wrong-ca.crt")
    result = host.run(
        "runuser -u mc -- psql 'service=mission_control sslrootcert=/tmp/wrong-ca.crt'"
        " --no-psqlrc -At -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "certificate verify failed" in result.stderr


def test_plaintext_is_refused(host):
    result = host.run(
        "runuser -u mc -- psql 'service=mission_control sslmode=disable'"
        " --no-psqlrc -At -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "no encryption" in result.stderr or "SSL off" in result.stderr
