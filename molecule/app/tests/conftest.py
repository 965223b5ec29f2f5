"""Prints what the deploy tests measured, after the run: good deploys' times and a
table of the bad releases."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_helpers"))

from exposure import write_table
from story import BAD_RELEASE_RESULTS, GOOD_DEPLOY_SECONDS


def pytest_terminal_summary(terminalreporter) -> None:
    write_table(terminalreporter)
    write = terminalreporter.write_line
    for name, seconds in GOOD_DEPLOY_SECONDS.items():
        write(f"deploy {name}: {seconds:.0f} s, the gate's soak and the watch included")
    if not BAD_RELEASE_RESULTS:
        return
    write("")
    write("Bad releases, each deployed 3 times under constant load (requests to 127.0.0.1:3001)")
    write("| release | droplet | stopped at | requests | failed | answered by the bad release |")
    write("|---|---|---|---|---|---|")
    for row in BAD_RELEASE_RESULTS:
        write(
            f"| {row['case']} | {row['droplet']} | {row['stage']} | {row['requests']} "
            f"| {row['failed']} | {row['bad_answers']} |"
        )
