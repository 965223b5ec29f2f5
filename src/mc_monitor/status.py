"""The screen `mc-monitor status` prints: every check's last state."""

from __future__ import annotations

from mc_monitor.state import failing


def headline(state: dict) -> str:
    if not state.get("checks"):
        return "never run: no round has finished yet"
    count = len(failing(state))
    return f"{count} failing" if count else "all ok"


def status_table(state: dict) -> str:
    checks = state.get("checks") or {}
    lines = [headline(state)]
    if not checks:
        return lines[0]
    lines.append(f"last round {state.get('round', '-')}")
    rows = [("check", "state", "since", "summary", "checked")]
    rows += [
        (
            name,
            "ok" if entry.get("ok") else "FAILING",
            str(entry.get("since", "-")),
            str(entry.get("summary", "")),
            str(entry.get("checked", "-")),
        )
        for name, entry in checks.items()
        if isinstance(entry, dict)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines.append("")
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
