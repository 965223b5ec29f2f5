"""The host: the certificate nginx serves, disk, memory, a pending reboot, failed units."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

from mc_monitor.describe import failure, one_line
from mc_monitor.model import Result

MEMINFO = "/proc/meminfo"
FAILED_UNITS = ["systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"]


def run(name: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str] | Result:
    """The program's output, or the failing Result that says why there is none."""
    program = Path(argv[0]).name
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    except FileNotFoundError:
        return Result(name, False, f"{program} not found ({argv[0]})")
    except subprocess.TimeoutExpired:
        return Result(name, False, f"{program} did not finish within {timeout:g} s")
    except OSError as exc:
        return Result(name, False, f"{program} could not run: {failure(exc)}")


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1], 120) if lines else "no output"


def certificate(settings: dict, timeout: float) -> list[Result]:
    """nginx-cert-status's JSON: ok with at least min_days left."""
    proc = run("certificate", settings["command"], timeout)
    if isinstance(proc, Result):
        return [proc]
    program = Path(settings["command"][0]).name
    # Its exit status says ok (0), expiring (1) or none served (2): the JSON says it too.
    if proc.returncode not in (0, 1, 2):
        message = f"{program} exited {proc.returncode}: {last_line(proc.stderr)}"
        return [Result("certificate", False, message)]
    try:
        status = json.loads(proc.stdout)
        days = status["days_left"]
        if isinstance(days, bool) or not isinstance(days, int | float):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        shown = one_line(proc.stdout, 60) or "nothing"
        return [Result("certificate", False, f"{program} printed no JSON status: {shown}")]
    if status.get("state") == "missing" or days < 0:
        return [Result("certificate", False, "no certificate served", days)]
    summary = f"{days:g} days left (min {settings['min_days']:g})"
    if isinstance(status.get("server_name"), str) and status["server_name"]:
        summary = f"{status['server_name']}: {summary}"
    return [Result("certificate", days >= settings["min_days"], summary, days)]


def used_percent(path: str) -> tuple[float, float | None]:
    """Blocks used as df counts them (root's reserve is not available), and inodes used
    (None where the file system has no fixed count, as btrfs)."""
    st = os.statvfs(path)
    used = st.f_blocks - st.f_bfree
    blocks = 100 * used / (used + st.f_bavail) if used + st.f_bavail else 0.0
    inodes = 100 * (st.f_files - st.f_ffree) / st.f_files if st.f_files else None
    return blocks, inodes


def one_disk(path: str, max_percent: float, max_inodes: float) -> Result:
    name = f"disk:{path}"
    try:
        blocks, inodes = used_percent(path)
    except OSError as exc:
        return Result(name, False, f"{path}: {exc.strerror or failure(exc)}")
    # Rounded up as df shows it: the table and df agree.
    shown = math.ceil(blocks)
    ok = shown <= max_percent
    summary = f"{path} {shown} % used (max {max_percent:g} %)"
    if inodes is not None:
        shown_inodes = math.ceil(inodes)
        ok = ok and shown_inodes <= max_inodes
        summary += f", inodes {shown_inodes} % (max {max_inodes:g} %)"
    return Result(name, ok, summary, round(blocks, 1))


def disk(settings: dict, timeout: float) -> list[Result]:
    return [
        one_disk(path, settings["max_percent"], settings["max_inode_percent"])
        for path in settings["paths"]
    ]


def memory(settings: dict, timeout: float) -> list[Result]:
    fields = {}
    for line in Path(MEMINFO).read_text().splitlines():
        key, _, rest = line.partition(":")
        if rest.split():
            fields[key.strip()] = int(rest.split()[0])
    total, available = fields["MemTotal"], fields["MemAvailable"]
    percent = 100 * (1 - available / total)
    limit = settings["max_percent"]
    summary = f"{percent:.0f} % used (max {limit:g} %)"
    return [Result("memory", percent <= limit, summary, round(percent, 1))]


def reboot(settings: dict, timeout: float) -> list[Result]:
    flag = Path(settings["file"])
    if not flag.exists():
        return [Result("reboot", True, "no reboot required", 0)]
    try:
        lines = flag.with_name(f"{flag.name}.pkgs").read_text().split()
    except OSError:
        lines = []
    packages = list(dict.fromkeys(lines))
    summary = "reboot required"
    if packages:
        more = f" and {len(packages) - 5} more" if len(packages) > 5 else ""
        summary += f" by {', '.join(packages[:5])}{more}"
    return [Result("reboot", False, summary, 1)]


def units(settings: dict, timeout: float) -> list[Result]:
    proc = run("units", FAILED_UNITS, timeout)
    if isinstance(proc, Result):
        return [proc]
    if proc.returncode != 0:
        message = f"systemctl exited {proc.returncode}: {last_line(proc.stderr)}"
        return [Result("units", False, message)]
    lines = [line.lstrip("●* ").split() for line in proc.stdout.splitlines()]
    failed = [words[0] for words in lines if words]
    if not failed:
        return [Result("units", True, "no failed units", 0)]
    more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    summary = f"{len(failed)} failed: {', '.join(failed[:5])}{more}"
    return [Result("units", False, summary, len(failed))]
