"""Restores that prove a backup: the drill (into a scratch database, dropped
after) and the in-place restore (safety dump first); both compare every
table's row count with the backup's manifest."""

from __future__ import annotations

import time
from pathlib import Path

from mc_backup import database
from mc_backup.backup import safety_dump
from mc_backup.clock import hours_since, iso, stamp, utcnow
from mc_backup.context import Context
from mc_backup.errors import UsageError
from mc_backup.fetch import fetch
from mc_backup.log import log


def pg_restore(ctx: Context, dump: Path, dbname: str | None, extra: list[str]) -> float:
    """Seconds pg_restore took."""
    started = time.monotonic()
    ctx.runner.run(
        [
            ctx.config.tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            *extra,
            f"--dbname={ctx.config.conninfo(dbname)}",
            str(dump),
        ],
        what=f"pg_restore of {dump.name}",
    )
    return round(time.monotonic() - started, 3)


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[dict]:
    """One row per table of either side; a table missing on one side is not ok."""
    return [
        {
            "table": table,
            "expected": expected.get(table),
            "restored": actual.get(table),
            "ok": expected.get(table) == actual.get(table),
        }
        for table in sorted(set(expected) | set(actual))
    ]


def verdict(rows: list[dict]) -> str:
    return "PASS" if all(row["ok"] for row in rows) else "FAIL"


def _outcome(what: str, manifest: dict, actual: dict[str, int], **facts: object) -> dict:
    """A restore's result: its facts, the per-table comparison, PASS or FAIL, and
    an error naming the tables whose counts differ from the manifest."""
    rows = compare_counts(manifest["tables"], actual)
    result = {"time": iso(utcnow()), "result": verdict(rows), **facts, "tables": rows}
    if result["result"] != "PASS":
        bad = ", ".join(
            f"{r['table']} {r['expected']}!={r['restored']}" for r in rows if not r["ok"]
        )
        result["error"] = f"{what}: row counts differ from the manifest: {bad}"
    return result


def drill(ctx: Context, source: str, selector: str) -> dict:
    """The result; when it is not PASS, result["error"] says which tables differ."""
    cfg = ctx.config
    started = time.monotonic()
    with ctx.exclusive():
        dump, manifest, label = fetch(ctx, source, selector)
        scratch = f"{cfg.drill_database_prefix}_{stamp(utcnow()).lower()}"
        admin = database.connect(cfg, autocommit=True)
        try:
            for old in database.own_databases_like(admin, cfg.drill_database_prefix):
                log(f"dropping the scratch database of an interrupted drill: {old}")
                database.drop_database(admin, old)
            database.create_database(admin, scratch)
            try:
                restore_seconds = pg_restore(ctx, dump, scratch, [])
                with database.connect(cfg, scratch) as conn:
                    actual = database.count_rows(conn)
            finally:
                database.drop_database(admin, scratch)
        finally:
            admin.close()
        result = _outcome(
            f"restore drill of {label}",
            manifest,
            actual,
            source=source,
            backup=label,
            backup_time=manifest["time"],
            backup_age_hours=round(hours_since(manifest["time"]), 2),
            restore_seconds=restore_seconds,
            duration_seconds=round(time.monotonic() - started, 3),
            scratch_database=scratch,
        )
        ctx.status.update(last_drill={k: v for k, v in result.items() if k != "tables"})
        return result


def restore_in_place(ctx: Context, source: str, selector: str, confirm: str, safety: bool) -> dict:
    """Overwrite the app database with a backup, only when `confirm` is its name."""
    started = time.monotonic()
    with ctx.exclusive():
        current = database.current_database(ctx.config)
        if confirm != current:
            raise UsageError(
                f"in-place restore overwrites database {current!r}: "
                f"pass --confirm {current} (got {confirm!r})"
            )
        dump, manifest, label = fetch(ctx, source, selector)
        safety_entry = None
        if safety:
            safety_entry = safety_dump(ctx)
            log(f"safety dump of the current state: {safety_entry['file']}")
        restore_seconds = pg_restore(
            ctx, dump, None, ["--clean", "--if-exists", "--single-transaction"]
        )
        with database.connect(ctx.config) as conn:
            actual = database.count_rows(conn)
        result = _outcome(
            f"in-place restore of {label}",
            manifest,
            actual,
            source=source,
            backup=label,
            backup_time=manifest["time"],
            restore_seconds=restore_seconds,
            duration_seconds=round(time.monotonic() - started, 3),
            safety_dump=safety_entry,
        )
        ctx.status.update(last_restore={k: v for k, v in result.items() if k != "tables"})
        return result


def counts_table(result: dict) -> str:
    rows = result["tables"]
    width = max([len("table")] + [len(r["table"]) for r in rows])
    lines = [f"{'table':<{width}}  {'manifest':>10}  {'restored':>10}  ok"]
    for r in rows:
        lines.append(
            f"{r['table']:<{width}}  {r['expected']!s:>10}  {r['restored']!s:>10}  "
            f"{'yes' if r['ok'] else 'NO'}"
        )
    lines.append(
        f"{result['result']}: {result['backup']} ({result['source']}), restore "
        f"{result['restore_seconds']} s, total {result['duration_seconds']} s"
    )
    return "\n".join(lines)
