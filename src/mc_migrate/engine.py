"""Orchestration of ``check``, ``run`` and ``verify``.

Public API (plain values in, :class:`~mc_migrate.report.Report` out)::

    check(sqlite_path, dsn, options=None, progress=None) -> Report
    run(sqlite_path, dsn, options=None, progress=None) -> Report
    verify(sqlite_path, dsn, options=None, progress=None) -> Report

``options`` is an :class:`Options` or a plain dict with the same keys (what
an Ansible module passes).  Bad input or environment raises
:class:`~mc_migrate.errors.MigrationError` (one-line message); data problems,
a differing target or a checksum mismatch are reported with ``ok=False``.

``run`` does everything in ONE PostgreSQL transaction: advisory lock, schema
apply and version record, truncate (replace mode), COPY of every table in
foreign-key order, index and foreign-key build, sequence setval, verification
(row counts and checksums of what was read vs. what the target returns),
the ``mc_migration`` record and ANALYZE.  Only when all of that succeeded is it
committed, so a kill, a lost connection, a server restart or a failed check
at any moment leaves the target exactly as before (nothing or everything).

``check`` applies the schema inside a transaction that is always rolled back,
so against an empty database the plan is the schema file's tables.  It reads
the source once (converting and hashing every row) and reads a non-empty
target once to say whether a run would load, change nothing, or need replace.

Value problems are found during the load pass (see preflight.py): a strict
run stops sending at the first one, keeps scanning for the full report and
rolls back.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from mc_migrate import __version__
from mc_migrate.dsn import describe
from mc_migrate.errors import MigrationError, OptionsError, TargetError
from mc_migrate.load import ProgressFn, ScanState, TableResult, copy_in_sql, scan_table
from mc_migrate.load import target_checksum as _target_checksum
from mc_migrate.preflight import (
    Plan,
    Problem,
    TablePlan,
    build_plan,
    find_duplicates,
    find_orphans,
    parse_policies,
)
from mc_migrate.report import Report, TableReport
from mc_migrate.sender import ThreadedWriter
from mc_migrate.source import IntegrityCheck, Source
from mc_migrate.target import (
    SchemaFile,
    apply_schema,
    connect,
    drop_keys,
    introspect,
    is_empty,
    load_schema,
    rebuild_keys,
    try_lock,
)


@dataclass
class Options:
    policies: dict[str, str] | list[str] | None = None  # CLASS -> ACTION
    quarantine_path: str | None = None
    skip_tables: list[str] = field(default_factory=list)
    skip_columns: list[str] = field(default_factory=list)  # "table.column"
    replace: bool = False
    schema_path: str | None = None
    integrity: str = "quick"  # quick (PRAGMA quick_check, default)|full (integrity_check)|none
    max_problems: int = 10_000

    @classmethod
    def from_any(cls, value: OptionsLike) -> Options:
        if value is None:
            return cls()
        if isinstance(value, Options):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in value.items() if v is not None})


StrPath = str | os.PathLike[str]
OptionsLike = Options | Mapping[str, Any] | None  # what check, run and verify accept
_Prechecks = dict[str, dict[str, Any]]  # table -> its pre-found problems and parent skips


class _Abort(Exception):
    """Internal: leave the transaction with a rollback, the report is final."""


def _new_report(command: str, sqlite_path: StrPath, dsn: str) -> Report:
    return Report(command=command, sqlite_path=os.fspath(sqlite_path), target=describe(dsn))


@contextlib.contextmanager
def _session(
    command: str,
    sqlite_path: StrPath,
    dsn: str,
    opts: Options,
    *,
    check_now: bool = True,
) -> Iterator[tuple[Report, Source, psycopg.Connection, SchemaFile, dict[str, str]]]:
    """Open both sides; ``check_now=False`` leaves the integrity check to the caller."""
    t0 = time.monotonic()
    policies = parse_policies(opts.policies)
    if opts.integrity not in ("full", "quick", "none"):
        raise OptionsError("integrity must be one of full, quick, none")
    schema = load_schema(opts.schema_path)
    report = _new_report(command, sqlite_path, dsn)
    report.policies = policies
    report.replace = opts.replace
    report.schema_version = schema.version
    t = time.monotonic()
    src = Source(sqlite_path, integrity=opts.integrity if check_now else "none")
    report.phases["open_source"] = round(time.monotonic() - t, 3)
    try:
        conn = connect(dsn)
        try:
            yield report, src, conn, schema, policies
        except psycopg.OperationalError as exc:
            raise TargetError(
                f"lost the PostgreSQL connection during {command}; nothing was committed "
                f"({' '.join(str(exc).split())[:200]})"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise TargetError(f"permission denied: {exc.diag.message_primary}") from None
        except psycopg.Error as exc:
            raise TargetError(
                f"PostgreSQL error during {command}: {' '.join(str(exc).split())[:300]}"
            ) from None
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    finally:
        src.close()
        report.seconds = round(time.monotonic() - t0, 3)


def _phase(report: Report, name: str, t: float) -> float:
    now = time.monotonic()
    report.phases[name] = round(report.phases.get(name, 0.0) + now - t, 3)
    return now


def _finish_problems(report: Report, state: ScanState) -> None:
    report.problems = state.problems
    report.problem_counts = dict(state.counts)
    report.unresolved_problems = state.unresolved
    report.problems_truncated = sum(state.counts.values()) > len(state.problems)
    report.quarantined_rows = state.quarantined


def _prechecks(src: Source, plan: Plan, state: ScanState) -> _Prechecks:
    """SQL-side checks (duplicates, orphans) and cascade wiring, per table."""
    out: _Prechecks = {}
    for fk in plan.foreign_keys:
        if len(fk.columns) == 1 and plan.table(fk.ref_table) is not None:
            state.skipped_values.setdefault(fk.ref_table, {}).setdefault(fk.ref_columns[0], set())
    for tp in plan.tables:
        dups, _skip = find_duplicates(src, tp, state.policies["duplicate"])
        orphans, _marks = find_orphans(src, plan, tp, state.policies["orphan"])
        by_key: dict[tuple[object, ...], list[Problem]] = {}
        for key, p in dups + orphans:
            by_key.setdefault(key, []).append(p)
        parent_skips = [
            (tp.columns.index(fk.columns[0]), fk.ref_table, fk.ref_columns[0])
            for fk in plan.foreign_keys
            if fk.table == tp.name
            and len(fk.columns) == 1
            and fk.columns[0] in tp.columns
            and plan.table(fk.ref_table) is not None
        ]
        out[tp.name] = {"problems": by_key, "parent_skips": parent_skips}
    return out


def _scan_all(
    src: Source,
    plan: Plan,
    state: ScanState,
    pre: _Prechecks,
    progress: ProgressFn | None,
) -> dict[str, TableResult]:
    results = {}
    for tp in plan.tables:
        total = src.count(tp.source.name) if progress else None
        results[tp.name] = _scan_one(src, tp, state, pre, None, progress, total)
    return results


def _open_quarantine(opts: Options, policies: dict[str, str], sqlite_path: str) -> Path | None:
    if all(a == "error" for a in policies.values()):
        return None
    return Path(opts.quarantine_path or f"{sqlite_path}.quarantine.jsonl")


def _table_reports(
    report: Report, plan: Plan, results: dict[str, TableResult], status: str
) -> None:
    report.tables = []
    for tp in plan.tables:
        r = results.get(tp.name)
        tr = TableReport(tp.name, status=status)
        if r is not None:
            tr.source_rows = r.rows_read
            tr.rows_written = r.rows_written
            tr.rows_skipped = r.rows_skipped
            tr.rows_changed = r.rows_changed
            tr.source_checksum = r.checksum.hexdigest
            tr.seconds = round(r.seconds, 3)
            tr.rows_per_second = round(r.rows_read / r.seconds, 1) if r.seconds > 0 else 0.0
        report.tables.append(tr)


def _compare_target(
    conn: psycopg.Connection, report: Report, plan: Plan, results: dict[str, TableResult]
) -> list[str]:
    """Fill target checksums; return the names of tables that differ."""
    differ = []
    for tp in plan.tables:
        tr = report.table(tp.name)
        assert tr is not None
        t0 = time.monotonic()
        tcs = _target_checksum(conn, tp, plain=results[tp.name].plain)
        tr.seconds = round(tr.seconds + time.monotonic() - t0, 3)
        tr.target_rows = tcs.rows
        tr.target_checksum = tcs.hexdigest
        tr.match = tcs == results[tp.name].checksum
        if not tr.match:
            differ.append(tp.name)
    return differ


def _plan_and_prechecks(
    report: Report,
    src: Source,
    conn: psycopg.Connection,
    opts: Options,
    policies: dict[str, str],
) -> tuple[Plan, ScanState, _Prechecks]:
    plan = build_plan(src.tables(), introspect(conn), opts.skip_tables, opts.skip_columns)
    report.plan = [tp.to_dict() for tp in plan.tables]
    state, pre = _scan_state(src, plan, policies, opts)
    return plan, state, pre


def _scan_state(
    src: Source, plan: Plan, policies: dict[str, str], opts: Options
) -> tuple[ScanState, _Prechecks]:
    """A fresh scan state holding the mapping problems, and its prechecks."""
    state = ScanState(policies, max_problems=opts.max_problems)
    for p in plan.problems:
        state.add(p)
    return state, _prechecks(src, plan, state)


def _set_statuses(report: Report, differ: list[str], *, differs: str, matches: str) -> None:
    for tr in report.tables:
        tr.status = differs if tr.table in differ else matches


def check(
    sqlite_path: StrPath, dsn: str, options: OptionsLike = None, progress: ProgressFn | None = None
) -> Report:
    """Pre-flight and plan only; never changes the target."""
    opts = Options.from_any(options)
    with _session("check", sqlite_path, dsn, opts) as (report, src, conn, schema, policies):
        with conn.transaction(force_rollback=True):
            try_lock(conn)
            t = time.monotonic()
            apply_schema(conn, schema)
            plan, state, pre = _plan_and_prechecks(report, src, conn, opts, policies)
            t = _phase(report, "plan", t)
            results = _scan_all(src, plan, state, pre, progress)
            t = _phase(report, "scan", t)
            _table_reports(report, plan, results, "load")
            nonempty = [tp.name for tp in plan.tables if not is_empty(conn, tp.name)]
            differ = []
            if nonempty:
                differ = _compare_target(conn, report, plan, results)
                _set_statuses(report, differ, differs="differs", matches="unchanged")
                _phase(report, "target_scan", t)
        _finish_problems(report, state)
        if state.failed:
            report.finish("problems", f"{state.unresolved} problem(s) found; a run would stop")
        elif differ and not opts.replace:
            report.finish(
                "target_differs",
                "target is not empty and differs from the source in "
                f"{', '.join(differ)}; a run needs replace mode",
            )
        elif nonempty and not differ:
            report.finish("unchanged", "target already holds exactly the source data")
        else:
            load = "(replacing the target data)" if differ else "the empty target"
            report.finish("ok", f"pre-flight passed; a run would load {load}")
    return report


def verify(
    sqlite_path: StrPath, dsn: str, options: OptionsLike = None, progress: ProgressFn | None = None
) -> Report:
    """Compare row counts and checksums of source and target; read-only.

    The target is read in one REPEATABLE READ READ ONLY transaction, so every
    table is compared as of the same moment even while the target is in use.
    """
    opts = Options.from_any(options)
    with _session("verify", sqlite_path, dsn, opts) as (report, src, conn, _schema, policies):
        with conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            plan, state, pre = _plan_and_prechecks(report, src, conn, opts, policies)
            results = _scan_all(src, plan, state, pre, progress)
            _table_reports(report, plan, results, "verified")
            differ = _compare_target(conn, report, plan, results)
            _set_statuses(report, differ, differs="mismatch", matches="verified")
        _finish_problems(report, state)
        if plan.problems:
            report.finish("problems", "the source does not map onto the target schema")
        elif differ:
            report.finish("mismatch", f"target differs from the source in: {', '.join(differ)}")
        else:
            report.finish("ok", "target matches the source (row counts and checksums)")
    return report


def run(
    sqlite_path: StrPath, dsn: str, options: OptionsLike = None, progress: ProgressFn | None = None
) -> Report:
    """Migrate in one transaction; see the module docstring.

    The SQLite integrity check runs in a thread while the server builds the
    indexes and verifies (see :class:`~mc_migrate.source.IntegrityCheck`); it
    must pass before the commit, and a corrupt file is the error reported
    whatever else went wrong.
    """
    opts = Options.from_any(options)
    with _session("run", sqlite_path, dsn, opts, check_now=False) as (
        report,
        src,
        conn,
        schema,
        policies,
    ):
        integrity = (
            IntegrityCheck(src.path, quick=opts.integrity == "quick")
            if opts.integrity != "none"
            else None
        )
        qpath = _open_quarantine(opts, policies, os.fspath(sqlite_path))
        try:
            with conn.transaction():
                _run_in_tx(report, src, conn, schema, policies, opts, qpath, progress, integrity)
        except _Abort:
            report.changed = False
            if integrity is not None:
                integrity.result()
        except (MigrationError, psycopg.Error):
            if integrity is not None:
                integrity.result()
            raise
    return report


def _run_in_tx(
    report: Report,
    src: Source,
    conn: psycopg.Connection,
    schema: SchemaFile,
    policies: dict[str, str],
    opts: Options,
    qpath: Path | None,
    progress: ProgressFn | None,
    integrity: IntegrityCheck | None,
) -> None:
    t = time.monotonic()
    try_lock(conn)
    apply_schema(conn, schema)
    plan, state, pre = _plan_and_prechecks(report, src, conn, opts, policies)
    t = _phase(report, "plan", t)

    def fail_problems(results: dict[str, TableResult]) -> None:
        _table_reports(report, plan, results, "problems")
        _finish_problems(report, state)
        report.finish(
            "problems", f"{state.unresolved} problem(s) found; nothing was written to the target"
        )
        raise _Abort

    nonempty = [tp.name for tp in plan.tables if not is_empty(conn, tp.name)]
    if nonempty:
        results = _scan_all(src, plan, state, pre, progress)
        t = _phase(report, "scan", t)
        if state.failed:
            fail_problems(results)
        _table_reports(report, plan, results, "planned")
        differ = _compare_target(conn, report, plan, results)
        t = _phase(report, "target_scan", t)
        if not differ:
            for tr in report.tables:
                tr.status = "unchanged"
            _finish_problems(report, state)
            report.finish(
                "unchanged",
                "target already holds exactly the source data; nothing changed",
                changed=False,
            )
            raise _Abort
        if not opts.replace:
            _finish_problems(report, state)
            _set_statuses(report, differ, differs="differs", matches="unchanged")
            report.finish(
                "target_differs",
                "target is not empty and differs from the source in "
                f"{', '.join(differ)}; use replace mode to overwrite it",
            )
            raise _Abort
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                sql.SQL(", ").join(sql.Identifier(tp.name) for tp in plan.tables)
            )
        )
        state, pre = _scan_state(src, plan, policies, opts)
        t = _phase(report, "truncate", t)

    # Keys, secondary indexes and foreign keys are rebuilt after the load (fastest).
    deferred = drop_keys(conn, [tp.name for tp in plan.tables], plan.foreign_keys)
    freeze = _truncate_for_freeze(conn, plan)
    t = _phase(report, "drop_indexes", t)

    results: dict[str, TableResult] = {}
    qfile = qpath.open("w", encoding="utf-8") if qpath is not None else None
    state.quarantine = qfile
    try:
        for tp in plan.tables:
            total = src.count(tp.source.name) if progress else None
            with conn.cursor() as cur:
                if state.failed:
                    copy = None
                    results[tp.name] = _scan_one(src, tp, state, pre, None, progress, total)
                else:
                    writer = ThreadedWriter(cur)  # conversion goes on while libpq sends
                    with cur.copy(copy_in_sql(tp, freeze=freeze), writer=writer) as copy:
                        results[tp.name] = _scan_one(src, tp, state, pre, copy, progress, total)
    finally:
        if qfile is not None:
            qfile.close()
    t = _phase(report, "load", t)
    if state.failed:
        fail_problems(results)
    if qpath is not None and state.quarantined:
        report.quarantine_path = str(qpath)
    elif qpath is not None:
        with contextlib.suppress(OSError):
            qpath.unlink()

    if integrity is not None:
        integrity.start()  # the client is idle until the verification is done
    if progress:
        progress("", "indexes", 0, None)
    rebuild_keys(conn, deferred)
    for tp in plan.tables:
        for cname in tp.columns:
            seq = tp.target.columns[cname].serial_seq
            if seq:
                conn.execute(
                    sql.SQL("SELECT setval(%s, COALESCE(max({}), 0) + 1, false) FROM {}").format(
                        sql.Identifier(cname), sql.Identifier(tp.name)
                    ),
                    (seq,),
                )
    t = _phase(report, "indexes", t)

    if progress:
        progress("", "verify", 0, None)
    _table_reports(report, plan, results, "loaded")
    differ = _compare_target(conn, report, plan, results)
    t = _phase(report, "verify", t)
    if integrity is not None:
        integrity.result()
        t = _phase(report, "integrity_wait", t)
    _finish_problems(report, state)
    if differ:
        _set_statuses(report, differ, differs="mismatch", matches="loaded")
        report.finish(
            "mismatch",
            f"verification failed for {', '.join(differ)}: rolled back, nothing committed",
        )
        raise _Abort
    for tr in report.tables:
        tr.status = "loaded"
    conn.execute(
        "INSERT INTO mc_migration (source_path, source_size, schema_version, engine_version,"
        " tables) VALUES (%s, %s, %s, %s, %s::jsonb)",
        (
            str(src.path.resolve()),
            src.size,
            schema.version,
            __version__,
            _tables_json(report),
        ),
    )
    for tp in plan.tables:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(tp.name)))
    t = _phase(report, "analyze", t)
    total_rows = sum(tr.rows_written for tr in report.tables)
    report.finish(
        "ok", f"migrated {total_rows} rows in {len(report.tables)} tables; verified", changed=True
    )


def _truncate_for_freeze(conn: psycopg.Connection, plan: Plan) -> bool:
    """Truncate the (empty) target tables in this transaction so COPY can FREEZE.

    Rows loaded with FREEZE are written frozen and their pages all-visible, which
    spares the index builds, the verification and later readers the per-row
    visibility work.  A table that cannot be truncated (a foreign key from a
    table outside the plan, no TRUNCATE privilege) just loads without FREEZE.
    """
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("TRUNCATE {}").format(
                    sql.SQL(", ").join(sql.Identifier(tp.name) for tp in plan.tables)
                )
            )
    except (psycopg.errors.FeatureNotSupported, psycopg.errors.InsufficientPrivilege):
        return False
    return True


def _tables_json(report: Report) -> str:
    import json

    return json.dumps(
        {
            tr.table: {"rows": tr.rows_written, "checksum": tr.source_checksum}
            for tr in report.tables
        }
    )


def _scan_one(
    src: Source,
    tp: TablePlan,
    state: ScanState,
    pre: _Prechecks,
    copy: psycopg.Copy | None,
    progress: ProgressFn | None,
    total: int | None,
) -> TableResult:
    return scan_table(
        src,
        tp,
        state,
        dup_problems=pre[tp.name]["problems"],
        parent_skips=pre[tp.name]["parent_skips"],
        copy=copy,
        progress=progress,
        total=total,
    )


__all__ = ["MigrationError", "Options", "Report", "check", "run", "verify"]
