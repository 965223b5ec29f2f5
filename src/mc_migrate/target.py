"""The PostgreSQL side: connect, lock, apply the schema, introspect.

Everything a ``run`` does happens in one transaction opened by the caller;
this module never commits.  The advisory lock is transaction-scoped and taken
with ``pg_try_advisory_xact_lock`` so a second concurrent run refuses at once
instead of waiting.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from mc_migrate.dsn import check_tls, is_local, parse, where
from mc_migrate.errors import LockedError, TargetError

LOCK_KEY = 0x6D635F6D69677261  # "mc_migra", fits in a signed bigint
BOOKKEEPING_TABLES = frozenset({"mc_schema_version", "mc_migration"})
_VERSION_RE = re.compile(r"^--\s*mc-schema-version:\s*(\d+)\s*$", re.M)


def explain_connect_error(exc: BaseException, info: dict[str, str]) -> str:
    """Map a psycopg connection failure to one clear line that names no secret."""
    msg = " ".join(str(exc).split())
    low = msg.lower()
    at = where(info)
    user = info.get("user") or "?"
    user = user if re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", user) else "?"
    if "password authentication failed" in low or "authentication failed" in low:
        return f"authentication failed for user {user!r} at {at} (wrong user or password)"
    if "no password supplied" in low or "password is required" in low:
        return f"the server at {at} requires a password for user {user!r}"
    if "certificate" in low or "ssl" in low or "tls" in low:
        detail = msg.split("FATAL:")[-1].strip()
        return f"TLS failure connecting to {at}: {_without(detail, info)}"
    if "does not exist" in low and "database" in low:
        return f"the database {at} does not exist"
    if "role" in low and "does not exist" in low:
        return f"role {user!r} does not exist at {at}"
    if "no pg_hba.conf entry" in low:
        return f"the server at {at} refuses this client (pg_hba.conf)"
    if any(
        k in low
        for k in (
            "connection refused",
            "could not connect",
            "timeout",
            "timed out",
            "could not translate host",
            "name or service not known",
            "no route",
        )
    ):
        reason = _without(msg.split(":")[-1].strip(), info)
        return f"cannot reach PostgreSQL server at {at}: {reason}"
    return f"cannot connect to PostgreSQL at {at}: {_without(msg, info)}"


def _without(text: str, info: dict[str, str]) -> str:
    """libpq's words, with the password taken out should they ever hold it."""
    password = info.get("password")
    return text.replace(password, "***") if password else text


# The server notices a client that vanished (a dropped network, not only a
# killed process) within about 30 s, ends the session and frees its locks:
# keepalives on both ends, and a check of the client during long statements.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "15", "keepalives_interval": "5",
              "keepalives_count": "3"}  # fmt: skip
SESSION = (
    "SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8';"
    " SET IntervalStyle = 'postgres'; SET extra_float_digits = 1;"
    " SET search_path = public; SET lock_timeout = '30s';"
    " SET standard_conforming_strings = on;"
    " SET tcp_keepalives_idle = 15; SET tcp_keepalives_interval = 5;"
    " SET tcp_keepalives_count = 3; SET idle_in_transaction_session_timeout = '5min'"
)


def connect(dsn: str | None, *, application_name: str = "mc-migrate") -> psycopg.Connection:
    """Open a verified connection with session settings that make text output canonical.

    Refuses, before connecting, a remote server without sslmode verify-full or
    verify-ca; checks after connecting that the session does use TLS.
    """
    info = parse(dsn)
    check_tls(info)
    kwargs: dict[str, object] = {"application_name": application_name}
    if "connect_timeout" not in info and not os.environ.get("PGCONNECT_TIMEOUT"):
        kwargs["connect_timeout"] = 10
    kwargs.update({k: v for k, v in KEEPALIVES.items() if k not in info})
    try:
        conn = psycopg.connect(dsn or "", autocommit=True, **kwargs)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise TargetError(explain_connect_error(exc, info)) from None
    conn.execute(SESSION)
    if conn.info.server_version >= 140000:
        conn.execute("SET client_connection_check_interval = '10s'")
    if not is_local(info):
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        if not row or not row[0]:
            conn.close()
            raise TargetError(f"the session with {where(info)} does not use TLS (pg_stat_ssl)")
    return conn


