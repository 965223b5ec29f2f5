"""The configuration file: what `mc-backup check-config` (the role's validate) accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mc_backup.config import AT_LEAST_ONE, REQUIRED_KEYS, Config, load_config
from mc_backup.errors import UsageError

from .conftest import config_values


def write(tmp_path: Path, values: object) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return str(path)


def rejected(tmp_path: Path, values: object) -> str:
    with pytest.raises(UsageError) as caught:
        load_config(write(tmp_path, values))
    return str(caught.value)


def test_the_roles_file_loads_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    values = config_values(tmp_path)
    cfg = load_config(write(tmp_path, values))
    assert isinstance(cfg, Config)
    assert cfg.service == "mc_test" and cfg.keep_safety == 2 and cfg.pg_dump_args == []
    assert cfg.status_path == tmp_path / "state" / "status.json"
    assert cfg.lock_path == tmp_path / "state" / "lock"


def test_the_key_list_matches_the_roles_template() -> None:
    template = Path(__file__).resolve().parents[2] / "roles/backup/templates/config.json.j2"
    keys = {
        line.split('"')[1] for line in template.read_text().splitlines() if line.startswith('  "')
    }
    assert keys - {"_comment"} == set(REQUIRED_KEYS)


@pytest.mark.parametrize("key", sorted(REQUIRED_KEYS))
def test_every_key_is_required(tmp_path: Path, key: str) -> None:
    values = config_values(tmp_path)
    del values[key]
    assert f"{key} is missing" in rejected(tmp_path, values)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("keep_daily", "7", "keep_daily must be int"),
        ("keep_daily", True, "keep_daily must be int"),
        ("keep_daily", 7.0, "keep_daily must be int"),
        ("service", 3, "service must be str"),
        ("pg_dump_args", "--compress=9", "pg_dump_args must be list"),
        ("pg_dump_args", ["--compress", 9], "pg_dump_args must be a list of strings"),
    ],
)
def test_wrong_types_are_named(tmp_path: Path, key: str, value: object, message: str) -> None:
    assert message in rejected(tmp_path, {**config_values(tmp_path), key: value})


@pytest.mark.parametrize("key", AT_LEAST_ONE)
@pytest.mark.parametrize("value", [0, -3])
def test_counts_below_one_are_rejected(tmp_path: Path, key: str, value: int) -> None:
    message = rejected(tmp_path, {**config_values(tmp_path), key: value})
    assert f"{key} must be at least 1 (got {value})" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    values = {**config_values(tmp_path), "keep_hourly": 0, "keep_weekly": "x"}
    del values["service"]
    message = rejected(tmp_path, values)
    assert message.startswith(f"configuration {tmp_path / 'config.json'}: ")
    assert message.count(";") == 2


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", "3", "null"])
def test_unreadable_or_not_an_object(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(UsageError):
        load_config(str(path))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read configuration"):
        load_config(str(tmp_path / "nope.json"))


def make(tmp_path: Path, **changes: object) -> Config:
    return load_config(write(tmp_path, {**config_values(tmp_path), **changes}))


def test_pg_tools_from_path_or_a_folder(tmp_path: Path) -> None:
    assert make(tmp_path).tool("pg_dump") == "pg_dump"
    cfg = make(tmp_path, pg_bin_dir="/usr/lib/postgresql/17/bin")
    assert cfg.tool("pg_restore") == "/usr/lib/postgresql/17/bin/pg_restore"


def test_conninfo_names_the_service_only(tmp_path: Path) -> None:
    cfg = make(tmp_path)
    assert cfg.conninfo() == "service=mc_test"
    assert cfg.conninfo("scratch") == "service=mc_test dbname=scratch"


def test_host_defaults_to_this_machine(tmp_path: Path) -> None:
    import socket

    assert make(tmp_path, restic_host="").host == socket.gethostname()
    assert make(tmp_path).host == "droplet"


@pytest.mark.parametrize(
    ("repository", "shown"),
    [
        (
            "rest:https://backup:s3cret@rest.example.net:8000/mc",
            "rest:https://backup:***@rest.example.net:8000/mc",
        ),
        ("sftp:backup@host:/srv/restic", "sftp:backup@host:/srv/restic"),
        ("sftp://backup@host:2222//srv/restic", "sftp://backup@host:2222//srv/restic"),
        (
            "s3:https://fra1.digitaloceanspaces.com/b/mc",
            "s3:https://fra1.digitaloceanspaces.com/b/mc",
        ),
        ("", ""),
    ],
)
def test_a_password_in_the_repository_is_never_shown(
    tmp_path: Path, repository: str, shown: str
) -> None:
    cfg = make(tmp_path, restic_repository=repository)
    assert cfg.repository_label == shown
    assert cfg.offsite is bool(repository)
