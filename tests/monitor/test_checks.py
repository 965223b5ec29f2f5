"""Each check against the real thing: HTTP(S) servers on 127.0.0.1, status files,
scripts standing in for nginx-cert-status and systemctl, the file system."""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from mc_monitor import probe_system
from mc_monitor.checks import run_checks
from mc_monitor.config import load_config
from mc_monitor.model import Result

from .conftest import Server

NOW = "2025-03-03T12:00:00Z"


@pytest.fixture
def check(make_config: Callable[..., Path]) -> Callable[..., list[Result]]:
    """The results of one check, configured as given."""

    def run(name: str, settings: dict, **top: object) -> list[Result]:
        return run_checks(load_config(str(make_config({name: settings}, **top))))

    return run


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


# -- the app, directly -------------------------------------------------------------


def test_a_healthy_app(check, serve: Callable[..., Server]) -> None:
    app = serve()
    [result] = check("app_direct", {"url": app.url(), "max_ms": 1000})
    assert result.name == "app_direct" and result.ok
    assert re.fullmatch(r"200 in \d+ ms", result.summary)
    assert app.requests[0]["path"] == "/api/health"


def test_an_error_status_fails(check, serve: Callable[..., Server]) -> None:
    app = serve()
    app.status = 500
    [result] = check("app_direct", {"url": app.url("/api/health?deep=1"), "max_ms": 1000})
    assert not result.ok and re.fullmatch(r"500 in \d+ ms", result.summary)
    assert app.requests[0]["path"] == "/api/health?deep=1"


def test_a_slow_answer_fails(check, serve: Callable[..., Server]) -> None:
    app = serve()
    app.delay = 0.3
    [result] = check("app_direct", {"url": app.url(), "max_ms": 100})
    assert not result.ok
    assert re.fullmatch(r"200 in \d+ ms \(max 100 ms\)", result.summary)
    assert result.value is not None and result.value >= 300


def test_no_answer_within_the_timeout(check, serve: Callable[..., Server]) -> None:
    app = serve()
    app.delay = 3
    [result] = check("app_direct", {"url": app.url()}, timeout_seconds=1)
    assert result == Result("app_direct", False, "no answer within 1 s")


def test_nothing_listening(check, serve: Callable[..., Server]) -> None:
    app = serve()
    app.stop()
    [result] = check("app_direct", {"url": app.url()})
    assert result == Result("app_direct", False, "no answer: connection refused")


# -- the app through nginx ------------------------------------------------------------


def test_through_tls_with_the_server_name(
    check, serve: Callable[..., Server], tls_context: ssl.SSLContext
) -> None:
    edge = serve(tls=tls_context)
    settings = {"url": edge.url(), "server_name": "mc.example.org", "max_ms": 2000}
    [result] = check("app_edge", settings)
    # A self-signed certificate for another name: not this check's business.
    assert result.ok, result.summary
    assert re.fullmatch(r"200 in \d+ ms", result.summary)
    assert edge.server_names == ["mc.example.org"]  # SNI
    assert edge.requests[0]["host"] == "mc.example.org"
    edge.status = 502
    [result] = check("app_edge", settings)
    assert not result.ok and result.summary.startswith("502 in ")


def test_tls_to_a_plain_http_server_fails(check, serve: Callable[..., Server]) -> None:
    app = serve()
    url = app.url().replace("http://", "https://")
    [result] = check("app_edge", {"url": url, "server_name": "mc.example.org"})
    assert not result.ok and result.summary.startswith("no answer: SSLError")


# -- mc-backup's status file ----------------------------------------------------------


def backup_check(check, tmp_path: Path, status: dict | None, **limits: float) -> dict:
    path = tmp_path / "status.json"
    if status is not None:
        path.write_text(json.dumps(status))
    settings = {
        "status_file": str(path),
        "max_age_hours": 26,
        "offsite_max_age_hours": 26,
        "drill_max_age_days": 8,
        **limits,
    }
    return {r.name: r for r in check("backup", settings)}


FRESH = {
    "last_success": {"time": "2025-03-03T10:00:00Z", "file": "x.dump"},
    "last_offsite": {"time": "2025-03-03T09:00:00Z", "snapshot": "1a2b"},
    "last_drill": {"result": "PASS", "time": "2025-03-01T12:00:00Z"},
}


