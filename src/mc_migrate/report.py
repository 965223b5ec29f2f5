"""The plain report every engine step returns (``Report.to_dict()`` is JSON-safe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mc_migrate.preflight import Problem


@dataclass
class TableReport:
    table: str
    source_rows: int = 0
    rows_written: int = 0
    rows_skipped: int = 0
    rows_changed: int = 0
    target_rows: int | None = None
    source_checksum: str | None = None
    target_checksum: str | None = None
    match: bool | None = None
    seconds: float = 0.0
    rows_per_second: float = 0.0
    status: str = "planned"  # planned|load|loaded|unchanged|differs|mismatch|verified|empty


@dataclass
class Report:
    command: str
    sqlite_path: str
    target: str  # host:port/dbname, never the URL (mc_migrate.dsn.describe)
    ok: bool = False
    changed: bool = False
    # ok|unchanged|problems|target_differs|mismatch|error
    status: str = "error"
    message: str = ""
    schema_version: int | None = None
    replace: bool = False
    plan: list[dict[str, Any]] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_counts: dict[str, int] = field(default_factory=dict)
    unresolved_problems: int = 0
    problems_truncated: bool = False
    policies: dict[str, str] = field(default_factory=dict)
    quarantine_path: str | None = None
    quarantined_rows: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def finish(self, status: str, message: str, *, changed: bool | None = None) -> None:
        """The step's verdict: ok only for "ok" and "unchanged"."""
        self.status, self.ok, self.message = status, status in ("ok", "unchanged"), message
        if changed is not None:
            self.changed = changed

    def table(self, name: str) -> TableReport | None:
        return next((t for t in self.tables if t.table == name), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = [p.to_dict() for p in self.problems]
        return d
