"""Build SQLite source files shaped like the Mission Control application's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    avatar_url TEXT,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    openclaw_endpoint TEXT,
    openclaw_token TEXT,
    settings TEXT DEFAULT '{}',
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    status TEXT DEFAULT 'backlog',
    priority TEXT DEFAULT 'medium',
    tags TEXT,
    openclaw_session_id TEXT,
    result_url TEXT,
    result_data TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    completed_at DATETIME
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER,
    data TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE oauth_states (
    state TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_tasks_user ON tasks(user_id);
"""


def user(i: int, **kw: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "email": f"user{i}@example.com",
        "name": f"User {i}",
        "provider": "github",
        "provider_id": str(1000 + i),
        "settings": '{"theme": "dark"}',
        "created_at": "2024-01-02 03:04:05",
        "updated_at": "2024-01-02 03:04:05",
    }
    row.update(kw)
    return row


def task(i: int, user_id: int = 1, **kw: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "user_id": user_id,
        "title": f"Task {i}",
        "description": "do it",
        "status": "backlog",
        "priority": "medium",
        "tags": '["a", "b"]',
        "created_at": "2024-02-03 04:05:06",
        "updated_at": "2024-02-03 04:05:06",
    }
    row.update(kw)
    return row


def make_db(
    path: Path,
    tables: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    *,
    schema: str = SCHEMA,
) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    for table, rows in (tables or {}).items():
        for row in rows:
            cols = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values()))
    conn.commit()
    conn.close()
    return path


def make_big(path: Path, users: int = 100, tasks: int = 200_000) -> Path:
    """A larger file generated inside SQLite (fast)."""
    make_db(path)
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {users})
        INSERT INTO users (id, email, name, provider, provider_id, settings, created_at)
        SELECT x, 'u' || x || '@example.com', 'User ' || x, 'github', x, '{{"n": ' || x || '}}',
               '2024-01-01 00:00:00' FROM c;
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {tasks})
        INSERT INTO tasks (id, user_id, title, description, tags, created_at, updated_at)
        SELECT x, 1 + x % {users}, 'Task ' || x, hex(randomblob(60)), '["t' || (x % 7) || '"]',
               datetime(1700000000 + x, 'unixepoch'), 1700000000 + x FROM c;
    """)
    conn.commit()
    conn.close()
    return path
