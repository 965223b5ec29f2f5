"""Fixtures of the nginx scenario (defined in edge_helpers, shared with nginx_modern),
and the sandbox figures printed at the end."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_helpers"))

from edge_helpers import _only_droplets, name, sslyze  # noqa: F401
from exposure import write_table


def pytest_terminal_summary(terminalreporter) -> None:
    write_table(terminalreporter)
