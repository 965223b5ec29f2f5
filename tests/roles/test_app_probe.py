"""mc-app-probe (the app role's health probe) against a real HTTP server on
loopback whose health the test scripts, and a PM2 CLI stand-in whose workers
the test changes (the real PM2 is watched in molecule/app)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "roles" / "app" / "files" / "mc-app-probe"


class App:
    """Healthy from `healthy_from` s after start until `sick_from` s after start."""

    def __init__(self, healthy_from: float = 0, sick_from: float = 1e9, release: str = "r1"):
        self.started = time.monotonic()
        self.healthy_from, self.sick_from, self.release = healthy_from, sick_from, release
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                age = time.monotonic() - app.started
                ok = app.healthy_from <= age < app.sick_from
                body = json.dumps({"status": "ok" if ok else "sick", "release": app.release})
                self.send_response(200 if ok else 500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    apps: list[App] = []

    def start(**kwargs) -> App:
        apps.append(App(**kwargs))
        return apps[-1]

    yield start
    for app in apps:
        app.close()


def probe(*args: str) -> tuple[int, dict]:
    run = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=60
    )
    return run.returncode, json.loads(run.stdout)


def test_healthy_through_the_soak(serve):
    app = serve()
    rc, out = probe("--url", app.url, "--timeout", "5", "--soak", "2")
    assert rc == 0 and out["healthy"], out
    assert out["seconds"] >= 2 and out["tries"] >= 4


def test_a_slow_start_is_waited_for(serve):
    app = serve(healthy_from=1.5)
    rc, out = probe("--url", app.url, "--timeout", "5", "--count", "3")
    assert rc == 0, out


def test_sick_after_the_first_answer_fails_at_once(serve):
    app = serve(sick_from=1.0)
    rc, out = probe("--url", app.url, "--timeout", "30", "--count", "6", "--soak", "10")
    assert rc == 1 and "unhealthy again" in out["last"] and "HTTP 500" in out["last"], out
    assert out["seconds"] < 5, out  # not after the timeout or the soak


def test_never_healthy_fails_at_the_timeout(serve):
    app = serve(healthy_from=1e9)
    rc, out = probe("--url", app.url, "--timeout", "2")
    assert rc == 1 and "not healthy after 2 s" in out["last"], out


def test_an_answer_from_another_release_is_not_healthy(serve):
    app = serve(release="old")
    rc, out = probe("--url", app.url, "--timeout", "2", "--release", "new")
    assert rc == 1 and "answered by release old, expected new" in out["last"], out


PM2_STANDIN = r"""#!/usr/bin/env python3
# Prints a jlist of two workers; from the N-th call on (N in calls.limit),
# worker 1 has a new pid and one more restart, as after a crash.
import json, pathlib, sys
here = pathlib.Path(sys.argv[0]).parent
count = here / "calls"
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
crashed = n >= int((here / "calls.limit").read_text())
def worker(pm_id, pid, restarts):
    env = {"status": "online", "restart_time": restarts, "unstable_restarts": 0}
    return {"name": "mission-control", "pm_id": pm_id, "pid": pid, "pm2_env": env}
print(json.dumps([worker(0, 100, 1), worker(1, 201 if crashed else 101, 2 if crashed else 1)]))
"""


def pm2_standin(tmp_path: Path, crash_at_call: int) -> str:
    cli = tmp_path / "pm2-standin"
    cli.write_text(PM2_STANDIN)
    cli.chmod(0o755)
    (tmp_path / "calls.limit").write_text(str(crash_at_call))
    return str(cli)


def test_a_pm2_worker_restart_during_the_watch_fails_it(serve, tmp_path):
    app = serve()
    cli = pm2_standin(tmp_path, crash_at_call=4)
    rc, out = probe(
        "--url", app.url, "--soak", "10", "--pm2-cli", cli, "--pm2-app", "mission-control"
    )
    assert rc == 1, out
    assert "mission-control:1 restarted (pid 101 -> 201, restarts 1 -> 2)" in out["last"], out


def test_steady_pm2_workers_pass_the_watch(serve, tmp_path):
    app = serve()
    cli = pm2_standin(tmp_path, crash_at_call=10**6)
    rc, out = probe(
        "--url", app.url, "--soak", "1.5", "--pm2-cli", cli, "--pm2-app", "mission-control"
    )
    assert rc == 0, out


def test_strict_fails_an_unhealthy_first_answer_at_once(serve):
    """After the switch a release that answers badly is not given time to mend."""
    app = serve(sick_from=0)
    rc, out = probe("--url", app.url, "--timeout", "30", "--count", "6", "--strict")
    assert rc == 1 and "unhealthy at once" in out["last"] and "HTTP 500" in out["last"], out
    assert out["seconds"] < 3, out


def test_strict_still_waits_for_a_first_answer(serve):
    app = serve()
    port = app.url.split(":")[2].split("/")[0]
    app.close()
    rc, out = probe("--url", f"http://127.0.0.1:{port}/api/health", "--timeout", "2", "--strict")
    assert rc == 1 and "not healthy after 2 s" in out["last"], out
