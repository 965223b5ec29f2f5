"""A scenario's container made again, empty, from its molecule.yml: what a test
needs to stand a new droplet (or a new database) in for a lost one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml


def platform(scenario: Path, name: str) -> dict:
    platforms = yaml.safe_load((scenario / "molecule.yml").read_text())["platforms"]
    return next(p for p in platforms if p["name"] == name)


def docker_run_argv(spec: dict) -> list[str]:
    """`docker run` with what molecule's docker driver passes for these keys."""
    argv = ["docker", "run", "-d", "--name", spec["name"], "--hostname", spec["name"]]
    argv += ["--label", "owner=molecule"]
    if "cgroupns_mode" in spec:
        argv += ["--cgroupns", spec["cgroupns_mode"]]
    for cap in spec.get("capabilities", []):
        argv += ["--cap-add", cap]
    for opt in spec.get("security_opts", []):
        argv += ["--security-opt", opt]
    for volume in spec.get("volumes", []):
        argv += ["-v", volume]
    for mount in spec.get("tmpfs", []):
        argv += ["--tmpfs", mount]
    for name, address in spec.get("etc_hosts", {}).items():
        argv += ["--add-host", f"{name}:{address}"]
    networks = [n["name"] for n in spec.get("networks", [])]
    assert len(networks) <= 1, f"{spec['name']}: one network at most here"
    argv += [f"--network={n}" for n in networks]
    argv.append(spec["image"])
    argv += spec.get("command", "").split()
    return argv


def recreate(scenario: Path, name: str, timeout: float = 300) -> None:
    """A new container under the old name, booted (systemd running)."""
    subprocess.run(["docker", "rm", "-f", "-v", name], check=True, capture_output=True)
    subprocess.run(docker_run_argv(platform(scenario, name)), check=True, capture_output=True)
    wait_for_systemd(name, timeout)


def wait_for_systemd(name: str, timeout: float = 300) -> str:
    """systemd's state once it has booted (`running` or `degraded`)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        proc = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running", "--wait"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(2)  # systemd's bus comes up a moment after the start
    raise AssertionError(f"{name}: systemd did not finish booting in {timeout} s ({state!r})")
