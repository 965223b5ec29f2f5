"""The `mc-monitor` command line: arguments in, exit status out.

  run [--verbose]       one round of checks; alerts on a change (the timer's command)
  status [--json]       every check's last state (exit 1 when one fails or none ran)
  test-alert            one alert with state "test" through every configured channel
  check-config [FILE]   validate a configuration file (used by Ansible)

--config PATH (default MC_MONITOR_CONFIG or /etc/mc-monitor/config.json) works
before or after the command. Secrets come from the environment only:
MC_MONITOR_WEBHOOK_URL and MC_MONITOR_DEADMAN_URL.

Exit status: 0 all ok, 1 a check or an alert channel failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from mc_monitor.alerts import channels, send
from mc_monitor.clock import iso, utcnow
from mc_monitor.config import DEFAULT_PATH, Config, load_config
from mc_monitor.errors import UsageError
from mc_monitor.model import Alert
from mc_monitor.runner import run_round
from mc_monitor.state import StateFile, failing
from mc_monitor.status import status_table

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    # --config after the command too; SUPPRESS keeps the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="configuration file")
    p = argparse.ArgumentParser(
        prog="mc-monitor", description="Checks that alert when their state changes."
    )
    p.add_argument(
        "--config",
        default=os.environ.get("MC_MONITOR_CONFIG", DEFAULT_PATH),
        help=f"configuration file (default: MC_MONITOR_CONFIG or {DEFAULT_PATH})",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="one round of checks")
    run.add_argument("--verbose", "-v", action="store_true", help="print every check")
    status = sub.add_parser("status", parents=[common], help="every check's last state")
    status.add_argument("--json", action="store_true", help="the state file as it is")
    sub.add_parser("test-alert", parents=[common], help="send a test alert")
    check = sub.add_parser("check-config", parents=[common], help="validate a configuration")
    check.add_argument("file", nargs="?", help="default: --config")
    return p


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"mc-monitor: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = args.file if args.command == "check-config" and args.file else args.config
    try:
        config = load_config(path)
    except UsageError as exc:
        return fail(str(exc))
    if args.command == "check-config":
        print(f"{path}: ok")
        return EXIT_OK
    env = dict(os.environ)
    if args.command == "run":
        return run(config, env, args.verbose)
    if args.command == "status":
        state = StateFile(config.state_path).load()
        print(json.dumps(state, indent=2) if args.json else status_table(state))
        return EXIT_OK if state.get("checks") and not failing(state) else EXIT_FAIL
    return test_alert(config, env)


def run(config: Config, env: dict[str, str], verbose: bool) -> int:
    try:
        done = run_round(config, env)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return fail(f"cannot keep the state in {config.state_dir}: {reason}", EXIT_FAIL)
    bad = [result.name for result in done.results if not result.ok]
    if verbose:
        print(status_table(done.state))
    elif bad:
        print(f"{len(bad)} failing: {', '.join(bad)}")
    else:
        print(f"all ok ({len(done.results)} checks)")
    return EXIT_FAIL if bad else EXIT_OK


def test_alert(config: Config, env: dict[str, str]) -> int:
    if not channels(config, env):
        return fail("no alert channel: set alert_command or MC_MONITOR_WEBHOOK_URL", EXIT_FAIL)
    alert = Alert("mc-monitor", "test", "sent by mc-monitor test-alert", iso(utcnow()))
    delivered = send(config, alert, env)
    for channel, ok in delivered.items():
        print(f"{channel}: {'sent' if ok else 'FAILED'}")
    return EXIT_OK if all(delivered.values()) else EXIT_FAIL
