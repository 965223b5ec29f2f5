"""Requests to the URLs of the secrets file (webhook, dead-man), which may hold a token.

Nothing here prints a URL or an exception's message: urllib's and http.client's
messages may quote the URL (an invalid one, a host that does not resolve), so a
failure is described in words built here.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import urllib.error
import urllib.request


def reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, ssl.SSLError):
        # OpenSSL's reason code (CERTIFICATE_VERIFY_FAILED), never the host.
        return f"TLS error {exc.reason}" if isinstance(exc.reason, str) else "TLS error"
    if isinstance(exc, ValueError | http.client.InvalidURL):  # e.g. "unknown url type: ..."
        return "malformed URL"
    if isinstance(exc, OSError) and exc.errno and exc.errno > 0:
        return os.strerror(exc.errno)
    return type(exc).__name__


def call(url: str, payload: dict | None, timeout: float) -> str | None:
    """GET the URL, or POST payload to it as JSON; None when it answered (1xx-3xx), else
    why not. Never raises."""
    try:
        headers = {"User-Agent": "mc-monitor"}
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1 << 16)
    except Exception as exc:
        return reason(exc, timeout)
    return None
