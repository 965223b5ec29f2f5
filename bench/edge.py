#!/usr/bin/env python3
"""On-demand benchmark of the nginx edge: wrk through nginx TLS vs directly to the backend.

Runs inside a droplet container (a running `molecule converge -s nginx` host or
the whole-stack droplet) so all traffic stays on the container's loopback. Same
concurrency, same duration, rounds interleaved; prints throughput, p50/p99 and the
ratio nginx/direct as a table (medians over the rounds).

    python3 bench/edge.py --container mc-nginx-debian12 --server-name mc12.test
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import subprocess
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def sh(container: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", container, "sh", "-c", command],
        capture_output=True,
        text=True,
        check=check,
    )


def ensure_wrk(container: str) -> None:
    if sh(container, "command -v wrk", check=False).returncode == 0:
        return
    print(f"installing wrk in {container} ...", file=sys.stderr)
    sh(
        container,
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || "
        "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)",
    )


def ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(container: str, url: str, args: argparse.Namespace, extra: str = "") -> dict:
    cmd = (
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
        f"{extra} {shlex.quote(url)}"
    )
    out = sh(container, cmd).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": ms(pct["50"]),
        "p99": ms(pct["99"]),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--container", default="mc-nginx-debian12")
    p.add_argument("--server-name", default="mc12.test", help="nginx_server_name (SNI, Host)")
    p.add_argument("--backend", default="127.0.0.1:3001", help="the app backend, host:port")
    p.add_argument("--path", default="/", help="not under /api/ (rate-limited)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    args = p.parse_args()

    ensure_wrk(args.container)
    # nginx answers only its names (a handshake for another name, or an
    # address, is refused) and wrk has no --resolve: the bench container
    # resolves the name to its loopback.
    sh(
        args.container,
        f"grep -q ' {args.server_name}$' /etc/hosts || "
        f"echo '127.0.0.1 {args.server_name}' >> /etc/hosts",
    )
    nginx_url = f"https://{args.server_name}:443{args.path}"  # no /etc/services in minimal images
    direct_url = f"http://{args.backend}{args.path}"
    results: dict[str, list[dict]] = {"direct": [], "nginx": []}
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds} ...", file=sys.stderr)
        results["direct"].append(run_wrk(args.container, direct_url, args))
        results["nginx"].append(run_wrk(args.container, nginx_url, args))

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    base = med("direct", "rps")
    nproc = sh(args.container, "nproc").stdout.strip()
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s, GET {args.path}, "
        f"{args.rounds} interleaved rounds (medians), in {args.container} ({nproc} CPUs)\n"
    )
    print(
        f"| {'path':<38} | {'req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | {'non-2xx':>7} | ratio |"
    )
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 9}|-------|")
    labels = {
        "direct": f"direct http://{args.backend}",
        "nginx": "nginx https (TLS, keepalive upstream)",
    }
    for kind in ("direct", "nginx"):
        rps = med(kind, "rps")
        non2xx = sum(r["non2xx"] for r in results[kind])
        print(
            f"| {labels[kind]:<38} | {rps:>9.0f} | {med(kind, 'p50'):>7.2f} | "
            f"{med(kind, 'p99'):>7.2f} | {non2xx:>7} | {rps / base:>5.2f} |"
        )
    spread = {k: (min(r["rps"] for r in v), max(r["rps"] for r in v)) for k, v in results.items()}
    print(
        f"\nrange req/s: direct {spread['direct'][0]:.0f}-{spread['direct'][1]:.0f}, "
        f"nginx {spread['nginx'][0]:.0f}-{spread['nginx'][1]:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
