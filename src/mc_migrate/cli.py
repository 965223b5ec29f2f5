"""``mc-migrate {check,run,verify}``: a thin command line over the engine.

Exit status: 0 success with no unresolved problem; 1 problems found, target
differs, or verification mismatch; 2 bad input or environment (one line
``mc-migrate: error: ...`` on stderr).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import TextIO

from mc_migrate import __version__, engine
from mc_migrate.errors import MigrationError
from mc_migrate.preflight import POLICY_ACTIONS
from mc_migrate.report import Report

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


class ProgressBar:
    """One line per table on a terminal: rows, rows/s, ETA (stdlib only)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.table = ""
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, table: str, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if table != self.table:
            self.table, self.t0 = table, now
        if phase in ("indexes", "verify"):
            self.stream.write(
                f"\r\x1b[K{phase}...\n"
                if phase == "verify"
                else "\r\x1b[Kbuilding indexes and foreign keys...\n"
            )
            self.stream.flush()
            return
        if phase != "done" and now - self.last < 0.2:
            return
        self.last = now
        el = max(now - self.t0, 1e-6)
        rate = done / el
        width = 30
        if total:
            frac = min(done / total, 1.0)
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            eta = (total - done) / rate if rate > 0 else 0.0
            text = (
                f"{table:<14} [{bar}] {done:>10,}/{total:,} {rate:>10,.0f} rows/s ETA {eta:5.1f}s"
            )
        else:
            text = f"{table:<14} {done:>10,} rows {rate:>10,.0f} rows/s"
        end = "\n" if phase == "done" else ""
        self.stream.write("\r\x1b[K" + text + end)
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mc-migrate",
        description="Migrate the Mission Control SQLite database to PostgreSQL.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    helps = {
        "check": "pre-flight and plan only (writes nothing)",
        "run": "migrate in one transaction, verified before commit",
        "verify": "compare row counts and checksums of source and target",
    }
    classes = ", ".join(f"{c}={'|'.join(sorted(a))}" for c, a in POLICY_ACTIONS.items())
    for name, text in helps.items():
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--sqlite", required=True, metavar="PATH", help="SQLite database file")
        sp.add_argument(
            "--database-url",
            metavar="URL",
            default=os.environ.get("DATABASE_URL"),
            help="PostgreSQL URL (default: $DATABASE_URL)",
        )
        sp.add_argument("--json", action="store_true", help="print the report as JSON")
        sp.add_argument(
            "--policy",
            action="append",
            default=[],
            metavar="CLASS=ACTION",
            help=f"problem policy (default error). {classes}",
        )
        sp.add_argument(
            "--quarantine",
            metavar="PATH",
            help="JSON-lines file for rows changed or skipped by a policy "
            "(default: SQLITE.quarantine.jsonl)",
        )
        sp.add_argument("--skip-table", action="append", default=[], metavar="TABLE")
        sp.add_argument("--skip-column", action="append", default=[], metavar="TABLE.COLUMN")
        sp.add_argument("--schema", metavar="PATH", help="schema SQL file (default: bundled)")
        sp.add_argument(
            "--integrity",
            choices=["full", "quick", "none"],
            default="quick",
            help="SQLite check before reading: quick = PRAGMA quick_check (default),"
            " full = PRAGMA integrity_check (also cross-checks indexes; slower)",
        )
        if name in ("run", "check"):
            sp.add_argument(
                "--replace",
                action="store_true",
                help="replace a non-empty target that differs from the source",
            )
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _fmt_table(report: Report) -> str:
    head = (
        "table",
        "rows",
        "written",
        "skipped",
        "source checksum",
        "target checksum",
        "match",
        "seconds",
        "rows/s",
        "status",
    )
    rows = [head]
    for t in report.tables:
        rows.append(
            (
                t.table,
                f"{t.source_rows:,}",
                f"{t.rows_written:,}",
                f"{t.rows_skipped:,}",
                t.source_checksum or "-",
                t.target_checksum or "-",
                {True: "yes", False: "NO", None: "-"}[t.match],
                f"{t.seconds:.2f}",
                f"{t.rows_per_second:,.0f}",
                t.status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _print_human(report: Report, out: TextIO) -> None:
    if report.plan and report.command == "check":
        out.write("plan (load order):\n")
        for p in report.plan:
            cols = ", ".join(p["columns"])  # type: ignore[arg-type]
            out.write(f"  {p['table']}: {cols}\n")
    if report.tables:
        out.write(_fmt_table(report) + "\n")
    if report.problems:
        out.write(f"problems ({sum(report.problem_counts.values())}):\n")
        for p in report.problems:
            out.write(f"  {p.line()}\n")
        if report.problems_truncated:
            out.write("  ... (more problems not listed; see --json counts)\n")
    if report.quarantine_path:
        out.write(f"quarantine: {report.quarantined_rows} row(s) in {report.quarantine_path}\n")
    out.write(f"{report.command}: {report.status}: {report.message} ({report.seconds:.1f}s)\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = sys.stderr
    # psycopg logs "error ignored terminating <Copy>" after a lost connection; the
    # engine already turns that into one clear line.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False
    if not args.database_url:
        err.write("mc-migrate: error: no database URL (use --database-url or DATABASE_URL)\n")
        return EXIT_ERROR
    options = engine.Options(
        policies=args.policy,
        quarantine_path=args.quarantine,
        skip_tables=args.skip_table,
        skip_columns=args.skip_column,
        replace=getattr(args, "replace", False),
        schema_path=args.schema,
        integrity=args.integrity,
    )
    progress = None
    if not args.no_progress and err.isatty():
        progress = ProgressBar(err)
    func = {"check": engine.check, "run": engine.run, "verify": engine.verify}[args.command]
    try:
        report = func(args.sqlite, args.database_url, options, progress)
    except MigrationError as exc:
        err.write(f"mc-migrate: error: {exc}\n")
        if args.json:
            print(json.dumps({"ok": False, "status": "error", "error": str(exc), "kind": exc.kind}))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("mc-migrate: error: interrupted; nothing was committed\n")
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_human(report, sys.stdout)
    if not report.ok:
        err.write(f"mc-migrate: error: {report.message}\n")
        return EXIT_PROBLEMS
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
