"""Per-target-type conversion of SQLite values to PostgreSQL COPY text.

Each converter returns the value exactly as PostgreSQL prints it back in
``COPY ... TO STDOUT`` (text format, DateStyle ISO, TimeZone UTC), before COPY
escaping, or :data:`NULL` for SQL NULL.  Because the rendering is canonical,
hashing the COPY line we send and the line PostgreSQL sends back gives equal
checksums exactly when the target holds what was read (see checksum.py).

A value that cannot be converted raises :class:`ValueProblem` with its
problem class; the loader decides what to do according to the policy.

Rules (by target base type):

* integer/bigint/smallint: SQLite integers, integral reals (``3.0``) and
  decimal strings; non-integral or out-of-range values are ``bad_integer``.
* boolean: 0/1, t/f, true/false, yes/no, on/off (any case); else ``bad_boolean``.
* varchar(n)/char(n)/text: strings (numbers rendered as text, BLOBs decoded as
  UTF-8); longer than n characters is ``too_long``; NUL bytes are ``nul_byte``
  and invalid UTF-8 is ``bad_text`` (both detected on the whole line).
* jsonb/json: JSON text, validated; ``\\u0000``, NaN/Infinity and lone
  surrogates are ``bad_json``; rendered like jsonb's output (keys ordered by
  byte length then bytes, last duplicate wins, ``", "``/``": "`` separators,
  numbers in canonical numeric form).
* timestamp: ``YYYY-MM-DD[ HH:MM[:SS[.f...]]]``, ISO 8601 with ``T``, ``Z`` or
  an offset (converted to UTC), Unix epoch seconds or milliseconds (numbers or
  digit strings; |v| >= 1e11 means milliseconds).  Else ``bad_timestamp``.
* timestamptz: the same, printed in UTC with ``+00``.
* NULL is always NULL (NOT NULL targets give ``not_null``); defaults are never
  substituted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from mc_migrate.target import TargetColumn

NULL = "\ud800"  # sentinel: a lone surrogate never produced by SQLite decoding
SEP = "\x00"  # field separator inside the pipeline: NUL is never valid data
EPOCH = datetime(1970, 1, 1)
INT_RANGES = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}
SUPPORTED = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "bool",
        "varchar",
        "bpchar",
        "text",
        "jsonb",
        "json",
        "timestamp",
        "timestamptz",
    }
)


class ValueProblem(Exception):
    """A value that cannot be stored; ``cls`` is the problem class."""

    def __init__(self, cls: str, message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


Converter = Callable[[object], str]


# ---------------------------------------------------------------- text ----
def _as_text(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):  # pragma: no cover - sqlite never returns bool
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes | bytearray | memoryview):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueProblem("bad_text", "BLOB is not valid UTF-8 text") from None
    raise ValueProblem("bad_text", f"unsupported value type {type(v).__name__}")


# ------------------------------------------------------------- integers ----
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")


def _to_int(v: object, lo: int, hi: int) -> str:
    if type(v) is int:
        n = v
    elif isinstance(v, float):
        if not v.is_integer():
            raise ValueProblem("bad_integer", "not an integer")
        n = int(v)
    elif isinstance(v, str):
        if not _INT_RE.fullmatch(v):
            try:
                f = float(v)
            except ValueError:
                raise ValueProblem("bad_integer", "not an integer") from None
            if not f.is_integer():
                raise ValueProblem("bad_integer", "not an integer")
            n = int(f)
        else:
            n = int(v)
    else:
        raise ValueProblem("bad_integer", "not an integer")
    if n < lo or n > hi:
        raise ValueProblem("bad_integer", "integer out of range")
    return str(n)


# -------------------------------------------------------------- boolean ----
_TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "n", "no", "off"})


def _to_bool(v: object) -> str:
    if isinstance(v, int | float) and v in (0, 1):
        return "t" if v else "f"
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return "t"
        if s in _FALSE:
            return "f"
    raise ValueProblem("bad_boolean", "not a boolean")


# ----------------------------------------------------------------- JSON ----
class _Num(str):
    """A JSON number kept exactly as written."""


def _bad_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _num_text(s: str) -> str:
    """Render a JSON number the way PostgreSQL's numeric output prints it."""
    if "." not in s and "e" not in s and "E" not in s:
        return "0" if s == "-0" else s
    d = Decimal(s)
    exp = d.as_tuple().exponent
    scale = max(0, -exp) if isinstance(exp, int) else 0
    if d.is_zero():
        d = d.copy_abs()
    return format(d, f".{scale}f")


