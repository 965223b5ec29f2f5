"""End-to-end engine behaviour against a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from helpers import scalar, untouched
from sqlitedb import make_big, make_db, task, user

from mc_migrate import engine, load
from mc_migrate.checksum import LineHasher
from mc_migrate.errors import HelperError, LockedError, MigrationError
from mc_migrate.target import LOCK_KEY, load_schema


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "mc.db",
        {
            "users": [
                user(1),
                user(2, settings=None),
                user(5, settings='{"b": [1.0, 2e2], "a": {}}'),
            ],
            "tasks": [
                task(1),
                task(2, user_id=2, tags=None, completed_at=1700000000123),
                task(7, user_id=5, completed_at="2024-03-04T05:06:07+02:00"),
            ],
            "sessions": [
                {"id": "s1", "user_id": 1, "data": "{}", "expires_at": 1800000000},
                {"id": "s2", "user_id": None, "data": "x", "expires_at": "2030-01-01"},
            ],
            "oauth_states": [{"state": "st", "provider": "github"}],
        },
    )


def test_run_loads_and_verifies(small_db: Path, db_url: str) -> None:
    rep = engine.run(small_db, db_url)
    assert rep.ok and rep.changed and rep.status == "ok", rep.message
    order = [t.table for t in rep.tables]
    assert order.index("users") < order.index("tasks")
    assert order.index("users") < order.index("sessions")
    for t in rep.tables:
        assert t.match and t.source_checksum == t.target_checksum
    assert rep.table("tasks").rows_written == 3
    with psycopg.connect(db_url) as conn:
        # NULL stays NULL even though settings has DEFAULT '{}'
        assert conn.execute("SELECT settings FROM users WHERE id = 2").fetchone()[0] is None
        assert conn.execute("SELECT version FROM mc_schema_version").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM mc_migration").fetchone()[0] == 1
        # indexes and FKs rebuilt
        idx = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        }
        assert {"idx_tasks_user_id", "idx_users_email", "idx_sessions_expires"} <= idx
        fks = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetchone()[0]
        assert fks == 2
        comp = conn.execute("SELECT completed_at::text FROM tasks ORDER BY id").fetchall()
        assert comp == [(None,), ("2023-11-14 22:13:20.123",), ("2024-03-04 03:06:07",)]
    assert engine.verify(small_db, db_url).ok


def test_not_superuser(db_url: str) -> None:
    assert not scalar(db_url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


def test_sequence_continues(small_db: Path, db_url: str) -> None:
    assert engine.run(small_db, db_url).ok
    with psycopg.connect(db_url) as conn:
        uid = conn.execute(
            "INSERT INTO users (email, name, provider, provider_id) "
            "VALUES ('new@x', 'N', 'g', '9') RETURNING id"
        ).fetchone()[0]
        tid = conn.execute(
            "INSERT INTO tasks (user_id, title) VALUES (1, 't') RETURNING id"
        ).fetchone()[0]
    assert (uid, tid) == (6, 8)


def test_idempotent_rerun(small_db: Path, db_url: str) -> None:
    assert engine.run(small_db, db_url).changed
    rep = engine.run(small_db, db_url)
    assert rep.ok and not rep.changed and rep.status == "unchanged"
    assert scalar(db_url, "SELECT count(*) FROM mc_migration") == 1
    assert all(t.status == "unchanged" for t in rep.tables)
    chk = engine.check(small_db, db_url)
    assert chk.ok and chk.status == "unchanged"


def test_differing_target_needs_replace(small_db: Path, db_url: str) -> None:
    assert engine.run(small_db, db_url).ok
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE tasks SET title = 'edited' WHERE id = 7")
    ver = engine.verify(small_db, db_url)
    assert not ver.ok and ver.status == "mismatch" and "tasks" in ver.message
    assert ver.table("tasks").match is False and ver.table("users").match is True
    rep = engine.run(small_db, db_url)
    assert not rep.ok and rep.status == "target_differs" and "tasks" in rep.message
    assert scalar(db_url, "SELECT title FROM tasks WHERE id = 7") == "edited"
    rep = engine.run(small_db, db_url, {"replace": True})
    assert rep.ok and rep.changed, rep.message
    assert scalar(db_url, "SELECT title FROM tasks WHERE id = 7") == "Task 7"
    assert engine.verify(small_db, db_url).ok


def test_text_round_trip(tmp_path: Path, db_url: str) -> None:
    big = "".join(chr(32 + (i * 7) % 90) for i in range(1024 * 1024))
    nasty = "tab\there\nnewline\r\nCR \\ backslash \\N 'single' \"double\" 😀 emoji \b\f\v \x01"
    src = make_db(
        tmp_path / "t.db",
        {
            "users": [user(1, name=nasty, avatar_url=big, openclaw_token="\\.")],
            "tasks": [
                task(1, description=big + nasty, result_data="\\\\t", tags='["\\t", "😀", "\\\\"]')
            ],
        },
    )
    rep = engine.run(src, db_url)
    assert rep.ok, rep.message
    with psycopg.connect(db_url) as conn:
        name, avatar, tok = conn.execute(
            "SELECT name, avatar_url, openclaw_token FROM users"
        ).fetchone()
        desc, rd, tags = conn.execute("SELECT description, result_data, tags FROM tasks").fetchone()
    assert (name, avatar, tok) == (nasty, big, "\\.")
    assert (desc, rd) == (big + nasty, "\\\\t")
    assert tags == ["\t", "😀", "\\"]


def test_check_on_empty_target_writes_nothing(small_db: Path, db_url: str) -> None:
    rep = engine.check(small_db, db_url)
    assert rep.ok and rep.status == "ok"
    assert {p["table"] for p in rep.plan} == {"users", "tasks", "sessions", "oauth_states"}
    assert untouched(db_url)
    json.dumps(rep.to_dict())


def test_concurrent_run_refuses(small_db: Path, db_url: str) -> None:
    with psycopg.connect(db_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        with pytest.raises(LockedError, match="another mc-migrate run"):
            engine.run(small_db, db_url)
    assert untouched(db_url)


def test_unmapped_and_skip(tmp_path: Path, db_url: str) -> None:
    src = make_db(tmp_path / "x.db", {"users": [user(1)]})
    with __import__("sqlite3").connect(src) as c:
        c.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY, v TEXT)")
        c.execute("ALTER TABLE users ADD COLUMN legacy TEXT")
    rep = engine.run(src, db_url)
    assert not rep.ok and rep.status == "problems"
    classes = {(p.cls, p.table, p.column) for p in rep.problems}
    assert ("unmapped_table", "extra", None) in classes
    assert ("unmapped_column", "users", "legacy") in classes
    assert untouched(db_url)
    rep = engine.run(src, db_url, {"skip_tables": ["extra"], "skip_columns": ["users.legacy"]})
    assert rep.ok, rep.message


def test_verify_detects_extra_row(small_db: Path, db_url: str) -> None:
    assert engine.run(small_db, db_url).ok
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO oauth_states (state, provider) VALUES ('zz', 'g')")
    rep = engine.verify(small_db, db_url)
    assert rep.status == "mismatch" and rep.table("oauth_states").target_rows == 2


def test_server_checksum_equals_streamed(small_db: Path, db_url: str) -> None:
    from mc_migrate.load import target_checksum, target_checksum_stream
    from mc_migrate.preflight import build_plan
    from mc_migrate.source import Source
    from mc_migrate.target import connect, introspect

    assert engine.run(small_db, db_url).ok
    with Source(small_db) as src:
        conn = connect(db_url)
        plan = build_plan(src.tables(), introspect(conn))
        for tp in plan.tables:
            a = target_checksum(conn, tp)
            b = target_checksum_stream(conn, tp.name, tp.columns)
            assert a == b and a.rows > 0
        conn.close()


@pytest.mark.parametrize(
    "edit",
    [
        # a field boundary moved: the raw lines (tabs unescaped) would be equal
        "UPDATE tasks SET title = 'Task', description = E'1\\t' || description WHERE id = 1",
        # NULL replaced by the two-character text \N
        "UPDATE tasks SET result_url = E'\\\\N' WHERE id = 1 AND result_url IS NULL",
        "UPDATE tasks SET description = description || E'\\n' WHERE id = 7",
        "UPDATE tasks SET description = description || E'\\r' WHERE id = 7",
        "UPDATE users SET name = name || E'\\\\' WHERE id = 2",
    ],
)
def test_plain_checksum_still_detects_edits(small_db: Path, db_url: str, edit: str) -> None:
    rep = engine.run(small_db, db_url)
    assert rep.ok
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT title FROM tasks WHERE id = 1").fetchone() == ("Task 1",)
        assert conn.execute(edit).rowcount == 1
    ver = engine.verify(small_db, db_url)
    assert not ver.ok and ver.status == "mismatch", edit


def test_plain_and_escaped_tables_match(tmp_path: Path, db_url: str) -> None:
    from mc_migrate.load import ScanState, scan_table, target_checksum, target_checksum_stream
    from mc_migrate.preflight import build_plan, parse_policies
    from mc_migrate.source import Source
    from mc_migrate.target import connect, introspect

    db = make_db(
        tmp_path / "mixed.db",
        {
            "users": [user(1), user(2, name="tab\there \\ back\\slash\nnew")],
            "tasks": [task(1, description="\\N"), task(2, description=None, tags=None)],
        },
    )
    assert engine.run(db, db_url).ok
    with Source(db) as src:
        conn = connect(db_url)
        plan = build_plan(src.tables(), introspect(conn))
        plain = {}
        for tp in plan.tables:
            res = scan_table(src, tp, ScanState(parse_policies(None)))
            plain[tp.name] = res.plain
            a = target_checksum(conn, tp, plain=res.plain)
            b = target_checksum_stream(conn, tp.name, tp.columns)
            assert a == b == res.checksum
            if res.plain:
                assert target_checksum(conn, tp) == a
        conn.close()
    assert plain == {"users": False, "tasks": False, "sessions": True, "oauth_states": True}


def _schema_objects(url: str) -> set[tuple[str, ...]]:
    with psycopg.connect(url) as conn:
        cons = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        ).fetchall()
        idx = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall()
    return {("constraint", *r) for r in cons} | {("index", *r) for r in idx}


def test_keys_indexes_and_fks_rebuilt_identically(small_db: Path, db_url: str) -> None:
    """Keys, indexes and FKs are dropped for the load and come back exactly as declared."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(load_schema(None).text.encode())
    declared = _schema_objects(db_url)
    rep = engine.run(small_db, db_url)
    assert rep.ok, rep.message
    assert _schema_objects(db_url) == declared
    with psycopg.connect(db_url) as conn:
        # loaded with COPY FREEZE: every page of the loaded tables is all-visible
        pages = conn.execute(
            "SELECT sum(relpages), sum(relallvisible) FROM pg_class "
            "WHERE relname IN ('users', 'tasks', 'sessions', 'oauth_states')"
        ).fetchone()
        assert pages is not None and pages[0] > 0 and pages[0] == pages[1]


