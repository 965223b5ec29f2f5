#!/usr/bin/python
"""Ansible module: a thin wrapper over the mc_migrate engine on the host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mc_migrate
short_description: Move Mission Control's SQLite data into PostgreSQL, verified
description:
  - Runs the mc_migrate engine installed on the host by the db_migrate role.
  - In check mode it runs the pre-flight only and returns the plan and the data problems.
  - A real run loads every table in one transaction, verifies row counts and checksums
    before commit, and reports per-table counts, checksums, durations and rows/s.
  - C(changed) is false when the target already held exactly the source data.
options:
  sqlite:
    description: Path of the SQLite file on the host.
    type: path
    required: true
  dsn:
    description: PostgreSQL connection URL (libpq syntax, sslmode and sslrootcert included).
    type: str
    required: true
  command:
    description: C(run) loads (or confirms an identical target), C(verify) compares only.
    type: str
    choices: [run, verify]
    default: run
  engine_path:
    description: Folder or zip archive that holds the mc_migrate package on the host.
    type: path
    required: true
  schema:
    description: Path of the schema file on the host.
    type: path
  policies:
    description: Per-problem-class actions (class to action), for example C(bad_json=null).
    type: dict
    default: {}
  quarantine:
    description: File that receives every row a policy changed or skipped.
    type: path
  skip_tables:
    description: SQLite tables with no target to leave out.
    type: list
    elements: str
    default: []
  skip_columns:
    description: SQLite columns (table.column) with no target to leave out.
    type: list
    elements: str
    default: []
  replace:
    description: Replace a non-empty target that differs from the source.
    type: bool
    default: false
  integrity:
    description:
      - SQLite check before reading.
      - C(full) is PRAGMA integrity_check, C(quick) is quick_check.
    type: str
    choices: [full, quick]
    default: full
author: Mission Control
"""

RETURN = r"""
report:
  description: The engine's report (tables with counts, checksums, seconds, rows/s; problems; plan).
  returned: always
  type: dict
"""

import sys
import traceback

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "sqlite": {"type": "path", "required": True},
            "dsn": {"type": "str", "required": True, "no_log": True},
            "command": {"type": "str", "choices": ["run", "verify"], "default": "run"},
            "engine_path": {"type": "path", "required": True},
            "schema": {"type": "path"},
            "policies": {"type": "dict", "default": {}},
            "quarantine": {"type": "path"},
            "skip_tables": {"type": "list", "elements": "str", "default": []},
            "skip_columns": {"type": "list", "elements": "str", "default": []},
            "replace": {"type": "bool", "default": False},
            "integrity": {"type": "str", "choices": ["full", "quick"], "default": "full"},
        },
        supports_check_mode=True,
    )
    params = module.params
    # No bytecode cache in the installed engine: the next converge would see it.
    sys.dont_write_bytecode = True
    sys.path.insert(0, params["engine_path"])
    try:
        from mc_migrate import engine
        from mc_migrate.errors import MigrationError
    except ImportError as exc:
        module.fail_json(
            msg=f"the mc_migrate engine is not installed in {params['engine_path']}: {exc}"
        )

    options = {
        "policies": params["policies"],
        "quarantine_path": params["quarantine"],
        "skip_tables": params["skip_tables"],
        "skip_columns": params["skip_columns"],
        "replace": params["replace"],
        "schema_path": params["schema"],
        "integrity": params["integrity"],
    }
    step = engine.check if module.check_mode else getattr(engine, params["command"])
    try:
        report = step(params["sqlite"], params["dsn"], options).to_dict()
    except MigrationError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg=f"mc_migrate failed: {exc}", exception=traceback.format_exc())

    if module.check_mode:
        # The pre-flight says what a run would do: load, or nothing.
        changed = report.get("status") != "unchanged"
    else:
        changed = bool(report.get("changed"))
    if not report.get("ok"):
        module.fail_json(
            msg=report.get("message") or "the migration found problems",
            report=report,
            changed=False,
        )
    module.exit_json(changed=changed, report=report)


if __name__ == "__main__":
    main()
