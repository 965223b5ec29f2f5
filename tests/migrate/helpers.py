"""Small helpers shared by the engine tests."""

from __future__ import annotations

import psycopg


def untouched(url: str) -> bool:
    """True when the database has no user tables at all (as created)."""
    with psycopg.connect(url) as conn:
        n = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'i')"
        ).fetchone()[0]
    return n == 0


def scalar(url: str, query: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]