def try_lock(conn: psycopg.Connection) -> None:
    """Take the transaction-scoped advisory lock or refuse."""
    got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,)).fetchone()
    if not got or not got[0]:
        raise LockedError(
            "another mc-migrate run is in progress on this database (advisory lock held)"
        )


@dataclass
class SchemaFile:
    path: Path
    text: str
    version: int
    sha256: str


def default_schema_path() -> Path:
    env = os.environ.get("MC_SCHEMA_FILE")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for cand in (
        here.parents[2] / "files" / "schema" / "mission_control.sql",
        Path("/usr/share/mc-migrate/schema/mission_control.sql"),
    ):
        if cand.exists():
            return cand
    return here.parents[2] / "files" / "schema" / "mission_control.sql"


def load_schema(path: str | os.PathLike[str] | None) -> SchemaFile:
    p = Path(path) if path else default_schema_path()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetError(f"cannot read schema file {p}: {exc.strerror}") from None
    m = _VERSION_RE.search(text)
    if not m:
        raise TargetError(f"schema file {p} has no '-- mc-schema-version: N' line")
    return SchemaFile(p, text, int(m.group(1)), hashlib.sha256(text.encode()).hexdigest())


def apply_schema(conn: psycopg.Connection, schema: SchemaFile) -> None:
    """Apply the idempotent schema and record its version (caller's transaction)."""
    try:
        conn.execute(schema.text.encode())
        row = conn.execute("SELECT max(version) FROM mc_schema_version").fetchone()
        current = row[0] if row else None
        if current is not None and current > schema.version:
            raise TargetError(
                f"target schema version {current} is newer than this schema file ({schema.version})"
            )
        conn.execute(
            "INSERT INTO mc_schema_version (version, sha256) VALUES (%s, %s) "
            "ON CONFLICT (version) DO NOTHING",
            (schema.version, schema.sha256),
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise TargetError(f"not allowed to apply the schema: {exc.diag.message_primary}") from None


@dataclass
class TargetColumn:
    name: str
    type: str  # format_type(), e.g. "character varying(255)"
    base: str  # pg_type.typname of the base type, e.g. "varchar"
    typmod: int
    notnull: bool
    has_default: bool
    serial_seq: str | None = None

    @property
    def max_length(self) -> int | None:
        if self.base in ("varchar", "bpchar") and self.typmod > 4:
            return self.typmod - 4
        return None


@dataclass
class ForeignKey:
    name: str
    table: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    definition: str


@dataclass
class Index:
    name: str
    table: str
    definition: str
    constraint: bool


@dataclass
class TargetTable:
    name: str
    columns: dict[str, TargetColumn]
    unique_keys: dict[str, list[str]] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)


@dataclass
class TargetSchema:
    tables: dict[str, TargetTable]
    foreign_keys: list[ForeignKey]
    indexes: list[Index]


