"""The database URL: the TLS rule before any connection, and no secret in any
message whatever the input (mc_migrate.dsn, and the command line around it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from sqlitedb import make_db

from mc_migrate.dsn import check_tls, describe, parse, where
from mc_migrate.errors import TargetError
from mc_migrate.target import connect

SECRET = "S3cretPw"
# Pieces a password split by a stray "/" or "@" would leave in a host or a name.
PIECES = ("S3cret", "Pw9")


@pytest.mark.parametrize("mode", [None, "disable", "allow", "prefer", "require"])
def test_a_remote_server_without_verified_tls_is_refused_before_connecting(mode):
    url = f"postgresql://mc:{SECRET}@db.example.invalid:25060/mc"
    url += f"?sslmode={mode}" if mode else ""
    with pytest.raises(TargetError) as err:
        connect(url)  # no name lookup, no connection: refused first
    text = str(err.value)
    assert "db.example.invalid:25060/mc" in text and "sslmode=verify-full" in text
    assert f"sslmode={mode or 'prefer'}" in text
    assert SECRET not in text


@pytest.mark.parametrize("mode", ["verify-full", "verify-ca"])
def test_a_verifying_mode_passes_the_rule(mode):
    check_tls(parse(f"postgresql://mc:{SECRET}@db.example.invalid/mc?sslmode={mode}"))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://mc:pw@127.0.0.1:5432/mc",
        "postgresql://mc:pw@127.8.9.10/mc?sslmode=disable",
        "postgresql://mc:pw@[::1]:5432/mc",
        "postgresql://mc:pw@localhost/mc?sslmode=require",
        "postgresql:///mc?host=/var/run/postgresql",
        "host=/tmp port=5433 dbname=mc user=mc",
        "dbname=mc user=mc",
    ],
)
def test_this_machine_may_go_without_tls(url):
    check_tls(parse(url))


def test_a_remote_host_among_local_ones_is_still_remote():
    with pytest.raises(TargetError, match="sslmode=verify-full"):
        check_tls(parse("host=127.0.0.1,db.example.invalid dbname=mc"))


def test_an_unknown_sslmode_is_named_as_such_not_as_a_tls_failure():
    with pytest.raises(TargetError) as err:
        parse(f"postgresql://mc:{SECRET}@db.example.invalid/mc?sslmode=bogus")
    assert "sslmode=bogus is not a mode libpq knows" in str(err.value)
    assert "TLS failure" not in str(err.value) and SECRET not in str(err.value)


# A password in every position a mistyped or unescaped URL can put it.
MALFORMED = [
    f"postgresql:/mc:{SECRET}@db.example.invalid/mc",  # one slash
    f"postgres//mc:{SECRET}@db.example.invalid/mc",  # no colon
    f"postgresql://mc:{SECRET[:6]}/{SECRET[6:]}9@db.example.invalid/mc",  # "/" in it
    f"postgresql://mc:{SECRET[:6]}@{SECRET[6:]}9@db.example.invalid/mc",  # "@" in it
    f"postgresql://mc:{SECRET[:6]}?{SECRET[6:]}9@db.example.invalid/mc",  # "?" in it
    f"postgresql://mc:{SECRET[:6]}#{SECRET[6:]}9@db.example.invalid/mc",  # "#" in it
    f"postgresql://mc:{SECRET}@db.example.invalid:port/mc",  # a bad port
    f"postgresql://mc@db.example.invalid/mc?password={SECRET}&sslmode=what ever",
    f"postgresql://mc@db.example.invalid/mc?password={SECRET}&bogus=1",
    f"host=db.example.invalid password={SECRET} dbname",  # key without a value
    f"host=db.example.invalid password='{SECRET} dbname=mc",  # unclosed quote
    f"mysql://mc:{SECRET}@db.example.invalid/mc",
    f"{SECRET}",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_no_message_shows_a_password_whatever_the_url(url):
    with pytest.raises(TargetError) as err:
        connect(url)
    for text in (str(err.value), describe(url)):
        assert SECRET not in text and not any(p in text for p in PIECES), text


def test_messages_name_host_port_and_database():
    info = parse(f"postgresql://mc:{SECRET}@db.example.invalid:25060/mission_control")
    assert where(info) == "db.example.invalid:25060/mission_control"
    assert describe("host=/run/postgresql dbname=mc") == "socket /run/postgresql/mc"


@pytest.mark.parametrize("url", [*MALFORMED[:4], MALFORMED[7]])
def test_the_command_line_prints_no_password(tmp_path: Path, url):
    src = make_db(tmp_path / "src.db")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), DATABASE_URL=url)
    for args in (["check", "--sqlite", str(src)], ["check", "--sqlite", str(src), "--json"]):
        p = subprocess.run(
            [sys.executable, "-m", "mc_migrate", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert p.returncode == 2, p.stdout + p.stderr
        out = p.stdout + p.stderr
        assert SECRET not in out and not any(piece in out for piece in PIECES), out
