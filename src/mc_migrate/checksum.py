"""Order-independent table checksums over COPY text lines.

Each row is rendered as one line of PostgreSQL COPY text format (without
the newline).  The row hash is the first 64 bits of MD5 of that line read as a
signed big-endian integer; the table checksum is the sum of the row hashes
modulo 2**64 together with the row count.

The engine hashes the exact lines it sends while it sends them.  On the target
the same lines are rebuilt by PostgreSQL itself from the stored values (each
column's output function, COPY's escaping, ``\\N`` for NULL) and hashed on the
server with ``md5()``, so only two integers per table cross the network
(:func:`target_sql`).  :func:`hash_copy_stream` hashes ``COPY ... TO STDOUT``
output on the client instead; it is used when the server encoding is not
UTF-8 and by the tests to prove both target paths agree.
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import md5

from psycopg import sql

from mc_migrate.errors import HelperError

MASK = (1 << 64) - 1
PIPE_BYTES = 1 << 20
_from_bytes = int.from_bytes


def row_hash(line: bytes) -> int:
    return _from_bytes(md5(line).digest()[:8], "big", signed=True)


@dataclass
class Checksum:
    rows: int = 0
    total: int = 0

    def add(self, line: bytes) -> None:
        self.total += row_hash(line)
        self.rows += 1

    def add_many(self, lines: list[bytes]) -> None:
        h = md5
        fb = _from_bytes
        self.total += sum([fb(h(x).digest()[:8], "big", signed=True) for x in lines])
        self.rows += len(lines)

    @property
    def hexdigest(self) -> str:
        return f"{self.total & MASK:016x}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checksum):
            return NotImplemented
        return self.rows == other.rows and (self.total & MASK) == (other.total & MASK)

    def __hash__(self) -> int:  # pragma: no cover - not used as a key
        return hash((self.rows, self.total & MASK))


def hash_copy_stream(chunks: Iterable[bytes | memoryview]) -> Checksum:
    """Checksum an iterable of COPY TO data messages."""
    cs = Checksum()
    batch: list[bytes] = []
    rest = b""
    for data in chunks:
        b = rest + bytes(data)
        if b.endswith(b"\n") and b.count(b"\n") == 1:
            batch.append(b[:-1])
            rest = b""
        else:
            parts = b.split(b"\n")
            rest = parts.pop()
            batch.extend(parts)
        if len(batch) >= 4096:
            cs.add_many(batch)
            batch = []
    if rest:
        batch.append(rest)
    if batch:
        cs.add_many(batch)
    return cs


_TEXTUAL = frozenset({"varchar", "bpchar", "text", "jsonb", "json"})
_ESCAPES: list[tuple[str | int, str]] = [
    ("\\", "\\\\"),
    (8, "\\b"),
    (9, "\\t"),
    (10, "\\n"),
    (11, "\\v"),
    (12, "\\f"),
    (13, "\\r"),
]


def _column_expr(name: str, base: str, escapes: list[tuple[str | int, str]]) -> sql.Composable:
    col = sql.Identifier(name)
    if base == "bool":
        e: sql.Composable = sql.SQL("CASE WHEN {} THEN 't' ELSE 'f' END").format(col)
    else:
        e = sql.SQL("{}::text").format(col)
    if base in _TEXTUAL:
        for a, b in escapes:
            src = sql.Literal(a) if isinstance(a, str) else sql.SQL(f"chr({a})")
            e = sql.SQL("replace({}, {}, {})").format(e, src, sql.Literal(b))
    return sql.SQL("coalesce({}, {})").format(e, sql.Literal("\\N"))


def target_sql(table: str, columns: list[tuple[str, str]], *, plain: bool = False) -> sql.Composed:
    """Server-side checksum query: rows and the sum of signed 64-bit MD5 prefixes.

    ``plain=True`` may be used when every line the source side hashed is
    *plain*: exactly one tab between fields and none inside them, no
    backspace, newline, vertical tab, form feed or carriage return, and no
    backslash except in ``\\N`` NULL markers.  Text columns are then rendered
    with only the backslash doubled (one ``replace()`` instead of seven, the
    bulk of the query's cost).  The result is unchanged for any target row
    whose line equals a plain line: such a row's fields contain none of the
    six control characters (every tab of the line is a separator, and the line
    has the right number), so COPY's escaping would change nothing more.  A
    row holding any of them renders to a line no plain line can equal, so it
    still shows up as a mismatch; doubling the backslash keeps the text
    ``\\N`` distinct from NULL.
    """
    escapes = _ESCAPES[:1] if plain else _ESCAPES
    # concat_ws builds the line in one pass (a chain of || copies it per column);
    # every argument is coalesced, so no NULL is skipped.
    line = sql.SQL("concat_ws(chr(9), {})").format(
        sql.SQL(", ").join(_column_expr(name, base, escapes) for name, base in columns)
    )
    return sql.SQL(
        "SELECT count(*), coalesce(sum(('x' || left(md5({}), 16))::bit(64)::bigint), 0) FROM {}"
    ).format(line, sql.Identifier(table))


_HASHER_CODE = """
import sys
from array import array
try:
    from _md5 import md5  # no OpenSSL context set-up per line
except ImportError:
    from hashlib import md5
r, w = sys.stdin.buffer, sys.stdout.buffer
fb = int.from_bytes
rows = total = 0
while len(h := r.read(8)) == 8:
    n = fb(h, "big")
    if n == 0:
        w.write(b"%d %d\\n" % (rows, total))
        w.flush()
        rows = total = 0
        continue
    lines = r.read(n).split(b"\\n")
    lines.pop()
    # first 8 bytes of each MD5 as signed big-endian 64-bit integers, summed
    heads = array("q", b"".join([md5(x).digest()[:8] for x in lines]))
    if sys.byteorder == "little":
        heads.byteswap()
    total += sum(heads)
    rows += len(lines)
"""


class LineHasher:
    """:meth:`Checksum.add_many` in a helper process, for big tables.

    The load pass is CPU-bound in one Python thread; the per-line MD5 is about
    a fifth of its work and needs nothing but the bytes that are sent, so a
    child process (``python -I -S -c``, stdlib only) hashes the very chunks
    written to COPY while the main process converts the next rows.  Chunks are
    COPY lines each ending in a newline (escaped lines contain none).
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _HASHER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin
        self._out = self.proc.stdout
        # a 1 MiB pipe (Linux) absorbs scheduling jitter: the converting process
        # blocks on the helper less often than with the 64 KiB default
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._in.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def _failed(self) -> HelperError:
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        return HelperError(
            f"the checksum helper process (pid {self.proc.pid}) died (exit status {status});"
            " nothing was committed"
        )

    def feed(self, chunk: bytes) -> None:
        """Hash every line of ``chunk`` (newline-terminated lines)."""
        if chunk:
            try:
                self._in.write(len(chunk).to_bytes(8, "big"))
                self._in.write(chunk)
            except OSError:
                raise self._failed() from None

    def result(self) -> Checksum:
        """The checksum of all lines fed so far (and start over)."""
        try:
            self._in.write(bytes(8))
            self._in.flush()
            reply = self._out.readline().split()
        except OSError:
            raise self._failed() from None
        if len(reply) != 2:
            raise self._failed()
        return Checksum(int(reply[0]), int(reply[1]))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
