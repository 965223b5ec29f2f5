"""Restores that prove a backup: the drill (into a scratch database, dropped
after) and the in-place restore (safety dump first); both compare every
table's row count and content checksum with the backup's manifest (row counts
only for a manifest from before checksums)."""

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


def compare_counts(
    expected: dict[str, int],
    actual: dict[str, int],
    expected_sums: dict[str, str] | None = None,
    actual_sums: dict[str, str] | None = None,
) -> list[dict]:
    """One row per table of either side; a table missing on one side is not ok.
    "content": the checksums agree; None without expected_sums (a manifest from
    before checksums), and then only the counts decide."""
    rows = []
    for table in sorted(set(expected) | set(actual)):
        content = None
        if expected_sums is not None:
            content = expected_sums.get(table) == (actual_sums or {}).get(table)
        rows.append(
            {
                "table": table,
                "expected": expected.get(table),
                "restored": actual.get(table),
                "content": content,
                "ok": expected.get(table) == actual.get(table) and content is not False,
            }
        )
    return rows


def verdict(rows: list[dict]) -> str:
    return "PASS" if all(row["ok"] for row in rows) else "FAIL"


def _outcome(
    what: str, manifest: dict, counts: dict[str, int], checksums: dict[str, str], **facts: object
) -> dict:
    """A restore's result: its facts, whether content was checked (the manifest has
    checksums), the per-table comparison, PASS or FAIL, and an error naming the
    tables whose counts differ and, apart, those whose counts agree but whose
    content differs."""
    expected_sums = manifest.get("checksums")
    rows = compare_counts(manifest["tables"], counts, expected_sums, checksums)
    result = {
        "time": iso(utcnow()),
        "result": verdict(rows),
        **facts,
        "content_checked": expected_sums is not None,
        "tables": rows,
    }
    if result["result"] != "PASS":
        problems = []
        bad = [r for r in rows if r["expected"] != r["restored"]]
        if bad:
            problems.append(
                "row counts differ from the manifest: "
                + ", ".join(f"{r['table']} {r['expected']}!={r['restored']}" for r in bad)
            )
        bad = [r for r in rows if r["expected"] == r["restored"] and r["content"] is False]
        if bad:
            problems.append(
                "content differs from the manifest: " + ", ".join(r["table"] for r in bad)
            )
        result["error"] = f"{what}: {'; '.join(problems)}"
    return result


def drill(ctx: Context, source: str, selector: str) -> dict:
    """The result; when it is not PASS, result["error"] says which tables differ
    (in row count or in content)."""
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
                    counts, checksums = database.count_and_checksum(conn)
            finally:
                database.drop_database(admin, scratch)
        finally:
            admin.close()
        result = _outcome(
            f"restore drill of {label}",
            manifest,
            counts,
            checksums,
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
            counts, checksums = database.count_and_checksum(conn)
        result = _outcome(
            f"in-place restore of {label}",
            manifest,
            counts,
            checksums,
            source=source,
            backup=label,
            backup_time=manifest["time"],
            backup_age_hours=round(hours_since(manifest["time"]), 2),
            # The revision that was live when it was taken: what recover.yml deploys.
            release=manifest.get("release", "none"),
            restore_seconds=restore_seconds,
            duration_seconds=round(time.monotonic() - started, 3),
            safety_dump=safety_entry,
        )
        ctx.status.update(last_restore={k: v for k, v in result.items() if k != "tables"})
        return result


def counts_table(result: dict) -> str:
    """Per table: the counts, the content check (yes, NO, or - for a manifest from
    before checksums) and the verdict; then the result line, which says when only
    row counts were compared."""
    rows = result["tables"]
    width = max([len("table")] + [len(r["table"]) for r in rows])
    content = {True: "yes", False: "NO", None: "-"}
    lines = [f"{'table':<{width}}  {'manifest':>10}  {'restored':>10}  content  ok"]
    for r in rows:
        lines.append(
            f"{r['table']:<{width}}  {r['expected']!s:>10}  {r['restored']!s:>10}  "
            f"{content[r['content']]:<7}  {'yes' if r['ok'] else 'NO'}"
        )
    lines.append(
        f"{result['result']}: {result['backup']} ({result['source']}), restore "
        f"{result['restore_seconds']} s, total {result['duration_seconds']} s"
        + ("" if result.get("content_checked", True) else "; row counts only (no checksums)")
    )
    return "\n".join(lines)