def test_fresh_backups(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_MONITOR_NOW", NOW)
    results = backup_check(check, tmp_path, FRESH)
    assert list(results) == ["backup", "offsite", "drill"]
    assert all(r.ok for r in results.values())
    assert results["backup"].summary == "last good backup 2.0 h ago (max 26 h)"
    assert results["offsite"].summary == "last offsite copy 3.0 h ago (max 26 h)"
    assert results["drill"].summary == "last drill PASS 2.0 d ago (max 8 d)"
    assert (results["backup"].value, results["drill"].value) == (2.0, 2.0)


def test_backups_too_old(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_MONITOR_NOW", "2025-03-10T12:00:00Z")
    results = backup_check(check, tmp_path, FRESH)
    assert not any(r.ok for r in results.values())
    assert results["backup"].summary == "last good backup 170.0 h ago (max 26 h)"
    assert results["drill"].summary == "last drill PASS 9.0 d ago (max 8 d)"


def test_a_failed_drill(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_MONITOR_NOW", NOW)
    drill = {"result": "FAIL", "time": "2025-03-03T11:00:00Z", "error": "row counts\ndiffer"}
    results = backup_check(check, tmp_path, {**FRESH, "last_drill": drill})
    assert results["backup"].ok and results["offsite"].ok
    assert results["drill"] == Result(
        "drill", False, "last drill FAIL 0.0 d ago (max 8 d): row counts differ", 0.04
    )


def test_no_status_file_yet(check, tmp_path: Path) -> None:
    results = backup_check(check, tmp_path, None)
    assert [(r.name, r.ok, r.summary) for r in results.values()] == [
        ("backup", False, "no good backup yet"),
        ("offsite", False, "no offsite copy yet"),
        ("drill", True, "no restore drill yet (no backup yet)"),
    ]


def test_a_missing_drill_is_due_a_drill_period_after_the_first_backup(
    check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new droplet's weekly drill has not run yet: no alert until it is overdue."""
    status = {"last_success": FRESH["last_success"], "first_success": "2025-03-01T10:00:00Z"}
    monkeypatch.setenv("MC_MONITOR_NOW", NOW)
    drill = backup_check(check, tmp_path, status)["drill"]
    assert (drill.ok, drill.summary) == (True, "no restore drill yet (first backup 2.1 d ago)")
    monkeypatch.setenv("MC_MONITOR_NOW", "2025-03-10T12:00:00Z")
    drill = backup_check(check, tmp_path, status)["drill"]
    assert (drill.ok, drill.summary) == (
        False,
        "no restore drill in the 9.1 d since the first backup",
    )


def test_offsite_and_drill_checks_are_optional(check, tmp_path: Path) -> None:
    results = backup_check(check, tmp_path, {}, offsite_max_age_hours=0, drill_max_age_days=0)
    assert list(results) == ["backup"] and results["backup"].summary == "no good backup yet"


def test_a_damaged_status_file(check, tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text("{ half")
    results = backup_check(check, tmp_path, None, drill_max_age_days=0)
    assert [(r.name, r.ok) for r in results.values()] == [("backup", False), ("offsite", False)]
    assert results["backup"].summary.endswith("status.json is not valid JSON")


# -- the certificate --------------------------------------------------------------------


def cert_status(tmp_path: Path, output: str, exit_code: int = 0) -> list[str]:
    return [str(script(tmp_path, "cert-status", f"printf '%s\\n' '{output}'\nexit {exit_code}"))]


def test_enough_days_left(check, tmp_path: Path) -> None:
    status = '{"server_name": "mc.example.org", "state": "ok", "days_left": 63}'
    [result] = check("certificate", {"command": cert_status(tmp_path, status), "min_days": 14})
    assert result == Result("certificate", True, "mc.example.org: 63 days left (min 14)", 63)


def test_too_few_days_left(check, tmp_path: Path) -> None:
    command = cert_status(tmp_path, '{"state": "expiring", "days_left": 9}', 1)
    [result] = check("certificate", {"command": command, "min_days": 14})
    assert result == Result("certificate", False, "9 days left (min 14)", 9)


def test_no_certificate_served(check, tmp_path: Path) -> None:
    command = cert_status(tmp_path, '{"state": "missing", "days_left": -1}', 2)
    [result] = check("certificate", {"command": command, "min_days": 0})
    assert result == Result("certificate", False, "no certificate served", -1)


@pytest.mark.parametrize(
    ("output", "exit_code", "summary"),
    [
        ("garbage", 0, "cert-status printed no JSON status: garbage"),
        ("", 0, "cert-status printed no JSON status: nothing"),
        ('{"state": "ok"}', 0, "cert-status printed no JSON status: {"),
        ('{"days_left": "many"}', 0, "cert-status printed no JSON status: {"),
        ("[1]", 0, "cert-status printed no JSON status: [1]"),
        ("usage: cert-status", 64, "cert-status exited 64: no output"),
    ],
)
def test_a_command_that_misbehaves_is_a_failure(
    check, tmp_path: Path, output: str, exit_code: int, summary: str
) -> None:
    [result] = check("certificate", {"command": cert_status(tmp_path, output, exit_code)})
    assert not result.ok and result.summary.startswith(summary)


def test_a_missing_or_hanging_command(check, tmp_path: Path) -> None:
    [result] = check("certificate", {"command": [str(tmp_path / "absent")]})
    assert result == Result("certificate", False, f"absent not found ({tmp_path / 'absent'})")
    command = [str(script(tmp_path, "hang", "exec sleep 10"))]
    [result] = check("certificate", {"command": command}, timeout_seconds=1)
    assert result == Result("certificate", False, "hang did not finish within 1 s")


# -- the host -------------------------------------------------------------------------


def test_disk_use_against_its_limit(check, tmp_path: Path) -> None:
    [result] = check("disk", {"paths": [str(tmp_path)], "max_percent": 100})
    assert result.name == f"disk:{tmp_path}" and result.ok
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path))} \d+ % used \(max 100 %\), inodes \d+ % \(max 90 %\)",
        result.summary,
    )
    st = os.statvfs(tmp_path)
    if st.f_blocks - st.f_bfree <= 0.01 * st.f_blocks:
        pytest.skip("the temporary folder's file system is (nearly) empty")
    [result] = check("disk", {"paths": [str(tmp_path)], "max_percent": 1})
    assert not result.ok and "(max 1 %)" in result.summary


def test_inode_use_counts_too(check, tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    if not st.f_files or st.f_files - st.f_ffree <= 0.01 * st.f_files:
        pytest.skip("no inode count to exceed here")
    [result] = check("disk", {"paths": [str(tmp_path)], "max_percent": 100, "max_inode_percent": 1})
    assert not result.ok and "(max 1 %)" in result.summary


def test_a_missing_folder_fails_alone(check, tmp_path: Path) -> None:
    results = check("disk", {"paths": [str(tmp_path / "absent"), str(tmp_path)]})
    assert [(r.name, r.ok) for r in results] == [
        (f"disk:{tmp_path / 'absent'}", False),
        (f"disk:{tmp_path}", True),
    ]
    assert results[0].summary == f"{tmp_path / 'absent'}: No such file or directory"


def meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "meminfo"
    path.write_text(text)
    monkeypatch.setattr(probe_system, "MEMINFO", str(path))


def test_memory(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(
        tmp_path,
        monkeypatch,
        "MemTotal:       2000000 kB\nMemFree:         100000 kB\nMemAvailable:    140000 kB\n"
        "HugePages_Total:       0\n",
    )
    [result] = check("memory", {"max_percent": 90})
    assert result == Result("memory", False, "93 % used (max 90 %)", 93.0)
    [result] = check("memory", {"max_percent": 95})
    assert result.ok


def test_a_check_that_raises_is_a_failing_result(
    check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meminfo(tmp_path, monkeypatch, "MemTotal: 2000000 kB\n")  # a kernel without MemAvailable
    [result] = check("memory", {})
    assert result == Result("memory", False, "check failed: KeyError: 'MemAvailable'")


def test_reboot_required(check, tmp_path: Path) -> None:
    flag = tmp_path / "reboot-required"
    [result] = check("reboot", {"file": str(flag)})
    assert result == Result("reboot", True, "no reboot required", 0)
    flag.write_text("*** System restart required ***\n")
    [result] = check("reboot", {"file": str(flag)})
    assert result == Result("reboot", False, "reboot required", 1)
    (tmp_path / "reboot-required.pkgs").write_text("linux-image-amd64\nlibc6\nlibc6\n")
    [result] = check("reboot", {"file": str(flag)})
    assert result.summary == "reboot required by linux-image-amd64, libc6"


def fake_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    script(tmp_path, "systemctl", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def test_failed_units(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_systemctl(
        tmp_path,
        monkeypatch,
        'test "$*" = "list-units --state=failed --plain --no-legend --no-pager" || exit 9\n'
        "echo 'mc-backup@scheduled.service loaded failed failed Mission Control backup'\n"
        "echo '● certbot.service loaded failed failed Certbot'",
    )
    [result] = check("units", {})
    assert result == Result(
        "units", False, "2 failed: mc-backup@scheduled.service, certbot.service", 2
    )


def test_no_failed_units(check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_systemctl(tmp_path, monkeypatch, "exit 0")
    assert check("units", {}) == [Result("units", True, "no failed units", 0)]


def test_systemctl_missing_or_failing(
    check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert check("units", {}) == [Result("units", False, "systemctl not found (systemctl)")]
    fake_systemctl(tmp_path, monkeypatch, "echo 'Failed to connect to bus' >&2; exit 1")
    assert check("units", {}) == [
        Result("units", False, "systemctl exited 1: Failed to connect to bus")
    ]
