"""The configuration file: the documented example loads, and each mistake is one
line that names the key (exit 2 for every command)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from mc_monitor.cli import main
from mc_monitor.config import load_config
from mc_monitor.errors import UsageError

EXAMPLE = {
    "host": "mc-droplet",
    "state_dir": "/var/lib/mc-monitor",
    "repeat_minutes": 0,
    "alert_command": "",
    "timeout_seconds": 10,
    "checks": {
        "app_edge": {
            "url": "https://127.0.0.1/api/health",
            "server_name": "mc.example.org",
            "max_ms": 1000,
        },
        "app_direct": {"url": "http://127.0.0.1:3001/api/health", "max_ms": 500},
        "backup": {
            "status_file": "/var/lib/mc-backup/state/status.json",
            "max_age_hours": 26,
            "offsite_max_age_hours": 26,
            "drill_max_age_days": 8,
        },
        "certificate": {"command": ["/usr/local/sbin/nginx-cert-status"], "min_days": 14},
        "disk": {"paths": ["/", "/var/lib/mc-backup"], "max_percent": 90, "max_inode_percent": 90},
        "memory": {"max_percent": 90},
        "reboot": {"file": "/run/reboot-required"},
        "units": {},
    },
}


def write(tmp_path: Path, raw: object) -> str:
    path = tmp_path / "config.json"
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return str(path)


def with_check(name: str, settings: object) -> dict:
    return {**EXAMPLE, "checks": {**EXAMPLE["checks"], name: settings}}


def error_of(tmp_path: Path, raw: object) -> str:
    with pytest.raises(UsageError) as caught:
        load_config(write(tmp_path, raw))
    return str(caught.value)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.host == "mc-droplet"
    assert config.timeout_seconds == 10
    assert config.state_path == Path("/var/lib/mc-monitor/state.json")
    assert list(config.checks) == list(EXAMPLE["checks"])
    assert config.checks["disk"]["paths"] == ["/", "/var/lib/mc-backup"]


def test_defaults_fill_what_is_left_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"checks": {"memory": {}, "backup": {}}}))
    assert config.host == socket.gethostname()
    assert (config.state_dir, config.repeat_minutes, config.alert_command) == (
        "/var/lib/mc-monitor",
        0,
        "",
    )
    assert config.checks == {
        "backup": {
            "status_file": "/var/lib/mc-backup/state/status.json",
            "max_age_hours": 26,
            "offsite_max_age_hours": 0,
            "drill_max_age_days": 0,
        },
        "memory": {"max_percent": 90},
    }


def test_a_bad_threshold_is_named_with_its_value(tmp_path: Path) -> None:
    raw = with_check("disk", {"paths": ["/"], "max_percent": "abc"})
    assert error_of(tmp_path, raw) == (
        'config: checks.disk.max_percent must be a number between 1 and 100, got "abc"'
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**EXAMPLE, "checks": {"cpu": {}}}, "checks.cpu is not a known check (known: app_edge,"),
        (with_check("memory", {"max_pct": 5}), "checks.memory.max_pct is not a known key"),
        ({**EXAMPLE, "colour": 1}, "colour is not a known key"),
        (with_check("memory", {"max_percent": 101}), "checks.memory.max_percent must be a number"),
        (with_check("memory", {"max_percent": True}), "got true"),
        (with_check("memory", 90), "checks.memory must be an object, got 90"),
        (with_check("app_direct", {"max_ms": 5}), "checks.app_direct.url is missing"),
        (
            with_check("app_edge", {"url": "https://mc.example.org/", "server_name": "x"}),
            "checks.app_edge.url must be a https:// URL to a loopback address",
        ),
        (with_check("app_direct", {"url": "127.0.0.1:3001"}), "must be a http:// URL"),
        (with_check("disk", {"paths": ["var"]}), "checks.disk.paths must be a non-empty list"),
        (with_check("disk", {"paths": []}), "checks.disk.paths must be a non-empty list"),
        (with_check("certificate", {"command": "x --y"}), "checks.certificate.command must be"),
        ({**EXAMPLE, "timeout_seconds": 0}, "timeout_seconds must be a number between 1 and 120"),
        ({**EXAMPLE, "repeat_minutes": -1}, "repeat_minutes must be a number between 0"),
        ({**EXAMPLE, "state_dir": "state"}, "state_dir must be an absolute path"),
        ({"host": "x"}, "checks is missing"),
        ([1, 2], "the file must hold a JSON object"),
    ],
)
def test_each_mistake_names_the_key(tmp_path: Path, raw: object, message: str) -> None:
    error = error_of(tmp_path, raw)
    assert error.startswith("config: ") and message in error
    assert "\n" not in error


def test_comments_are_allowed(tmp_path: Path) -> None:
    raw = {**EXAMPLE, "_comment": "by Ansible", "checks": {"_note": 1, "units": {"_why": "x"}}}
    assert list(load_config(write(tmp_path, raw)).checks) == ["units"]


def test_check_config_exit_status_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, EXAMPLE)
    assert main(["check-config", good]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"

    assert main(["check-config", str(tmp_path / "absent.json")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"mc-monitor: config: cannot read {tmp_path / 'absent.json'}: No such file or directory\n"
    )

    bad = write(tmp_path, '{"checks": {')
    assert main(["check-config", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mc-monitor: config: {bad} is not valid JSON: ")
    assert err.count("\n") == 1

    write(tmp_path, with_check("units", {"failed": True}))
    assert main(["check-config", "--config", bad]) == 2  # FILE defaults to --config
    assert main(["check-config", str(tmp_path / "config.json")]) == 2
    assert "checks.units.failed is not a known key" in capsys.readouterr().err


def test_every_command_refuses_a_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, with_check("disk", {"max_percent": 0}))
    for command in (["run"], ["status"], ["status", "--json"], ["test-alert"]):
        assert main(["--config", bad, *command]) == 2
        assert main([*command, "--config", bad]) == 2
        assert "checks.disk.max_percent must be a number between 1 and 100, got 0" in (
            capsys.readouterr().err
        )
    assert not (tmp_path / "state").exists()


def test_the_config_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_MONITOR_CONFIG", write(tmp_path, {"checks": {}}))
    assert main(["check-config"]) == 0


def test_unknown_commands_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["watch"])
    assert caught.value.code == 2
