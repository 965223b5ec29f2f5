"""Prints what the bad-release tests measured, as a table, after the run."""

from __future__ import annotations

from story import BAD_RELEASE_RESULTS


def pytest_terminal_summary(terminalreporter) -> None:
    if not BAD_RELEASE_RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("Bad releases, each deployed 3 times under constant load (requests to 127.0.0.1:3001)")
    write("| release | stopped at | requests | failed | answered by the bad release |")
    write("|---|---|---|---|---|")
    for row in BAD_RELEASE_RESULTS:
        write(
            f"| {row['case']} | {row['stage']} | {row['requests']} | {row['failed']} "
            f"| {row['bad_answers']} |"
        )
