"""The app's health endpoint: directly (app_direct), and through nginx (app_edge)."""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.parse

from mc_monitor.describe import failure
from mc_monitor.model import Result


class NamedTLSConnection(http.client.HTTPSConnection):
    """TLS to an address, with another name in SNI (as a browser asks nginx).

    The certificate is not verified, on purpose: the connection never leaves this
    machine (the configuration accepts loopback addresses only), and whether the
    certificate is valid is the certificate check's job, which warns days ahead
    instead of failing every request from the minute it expires.
    """

    def __init__(self, host: str, port: int, server_name: str, timeout: float) -> None:
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.server_name)


def get(url: str, timeout: float, server_name: str = "") -> tuple[int, float]:
    """The status of a GET and the milliseconds until its whole answer was read."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": "mc-monitor", "Connection": "close"}
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = NamedTLSConnection(host, parts.port or 443, server_name or host, timeout)
    else:
        connection = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
    if server_name:
        headers["Host"] = server_name
    started = time.monotonic()
    try:
        connection.request("GET", target, headers=headers)
        with connection.getresponse() as response:
            response.read()
            return response.status, (time.monotonic() - started) * 1000
    finally:
        connection.close()


def health(name: str, url: str, max_ms: float, timeout: float, server_name: str = "") -> Result:
    """ok: status 200 within max_ms."""
    try:
        status, ms = get(url, timeout, server_name)
    except TimeoutError:
        return Result(name, False, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Result(name, False, f"no answer: {failure(exc)}")
    summary = f"{status} in {ms:.0f} ms"
    if ms > max_ms:
        summary += f" (max {max_ms:g} ms)"
    return Result(name, status == 200 and ms <= max_ms, summary, round(ms, 1))


def app_edge(settings: dict, timeout: float) -> list[Result]:
    return [
        health("app_edge", settings["url"], settings["max_ms"], timeout, settings["server_name"])
    ]


def app_direct(settings: dict, timeout: float) -> list[Result]:
    return [health("app_direct", settings["url"], settings["max_ms"], timeout)]
