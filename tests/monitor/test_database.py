"""The database check against real PostgreSQL servers (the migration tests'
throwaway clusters): verified TLS without a password, and each way it fails."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mc_monitor.checks import run_checks
from mc_monitor.config import load_config
from mc_monitor.model import Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "migrate"))
from pgserver import PgServer, free_port


@pytest.fixture(scope="module")
def tls_server() -> Iterator[PgServer]:
    server = PgServer.start(fast=True, ssl=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[PgServer]:
    server = PgServer.start(fast=True, ssl=False)
    yield server
    server.stop()


@pytest.fixture
def database(make_config: Callable[..., Path]) -> Callable[..., Result]:
    def run(host: str, port: int, ca_file: Path, max_ms: float = 1000) -> Result:
        settings = {"host": host, "port": port, "ca_file": str(ca_file), "max_ms": max_ms}
        [result] = run_checks(load_config(str(make_config({"database": settings}))))
        return result

    return run


def test_verified_tls_with_its_round_trip(database, tls_server: PgServer) -> None:
    result = database("localhost", tls_server.port, tls_server.ca)
    assert result.ok, result.summary
    assert result.summary.startswith(f"localhost:{tls_server.port}: TLS verified in ")
    assert result.value is not None and result.value > 0


def test_slower_than_the_limit_fails(database, tls_server: PgServer) -> None:
    """1 ms, the least limit: a new backend and a TLS handshake take about that."""
    results = [database("localhost", tls_server.port, tls_server.ca, max_ms=1) for _ in range(5)]
    for result in results:
        assert result.ok == (result.value <= 1), result
        assert result.summary.endswith("(max 1 ms)") != result.ok, result
    assert not all(result.ok for result in results), results


def test_a_certificate_from_another_ca_fails(database, tls_server: PgServer) -> None:
    result = database("localhost", tls_server.port, tls_server.wrong_ca)
    assert not result.ok and "certificate not trusted" in result.summary


def test_a_name_the_certificate_does_not_carry_fails(database, tls_server: PgServer) -> None:
    """The server's certificate is for localhost and 127.0.0.1, not for ::1's name."""
    result = database("127.0.0.2", tls_server.port, tls_server.ca)
    assert not result.ok, result.summary


def test_a_server_without_tls_fails(database, plain_server: PgServer, tls_server: PgServer) -> None:
    result = database("127.0.0.1", plain_server.port, tls_server.ca)
    assert result == Result(
        "database", False, f"127.0.0.1:{plain_server.port}: the server does not offer TLS"
    )


def test_nothing_listening_fails(database, tls_server: PgServer) -> None:
    port = free_port()
    result = database("127.0.0.1", port, tls_server.ca)
    assert result == Result("database", False, f"127.0.0.1:{port}: connection refused")
