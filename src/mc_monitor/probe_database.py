"""The managed database: reachable, and speaking TLS with the certificate its CA
signed for its name, without a password (the monitoring user has none).

PostgreSQL's own start of TLS: the client sends an SSLRequest, the server answers
S (or N: no TLS), then the TLS handshake runs on the same connection. The round
trip is the time from the TCP connect to the end of the handshake.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

from mc_monitor.describe import failure
from mc_monitor.model import Result

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class NoTLS(Exception):
    """The server answered the SSLRequest with N, or not at all."""


def handshake(host: str, port: int, ca_file: str, timeout: float) -> float:
    """Milliseconds for connect, SSLRequest and a verified TLS handshake."""
    tls = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the name
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.sendall(SSL_REQUEST)
        if raw.recv(1) != b"S":
            raise NoTLS
        with tls.wrap_socket(raw, server_hostname=host):
            return (time.monotonic() - started) * 1000


def database(settings: dict, timeout: float) -> list[Result]:
    host, port = settings["host"], int(settings["port"])
    where = f"{host}:{port}"
    try:
        ms = handshake(host, port, settings["ca_file"], timeout)
    except ssl.SSLCertVerificationError as exc:
        why = exc.verify_message or "verification failed"
        return [Result("database", False, f"{where}: certificate not trusted ({why})")]
    except NoTLS:
        return [Result("database", False, f"{where}: the server does not offer TLS")]
    except TimeoutError:
        return [Result("database", False, f"{where}: no answer within {timeout:g} s")]
    except (OSError, ssl.SSLError) as exc:
        return [Result("database", False, f"{where}: {failure(exc)}")]
    summary = f"{where}: TLS verified in {ms:.0f} ms"
    if ms > settings["max_ms"]:
        summary += f" (max {settings['max_ms']:g} ms)"
    return [Result("database", ms <= settings["max_ms"], summary, round(ms, 1))]
