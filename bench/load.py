#!/usr/bin/env python3
"""On-demand load test of the whole stack: the seed's Phase 5, through nginx and TLS.

100 concurrent users (wrk connections) do the demo login, list their tasks and
create tasks, in equal parts, for a bounded time, through nginx (TLS) to the app
(PM2 cluster) and PostgreSQL. wrk runs inside the droplet container, so traffic
stays on its loopback. Prints requests/s, p50/p95/p99 and errors as a table, and
the same load straight to the app's port for comparison.

    scripts/up                      # the local stack (mc-droplet, mc-db)
    python3 bench/load.py           # 100 users, 30 s, through nginx and direct

The local inventory exempts the droplet's loopback from nginx's /api/ rate limit
(nginx_rate_limit_exempt); otherwise nearly every request would be a 429.
The seed's target is p95 under 200 ms at 100 users; ours is p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge import ensure_wrk, sh

LUA = r"""
local token = os.getenv("MC_TOKEN")
local host = os.getenv("MC_HOST")
local read = {["Host"] = host, ["Authorization"] = "Bearer " .. token}
local write = {["Host"] = host, ["Authorization"] = "Bearer " .. token,
               ["Content-Type"] = "application/json"}
local n = 0
request = function()
  n = n + 1
  local kind = n % 3
  if kind == 0 then
    return wrk.format("POST", "/api/auth/demo", {["Host"] = host, ["Content-Length"] = "0"}, "")
  elseif kind == 1 then
    return wrk.format("GET", "/api/tasks", read)
  end
  return wrk.format("POST", "/api/tasks", write, '{"title":"load test task","priority":"low"}')
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write("MC_RESULT " .. string.format(
    '{"requests":%d,"seconds":%f,"p50":%f,"p95":%f,"p99":%f,"max":%f,' ..
    '"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout) .. "\n")
end
"""


def run(args: argparse.Namespace, url: str, token: str) -> dict:
    env = f"MC_TOKEN={shlex.quote(token)} MC_HOST={shlex.quote(args.server_name)}"
    cmd = (
        f"{env} wrk -t{args.threads} -c{args.users} -d{args.duration}s --timeout 5s "
        f"-s /tmp/mc-load.lua {shlex.quote(url)}"
    )
    out = sh(args.container, cmd).stdout
    line = next((x for x in out.splitlines() if x.startswith("MC_RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    result = json.loads(line.removeprefix("MC_RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = sum(result[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--container", default="mc-droplet", help="the droplet container")
    p.add_argument("--server-name", default="mission-control.localhost")
    p.add_argument("--users", type=int, default=100, help="concurrent connections")
    p.add_argument("--duration", type=int, default=30, help="seconds per run (at most 300)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--app-port", type=int, default=3001)
    p.add_argument("--no-direct", action="store_true", help="skip the run straight to the app")
    args = p.parse_args()
    if not 1 <= args.duration <= 300:
        p.error("--duration: between 1 and 300 seconds")
    if not 1 <= args.users <= 1000:
        p.error("--users: between 1 and 1000")

    if sh(args.container, "true", check=False).returncode != 0:
        p.error(f"--container: {args.container} is not running (start the stack with scripts/up)")
    ensure_wrk(args.container)
    sh(args.container, f"cat > /tmp/mc-load.lua <<'EOF'\n{LUA}\nEOF")
    login = sh(
        args.container,
        f"curl -sS -m 10 -X POST http://127.0.0.1:{args.app_port}/api/auth/demo",
        check=False,
    )
    try:
        token = json.loads(login.stdout)["token"]
    except (ValueError, KeyError):
        raise SystemExit(f"demo login failed: {login.stdout or login.stderr}") from None

    runs = [("nginx + TLS", "https://127.0.0.1:443")]
    if not args.no_direct:
        runs.append(("app direct", f"http://127.0.0.1:{args.app_port}"))
    results = []
    for name, url in runs:
        print(f"{name}: {args.users} users for {args.duration} s ...", file=sys.stderr)
        results.append((name, run(args, url, token)))

    print(
        f"\n{args.users} users, {args.duration} s, demo login / list tasks / create task "
        f"in equal parts ({args.container})\n"
    )
    cols = ("req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    head = f"{'path':<12} " + " ".join(f"{c:>8}" for c in cols) + f" {'errors':>7}"
    print(head)
    print("-" * len(head))
    for name, r in results:
        print(
            f"{name:<12} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} "
            f"{r['max']:>8.0f} {r['errors']:>7}"
        )
    edge = results[0][1]
    print(
        f"\nseed target p95 < 200 ms: {'met' if edge['p95'] < 200 else 'NOT met'}; "
        f"goal p99 < 50 ms: {'met' if edge['p99'] < 50 else 'NOT met'}"
    )
    return 0 if edge["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
