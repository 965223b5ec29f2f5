"""The streaming pass over one table: convert, check, hash and (maybe) COPY.

One function serves all three commands: ``check`` and ``verify`` scan without
a COPY sink, ``run`` passes the open COPY.  Rows are fetched 1,000 at a time
and written in ~256 KiB chunks, so memory does not grow with the table size.

Speed (the pass is CPU-bound in this one Python thread):

* each batch goes through a function compiled for the table
  (:func:`~mc_migrate.convert.make_batch_encoder`) that inlines the common
  cases per column and checks the whole line once; a row it cannot vouch
  for takes the per-value path below (``general``), which finds, reports and
  fixes every problem exactly as before;
* once a table has passed ``HELPER_AFTER_ROWS`` rows, the MD5 of each sent
  line is computed by a helper process from the very chunks written to COPY
  (:class:`~mc_migrate.checksum.LineHasher`);
* a table whose lines all took the fast path is *plain*, which lets the
  server-side checksum skip six of its seven ``replace()`` calls per text
  value (see :func:`~mc_migrate.checksum.target_sql`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from psycopg import sql

from mc_migrate.checksum import Checksum, LineHasher, hash_copy_stream, target_sql
from mc_migrate.convert import (
    NULL,
    SEP,
    ValueProblem,
    copy_line,
    escape_line,
    excerpt,
    make_batch_encoder,
)
from mc_migrate.preflight import Problem, TablePlan, _pk_text
from mc_migrate.source import Source

ProgressFn = Callable[[str, str, int, int | None], None]
FLUSH_BYTES = 256 * 1024
PROGRESS_EVERY = 20_000
FETCH_ROWS = 1000
HELPER_AFTER_ROWS = 50_000  # hash in a helper process once a table proves big


def _start_hasher() -> LineHasher | None:
    try:
        return LineHasher()
    except OSError:  # no interpreter to start: hash in-process
        return None


@dataclass
class ScanState:
    """Cross-table state for one pass (policies, problem sink, quarantine)."""

    policies: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    max_problems: int = 10_000
    counts: dict[str, int] = field(default_factory=dict)
    unresolved: int = 0
    quarantine: IO[str] | None = None
    quarantined: int = 0
    # table -> column -> raw values of rows skipped by a policy (for cascades)
    skipped_values: dict[str, dict[str, set[object]]] = field(default_factory=dict)

    def add(self, p: Problem) -> None:
        self.counts[p.cls] = self.counts.get(p.cls, 0) + 1
        if p.action == "error":
            self.unresolved += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(p)

    @property
    def failed(self) -> bool:
        return self.unresolved > 0


@dataclass
class TableResult:
    rows_read: int = 0
    rows_written: int = 0
    rows_skipped: int = 0
    rows_changed: int = 0
    checksum: Checksum = field(default_factory=Checksum)
    seconds: float = 0.0
    # every hashed line is plain (see checksum.target_sql): all rows took the fast path
    plain: bool = False


def _jsonable(v: object) -> object:
    if isinstance(v, bytes | bytearray | memoryview):
        return {"hex": bytes(v).hex()}
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return v


class _RowFixer:
    """Slow path for one row: find every problem and apply the policies."""

    def __init__(self, tp: TablePlan, state: ScanState) -> None:
        self.tp = tp
        self.state = state
        self.notnull = [tp.target.columns[c].notnull for c in tp.columns]
        self.maxlen = [tp.target.columns[c].max_length for c in tp.columns]

    def fix(
        self, row: tuple[Any, ...], pk: str, pre: list[Problem], null_cols: set[str]
    ) -> list[str] | None:
        """Return the fields to write, or None when the row is skipped/failed."""
        tp, st = self.tp, self.state
        pol = st.policies
        found: list[Problem] = list(pre)
        fields: list[str] = []
        skip = any(p.action == "skip" for p in pre)
        failed = any(p.action == "error" for p in pre)
        for i, (conv, cname) in enumerate(zip(tp.converters, tp.columns, strict=True)):
            v = row[i]
            if cname in null_cols:
                v = None
            try:
                out = conv(v)
            except ValueProblem as vp:
                out, action = self._apply(vp.cls, v, i)
                msg = vp.message
                if action == "null" and self.notnull[i]:
                    action, msg = "error", msg + " (policy null impossible: NOT NULL column)"
                found.append(Problem(tp.name, pk, cname, vp.cls, msg, excerpt(v), action))
                if action == "error":
                    failed = True
                    out = NULL
                elif action == "skip":
                    skip = True
                    out = NULL
            if out is not NULL and SEP in out:
                action = pol["nul_byte"]
                found.append(
                    Problem(
                        tp.name,
                        pk,
                        cname,
                        "nul_byte",
                        "text contains NUL bytes",
                        excerpt(v),
                        action,
                    )
                )
                if action == "strip":
                    out = out.replace(SEP, "")
                    n = self.maxlen[i]
                    if n is not None and len(out) > n and pol["too_long"] == "truncate":
                        out = out[:n]
                elif action == "skip":
                    skip = True
                else:
                    failed = True
            if out is not NULL:
                try:
                    out.encode("utf-8")
                except UnicodeEncodeError:
                    action = pol["bad_text"]
                    found.append(
                        Problem(
                            tp.name,
                            pk,
                            cname,
                            "bad_text",
                            "text is not valid UTF-8",
                            excerpt(v),
                            action,
                        )
                    )
                    if action == "replace":
                        out = out.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    elif action == "skip":
                        skip = True
                    else:
                        failed = True
            fields.append(out)
        for p in found:
            st.add(p)
        if failed:
            return None
        if found and st.quarantine is not None:
            st.quarantined += 1
            rec = {
                "table": tp.name,
                "pk": pk,
                "action": "skipped" if skip else "changed",
                "problems": [p.to_dict() for p in found],
                "row": {c: _jsonable(row[i]) for i, c in enumerate(tp.columns)},
            }
            st.quarantine.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return None if skip else fields

    def _apply(self, cls: str, v: object, i: int) -> tuple[str, str]:
        action = self.state.policies.get(cls, "error")
        if action == "null":
            return NULL, action
        if action == "truncate" and cls == "too_long":
            s = v if isinstance(v, str) else str(v)
            n = self.maxlen[i] or len(s)
            return s[:n], action
        return NULL, action


def scan_table(
    source: Source,
    tp: TablePlan,
    state: ScanState,
    *,
    dup_skip: set[tuple[object, ...]] | None = None,
    dup_problems: dict[tuple[object, ...], list[Problem]] | None = None,
    orphan_marks: dict[tuple[object, ...], list[Problem]] | None = None,
    parent_skips: list[tuple[int, str, str]] | None = None,
    copy: psycopg.Copy | None = None,
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> TableResult:
    """Stream one table.  ``copy`` receives data only while no unresolved problem exists.

    ``dup_problems``/``orphan_marks`` map a row key to its pre-found problems;
    ``parent_skips`` lists (column position, parent table, parent column) for
    cascading orphan detection against rows a policy skipped in the parent.
    """
    t0 = time.monotonic()
    res = TableResult()
    cs = res.checksum
    fixer = _RowFixer(tp, state)
    convs = tp.converters
    ncols = len(convs)
    keypos = tp.key_positions
    special = dict(dup_problems or {})
    for k, ps in (orphan_marks or {}).items():
        special.setdefault(k, []).extend(ps)
    cascades = [
        (pos, state.skipped_values.get(ptable, {}).get(pcol))
        for pos, ptable, pcol in (parent_skips or [])
    ]
    cascades = [(pos, vals) for pos, vals in cascades if vals]
    # values of this table's columns referenced by FKs, remembered when a row is skipped
    remember = state.skipped_values.get(tp.name, {})
    remember_pos = [(tp.columns.index(c), s) for c, s in remember.items() if c in tp.columns]

    def fixed_line(
        row: tuple[Any, ...], key: tuple[object, ...], pre: list[Problem], null_cols: set[str]
    ) -> bytes | None:
        """The row as the policies fix it: COPY line, or None when it is not written."""
        fields = fixer.fix(row, _pk_text(key), pre, null_cols)
        if fields is None:
            res.rows_skipped += 1
            for pos, s in remember_pos:
                s.add(row[pos])
            return None
        res.rows_changed += 1
        return copy_line(fields).encode("utf-8")

    def general(row: tuple[Any, ...], key: tuple[object, ...] | None) -> bytes | None:
        """The per-value path for one row: COPY line, or None when not written."""
        if key is not None:
            pre = list(special.get(key, ()))
            for pos, vals in cascades:
                if row[pos] in vals:
                    pre.append(
                        Problem(
                            tp.name,
                            _pk_text(key),
                            tp.columns[pos],
                            "orphan",
                            "parent row was skipped by a policy",
                            excerpt(row[pos]),
                            state.policies["orphan"],
                        )
                    )
            if pre:
                null_cols = {
                    p.column for p in pre if p.cls == "orphan" and p.action == "null" and p.column
                }
                return fixed_line(row, key, pre, null_cols)
        try:
            line = SEP.join([c(v) for c, v in zip(convs, row)])  # noqa: B905 - key extras
            if line.count(SEP) != ncols - 1:
                raise ValueProblem("nul_byte", "")
            return escape_line(line).encode("utf-8")
        except (ValueProblem, UnicodeEncodeError):
            key = tuple([row[i] for i in keypos])
            return fixed_line(row, key, [], set())

    encode = make_batch_encoder([tp.target.columns[c] for c in tp.columns], convs, len(tp.select))
    marked = bool(special or cascades)
    plain = not marked
    pending: list[bytes] = []
    size = 0
    read = 0
    next_progress = PROGRESS_EVERY
    hasher: LineHasher | None = None

    def flush() -> None:
        nonlocal hasher
        if hasher is None:
            cs.add_many(pending)
        pending.append(b"")
        chunk = b"\n".join(pending)
        if hasher is not None:
            hasher.feed(chunk)
        elif cs.rows >= HELPER_AFTER_ROWS:
            hasher = _start_hasher()
        if copy is not None and not state.failed:
            copy.write(chunk)

    try:
        for rows in source.batches(tp.source.name, tp.select, FETCH_ROWS):
            read += len(rows)
            if marked:
                lines: list[bytes] = []
                for row in rows:
                    line = general(row, tuple([row[i] for i in keypos]))
                    if line is not None:
                        lines.append(line)
            else:
                got, bad = encode(rows)
                if bad:
                    plain = False
                    for i in bad:
                        got[i] = general(rows[i], None)
                    lines = [x for x in got if x is not None]
                else:
                    lines = got  # type: ignore[assignment]
            pending += lines
            size += sum(map(len, lines)) + len(lines)
            if size >= FLUSH_BYTES:
                flush()
                pending = []
                size = 0
            if progress is not None and read >= next_progress:
                next_progress += PROGRESS_EVERY
                progress(tp.name, "load" if copy is not None else "scan", read, total)
        if pending:
            flush()
        if hasher is not None:
            part = hasher.result()
            cs.rows += part.rows
            cs.total += part.total
    finally:
        if hasher is not None:
            hasher.close()
    res.plain = plain
    res.rows_read = read
    res.rows_written = cs.rows
    res.seconds = time.monotonic() - t0
    if progress is not None:
        progress(tp.name, "done", read, total)
    return res


def copy_in_sql(tp: TablePlan, *, freeze: bool = False) -> sql.Composed:
    """``COPY table (columns) FROM STDIN``; FREEZE needs the table truncated in this transaction."""
    return sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(tp.name),
        sql.SQL(", ").join(map(sql.Identifier, tp.columns)),
        sql.SQL(" (FREEZE)" if freeze else ""),
    )


def target_checksum_stream(conn: psycopg.Connection, table: str, columns: list[str]) -> Checksum:
    """Checksum of ``COPY (SELECT columns FROM table) TO STDOUT``, hashed here."""
    q = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )
    with conn.cursor() as cur, cur.copy(q) as cp:
        return hash_copy_stream(iter(cp.read, b""))


def target_checksum(conn: psycopg.Connection, tp: TablePlan, *, plain: bool = False) -> Checksum:
    """Checksum of the target table, computed by the server (see checksum.py).

    ``plain``: the source side hashed only plain lines (``TableResult.plain``),
    which allows the cheaper rendering of :func:`~mc_migrate.checksum.target_sql`.
    """
    enc = conn.execute("SHOW server_encoding").fetchone()
    if not enc or str(enc[0]).upper() not in ("UTF8", "UTF-8"):
        return target_checksum_stream(conn, tp.name, tp.columns)
    cols = [(c, tp.target.columns[c].base) for c in tp.columns]
    row = conn.execute(target_sql(tp.name, cols, plain=plain)).fetchone()
    assert row is not None
    return Checksum(int(row[0]), int(row[1]))
