"""The SQLite side: open read-only, check integrity, introspect, stream rows.

All reads of one step happen inside a single read transaction, so the rows
hashed and loaded form one consistent snapshot even if the application keeps
writing (WAL mode) or is blocked from writing (rollback journal).  A copy via
the SQLite backup API (:func:`snapshot`) is available for operators who want
to migrate from a frozen file instead.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from mc_migrate.errors import SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"

_Chunk = TypeVar("_Chunk")  # a row, or a list of rows


@dataclass
class SourceColumn:
    name: str
    decl_type: str
    notnull: bool
    pk: int


@dataclass
class SourceTable:
    name: str
    columns: list[SourceColumn]
    without_rowid: bool = False
    key_columns: list[str] = field(default_factory=list)  # PK columns, or ["rowid"]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def qi(name: str) -> str:
    """Quote an SQLite identifier."""
    return '"' + name.replace('"', '""') + '"'


def _surrogate_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class Source:
    """A read-only SQLite database held open in one read transaction."""

    def __init__(self, path: str | os.PathLike[str], *, integrity: str = "full") -> None:
        self.path = Path(path)
        p = self.path
        if not p.exists():
            raise SourceError(f"SQLite file not found: {p}")
        if not p.is_file():
            raise SourceError(f"not a regular file: {p}")
        try:
            with p.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise SourceError(f"cannot read {p}: {exc.strerror}") from None
        if head != SQLITE_MAGIC:
            raise SourceError(f"not an SQLite database: {p}")
        self.size = p.stat().st_size
        uri = p.resolve().as_uri() + "?mode=ro"
        try:
            self.conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("BEGIN")  # one read snapshot for the whole step
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"cannot open SQLite database {p}: {exc}") from None
        if integrity != "none":
            self.check_integrity(quick=integrity == "quick")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_integrity(self, *, quick: bool = False) -> None:
        _check_integrity(self.conn, self.path, quick=quick)

    def tables(self) -> list[SourceTable]:
        try:
            rows = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            ).fetchall()
            out = []
            for name, ddl in rows:
                cols = [
                    SourceColumn(r[1], r[2] or "", bool(r[3]), int(r[5]))
                    for r in self.conn.execute(f"PRAGMA table_info({qi(name)})")
                ]
                without_rowid = "WITHOUT ROWID" in (ddl or "").upper()
                pks = [c.name for c in sorted(cols, key=lambda c: c.pk) if c.pk]
                keys = pks or ["rowid"]
                out.append(SourceTable(name, cols, without_rowid, keys))
            return out
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"cannot read SQLite schema of {self.path}: {exc}") from None

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {qi(table)}").fetchone()[0])

    def query(self, sql: str, params: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
        try:
            yield from self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"SQLite read failed: {exc}") from None

    def rows(self, table: str, exprs: list[str]) -> Iterator[tuple[object, ...]]:
        """Stream rows of ``SELECT exprs FROM table`` one at a time.

        Text that is not valid UTF-8 cannot be decoded by the fast default
        text factory; on the first such row the scan restarts (same snapshot,
        same order) with a lossless surrogate-escape decoder, skipping the rows
        already produced, so the converter can report the bad value.
        """
        return self._read(table, exprs, iter, _one_row)

    def batches(
        self, table: str, exprs: list[str], size: int = 1000
    ) -> Iterator[list[tuple[object, ...]]]:
        """Like :meth:`rows`, but yield lists of up to ``size`` rows (fetchmany)."""
        return self._read(table, exprs, lambda cur: _fetch_batches(cur, size), len)

    def _read(
        self,
        table: str,
        exprs: list[str],
        chunks: Callable[[sqlite3.Cursor], Iterator[_Chunk]],
        rows_in: Callable[[_Chunk], int],
    ) -> Iterator[_Chunk]:
        """Yield ``chunks(cursor)``; ``rows_in`` counts a chunk's rows so that the restart
        :meth:`rows` describes skips exactly the rows already yielded."""
        sql = f"SELECT {', '.join(exprs)} FROM {qi(table)}"
        done = 0
        try:
            for chunk in chunks(self.conn.execute(sql)):
                done += rows_in(chunk)
                yield chunk
            return
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc).lower():
                raise SourceError(f"SQLite read of {table} failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"SQLite read of {table} failed: {exc}") from None
        self.conn.text_factory = _surrogate_text
        try:
            cur = self.conn.execute(sql)
            _discard_rows(cur, done)
            yield from chunks(cur)
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"SQLite read of {table} failed: {exc}") from None
        finally:
            self.conn.text_factory = str


def _one_row(_row: tuple[object, ...]) -> int:
    return 1


def _fetch_batches(cur: sqlite3.Cursor, size: int) -> Iterator[list[tuple[object, ...]]]:
    while batch := cur.fetchmany(size):
        yield batch


def _discard_rows(cur: sqlite3.Cursor, count: int, step: int = 1000) -> None:
    while count > 0 and (got := cur.fetchmany(min(count, step))):
        count -= len(got)


def _check_integrity(conn: sqlite3.Connection, path: Path, *, quick: bool) -> None:
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = conn.execute(f"PRAGMA {pragma}(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"SQLite file is corrupt: {path}: {exc}") from None
    msgs = [r[0] for r in rows]
    if msgs != ["ok"]:
        raise SourceError(f"SQLite file is corrupt ({pragma}): {path}: {msgs[0]}")


class IntegrityCheck:
    """The integrity check of a :class:`Source`'s file, run in a thread on its own connection.

    ``run`` starts it once every row is sent, while the client would otherwise
    only wait for the server's index builds and verification, and waits for
    it before committing; :meth:`result` runs it on the spot when it was never
    started (an aborted run), so a corrupt file is always reported as such.
    sqlite3 releases the GIL while the PRAGMA runs.
    """

    def __init__(self, path: Path, *, quick: bool) -> None:
        self.path = path
        self.quick = quick
        self._error: SourceError | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name="mc-integrity", daemon=True)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                _check_integrity(conn, self.path, quick=self.quick)
            finally:
                conn.close()
        except SourceError as exc:
            self._error = exc
        except sqlite3.Error as exc:
            self._error = SourceError(f"SQLite file is corrupt: {self.path}: {exc}")
        self._done = True

    def start(self) -> None:
        if not self._thread.is_alive() and not self._done:
            self._thread.start()

    def result(self) -> None:
        """Wait for (or run) the check; raise :class:`SourceError` when the file is corrupt."""
        if self._thread.is_alive():
            self._thread.join()
        elif not self._done:
            self._run()
        if self._error is not None:
            raise self._error


def snapshot(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a live SQLite database to ``dest`` with the online backup API."""
    src = Source(path, integrity="none")
    try:
        out = sqlite3.connect(os.fspath(dest))
        with out:
            src.conn.backup(out)
        out.close()
    except sqlite3.Error as exc:
        raise SourceError(f"SQLite backup to {dest} failed: {exc}") from None
    finally:
        src.close()
    return Path(dest)
