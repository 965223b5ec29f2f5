"""The configuration file the role writes (/etc/mc-monitor/config.json), checked on load.

Every key but `checks` and the URLs of the two HTTP checks has a default; a
check runs only when its name is under `checks`. Keys that start with "_" are
comments. Secrets (the webhook and dead-man URLs) are never here: they come
from the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mc_monitor.errors import UsageError

DEFAULT_PATH = "/etc/mc-monitor/config.json"
REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Key:
    valid: Callable[[Any], bool]
    wants: str  # what a valid value is, after "must be"
    default: Any = REQUIRED


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(low: float, high: float, default: Any = REQUIRED) -> Key:
    # NaN, which json.loads accepts, is outside every range.
    return Key(
        lambda v: _is_number(v) and low <= v <= high,
        f"a number between {low:g} and {high:g}",
        default,
    )


def text(default: Any = REQUIRED, *, empty: bool = False) -> Key:
    return Key(
        lambda v: isinstance(v, str) and (empty or bool(v.strip())),
        "a string" if empty else "a non-empty string",
        default,
    )


def _absolute(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/")


def path(default: Any = REQUIRED) -> Key:
    return Key(_absolute, "an absolute path", default)


def paths(default: Any = REQUIRED) -> Key:
    return Key(
        lambda v: (
            isinstance(v, list)
            and bool(v)
            and all(_absolute(p) for p in v)
            and len(set(v)) == len(v)
        ),
        "a non-empty list of distinct absolute paths",
        default,
    )


def argv(default: Any = REQUIRED) -> Key:
    return Key(
        lambda v: isinstance(v, list) and bool(v) and all(isinstance(a, str) and a for a in v),
        "a non-empty list of non-empty strings (a command and its arguments)",
        default,
    )


def _url(value: object, scheme: str, loopback: bool) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return False
    if parts.scheme != scheme or not parts.hostname:
        return False
    if not loopback:
        return True
    try:
        return parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def url(scheme: str, *, loopback: bool = False) -> Key:
    where = " to a loopback address" if loopback else ""
    return Key(lambda v: _url(v, scheme, loopback), f"a {scheme}:// URL{where}")


TOP: dict[str, Key] = {
    "host": text("", empty=True),  # empty: this machine's host name
    "state_dir": path("/var/lib/mc-monitor"),
    "repeat_minutes": number(0, 10080, 0),  # 0: never repeat
    "alert_command": text("", empty=True),  # a shell command; empty: none
    "timeout_seconds": number(1, 120, 10),
}

CHECKS: dict[str, dict[str, Key]] = {
    "app_edge": {
        # Certificates are not verified, so the address must be this machine's.
        "url": url("https", loopback=True),
        "server_name": text(),
        "max_ms": number(1, 60000, 1000),
    },
    "app_direct": {"url": url("http"), "max_ms": number(1, 60000, 1000)},
    "database": {
        "host": text(),
        "port": number(1, 65535, 5432),
        "ca_file": path(),
        "max_ms": number(1, 60000, 1000),
    },
    "backup": {
        "status_file": path("/var/lib/mc-backup/state/status.json"),
        "max_age_hours": number(1, 8760, 26),
        "offsite_max_age_hours": number(0, 8760, 0),  # 0: no offsite check
        "drill_max_age_days": number(0, 366, 0),  # 0: no drill check
    },
    "certificate": {
        "command": argv(["/usr/local/sbin/nginx-cert-status"]),
        "min_days": number(0, 365, 14),
    },
    "disk": {
        "paths": paths(["/"]),
        "max_percent": number(1, 100, 90),
        "max_inode_percent": number(1, 100, 90),
    },
    "memory": {"max_percent": number(1, 100, 90)},
    "reboot": {"file": path("/run/reboot-required")},
    "units": {},
}


@dataclasses.dataclass(frozen=True)
class Config:
    host: str
    state_dir: str
    repeat_minutes: float
    alert_command: str
    timeout_seconds: float
    # The configured checks, in CHECKS' order, every key filled in.
    checks: dict[str, dict[str, Any]]

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir) / "state.json"


def _got(value: object) -> str:
    return json.dumps(value)[:80]


def _section(raw: dict, keys: dict[str, Key], prefix: str, found: list[str]) -> dict[str, Any]:
    """raw's values with defaults filled in; each problem appended to found."""
    values: dict[str, Any] = {}
    for name in raw:
        if name not in keys and not name.startswith("_"):
            known = ", ".join(keys) or "none"
            found.append(f"{prefix}{name} is not a known key (known: {known})")
    for name, key in keys.items():
        if name not in raw:
            if key.default is REQUIRED:
                found.append(f"{prefix}{name} is missing")
            values[name] = key.default
        elif not key.valid(raw[name]):
            found.append(f"{prefix}{name} must be {key.wants}, got {_got(raw[name])}")
        else:
            values[name] = raw[name]
    return values


def problems(raw: object) -> tuple[list[str], dict[str, Any]]:
    """What is wrong with a parsed configuration file (one phrase each), and its values."""
    found: list[str] = []
    if not isinstance(raw, dict):
        return ["the file must hold a JSON object"], {}
    values = _section({k: v for k, v in raw.items() if k != "checks"}, TOP, "", found)
    checks = raw.get("checks")
    if not isinstance(checks, dict):
        what = "is missing" if checks is None else f"must be an object, got {_got(checks)}"
        found.append(f"checks {what}")
        checks = {}
    for name in checks:
        if name not in CHECKS and not name.startswith("_"):
            found.append(f"checks.{name} is not a known check (known: {', '.join(CHECKS)})")
    values["checks"] = {}
    for name, keys in CHECKS.items():
        if name not in checks:
            continue
        if not isinstance(checks[name], dict):
            found.append(f"checks.{name} must be an object, got {_got(checks[name])}")
            continue
        values["checks"][name] = _section(checks[name], keys, f"checks.{name}.", found)
    return found, values


def load_config(path: str) -> Config:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    try:
        raw = json.loads(content)
    except ValueError as exc:
        raise UsageError(f"config: {path} is not valid JSON: {exc}") from None
    found, values = problems(raw)
    if found:
        raise UsageError("config: " + "; ".join(found))
    values["host"] = values["host"] or socket.gethostname()
    return Config(**values)
