"""systemd-analyze security's overall exposure of a unit (0 safest, 10 least safe),
checked against a ceiling, with every figure printed at the end of the run."""

from __future__ import annotations

import re

# (host, unit, exposure, ceiling) of every check, for the summary table.
MEASURED: list[tuple[str, str, float, float]] = []


def exposure(host, unit: str) -> float:
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert found, out[-500:]
    return float(found.group(1))


def assert_exposure_at_most(host, unit: str, ceiling: float) -> float:
    level = exposure(host, unit)
    MEASURED.append((host.backend.get_hostname(), unit, level, ceiling))
    assert level <= ceiling, f"{unit}: exposure {level} above {ceiling}"
    return level


def write_table(terminalreporter) -> None:
    if not MEASURED:
        return
    write = terminalreporter.write_line
    write("")
    write("systemd-analyze security (0 safest, 10 least safe)")
    write("| host | unit | exposure | ceiling |")
    write("|---|---|---:|---:|")
    for host, unit, level, ceiling in MEASURED:
        write(f"| {host} | {unit} | {level:.1f} | {ceiling:.1f} |")
