"""The app database, reached through the libpq service named in the configuration.

psycopg is imported where it is used, not at the top: `status`, `check-config`
and the alert hook then work without it, so a broken driver still alerts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mc_backup.config import Config
from mc_backup.errors import BackupError

if TYPE_CHECKING:
    import psycopg

USER_TABLES = (
    "SELECT n.nspname, c.relname FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
    " ORDER BY 1, 2"
)


def connect(
    cfg: Config, dbname: str | None = None, *, autocommit: bool = False
) -> psycopg.Connection:
    import psycopg

    try:
        return psycopg.connect(
            cfg.conninfo(dbname),
            autocommit=autocommit,
            connect_timeout=15,
            application_name="mc-backup",
        )
    except psycopg.Error as exc:
        raise BackupError(f"cannot connect to service={cfg.service}: {exc}".strip()) from exc


def current_database(cfg: Config) -> str:
    with connect(cfg) as conn:
        return conn.execute("SELECT current_database()").fetchone()[0]


def export_snapshot(conn: psycopg.Connection) -> tuple[str, str, str]:
    """(snapshot id, database, server version) of a read-only REPEATABLE READ
    transaction that stays open: pg_dump --snapshot sees what it sees."""
    import psycopg

    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn.execute(
        "SELECT pg_export_snapshot(), current_database(), current_setting('server_version')"
    ).fetchone()


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Every user table's count(*), by schema.table."""
    from psycopg import sql

    counts = {}
    for schema, table in conn.execute(USER_TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def own_databases_like(admin: psycopg.Connection, prefix: str) -> list[str]:
    """Our databases named <prefix>_...: the drill's scratch databases."""
    rows = admin.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s"
        " AND pg_get_userbyid(datdba) = current_user ORDER BY 1",
        (prefix.replace("_", "\\_") + "\\_%",),
    ).fetchall()
    return [name for (name,) in rows]


def create_database(admin: psycopg.Connection, name: str) -> None:
    from psycopg import sql

    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin: psycopg.Connection, name: str) -> None:
    from psycopg import sql

    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