def test_key_rebuild_failure_rolls_back(tmp_path: Path, db_url: str) -> None:
    """A duplicate the pre-flight cannot see (two spellings of one timestamp under a
    unique key) fails when the key is rebuilt after the load: nothing is committed and
    the error says why."""
    src = make_db(
        tmp_path / "dup.db",
        {
            "users": [
                user(1, created_at="2024-01-01 00:00:00"),
                user(2, created_at="2024-01-01T00:00:00"),
            ]
        },
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(load_schema(None).text.encode())
        conn.execute("ALTER TABLE users ADD CONSTRAINT users_created_key UNIQUE (created_at)")
    declared = _schema_objects(db_url)
    with pytest.raises(MigrationError, match="could not create unique index"):
        engine.run(src, db_url)
    assert scalar(db_url, "SELECT count(*) FROM users") == 0
    assert scalar(db_url, "SELECT count(*) FROM mc_migration") == 0
    assert _schema_objects(db_url) == declared


def test_key_referenced_from_outside_the_plan_stays(small_db: Path, db_url: str) -> None:
    """A table outside the plan whose FK needs users' key: the key stays during the load,
    and the tables load without FREEZE (they cannot be truncated)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(load_schema(None).text.encode())
        conn.execute("CREATE TABLE audit (id int PRIMARY KEY, user_id int REFERENCES users(id))")
    with __import__("sqlite3").connect(small_db) as c:
        c.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, user_id INTEGER)")
    rep = engine.run(small_db, db_url, {"skip_tables": ["audit"]})
    assert rep.ok, rep.message
    assert scalar(db_url, "SELECT count(*) FROM pg_constraint WHERE conname = 'users_pkey'") == 1
    assert scalar(db_url, "SELECT count(*) FROM users") == 3


def test_checksum_helper_dying_mid_load(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hashing helper process killed mid-load: a clear one-line error, nothing written."""
    src = make_big(tmp_path / "big.db", users=10, tasks=5000)
    started: list[LineHasher] = []

    def start_and_kill() -> LineHasher:
        h = LineHasher()
        started.append(h)
        h.proc.kill()
        h.proc.wait()
        return h

    monkeypatch.setattr(load, "HELPER_AFTER_ROWS", 100)
    monkeypatch.setattr(load, "FLUSH_BYTES", 4096)
    monkeypatch.setattr(load, "_start_hasher", start_and_kill)
    with pytest.raises(HelperError, match=r"checksum helper process \(pid \d+\) died") as exc:
        engine.run(src, db_url)
    assert "\n" not in str(exc.value) and "nothing was committed" in str(exc.value)
    assert started
    assert untouched(db_url)
