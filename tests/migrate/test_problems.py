"""Every problem class: reported in one pass, target untouched; policies and quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from helpers import scalar, untouched
from sqlitedb import SCHEMA, make_db, task, user

from mc_migrate import engine
from mc_migrate.errors import OptionsError

LAX = SCHEMA.replace("UNIQUE", "").replace("NOT NULL", "")  # a legacy file, no constraints


@pytest.fixture
def bad_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "bad.db",
        {
            "users": [
                user(1),
                user(2, settings="{not json"),
                user(3, email="user1@example.com"),  # duplicate unique email
                user(4, name="x" * 300),  # varchar(255)
                user(5, created_at="last tuesday"),
                user(6, provider=None),  # NOT NULL
                user(7, openclaw_token="nul\x00byte"),
                user(8, settings='{"a": "\\u0000"}'),
            ],
            "tasks": [task(1), task(2, user_id=99), task(3, user_id=1.5), task(4, user_id=3)],
            "sessions": [{"id": "s1", "user_id": 42, "data": "d", "expires_at": "2030-01-01"}],
        },
        schema=LAX,
    )


EXPECTED = {
    ("bad_json", "users", "2", "settings"),
    ("duplicate", "users", "3", "email"),
    ("too_long", "users", "4", "name"),
    ("bad_timestamp", "users", "5", "created_at"),
    ("not_null", "users", "6", "provider"),
    ("nul_byte", "users", "7", "openclaw_token"),
    ("bad_json", "users", "8", "settings"),
    ("orphan", "tasks", "2", "user_id"),
    ("bad_integer", "tasks", "3", "user_id"),
    ("orphan", "sessions", "s1", "user_id"),
}


@pytest.mark.parametrize("command", ["check", "run"])
def test_strict_reports_everything_and_writes_nothing(
    bad_db: Path, db_url: str, command: str
) -> None:
    rep = getattr(engine, command)(bad_db, db_url)
    assert not rep.ok and rep.status == "problems"
    got = {(p.cls, p.table, p.pk, p.column) for p in rep.problems}
    assert got >= EXPECTED, got - EXPECTED
    assert all(p.action == "error" for p in rep.problems)
    assert rep.unresolved_problems == len(rep.problems)
    p = next(p for p in rep.problems if p.cls == "too_long")
    assert p.value.startswith("xxx") and p.value.endswith("...") and "300" in p.message
    assert untouched(db_url)


def test_policies_with_quarantine(bad_db: Path, db_url: str, tmp_path: Path) -> None:
    q = tmp_path / "quarantine.jsonl"
    opts = {
        "policies": [
            "bad_json=null",
            "duplicate=skip",
            "too_long=truncate",
            "bad_timestamp=null",
            "not_null=skip",
            "nul_byte=strip",
            "orphans=skip",
            "bad_integer=skip",
        ],
        "quarantine_path": str(q),
    }
    rep = engine.run(bad_db, db_url, opts)
    assert rep.ok and rep.unresolved_problems == 0, [p.line() for p in rep.problems]
    assert rep.quarantine_path == str(q)
    records = [json.loads(line) for line in q.read_text().splitlines()]
    by = {(r["table"], r["pk"]): r for r in records}
    assert by[("users", "2")]["action"] == "changed"
    assert by[("users", "3")]["action"] == "skipped"
    assert by[("users", "6")]["action"] == "skipped"
    assert by[("tasks", "2")]["action"] == "skipped"
    # user 4 truncated to 255, user 6 skipped -> cascaded? no task refers to 6.
    with psycopg.connect(db_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
        assert ids == [1, 2, 4, 5, 7, 8]
        assert conn.execute("SELECT settings FROM users WHERE id = 2").fetchone()[0] is None
        assert len(conn.execute("SELECT name FROM users WHERE id = 4").fetchone()[0]) == 255
        assert (
            conn.execute("SELECT openclaw_token FROM users WHERE id = 7").fetchone()[0] == "nulbyte"
        )
        # task 4 pointed at user 3 (skipped as a duplicate): cascaded orphan, skipped
        assert [r[0] for r in conn.execute("SELECT id FROM tasks ORDER BY id")] == [1]
    assert ("tasks", "4") in by
    assert rep.table("users").rows_skipped == 2
    assert engine.verify(bad_db, db_url, opts).ok


def test_orphan_null_policy(tmp_path: Path, db_url: str) -> None:
    src = make_db(
        tmp_path / "o.db",
        {
            "users": [user(1)],
            "sessions": [{"id": "s1", "user_id": 42, "data": "d", "expires_at": "2030-01-01"}],
        },
    )
    rep = engine.run(
        src, db_url, {"policies": {"orphan": "null"}, "quarantine_path": str(tmp_path / "q")}
    )
    assert rep.ok, rep.message
    assert scalar(db_url, "SELECT user_id FROM sessions") is None


def test_bad_policy_is_an_error(bad_db: Path, db_url: str) -> None:
    with pytest.raises(OptionsError):
        engine.run(bad_db, db_url, {"policies": ["bad_json=truncate"]})
    with pytest.raises(OptionsError):
        engine.run(bad_db, db_url, {"policies": ["whatever=skip"]})


def test_invalid_utf8(tmp_path: Path, db_url: str) -> None:
    src = make_db(tmp_path / "u.db", {"users": [user(1)]})
    import sqlite3

    with sqlite3.connect(src) as c:
        c.execute("UPDATE users SET name = CAST(X'6869FF' AS TEXT) WHERE id = 1")
    rep = engine.check(src, db_url)
    assert [(p.cls, p.column) for p in rep.problems] == [("bad_text", "name")]
    rep = engine.run(
        src, db_url, {"policies": ["bad_text=replace"], "quarantine_path": str(tmp_path / "q")}
    )
    assert rep.ok
    assert scalar(db_url, "SELECT name FROM users") == "hi\ufffd"