def _jkey(k: str) -> tuple[int, bytes]:
    b = k.encode("utf-8")
    return (len(b), b)


_encode_str = json.encoder.encode_basestring  # C version; escapes like jsonb's output


def _jstr(s: str) -> str:
    if "\x00" in s:
        raise ValueError("\\u0000 is not allowed in jsonb")
    return _encode_str(s)


def _render_json(v: object) -> str:
    if isinstance(v, str):
        if type(v) is _Num:
            return _num_text(v)
        return _jstr(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, list):
        return "[" + ", ".join([_render_json(x) for x in v]) + "]"
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: _jkey(kv[0]))
        return "{" + ", ".join([_jstr(k) + ": " + _render_json(x) for k, x in items]) + "}"
    raise ValueError(f"unexpected JSON value {type(v).__name__}")  # pragma: no cover


_decoder = json.JSONDecoder(parse_float=_Num, parse_int=_Num, parse_constant=_bad_constant)


def canonical_json(text: str) -> str:
    """Parse and render JSON text as jsonb prints it; ValueError when invalid."""
    try:
        obj = _decoder.decode(text)
        out = _render_json(obj)
        out.encode("utf-8")  # lone surrogates from \ud800 escapes
    except (ValueError, RecursionError, InvalidOperation, UnicodeEncodeError) as exc:
        msg = str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)
        if isinstance(exc, UnicodeEncodeError):
            msg = "lone Unicode surrogate"
        raise ValueError(msg) from None
    return out


class _JsonConverter:
    """jsonb converter with a small bounded cache (tags repeat a lot)."""

    def __init__(self, limit: int = 65536) -> None:
        self.cache: dict[str, str] = {}
        self.limit = limit

    def __call__(self, v: object) -> str:
        if isinstance(v, str):
            hit = self.cache.get(v)
            if hit is not None:
                return hit
            s = v
        else:
            s = _as_text(v)
        try:
            out = canonical_json(s)
        except ValueError as exc:
            raise ValueProblem("bad_json", f"invalid JSON: {exc}") from None
        if len(s) < 512:
            if len(self.cache) >= self.limit:
                self.cache.clear()
            self.cache[s] = out
        return out


# ------------------------------------------------------------ timestamps ----
_TS_RE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*"
)
_EPOCH_RE = re.compile(r"\s*[+-]?\d+(?:\.\d+)?\s*")
_fromiso = datetime.fromisoformat


def render_timestamp(dt: datetime) -> str:
    if dt.microsecond:
        return dt.isoformat(" ").rstrip("0")
    return dt.isoformat(" ")


def _from_epoch(x: float | int | Decimal) -> datetime:
    if abs(x) >= 100_000_000_000:  # milliseconds
        us = round(Decimal(x) * 1000) if not isinstance(x, int) else x * 1000
    else:
        us = round(Decimal(x) * 1_000_000) if not isinstance(x, int) else x * 1_000_000
    return EPOCH + timedelta(microseconds=int(us))


