#!/usr/bin/python3
"""A webhook receiver for the tests: every POST body, one JSON line each, in the
file named by the first argument (with the time it came and its path)."""

import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8099


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            record = json.loads(body)
        except ValueError:
            record = {"raw": body.decode(errors="replace")}
        record["received"] = datetime.datetime.now(datetime.UTC).isoformat()
        record["path"] = self.path
        with open(LOG, "a") as log:
            log.write(json.dumps(record) + "\n")
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # the dead-man switch pings with GET
        with open(LOG, "a") as log:
            log.write(
                json.dumps(
                    {"ping": self.path, "received": datetime.datetime.now(datetime.UTC).isoformat()}
                )
                + "\n"
            )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", PORT), Receiver).serve_forever()
