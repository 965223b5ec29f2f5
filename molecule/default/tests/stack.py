"""What the whole-stack tests share: the droplet they look into (with docker
exec; it was provisioned over SSH) and the project's playbooks run at it."""

from __future__ import annotations

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


def ansible_playbook(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with these arguments, from the project's root, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        | env,
    )
