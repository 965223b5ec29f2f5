"""Fixtures: a configuration in a temporary folder, and for the tests that dump
and restore, a real PostgreSQL reached through a libpq service file as on the droplet.

The server is the migration tests' throwaway cluster (tests/migrate/pgserver.py),
started once per session and only when a test asks for it.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "migrate"))

from pgserver import PgServer  # noqa: E402

from mc_backup.config import REQUIRED_KEYS  # noqa: E402

OWNER = "mc_backup_owner"  # CREATEDB and nothing more, like a managed database's owner
SERVICE = "mc_test"
_counter = itertools.count()

# The app's tables, with known row counts.
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE tasks (id serial PRIMARY KEY, user_id int REFERENCES users (id), title text);
CREATE SCHEMA audit;
CREATE TABLE audit."Events" (id bigserial PRIMARY KEY, what text);
INSERT INTO users (email) SELECT 'u' || i || '@example.test' FROM generate_series(1, 3) i;
INSERT INTO tasks (user_id, title) SELECT 1 + i % 3, 'Task ' || i FROM generate_series(1, 50) i;
INSERT INTO audit."Events" (what) VALUES ('created');
"""
SEED_COUNTS = {"audit.Events": 1, "public.tasks": 50, "public.users": 3}


def config_values(root: Path) -> dict:
    """A local-only configuration whose folders are under root (created)."""
    values = {
        "_comment": "written by the tests",
        "service": SERVICE,
        "backup_dir": str(root / "pg"),
        "safety_dir": str(root / "safety"),
        "state_dir": str(root / "state"),
        "keep_hourly": 24,
        "keep_daily": 7,
        "keep_weekly": 4,
        "keep_safety": 2,
        "sqlite_dir": str(root / "sqlite"),
        "sqlite_keep_days": 30,
        "release_file": str(root / "REVISION"),
        "restic_repository": "",
        "restic_options": [],
        "restic_password_file": str(root / "restic-password"),
        "restic_env_file": str(root / "secrets.env"),
        "restic_check_subset": "5%",
        "restic_host": "droplet",
        "alert_command": f'printf \'%s|%s\\n\' "$MC_BACKUP_EVENT" "$MC_BACKUP_ERROR"'
        f" >> {root / 'alerts.log'}",
        "drill_database_prefix": "mc_restore_drill",
        "pg_dump_args": [],
        "pg_bin_dir": "",
    }
    assert set(values) - {"_comment"} == set(REQUIRED_KEYS)
    for key in ("backup_dir", "safety_dir", "state_dir", "sqlite_dir"):
        Path(values[key]).mkdir(parents=True, exist_ok=True)
    return values


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a configuration (the values above, with changes) and return its path."""

    def make(name: str = "config.json", /, **changes: object) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({**config_values(tmp_path), **changes}, indent=2))
        return path

    return make


def alert_lines(root: Path) -> list[str]:
    path = root / "alerts.log"
    return path.read_text().splitlines() if path.exists() else []


@dataclass
class Postgres:
    server: PgServer

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.server.admin_dsn(dbname), autocommit=True)

    @property
    def bin_dir(self) -> str:
        """The server's own pg_dump and pg_restore."""
        return str(self.server.bindir)

    def service_file(self, path: Path, dbname: str, port: int | None = None) -> Path:
        path.write_text(
            f"[{SERVICE}]\nhost={self.server.sockdir}\nport={port or self.server.port}\n"
            f"user={OWNER}\ndbname={dbname}\n"
        )
        return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = PgServer.start(fast=True, ssl=False)
    pg = Postgres(server)
    with pg.admin() as conn:
        conn.execute(f"CREATE ROLE {OWNER} LOGIN CREATEDB NOSUPERUSER")
    try:
        yield pg
    finally:
        server.stop()


@dataclass
class AppDatabase:
    name: str
    postgres: Postgres

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.postgres.server.admin_dsn(self.name), autocommit=True)

    def counts(self) -> dict[str, int]:
        with self.connect() as conn:
            return {
                "audit.Events": conn.execute('SELECT count(*) FROM audit."Events"').fetchone()[0],
                "public.tasks": conn.execute("SELECT count(*) FROM tasks").fetchone()[0],
                "public.users": conn.execute("SELECT count(*) FROM users").fetchone()[0],
            }


@pytest.fixture
def app_db(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppDatabase]:
    """A fresh app database owned by OWNER, the service file pointing at it (PGSERVICEFILE)."""
    name = f"mc_app_{next(_counter)}"
    with postgres.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
    with psycopg.connect(
        f"{postgres.server.admin_dsn(name)} user={OWNER}", autocommit=True
    ) as conn:
        conn.execute(SCHEMA)
    service = postgres.service_file(tmp_path / "pg_service.conf", name)
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    (tmp_path / "REVISION").write_text("r42\n")
    yield AppDatabase(name, postgres)
    with postgres.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
