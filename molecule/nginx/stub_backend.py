#!/usr/bin/python3
"""Stand-in for the app behind nginx in the role's tests (the real app comes later).

200 JSON on / and /api/*, 404 on /missing, /api/echo-headers returns the request
headers it got. Like the real app behind helmet, it sends its own
Strict-Transport-Security, X-Frame-Options, ... so the tests can prove that nginx
hides them and sends its own exactly once.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream keepalive needs

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Strict-Transport-Security", "max-age=15552000; includeSubDomains")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'")
        self.send_header("Referrer-Policy", "origin")
        self.send_header("X-Powered-By", "Express")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/missing":
            self._send(404, {"error": "not found"})
        elif path == "/api/echo-headers":
            self._send(200, {k.lower(): v for k, v in self.headers.items()})
        elif path == "/api/health":
            self._send(200, {"status": "ok"})
        else:
            # Big enough to be gzipped (nginx: gzip_min_length 256).
            self._send(200, {"status": "ok", "path": self.path, "padding": "x" * 600})

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3001
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
