#!/usr/bin/env python3
"""How long site.yml takes over SSH: the first run on a fresh droplet, the
second run with nothing to change, and the apt time the first run is bound to.

Rebuilds the local stack from scratch (scripts/up --down, then the stand-ins
of a fresh droplet: root with a key), then runs

    ansible-playbook -i inventories/local site.yml

twice, over SSH with pipelining and ControlPersist (ansible.cfg), and prints
a table: wall time of each run, the second run's share of the first, and the
slowest tasks of each. For the first run's bound it then starts one more fresh
container of the same image with the droplet's apt sources and times apt-get
installing exactly the packages the first run added (update, download and
install): the project's goal is a second run within 20 % of the first and a
first run within 1.5 times that apt time.

    python3 bench/converge.py             # about 10 minutes; replaces the local stack
    python3 bench/converge.py --top 15    # more of the slowest tasks
    python3 bench/converge.py --mitogen   # the same with Mitogen's strategy (opt-in:
                                          # pip install mitogen into the venv first)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DROPLET = "mc-droplet"
REFERENCE = "mc-bench-apt"
DROPLET_HOST = "mc-droplet"


def log(message: str) -> None:
    print(f"==> {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, text=True, check=True, **kwargs)


def in_container(name: str, command: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run(["docker", "exec", name, "sh", "-c", command], capture_output=True, **kwargs)


def mitogen_environment() -> dict[str, str]:
    """The two settings that switch ansible-playbook to Mitogen's strategy."""
    try:
        import ansible_mitogen  # optional: only --mitogen needs it
    except ImportError:
        sys.exit(
            "--mitogen: Mitogen is not installed in this Python; "
            "install it with: .venv/bin/pip install mitogen"
        )
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(
            Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
        ),
        "ANSIBLE_STRATEGY": "mitogen_linear",
    }


# Actions that run on the controller only: no module run on the droplet.
CONTROLLER_ACTIONS = {
    "ansible.builtin.assert", "ansible.builtin.debug", "ansible.builtin.fail",
    "ansible.builtin.set_fact", "ansible.builtin.include_tasks", "ansible.builtin.include_role",
    "ansible.builtin.import_tasks", "ansible.builtin.validate_argument_spec",
    "ansible.builtin.meta",
}  # fmt: skip

FLOOR_PLAYBOOK = """\
- name: Time one module run on the droplet (over SSH, as the play runs them)
  hosts: app
  gather_facts: false
  become: true
  tasks:
    - name: Ping {runs} times
      ansible.builtin.ping:
      loop: "{{{{ range({runs}) | list }}}}"
"""


def playbook_run(label: str, playbook: str, extra_env: dict[str, str]) -> tuple[float, dict]:
    """One ansible-playbook run with the JSON callback: wall seconds and the report."""
    log(f"{label}: ansible-playbook -i inventories/local {playbook}")
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", **extra_env}
    start = time.monotonic()
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "inventories/local",
            playbook,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - start
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        sys.exit(
            f"{label}: no JSON report from ansible-playbook:\n"
            + proc.stdout[-3000:]
            + proc.stderr[-2000:]
        )
    if proc.returncode != 0:
        sys.exit(f"{label} failed (rc {proc.returncode}): {json.dumps(report.get('stats'))}")
    return wall, report


def droplet_tasks(report: dict) -> list[tuple[float, str, int]]:
    """The droplet's tasks, slowest first: seconds, name, module runs on the droplet."""
    tasks = []
    for play in report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get(DROPLET_HOST)
            span = task["task"].get("duration", {})
            if result is None or "start" not in span or "end" not in span:
                continue
            seconds = (_when(span["end"]) - _when(span["start"])).total_seconds()
            remote = not result.get("skipped") and result.get("action") not in CONTROLLER_ACTIONS
            runs = max(1, len(result.get("results", []))) if remote else 0
            tasks.append((seconds, task["task"]["name"], runs))
    return sorted(tasks, reverse=True)


def site_run(
    label: str, extra_env: dict[str, str]
) -> tuple[float, list[tuple[float, str, int]], dict]:
    """One site.yml run: wall seconds, the droplet's tasks, its recap."""
    wall, report = playbook_run(label, "site.yml", extra_env)
    log(f"{label}: {wall:.0f} s, {report['stats'][DROPLET_HOST]}")
    return wall, droplet_tasks(report), report["stats"][DROPLET_HOST]


