"""Runs test_recover.py last (it destroys the droplet and the database); prints
the sandbox figures (systemd-analyze security), the alert delays and the
recovery's report at the end of the run."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_helpers"))

from exposure import write_table

LAST = "test_recover.py"


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: item.path.name == LAST)  # stable: the rest keep their order


def figures_table(terminalreporter, name: str, title: str, columns: dict[str, str]) -> None:
    """A table of one row from a JSON file a test left in the scenario's state folder."""
    report = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / name
    if not report.exists():
        return
    figures = json.loads(report.read_text())
    terminalreporter.section(title)
    terminalreporter.write_line("| " + " | ".join(columns.values()) + " |")
    terminalreporter.write_line("|" + "---|" * len(columns))
    terminalreporter.write_line("| " + " | ".join(str(figures[key]) for key in columns) + " |")


def pytest_terminal_summary(terminalreporter) -> None:
    write_table(terminalreporter)
    figures_table(
        terminalreporter,
        "monitoring.json",
        "monitoring (checks every 10 s)",
        {
            "down_to_alert_s": "app stopped: s to the alert",
            "up_to_recovery_s": "app back: s to the recovery",
        },
    )
    figures_table(
        terminalreporter,
        "recovery.json",
        "recovery (playbooks/recover.yml)",
        {
            "recovery_seconds": "recovery time (s)",
            "backup_age_minutes": "backup age (min)",
            "tables": "tables",
            "rows": "rows",
        },
    )
