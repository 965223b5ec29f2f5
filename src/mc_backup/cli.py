"""The `mc-backup` command line: arguments in, exit status out.

  run --reason R      pg_dump -Fc plus a manifest taken in the same snapshot,
                      offsite copy with restic (add only), then local retention
  status [--json]     the last good backup, offsite snapshot, drill and check
  drill               restore a backup into a scratch database, compare every
                      table's row count and content checksum with the
                      manifest, drop it
  restore --confirm DB  in-place restore (safety dump first), verified
  prune               apply the retention policy to the local files only
  check               restic check (integrity of the offsite repository)
  init                check the offsite repository is reachable; create it
  check-config FILE   validate a configuration file (used by Ansible)
  alert-unit UNIT     OnFailure= hook: alert unless the run already did

Exit status: 0 success, 1 failure (alert hook run), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mc_backup.alerts import alert, alert_for_unit, unit_invocation
from mc_backup.backup import run_backup
from mc_backup.config import DEFAULT_PATH, load_config
from mc_backup.context import Context
from mc_backup.errors import BackupError, UsageError
from mc_backup.offsite import check_repository, open_repository
from mc_backup.restore import counts_table, drill, restore_in_place
from mc_backup.retention import prune_now
from mc_backup.status import backup_too_old, status_table

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mc-backup",
        description="PostgreSQL backups that count only when they can be restored.",
    )
    p.add_argument("--config", default=os.environ.get("MC_BACKUP_CONFIG", DEFAULT_PATH))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="take a backup now")
    run.add_argument("--reason", default="manual")
    status = sub.add_parser("status", help="print the status table")
    status.add_argument("--max-age-hours", type=float, help="exit 1 when the last backup is older")
    for name in ("drill", "restore"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--from", dest="source", choices=["local", "offsite"], default="local")
        cmd.add_argument(
            "--backup", default="latest", help="dump file name, snapshot id or 'latest'"
        )
        if name == "restore":
            cmd.add_argument("--confirm", default="", help="the name of the database to overwrite")
            cmd.add_argument("--no-safety-dump", action="store_true")
    sub.add_parser("prune")
    sub.add_parser("check")
    init = sub.add_parser("init")
    init.add_argument(
        "--no-create", action="store_true", help="fail instead of creating a new repository"
    )
    sub.add_parser("check-config").add_argument("file")
    sub.add_parser("alert-unit").add_argument("unit")
    return p


def error(message: str) -> int:
    print(f"mc-backup: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "check-config":
        try:
            load_config(args.file)
        except UsageError as exc:
            return error(str(exc))
        return EXIT_OK
    try:
        ctx = Context.from_config(load_config(args.config))
    except UsageError as exc:
        return error(str(exc))
    try:
        return dispatch(ctx, args)
    except UsageError as exc:
        return error(str(exc))
    except BackupError as exc:
        print(f"mc-backup: FAILED: {exc}", file=sys.stderr)
        alert(ctx, args.command, str(exc), os.environ.get("INVOCATION_ID", ""))
        return EXIT_FAIL


def dispatch(ctx: Context, args: argparse.Namespace) -> int:
    def emit(result: dict, table: str) -> None:
        print(json.dumps(result, indent=2) if args.json else table)

    if args.command == "run":
        run_backup(ctx, args.reason)
        status = ctx.status.load()
        emit(status, status_table(status))
    elif args.command == "status":
        status = ctx.status.load()
        emit(status, status_table(status))
        if args.max_age_hours is not None and backup_too_old(status, args.max_age_hours):
            return EXIT_FAIL
    elif args.command in ("drill", "restore"):
        if args.command == "drill":
            result = drill(ctx, args.source, args.backup)
        else:
            result = restore_in_place(
                ctx, args.source, args.backup, args.confirm, not args.no_safety_dump
            )
        emit(result, counts_table(result))
        if result["result"] != "PASS":
            raise BackupError(result["error"])
    elif args.command == "prune":
        emit(prune_now(ctx), "pruned")
    elif args.command == "check":
        emit(check_repository(ctx), "restic check: PASS")
    elif args.command == "init":
        print(open_repository(ctx, create=not args.no_create))
    elif args.command == "alert-unit":
        alert_for_unit(ctx, args.unit, unit_invocation(args.unit))
    return EXIT_OK