def module_floor(extra_env: dict[str, str], runs: int = 30) -> float:
    """Seconds one module run costs at the least: a loop of pings, divided by its length."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT / ".state") as playbook:
        playbook.write(FLOOR_PLAYBOOK.format(runs=runs))
        playbook.flush()
        _, report = playbook_run("module run floor", playbook.name, extra_env)
    return droplet_tasks(report)[0][0] / runs


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def packages(container: str) -> set[str]:
    out = in_container(container, "dpkg-query -W -f '${Package} ${db:Status-Status}\\n'").stdout
    return {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}


def apt_reference(added: set[str]) -> float:
    """apt-get update + install of `added` on a fresh container with the droplet's sources."""
    image = json.loads(run(["docker", "inspect", DROPLET], capture_output=True).stdout)[0][
        "Config"
    ]["Image"]
    subprocess.run(["docker", "rm", "-f", REFERENCE], capture_output=True)
    run(
        [
            "docker", "run", "-d", "--name", REFERENCE, "--cgroupns", "host",
            "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--add-host", "apt-cache:host-gateway",
            image, "/lib/systemd/systemd",
        ],
        capture_output=True,
    )  # fmt: skip
    try:
        in_container(REFERENCE, "systemctl is-system-running --wait || true")
        # The droplet's package sources and keys, as site.yml left them.
        sources = subprocess.run(
            ["docker", "exec", DROPLET, "tar", "-C", "/etc/apt", "-c", "sources.list.d", "keyrings",
             "trusted.gpg.d"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(
            ["docker", "exec", "-i", REFERENCE, "tar", "-C", "/etc/apt", "-x"],
            input=sources,
            check=True,
        )
        missing = sorted(added - packages(REFERENCE))
        log(f"apt reference: update + install of the {len(missing)} packages the first run added")
        start = time.monotonic()
        in_container(
            REFERENCE,
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "--no-install-recommends -o Dpkg::Options::=--force-confdef " + " ".join(missing),
        )
        return time.monotonic() - start
    finally:
        subprocess.run(["docker", "rm", "-f", REFERENCE], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest tasks to list")
    parser.add_argument(
        "--mitogen", action="store_true", help="run site.yml with Mitogen's strategy (opt-in)"
    )
    args = parser.parse_args()
    extra_env = mitogen_environment() if args.mitogen else {}

    log("replacing the local stack with a fresh one (scripts/up --down; scripts/up --stand-ins)")
    run(["scripts/up", "--down"], capture_output=True)
    run(["scripts/up", "--stand-ins"], capture_output=True)
    if args.mitogen:
        # Mitogen's SSH does not take OpenSSH's accept-new: pin the new droplet's host key first.
        keys = run(["ssh-keyscan", "-p", "2222", "127.0.0.1"], capture_output=True).stdout
        with open(ROOT / ".state" / "local" / "known_hosts", "a") as known_hosts:
            known_hosts.write(keys)
    before = packages(DROPLET)

    first, first_tasks, _ = site_run("first run", extra_env)
    second, second_tasks, second_stats = site_run("second run", extra_env)
    added = packages(DROPLET) - before
    floor = module_floor(extra_env)
    apt = apt_reference(added)

    ratio = second / first
    print()
    if args.mitogen:
        print("with Mitogen's strategy (mitogen_linear)")
    print(f"{'measure':<44} {'seconds':>8}  {'goal':<28} {'met':<4}")
    print(f"{'-' * 44} {'-' * 8}  {'-' * 28} {'-' * 4}")
    print(
        f"{'first run (fresh droplet, root then admin)':<44} {first:8.0f}  "
        f"{'<= 1.5 x apt = ' + format(1.5 * apt, '.0f') + ' s':<28} "
        f"{'yes' if first <= 1.5 * apt else 'no':<4}"
    )
    print(
        f"{'second run (changed=' + str(second_stats.get('changed')) + ')':<44} {second:8.0f}  "
        f"{'<= 20 % of the first':<28} {'yes' if ratio <= 0.20 else 'no':<4}"
    )
    print(f"{'second / first':<44} {ratio:8.0%}")
    print(f"{'apt: update + install of ' + str(len(added)) + ' packages':<44} {apt:8.0f}")
    print(f"{'first run / apt time':<44} {first / apt:8.1f}x")
    second_runs = sum(runs for _, _, runs in second_tasks)
    print(f"{'module runs on the droplet in the second run':<44} {second_runs:8d}")
    print(f"{'one module run at the least (a ping loop)':<44} {floor:8.2f}")
    floor_total = "  times the second run's module runs"
    print(f"{floor_total:<44} {floor * second_runs:8.0f}")
    for label, tasks, total in (
        ("first run", first_tasks, first),
        ("second run", second_tasks, second),
    ):
        print(
            f"\nslowest tasks of the {label} (of {len(tasks)}; "
            f"they sum to {sum(t for t, _, _ in tasks):.0f} s of {total:.0f} s)"
        )
        for seconds, name, _ in tasks[: args.top]:
            print(f"  {seconds:6.1f}  {name}")


if __name__ == "__main__":
    main()
