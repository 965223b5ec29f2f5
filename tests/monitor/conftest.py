"""Fixtures: real HTTP(S) servers on 127.0.0.1 (the app's health endpoint, a
webhook receiver, a dead-man URL), a configuration in a temporary folder, and
an environment without the droplet's secrets or a fake clock."""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

ENV = (
    "MC_MONITOR_NOW",
    "MC_MONITOR_CONFIG",
    "MC_MONITOR_WEBHOOK_URL",
    "MC_MONITOR_DEADMAN_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


class Server:
    """Answers every GET and POST with `status` after `delay` seconds, and keeps
    each request: method, path, Host header and JSON body."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []  # SNI of each TLS handshake
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.answer(self, None)

            def do_POST(self) -> None:
                owner.answer(self, self.rfile.read(int(self.headers["Content-Length"])))

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def answer(self, request: http.server.BaseHTTPRequestHandler, body: bytes | None) -> None:
        self.requests.append(
            {
                "method": request.command,
                "path": request.path,
                "host": request.headers["Host"],
                "type": request.headers["Content-Type"],
                "body": json.loads(body) if body else None,
            }
        )
        time.sleep(self.delay)
        request.send_response(self.status)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    def url(self, path: str = "/api/health") -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_port}{path}"

    @property
    def bodies(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["method"] == "POST"]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start a server (serve() or serve(tls=context)); all stop after the test."""
    servers: list[Server] = []

    def start(tls: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x"),
            *("-days", "2", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a configuration with these checks (and top-level changes); its path."""

    def make(checks: dict, name: str = "config.json", **changes: object) -> Path:
        path = tmp_path / name
        values = {
            "_comment": "written by the tests",
            "host": "mc-droplet",
            "state_dir": str(tmp_path / "state"),
            "repeat_minutes": 0,
            "alert_command": "",
            "timeout_seconds": 2,
            "checks": checks,
            **changes,
        }
        path.write_text(json.dumps(values, indent=2))
        return path

    return make


def state_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "state" / "state.json").read_text())
