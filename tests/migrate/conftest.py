"""Fixtures: a real PostgreSQL server (ours, or MC_TEST_DATABASE_URL) and fresh databases.

Without MC_TEST_DATABASE_URL a throwaway cluster is initialised in a temp dir
(as the ``postgres`` OS user when running as root), with TLS on, for the whole
session.  Every test gets its own database owned by ``mc_owner``, a role that
is NOT a superuser (like a managed database's owner).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from pgserver import PgServer  # noqa: E402

OWNER, OWNER_PASSWORD = "mc_owner", "owner-pw-Secr3t"
_counter = itertools.count()


@dataclass
class Cluster:
    admin: str  # admin conninfo (superuser or CREATEDB+CREATEROLE)
    server: PgServer | None

    def owner_url(self, dbname: str, **params: str) -> str:
        if self.server is not None:
            return self.server.url(OWNER, OWNER_PASSWORD, dbname, **params)
        info = conninfo_to_dict(self.admin)
        info.update(user=OWNER, password=OWNER_PASSWORD, dbname=dbname, **params)
        return make_conninfo(**info)

    def admin_db(self, dbname: str) -> str:
        info = conninfo_to_dict(self.admin)
        info["dbname"] = dbname
        return make_conninfo(**info)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    url = os.environ.get("MC_TEST_DATABASE_URL")
    server = None
    if url:
        admin = url
    else:
        server = PgServer.start(fast=True, ssl=True)
        admin = server.admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER,)).fetchone():
            conn.execute(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}' NOSUPERUSER")
    try:
        yield Cluster(admin, server)
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def dbname(cluster: Cluster) -> Iterator[str]:
    name = f"mc_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(cluster.admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
    yield name
    with psycopg.connect(cluster.admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(cluster: Cluster, dbname: str) -> str:
    return cluster.owner_url(dbname)


@pytest.fixture
def admin_url(cluster: Cluster, dbname: str) -> str:
    """Superuser connection to the test database (for inspection)."""
    return cluster.admin_db(dbname)
