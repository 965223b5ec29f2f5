"""The mc-migrate command line: exit codes, one-line errors, TLS, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import OWNER_PASSWORD, ROOT, Cluster
from helpers import scalar, untouched
from pgserver import free_port
from sqlitedb import make_big, make_db, task, user

from mc_migrate import engine
from mc_migrate.errors import SourceError
from mc_migrate.source import IntegrityCheck


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    e.pop("DATABASE_URL", None)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mc_migrate", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=timeout,
    )


def spawn(*args: str) -> subprocess.Popen[str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(
        [sys.executable, "-m", "mc_migrate", *args],
        env=e,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "mc.db", {"users": [user(1), user(2)], "tasks": [task(1), task(2, user_id=2)]}
    )


def one_error_line(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("mc-migrate: error: "), proc.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_check_run_verify_json(src: Path, db_url: str) -> None:
    p = cli("check", "--sqlite", str(src), "--database-url", db_url, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "ok"
    p = cli("run", "--sqlite", str(src), "--json", env={"DATABASE_URL": db_url})
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["changed"] and {t["table"]: t["rows_written"] for t in rep["tables"]}["tasks"] == 2
    assert OWNER_PASSWORD not in p.stdout + p.stderr
    p = cli("verify", "--sqlite", str(src), "--database-url", db_url)
    assert p.returncode == 0 and "source checksum" in p.stdout and "verified" in p.stdout
    p = cli("run", "--sqlite", str(src), "--database-url", db_url)
    assert p.returncode == 0 and "unchanged" in p.stdout


def test_problems_exit_1(tmp_path: Path, db_url: str) -> None:
    bad = make_db(tmp_path / "b.db", {"users": [user(1, settings="{oops")]})
    p = cli("run", "--sqlite", str(bad), "--database-url", db_url)
    assert p.returncode == 1
    assert "bad_json: users pk=1 settings" in p.stdout
    assert untouched(db_url)


def test_missing_file(db_url: str, tmp_path: Path) -> None:
    one_error_line(
        cli("check", "--sqlite", str(tmp_path / "nope.db"), "--database-url", db_url),
        "SQLite file not found",
    )


def test_not_sqlite(db_url: str, tmp_path: Path) -> None:
    f = tmp_path / "x.db"
    f.write_text("hello, I am a text file\n" * 100)
    one_error_line(
        cli("run", "--sqlite", str(f), "--database-url", db_url), "not an SQLite database"
    )


def test_corrupt_sqlite(db_url: str, tmp_path: Path) -> None:
    f = make_big(tmp_path / "c.db", users=10, tasks=3000)
    data = bytearray(f.read_bytes())
    page = 4096
    for pg in range(3, len(data) // page, 2):
        data[pg * page + 100 : pg * page + 400] = os.urandom(300)
    f.write_bytes(bytes(data))
    for level in ("quick", "full"):
        p = cli("run", "--sqlite", str(f), "--database-url", db_url, "--integrity", level)
        one_error_line(p, "corrupt")
    assert untouched(db_url)


def test_no_url(src: Path) -> None:
    one_error_line(cli("check", "--sqlite", str(src)), "no database URL")


def test_unreachable_server(src: Path) -> None:
    url = f"postgresql://u:pw@127.0.0.1:{free_port()}/db"
    one_error_line(
        cli("check", "--sqlite", str(src), "--database-url", url),
        "cannot reach PostgreSQL server at 127.0.0.1",
    )


def test_wrong_password(src: Path, cluster: Cluster, dbname: str) -> None:
    url = cluster.owner_url(dbname).replace(OWNER_PASSWORD, "wrong-password-xyz")
    p = cli("run", "--sqlite", str(src), "--database-url", url)
    one_error_line(p, "authentication failed for user 'mc_owner'")
    assert "wrong-password-xyz" not in p.stderr + p.stdout


def _tls_cluster(cluster: Cluster) -> None:
    if cluster.server is None or not cluster.server.ssl:
        pytest.skip("TLS tests need the throwaway cluster")


def test_tls_verify_full(src: Path, cluster: Cluster, dbname: str) -> None:
    _tls_cluster(cluster)
    assert cluster.server is not None
    url = cluster.owner_url(dbname, sslmode="verify-full", sslrootcert=str(cluster.server.ca))
    url = url.replace("127.0.0.1", "localhost")
    p = cli("run", "--sqlite", str(src), "--database-url", url)
    assert p.returncode == 0, p.stderr
    with psycopg.connect(url) as conn:
        assert conn.info.pgconn.ssl_in_use


def test_tls_wrong_ca(src: Path, cluster: Cluster, dbname: str) -> None:
    _tls_cluster(cluster)
    assert cluster.server is not None
    url = cluster.owner_url(dbname, sslmode="verify-full", sslrootcert=str(cluster.server.wrong_ca))
    p = cli("run", "--sqlite", str(src), "--database-url", url)
    one_error_line(p, "TLS failure")
    assert OWNER_PASSWORD not in p.stderr


def test_concurrent_cli_refuses(src: Path, db_url: str) -> None:
    from mc_migrate.target import LOCK_KEY

    with psycopg.connect(db_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        p = cli("run", "--sqlite", str(src), "--database-url", db_url)
    one_error_line(p, "another mc-migrate run is in progress")


# ------------------------------------------------------------------ faults ----
@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_big(tmp_path_factory.mktemp("big") / "big.db", users=200, tasks=200_000)


def _wait_for_copy(admin_url: str, dbname: str, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%' "
                "AND query LIKE '%%FROM STDIN%%' AND application_name = 'mc-migrate'",
                (dbname,),
            ).fetchone()
            if row:
                time.sleep(0.3)  # let some rows flow
                return int(row[0])
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
    raise AssertionError("the load never started")


def _wait_gone(admin_url: str, dbname: str) -> None:
    deadline = time.monotonic() + 30
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            n = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = 'mc-migrate'",
                (dbname,),
            ).fetchone()[0]
            if n == 0:
                return
            time.sleep(0.05)
    raise AssertionError("backend still there")


def test_sigkill_mid_load(big_db: Path, db_url: str, admin_url: str, dbname: str) -> None:
    proc = spawn("run", "--sqlite", str(big_db), "--database-url", db_url, "--integrity", "none")
    _wait_for_copy(admin_url, dbname, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_gone(admin_url, dbname)
    assert untouched(db_url)
    rep = engine.run(big_db, db_url)
    assert rep.ok and rep.table("tasks").rows_written == 200_000, rep.message
    assert engine.verify(big_db, db_url).ok


def test_connection_drop_mid_load(big_db: Path, db_url: str, admin_url: str, dbname: str) -> None:
    proc = spawn("run", "--sqlite", str(big_db), "--database-url", db_url, "--integrity", "none")
    pid = _wait_for_copy(admin_url, dbname, proc)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert err.startswith("mc-migrate: error: lost the PostgreSQL connection"), err
    assert len(err.strip().splitlines()) == 1
    assert untouched(db_url)
    assert scalar(admin_url, "SELECT 1") == 1
    assert engine.run(big_db, db_url).ok


def test_integrity_check_in_a_thread(tmp_path: Path) -> None:
    """Started (run's way) or not, the check passes on a sound file and names a corrupt one."""
    good = make_big(tmp_path / "g.db", users=10, tasks=3000)
    bad = tmp_path / "b.db"
    data = bytearray(good.read_bytes())
    for pg in range(3, len(data) // 4096, 2):
        data[pg * 4096 + 100 : pg * 4096 + 400] = os.urandom(300)
    bad.write_bytes(bytes(data))
    for quick in (True, False):
        for start in (True, False):
            ok = IntegrityCheck(good, quick=quick)
            corrupt = IntegrityCheck(bad, quick=quick)
            if start:
                ok.start()
                corrupt.start()
            ok.result()
            with pytest.raises(SourceError, match="corrupt"):
                corrupt.result()
