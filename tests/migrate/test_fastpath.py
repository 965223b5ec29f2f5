"""The compiled batch encoder gives exactly the per-value path's COPY lines."""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path

import pytest

from mc_migrate.convert import ValueProblem, copy_line, make_batch_encoder, make_converter
from mc_migrate.source import Source
from mc_migrate.target import TargetColumn

VALUES: list[object] = [
    None,
    0,
    -1,
    2**31 - 1,
    2**31,
    2**63 - 1,
    -(2**63),
    2**63,
    3.0,
    3.5,
    float("nan"),
    "",
    "plain text",
    "tab\there",
    "new\nline",
    "cr\r",
    "back\\slash",
    "\\N",
    "nul\x00byte",
    "bell\x07ok",
    "\b\v\f",
    "é ü ✓ 🚀",
    "bad \udcff utf8",
    "\x85\u2028",
    "x" * 40,
    "42",
    " 7 ",
    "true",
    "no",
    "2024-01-02 03:04:05",
    "2024-02-29 00:00:00",
    "2023-02-29 00:00:00",
    "2024-04-31 00:00:00",
    "2024-12-31 23:59:59",
    "2024-12-31 24:00:00",
    "0000-01-01 00:00:00",
    "0001-01-01 00:00:00",
    "2024-W01-1 00:00:00",
    "2024-01-01 12:34+05",
    "2024-01-01T03:04:05",
    "2024-01-01 03:04:05.5",
    "\uff12\uff10\uff12\uff14-01-01 00:00:00",
    1700000000,
    '{"b": 1, "a": [1, 2.50, "x"]}',
    '{"a":"tab\\tq"}',
    "[]",
    '"\\u0000"',
    "{bad json",
    b"blob",
    b"\xff\xfe",
]

COLUMNS = [
    TargetColumn("c", t, base, typmod, notnull, False)
    for (t, base, typmod), notnull in itertools.product(
        [
            ("integer", "int4", -1),
            ("bigint", "int8", -1),
            ("smallint", "int2", -1),
            ("text", "text", -1),
            ("varchar(12)", "varchar", 16),
            ("varchar", "varchar", -1),
            ("boolean", "bool", -1),
            ("jsonb", "jsonb", -1),
            ("json", "json", -1),
            ("timestamp", "timestamp", -1),
            ("timestamptz", "timestamptz", -1),
        ],
        [False, True],
    )
]


def _expected(convs: list, row: tuple) -> bytes | None:
    try:
        line = copy_line([c(v) for c, v in zip(convs, row, strict=False)])
        if line.count("\t") != len(convs) - 1:  # a NUL inside a value
            return None
        return line.encode("utf-8")
    except (ValueProblem, UnicodeEncodeError):
        return None


def test_single_columns_match_the_per_value_path() -> None:
    for col in COLUMNS:
        conv = make_converter(col)
        encode = make_batch_encoder([col], [conv], 1)
        rows = [(v,) for v in VALUES]
        got, bad = encode(rows)
        assert len(got) == len(rows)
        for i, row in enumerate(rows):
            want = _expected([conv], row)
            if i in bad:
                assert got[i] is None
            else:
                assert want is not None and got[i] == want, (col.type, col.notnull, row)
        # every row the per-value path accepts without escaping is taken by the fast path
        plain = [
            i
            for i, r in enumerate(rows)
            if (w := _expected([conv], r)) is not None and b"\\" not in w.replace(b"\\N", b"")
        ]
        assert not set(plain) & set(bad), (col.type, plain, bad)


def test_random_rows_with_key_columns() -> None:
    rng = random.Random(7)
    for _ in range(40):
        cols = rng.sample(COLUMNS, rng.randint(1, 6))
        convs = [make_converter(c) for c in cols]
        extra = rng.randint(0, 2)
        encode = make_batch_encoder(cols, convs, len(cols) + extra)
        rows = [
            tuple(rng.choice(VALUES) for _ in cols) + tuple(rng.randint(1, 9) for _ in range(extra))
            for _ in range(300)
        ]
        got, bad = encode(rows)
        for i, row in enumerate(rows):
            want = _expected(convs, row)
            if i in bad:
                assert got[i] is None
            else:
                assert got[i] is not None and got[i] == want, ([c.type for c in cols], row)


def test_batches_restart_on_invalid_utf8(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"n{i}") for i in range(1, 2501)])
    conn.execute("UPDATE t SET name = CAST(x'6162ff' AS TEXT) WHERE id = 1700")
    conn.commit()
    conn.close()
    with Source(db, integrity="none") as src:
        rows = [r for b in src.batches("t", ["id", "name"], 1000) for r in b]
    assert [r[0] for r in rows] == list(range(1, 2501))
    assert rows[1699][1] == "ab\udcff"
    assert rows[1698][1] == "n1699"


def test_line_hasher_equals_in_process() -> None:
    from mc_migrate.checksum import Checksum, LineHasher

    rng = random.Random(3)
    lines = [
        bytes(rng.choice(b"ab\t\\N\x80\xff") for _ in range(rng.randint(0, 40)))
        for _ in range(5000)
    ]
    want = Checksum()
    want.add_many(lines)
    h = LineHasher()
    try:
        for i in range(0, len(lines), 777):
            h.feed(b"\n".join(lines[i : i + 777]) + b"\n")
        assert h.result() == want
        h.feed(b"x\n")
        assert h.result().rows == 1  # starts over after each result
    finally:
        h.close()
    assert h.proc.returncode == 0


def test_scan_with_helper_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mc_migrate import load
    from mc_migrate.preflight import TablePlan, parse_policies
    from mc_migrate.target import TargetTable

    db = tmp_path / "h.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany(
        "INSERT INTO t VALUES (?, ?)", [(i, f"n{i}" if i % 7 else "a\tb") for i in range(1, 30001)]
    )
    conn.commit()
    conn.close()
    cols = {
        "id": TargetColumn("id", "bigint", "int8", -1, True, False),
        "name": TargetColumn("name", "text", "text", -1, False, False),
    }
    results = []
    for after in (10**9, 0, 5000):
        monkeypatch.setattr(load, "HELPER_AFTER_ROWS", after)
        with Source(db, integrity="none") as src:
            st = src.tables()[0]
            tt = TargetTable("t", cols)
            convs = [make_converter(c) for c in cols.values()]
            tp = TablePlan(st, tt, ["id", "name"], convs, ["id"], ['"id"', '"name"'], [0])
            res = load.scan_table(src, tp, load.ScanState(parse_policies(None)))
        results.append((res.checksum, res.rows_written, res.plain))
    assert results[0] == results[1] == results[2]
    assert results[0][1] == 30000 and results[0][2] is False
