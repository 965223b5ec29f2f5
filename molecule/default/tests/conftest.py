"""Runs test_recover.py last (it destroys the droplet and the database); prints
the sandbox figures (systemd-analyze security) and the recovery's report at the
end of the run."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_helpers"))

from exposure import write_table

LAST = "test_recover.py"


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: item.path.name == LAST)  # stable: the rest keep their order


def pytest_terminal_summary(terminalreporter) -> None:
    write_table(terminalreporter)
    report = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "recovery.json"
    if report.exists():
        figures = json.loads(report.read_text())
        terminalreporter.section("recovery (playbooks/recover.yml)")
        terminalreporter.write_line("| recovery time (s) | backup age (min) | tables | rows |")
        terminalreporter.write_line("|---|---|---|---|")
        terminalreporter.write_line(
            f"| {figures['recovery_seconds']} | {figures['backup_age_minutes']} "
            f"| {figures['tables']} | {figures['rows']} |"
        )