def introspect(conn: psycopg.Connection) -> TargetSchema:
    tables: dict[str, TargetTable] = {}
    cols = conn.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               coalesce(bt.typname, t.typname), a.atttypmod, a.attnotnull,
               a.atthasdef, pg_get_serial_sequence(quote_ident(c.relname), a.attname)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        ORDER BY c.relname, a.attnum
        """
    ).fetchall()
    for rel, att, typ, base, typmod, notnull, hasdef, seq in cols:
        t = tables.setdefault(rel, TargetTable(rel, {}))
        t.columns[att] = TargetColumn(att, typ, base, typmod, notnull, hasdef, seq)
    for rel, name, contype, colnames in conn.execute(
        """
        SELECT c.relname, con.conname, con.contype,
               array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                     ORDER BY k.o)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u')
        ORDER BY c.relname, con.conname
        """
    ):
        if rel in tables:
            tables[rel].unique_keys[name] = list(colnames)
            if contype == "p":
                tables[rel].primary_key = list(colnames)
    fks = [
        ForeignKey(name, rel, list(cols_), ref, list(refcols), definition)
        for name, rel, cols_, ref, refcols, definition in conn.execute(
            """
            SELECT con.conname, c.relname,
                   array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                         ORDER BY k.o),
                   rc.relname,
                   array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                         ORDER BY k.o),
                   pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_class rc ON rc.oid = con.confrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND con.contype = 'f'
            ORDER BY c.relname, con.conname
            """
        )
    ]
    indexes = [
        Index(name, rel, definition, bool(is_con))
        for name, rel, definition, is_con in conn.execute(
            """
            SELECT ic.relname, c.relname, pg_get_indexdef(i.indexrelid),
                   EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema()
            ORDER BY c.relname, ic.relname
            """
        )
    ]
    return TargetSchema(tables, fks, indexes)


@dataclass
class KeyConstraint:
    """A primary key or unique constraint (its index is built with it)."""

    name: str
    table: str
    definition: str  # pg_get_constraintdef(), e.g. "PRIMARY KEY (id)"


def key_constraints(conn: psycopg.Connection, tables: list[str]) -> list[KeyConstraint]:
    """Primary key and unique constraints of ``tables`` that no foreign key relies on.

    A constraint that a foreign key of a table outside ``tables`` (or of any
    table, when the key is referenced at all) depends on stays in place.
    """
    rows = conn.execute(
        """
        SELECT con.conname, c.relname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u')
          AND c.relname = ANY(%s)
          AND NOT EXISTS (
            SELECT 1 FROM pg_constraint f
            JOIN pg_class fc ON fc.oid = f.conrelid
            WHERE f.contype = 'f' AND f.conindid = con.conindid
              AND NOT (fc.relname = ANY(%s) AND fc.relnamespace = n.oid))
        ORDER BY c.relname, con.conname
        """,
        (tables, tables),
    ).fetchall()
    return [KeyConstraint(name, rel, definition) for name, rel, definition in rows]


@dataclass
class DeferredKeys:
    """What a load drops first and builds again after it (the fastest order)."""

    foreign_keys: list[ForeignKey]
    keys: list[KeyConstraint]
    indexes: list[Index]


def drop_keys(
    conn: psycopg.Connection, tables: list[str], foreign_keys: list[ForeignKey]
) -> DeferredKeys:
    """Drop the foreign keys of ``tables``, their keys (those no other table relies
    on) and their secondary indexes, in this transaction; returned for rebuild_keys."""
    deferred = DeferredKeys(
        foreign_keys=[fk for fk in foreign_keys if fk.table in tables],
        keys=key_constraints(conn, sorted(tables)),
        indexes=[i for i in introspect(conn).indexes if i.table in tables and not i.constraint],
    )
    for con in [*deferred.foreign_keys, *deferred.keys]:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(con.table), sql.Identifier(con.name)
            )
        )
    for index in deferred.indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index.name)))
    return deferred


def rebuild_keys(conn: psycopg.Connection, deferred: DeferredKeys) -> None:
    """Keys first (a foreign key needs the key it references), indexes, foreign keys."""
    for con in deferred.keys:
        conn.execute(_add_constraint(con.table, con.name, con.definition))
    for index in deferred.indexes:
        conn.execute(index.definition.encode())
    for fk in deferred.foreign_keys:
        conn.execute(_add_constraint(fk.table, fk.name, fk.definition))


def _add_constraint(table: str, name: str, definition: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
        sql.Identifier(table), sql.Identifier(name)
    ) + sql.SQL(definition)  # type: ignore[arg-type]


def is_empty(conn: psycopg.Connection, table: str) -> bool:
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
    row = conn.execute(q).fetchone()
    return not (row and row[0])
