"""Prints the sandbox figures (systemd-analyze security) at the end of the run."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_helpers"))

from exposure import write_table


def pytest_terminal_summary(terminalreporter) -> None:
    write_table(terminalreporter)
