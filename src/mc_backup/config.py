"""The configuration file the role writes (/etc/mc-backup/config.json), checked on load."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import typing
from pathlib import Path

from mc_backup.errors import UsageError

DEFAULT_PATH = "/etc/mc-backup/config.json"

# A count of 0 would remove every backup.
AT_LEAST_ONE = ("keep_hourly", "keep_daily", "keep_weekly", "keep_safety", "sqlite_keep_days")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every field is a required key of the file; other keys (the role's _comment) are ignored."""

    service: str  # libpq service name of the app database (the user's ~/.pg_service.conf)
    backup_dir: str
    safety_dir: str  # dumps taken before an in-place restore
    state_dir: str  # status.json, the lock, offsite restores
    keep_hourly: int
    keep_daily: int
    keep_weekly: int
    keep_safety: int
    sqlite_dir: str  # the migration's SQLite snapshots
    sqlite_keep_days: int
    release_file: str
    restic_repository: str  # empty: local backups only
    restic_options: list[str]  # restic -o options (the rclone backend's ssh command)
    restic_password_file: str
    restic_env_file: str  # KEY=VALUE secrets: restic's keys, the alert webhook
    restic_check_subset: str  # restic check --read-data-subset; empty: metadata only
    restic_host: str  # empty: this machine's host name
    alert_command: str  # a shell command; empty: none
    drill_database_prefix: str
    pg_dump_args: list[str]
    pg_bin_dir: str  # empty: pg_dump and pg_restore from PATH

    @property
    def offsite(self) -> bool:
        return bool(self.restic_repository)

    @property
    def host(self) -> str:
        return self.restic_host or socket.gethostname()

    @property
    def repository_label(self) -> str:
        """The repository for messages: a password in a rest: URL is not shown."""
        return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", self.restic_repository)

    @property
    def status_path(self) -> Path:
        return Path(self.state_dir) / "status.json"

    @property
    def lock_path(self) -> Path:
        return Path(self.state_dir) / "lock"

    @property
    def restore_dir(self) -> Path:
        """Where an offsite backup is restored to before pg_restore reads it."""
        return Path(self.state_dir) / "restore"

    def tool(self, name: str) -> str:
        return str(Path(self.pg_bin_dir) / name) if self.pg_bin_dir else name

    def conninfo(self, dbname: str | None = None) -> str:
        info = f"service={self.service}"
        return f"{info} dbname={dbname}" if dbname else info


def _json_types() -> dict[str, type]:
    """The JSON type of each key, from the fields (list[str] is a list)."""
    hints = typing.get_type_hints(Config)
    return {
        field.name: typing.get_origin(hints[field.name]) or hints[field.name]
        for field in dataclasses.fields(Config)
    }


REQUIRED_KEYS: dict[str, type] = _json_types()


def problems(raw: object) -> list[str]:
    """What is wrong with a parsed configuration file, one phrase each."""
    if not isinstance(raw, dict):
        return ["must be a JSON object"]
    found = []
    for key, kind in REQUIRED_KEYS.items():
        value = raw.get(key)
        if key not in raw:
            found.append(f"{key} is missing")
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            found.append(f"{key} must be {kind.__name__}")
        elif kind is list and not all(isinstance(item, str) for item in value):
            found.append(f"{key} must be a list of strings")
    for key in AT_LEAST_ONE:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            found.append(f"{key} must be at least 1 (got {value})")
    return found


def load_config(path: str) -> Config:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read configuration {path}: {exc}") from exc
    found = problems(raw)
    if found:
        raise UsageError(f"configuration {path}: " + "; ".join(found))
    return Config(**{key: raw[key] for key in REQUIRED_KEYS})
