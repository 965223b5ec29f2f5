"""Pre-flight: mapping, policies, and the SQL-side data checks.

Design (one read of the source):

* Mapping problems (a SQLite table/column with no target, a NOT NULL target
  column with no source and no default, an unsupported type) are found from
  the two catalogues before any row is read.
* Duplicate unique keys and foreign-key orphans are found with SQL on the
  SQLite side (``GROUP BY ... HAVING count(*) > 1`` and ``NOT EXISTS``
  queries), so memory stays bounded by the number of offending rows.
* Value problems (bad JSON, bad timestamps, over-long values, NUL bytes,
  invalid UTF-8, NOT NULL violations, bad integers/booleans) are found in the
  same streaming pass that converts, hashes and (for ``run``) sends rows.

In strict mode (every class set to ``error``) a ``run`` stops sending rows as
soon as one problem is known but keeps scanning to build the full report, then
rolls the single transaction back: nothing is ever committed and the target is
left exactly as it was.  ``check`` does the same scan without sending rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from mc_migrate.convert import SUPPORTED, Converter, make_converter
from mc_migrate.errors import OptionsError
from mc_migrate.source import Source, SourceTable, qi
from mc_migrate.target import BOOKKEEPING_TABLES, ForeignKey, TargetSchema, TargetTable

POLICY_ACTIONS: dict[str, frozenset[str]] = {
    "bad_json": frozenset({"error", "null", "skip"}),
    "bad_timestamp": frozenset({"error", "null", "skip"}),
    "bad_integer": frozenset({"error", "null", "skip"}),
    "bad_boolean": frozenset({"error", "null", "skip"}),
    "too_long": frozenset({"error", "truncate", "skip"}),
    "nul_byte": frozenset({"error", "strip", "skip"}),
    "bad_text": frozenset({"error", "replace", "skip"}),
    "not_null": frozenset({"error", "skip"}),
    "duplicate": frozenset({"error", "skip"}),
    "orphan": frozenset({"error", "skip", "null"}),
}
POLICY_ALIASES = {
    "orphans": "orphan",
    "duplicates": "duplicate",
    "nul": "nul_byte",
    "json": "bad_json",
    "timestamp": "bad_timestamp",
    "length": "too_long",
}
MAPPING_CLASSES = ("unmapped_table", "unmapped_column", "missing_column", "unsupported_type")


@dataclass
class Problem:
    table: str
    pk: str | None
    column: str | None
    cls: str
    message: str
    value: str | None = None
    action: str = "error"

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["class"] = d.pop("cls")
        return d

    def line(self) -> str:
        where = self.table
        if self.pk is not None:
            where += f" pk={self.pk}"
        if self.column:
            where += f" {self.column}"
        val = f" value={self.value}" if self.value is not None else ""
        act = "" if self.action == "error" else f" -> {self.action}"
        return f"{self.cls}: {where}: {self.message}{val}{act}"


def parse_policies(items: Iterable[str] | dict[str, str] | None) -> dict[str, str]:
    """Parse ``CLASS=ACTION`` items (or a dict) into a full policy map."""
    out = dict.fromkeys(POLICY_ACTIONS, "error")
    if not items:
        return out
    pairs = (
        items.items() if isinstance(items, dict) else ([*i.split("=", 1), ""][:2] for i in items)
    )
    for cls, action in pairs:
        cls = POLICY_ALIASES.get(cls.strip(), cls.strip())
        action = action.strip()
        if cls not in POLICY_ACTIONS:
            raise OptionsError(
                f"unknown problem class {cls!r} (known: {', '.join(POLICY_ACTIONS)})"
            )
        if action not in POLICY_ACTIONS[cls]:
            allowed = ", ".join(sorted(POLICY_ACTIONS[cls]))
            raise OptionsError(f"policy {cls}={action!r} is not allowed (use one of: {allowed})")
        out[cls] = action
    return out


@dataclass
class TablePlan:
    source: SourceTable
    target: TargetTable
    columns: list[str]  # mapped column names, in target order
    converters: list[Converter]
    key_columns: list[str]  # source key expressions appended after the columns if missing
    select: list[str] = field(default_factory=list)
    key_positions: list[int] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)  # target columns left to defaults

    @property
    def name(self) -> str:
        return self.target.name

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.name,
            "columns": self.columns,
            "target_defaults": self.defaults,
            "key": self.key_columns,
        }


@dataclass
class Plan:
    tables: list[TablePlan]  # in foreign-key load order
    problems: list[Problem]
    skipped_tables: list[str]
    skipped_columns: list[str]
    foreign_keys: list[ForeignKey]

    def table(self, name: str) -> TablePlan | None:
        return next((t for t in self.tables if t.name == name), None)


def _fk_order(names: list[str], fks: list[ForeignKey]) -> list[str]:
    deps = {
        n: {
            fk.ref_table
            for fk in fks
            if fk.table == n and fk.ref_table in names and fk.ref_table != n
        }
        for n in names
    }
    out: list[str] = []
    while deps:
        ready = sorted(n for n, d in deps.items() if not (d - set(out)))
        if not ready:  # cycle: keep a stable order, FKs are built after the load anyway
            ready = sorted(deps)
        for n in ready:
            out.append(n)
            deps.pop(n)
    return out


def build_plan(
    src_tables: list[SourceTable],
    target: TargetSchema,
    skip_tables: Iterable[str] = (),
    skip_columns: Iterable[str] = (),
) -> Plan:
    skip_t = set(skip_tables)
    skip_c: set[tuple[str, str]] = set()
    for item in skip_columns:
        if "." not in item:
            raise OptionsError(f"--skip-column expects TABLE.COLUMN, got {item!r}")
        t, c = item.split(".", 1)
        skip_c.add((t, c))
    problems: list[Problem] = []
    plans: dict[str, TablePlan] = {}
    src_names = {t.name for t in src_tables}
    for name in sorted(skip_t - src_names):
        raise OptionsError(f"--skip-table {name!r}: no such table in the SQLite file")
    for t, c in sorted(skip_c):
        st = next((x for x in src_tables if x.name == t), None)
        if st is None or c not in st.column_names:
            raise OptionsError(f"--skip-column {t}.{c}: no such column in the SQLite file")
    for st in src_tables:
        if st.name in skip_t:
            continue
        tt = target.tables.get(st.name)
        if tt is None or st.name in BOOKKEEPING_TABLES:
            problems.append(
                Problem(st.name, None, None, "unmapped_table", "SQLite table has no target table")
            )
            continue
        cols: list[str] = []
        for sc in st.columns:
            if (st.name, sc.name) in skip_c:
                continue
            if sc.name not in tt.columns:
                problems.append(
                    Problem(
                        st.name,
                        None,
                        sc.name,
                        "unmapped_column",
                        "SQLite column has no target column",
                    )
                )
                continue
            cols.append(sc.name)
        defaults = []
        convs: list[Converter] = []
        ordered = [c for c in tt.columns if c in cols]
        for cname, tc in tt.columns.items():
            if cname in cols:
                if tc.base not in SUPPORTED:
                    problems.append(
                        Problem(
                            st.name,
                            None,
                            cname,
                            "unsupported_type",
                            f"target type {tc.type} is not supported",
                        )
                    )
                    continue
                convs.append(make_converter(tc))
            else:
                defaults.append(cname)
                if tc.notnull and not tc.has_default:
                    problems.append(
                        Problem(
                            st.name,
                            None,
                            cname,
                            "missing_column",
                            "NOT NULL target column has no SQLite column and no default",
                        )
                    )
        if len(convs) != len(ordered):
            continue
        keys = list(st.key_columns)
        select = [qi(c) for c in ordered]
        key_pos = []
        for k in keys:
            if k in ordered:
                key_pos.append(ordered.index(k))
            else:
                key_pos.append(len(select))
                select.append(qi(k) if k != "rowid" else "rowid")
        plans[st.name] = TablePlan(st, tt, ordered, convs, keys, select, key_pos, defaults)
    order = _fk_order(list(plans), target.foreign_keys)
    fks = [fk for fk in target.foreign_keys if fk.table in plans]
    skipped_cols = [f"{t}.{c}" for t, c in sorted(skip_c)]
    return Plan([plans[n] for n in order], problems, sorted(skip_t), skipped_cols, fks)


def _pk_text(vals: tuple[object, ...]) -> str:
    return ",".join("NULL" if v is None else str(v) for v in vals)


def _is_rowid_alias(st: SourceTable) -> bool:
    """A rowid table whose primary key is one column declared exactly INTEGER."""
    if st.without_rowid or len(st.key_columns) != 1:
        return False
    col = next((c for c in st.columns if c.name == st.key_columns[0]), None)
    return col is not None and col.pk == 1 and col.decl_type.strip().upper() == "INTEGER"


def find_duplicates(
    source: Source, plan: TablePlan, policy: str
) -> tuple[list[tuple[tuple[object, ...], Problem]], set[tuple[object, ...]]]:
    """Rows that repeat a unique key of the target; the first of each group is kept."""
    problems: list[tuple[tuple[object, ...], Problem]] = []
    skip: set[tuple[object, ...]] = set()
    st = plan.source
    order = ", ".join(qi(k) if k != "rowid" else "rowid" for k in st.key_columns)
    for cname, ucols in plan.target.unique_keys.items():
        if not all(c in plan.columns for c in ucols):
            continue
        if ucols == st.key_columns and (st.without_rowid or _is_rowid_alias(st)):
            continue  # SQLite enforces it (an INTEGER PRIMARY KEY is the rowid)
        cl = ", ".join(qi(c) for c in ucols)
        notnull = " AND ".join(f"{qi(c)} IS NOT NULL" for c in ucols)
        keys = ", ".join(qi(k) if k != "rowid" else "rowid" for k in st.key_columns)
        q = (
            f"SELECT {keys}, {cl} FROM {qi(st.name)} WHERE ({cl}) IN "
            f"(SELECT {cl} FROM {qi(st.name)} WHERE {notnull} GROUP BY {cl} "
            f"HAVING count(*) > 1) ORDER BY {cl}, {order}"
        )
        nk = len(st.key_columns)
        first: dict[tuple[object, ...], str] = {}
        for row in source.query(q):
            key, val = tuple(row[:nk]), tuple(row[nk:])
            if val not in first:
                first[val] = _pk_text(key)
                continue
            skip.add(key)
            problems.append(
                (
                    key,
                    Problem(
                        st.name,
                        _pk_text(key),
                        ",".join(ucols),
                        "duplicate",
                        f"duplicate value for unique key {cname} (first at pk={first[val]})",
                        _pk_text(val)[:60],
                        policy,
                    ),
                )
            )
    return problems, skip


def find_orphans(
    source: Source, plan: Plan, tp: TablePlan, policy: str
) -> tuple[list[tuple[tuple[object, ...], Problem]], dict[tuple[object, ...], list[str]]]:
    """Rows whose foreign key points at no row of the (source) parent table."""
    problems: list[tuple[tuple[object, ...], Problem]] = []
    marks: dict[tuple[object, ...], list[str]] = {}
    st = tp.source
    keys = ", ".join(qi(k) if k != "rowid" else "rowid" for k in st.key_columns)
    nk = len(st.key_columns)
    for fk in plan.foreign_keys:
        if fk.table != tp.name or plan.table(fk.ref_table) is None:
            continue
        if not all(c in tp.columns for c in fk.columns):
            continue
        cond = " AND ".join(
            f"p.{qi(r)} = c.{qi(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=True)
        )
        notnull = " AND ".join(f"c.{qi(c)} IS NOT NULL" for c in fk.columns)
        ckeys = ", ".join(f"c.{k}" for k in keys.split(", "))
        vals = ", ".join(f"c.{qi(c)}" for c in fk.columns)
        q = (
            f"SELECT {ckeys}, {vals} FROM {qi(st.name)} c WHERE {notnull} AND NOT EXISTS "
            f"(SELECT 1 FROM {qi(fk.ref_table)} p WHERE {cond})"
        )
        for row in source.query(q):
            key = tuple(row[:nk])
            marks.setdefault(key, []).extend(fk.columns)
            problems.append(
                (
                    key,
                    Problem(
                        st.name,
                        _pk_text(key),
                        ",".join(fk.columns),
                        "orphan",
                        f"no {fk.ref_table} row with {','.join(fk.ref_columns)}="
                        f"{_pk_text(tuple(row[nk:]))}",
                        _pk_text(tuple(row[nk:]))[:60],
                        policy,
                    ),
                )
            )
    return problems, marks
