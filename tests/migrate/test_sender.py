"""The threaded COPY writer: data arrives complete, errors reach the caller, nothing hangs."""

from __future__ import annotations

import psycopg
import pytest

from mc_migrate.sender import ThreadedWriter


def test_many_chunks_through_a_small_queue(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (n int, s text)")
        with cur.copy("COPY t FROM STDIN", writer=ThreadedWriter(cur, chunks=2)) as cp:
            for i in range(0, 20_000, 100):
                cp.write(b"".join(b"%d\tx%d\n" % (j, j) for j in range(i, i + 100)))
        assert cur.execute("SELECT count(*), sum(n) FROM t").fetchone() == (20_000, 199_990_000)


def test_server_error_reaches_the_caller(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (n int)")
        conn.commit()
        with (
            pytest.raises(psycopg.errors.InvalidTextRepresentation),
            cur.copy("COPY t FROM STDIN", writer=ThreadedWriter(cur, chunks=2)) as cp,
        ):
            for _ in range(200):
                cp.write(b"1\n" * 1000 + b"not a number\n")
        conn.rollback()
        assert cur.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_connection_killed_mid_copy(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        pid = conn.info.backend_pid
        cur.execute("CREATE TEMP TABLE t (s text)")
        with (
            pytest.raises(psycopg.OperationalError),
            cur.copy("COPY t FROM STDIN", writer=ThreadedWriter(cur, chunks=2)) as cp,
        ):
            for i in range(10_000):
                cp.write(b"x" * 100_000 + b"\n")
                if i == 5:
                    with psycopg.connect(db_url, autocommit=True) as other:
                        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
