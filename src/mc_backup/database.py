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


def has_tables(cfg: Config) -> bool:
    with connect(cfg) as conn:
        return conn.execute(USER_TABLES).fetchone() is not None


def export_snapshot(conn: psycopg.Connection) -> tuple[str, str, str]:
    """(snapshot id, database, server version) of a read-only REPEATABLE READ
    transaction that stays open: pg_dump --snapshot sees what it sees."""
    import psycopg

    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn.execute(
        "SELECT pg_export_snapshot(), current_database(), current_setting('server_version')"
    ).fetchone()


# A row's text depends on these session settings (time zone, date and interval
# styles, float digits, bytea format; search_path for reg* types' names,
# lc_monetary for money): pinned, a backup and its restore render rows alike.
PIN_SETTINGS = (
    "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY';"
    " SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1;"
    " SET LOCAL bytea_output = 'hex'; SET LOCAL search_path = pg_catalog;"
    " SET LOCAL lc_monetary = 'C'"
)


def count_and_checksum(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, str]]:
    """(count(*), checksum) of every user table, each by schema.table.

    The checksum is order-independent: the sum of the first 64 bits of the MD5
    of each row's text, read as signed integers (mc_migrate.checksum's design,
    over the whole-row text instead of COPY lines), a decimal string; one query
    per table, computed by the server. The settings are pinned with SET LOCAL
    inside a transaction block: in the caller's open transaction (take_dump's
    snapshot) a savepoint, which keeps the snapshot, and the settings end with
    that transaction; otherwise, autocommit too, a BEGIN ... COMMIT of its own.
    """
    from psycopg import sql

    counts, checksums = {}, {}
    with conn.transaction():
        conn.execute(PIN_SETTINGS)
        for schema, table in conn.execute(USER_TABLES).fetchall():
            # ROW(t.*), not t: a column named t would be taken for the row
            query = sql.SQL(
                "SELECT count(*), coalesce(sum(('x' || left(md5(ROW(t.*)::text), 16))"
                "::bit(64)::bigint), 0)::text FROM {}.{} AS t"
            ).format(sql.Identifier(schema), sql.Identifier(table))
            name = f"{schema}.{table}"
            counts[name], checksums[name] = conn.execute(query).fetchone()
    return counts, checksums


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
