"""What the whole-stack tests share: the droplet they look into (with docker
exec; it was provisioned over SSH) and the project's playbooks run at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
STATE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
DROPLETS = [
    f"docker://{name}"
    for name in testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("app")
]


def ansible_playbook(
    argv: list[str], timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with these arguments, from the project's root, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        | env,
    )


def address(name: str) -> str:
    """A container's address on its network (a new container may get another)."""
    each = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return subprocess.check_output(["docker", "inspect", "-f", each, name], text=True).strip()


def through_nginx(host, method: str, path: str, token: str = "", body: str = "") -> dict:
    """A request to the droplet's own HTTPS edge, trusting only its certificate."""
    args = [
        "curl -sS --fail-with-body -m 10",
        "--cacert /etc/nginx/tls/mission-control.localhost-selfsigned.crt",
        "--resolve mission-control.localhost:443:127.0.0.1",
        f"-X {method}",
    ]
    if token:
        args.append(f"-H 'Authorization: Bearer {token}'")
    if body:
        args.append(f"-H 'Content-Type: application/json' --data '{body}'")
    args.append(f"https://mission-control.localhost{path}")
    return json.loads(host.check_output(" ".join(args)))