def parse_timestamp(v: object) -> datetime:
    """Parse a SQLite timestamp value to a naive UTC datetime; ValueError if bad."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        x: float | int | Decimal = Decimal(repr(v)) if isinstance(v, float) else v
        try:
            return _from_epoch(x)
        except OverflowError:
            raise ValueError("epoch value out of range") from None
    if not isinstance(v, str):
        raise ValueError("not a timestamp")
    if _EPOCH_RE.fullmatch(v):
        try:
            return _from_epoch(Decimal(v.strip()))
        except OverflowError:
            raise ValueError("epoch value out of range") from None
    m = _TS_RE.fullmatch(v)
    if not m:
        raise ValueError("unrecognised timestamp format")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    us = 0
    carry = 0
    if frac:
        q = round(Decimal("0." + frac) * 1_000_000)  # PostgreSQL rounds to microseconds
        if q >= 1_000_000:
            carry, q = 1, 0
        us = int(q)
    dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), us)
    if carry:
        dt += timedelta(seconds=1)
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        off = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        dt -= sign * off
    return dt


def _to_timestamp(v: object) -> str:
    if isinstance(v, str) and len(v) == 19:
        # Fast path: SQLite's CURRENT_TIMESTAMP form is already canonical.
        try:
            dt = _fromiso(v)
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is None and v[10] == " " and dt.isoformat(" ") == v:
            return v
    try:
        return render_timestamp(parse_timestamp(v))
    except ValueError as exc:
        raise ValueProblem("bad_timestamp", f"invalid timestamp: {exc}") from None
    except OverflowError:
        raise ValueProblem("bad_timestamp", "invalid timestamp: out of range") from None


def _to_timestamptz(v: object) -> str:
    return _to_timestamp(v) + "+00"


# ------------------------------------------------------------- factory ----
def _nullable(conv: Converter, notnull: bool) -> Converter:
    if notnull:

        def convert(v: object) -> str:
            if v is None:
                raise ValueProblem("not_null", "NULL in a NOT NULL column")
            return conv(v)
    else:

        def convert(v: object) -> str:
            return NULL if v is None else conv(v)

    return convert


def make_converter(col: TargetColumn) -> Converter:
    """Build the converter for one target column (NULL handling included)."""
    base = col.base
    notnull = col.notnull
    if base in ("varchar", "bpchar", "text"):
        # the hottest path: one closure, no nested call for plain strings
        n = col.max_length if base != "text" else None

        def text(v: object) -> str:
            if type(v) is str:
                if n is not None and len(v) > n:
                    raise ValueProblem("too_long", f"{len(v)} characters, limit {n}")
                return v
            if v is None:
                if notnull:
                    raise ValueProblem("not_null", "NULL in a NOT NULL column")
                return NULL
            s = _as_text(v)
            if n is not None and len(s) > n:
                raise ValueProblem("too_long", f"{len(s)} characters, limit {n}")
            return s

        return text
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]

        def integer(v: object) -> str:
            if type(v) is int and lo <= v <= hi:
                return str(v)
            if v is None:
                if notnull:
                    raise ValueProblem("not_null", "NULL in a NOT NULL column")
                return NULL
            return _to_int(v, lo, hi)

        return integer
    conv: Converter
    if base == "bool":
        conv = _to_bool
    elif base in ("jsonb", "json"):
        conv = _JsonConverter()
    elif base == "timestamp":
        conv = _to_timestamp
    elif base == "timestamptz":
        conv = _to_timestamptz
    else:
        raise ValueError(f"unsupported target type {col.type}")
    return _nullable(conv, notnull)


def excerpt(v: object, limit: int = 60) -> str:
    """A short printable excerpt of a source value for reports."""
    if v is None:
        return "NULL"
    if isinstance(v, bytes | bytearray | memoryview):
        b = bytes(v)
        s = "x'" + b[: limit // 2].hex() + ("..." if len(b) > limit // 2 else "") + "'"
        return s
    s = v if isinstance(v, str) else repr(v)
    s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    s = s.replace("\x00", "\\0")
    r = repr(s[:limit])[1:-1]
    return r + ("..." if len(s) > limit else "")


# --------------------------------------------------------- COPY escaping ----
_ESCAPES = (
    ("\\", "\\\\"),
    ("\b", "\\b"),
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\v", "\\v"),
    ("\f", "\\f"),
    ("\r", "\\r"),
)


def escape_line(line: str) -> str:
    """COPY-escape a line whose fields are joined with :data:`SEP` (no newline)."""
    for a, b in _ESCAPES:
        if a in line:
            line = line.replace(a, b)
    line = line.replace(SEP, "\t")
    return line.replace(NULL, "\\N") if NULL in line else line


def copy_line(fields: list[str]) -> str:
    """Join converted fields into one COPY text line (without the newline).

    The caller must have checked that no field contains NUL.
    """
    return escape_line(SEP.join(fields))


# ------------------------------------------------------ batch fast path ----
# 'YYYY-MM-DD HH:MM:SS' with a valid calendar date (Feb 29 and year 0 are left
# to the full parser): exactly the strings _to_timestamp returns unchanged.
_CANON_TS = re.compile(
    r"(?!0000)[0-9]{4}-"
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
    r" (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
).fullmatch

BatchEncoder = Callable[[list[tuple[object, ...]]], tuple[list[bytes | None], list[int]]]


def make_batch_encoder(
    cols: list[TargetColumn], convs: list[Converter], width: int
) -> BatchEncoder:
    """Compile a function that turns a batch of source rows into COPY lines.

    ``cols``/``convs`` are the mapped target columns and their converters,
    ``width`` the number of values per source row (key columns may follow).
    The generated code inlines the common cases (exact ints in range, plain
    strings, canonical timestamps, cached JSON) and calls the column's
    converter for anything else, so a line it produces is byte-for-byte what
    :func:`copy_line` makes of the converters' output.  NULL is written as
    ``\\N`` directly; a line is accepted only when it holds exactly the
    expected tabs, no backslash other than those NULL markers, and no other
    character COPY would escape.  Anything else -- a converter raising, a
    value needing escapes, text that is not valid UTF-8 -- puts the row's
    index in the second list (its slot in the first is None) for the caller's
    full per-value path, which finds and reports every problem.
    """
    n = len(cols)
    ns: dict[str, object] = {"_TS": _CANON_TS}
    exprs: list[str] = []
    for i, (col, conv) in enumerate(zip(cols, convs, strict=True)):
        a, c = f"a{i}", f"c{i}"
        ns[c] = conv
        base = col.base
        if base in ("varchar", "bpchar", "text"):
            lim = col.max_length if base != "text" else None
            cond = f"type({a}) is str" + (f" and len({a}) <= {lim}" if lim is not None else "")
            e = f"{a} if {cond} else {c}({a})"
        elif base in INT_RANGES:
            lo, hi = INT_RANGES[base]
            e = f"str({a}) if type({a}) is int and {lo} <= {a} <= {hi} else {c}({a})"
        elif base == "timestamp":
            e = f"{a} if type({a}) is str and _TS({a}) else {c}({a})"
        elif base == "timestamptz":
            e = f"{a} + '+00' if type({a}) is str and _TS({a}) else {c}({a})"
        elif base in ("jsonb", "json"):
            jc = _JsonConverter()
            ns[f"j{i}"], ns[f"g{i}"] = jc, jc.cache.get
            e = f"g{i}({a}) or j{i}({a})"
        else:
            e = f"{c}({a})"
        if not col.notnull:
            e = f"'\\\\N' if {a} is None else ({e})"
        exprs.append(f"({e})")
    names = [f"a{i}" for i in range(n)] + [f"_k{i}" for i in range(width - n)]
    nulls = "r.count(None)" if width == n else f"r[:{n}].count(None)"
    src = f"""
def encode(rows):
    out = []
    app = out.append
    bad = []
    i = -1
    for r in rows:
        i += 1
        try:
            {", ".join(names)}, = r
            line = "\\t".join(({", ".join(exprs)},))
            if (
                line.count("\\t") != {n - 1}
                or line.count("\\\\") != {nulls}
                or "\\n" in line
                or "\\r" in line
                or "\\x00" in line
                or "\\x08" in line
                or "\\x0b" in line
                or "\\x0c" in line
            ):
                app(None)
                bad.append(i)
            else:
                app(line.encode())
        except Exception:
            app(None)
            bad.append(i)
    return out, bad
"""
    exec(compile(src, f"<batch encoder {n} columns>", "exec"), ns)
    return ns["encode"]  # type: ignore[return-value]
