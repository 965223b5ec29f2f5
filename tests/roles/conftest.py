"""Run a role against a host that does not exist, to test its input checks.

A role must reject bad input before it changes anything, so these tests point
the play at a container name that no engine knows: input validation passes or
fails on the controller, and any task that got as far as the host would fail
with a connection error instead of the message the test expects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class RoleRun:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.output = proc.stdout + proc.stderr

    @property
    def failed(self) -> bool:
        return self.proc.returncode != 0

    def assert_rejected(self, *needles: str) -> None:
        """The run failed on input validation and said what was wrong."""
        assert self.failed, self.output
        for needle in needles:
            assert needle in self.output, f"{needle!r} not in output:\n{self.output}"


def ansible_playbook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook of this venv with the project's ansible.cfg and roles,
    facts in memory, no colours; args as on the command line."""
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run_env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    run_env["ANSIBLE_FACT_CACHING"] = "memory"
    run_env.update(env or {})
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), *args],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def run_role(tmp_path: Path):
    def run(role: str, role_vars: dict, *, tasks_from: str = "main") -> RoleRun:
        play = textwrap.dedent(
            f"""\
            - name: Input check for {role}
              hosts: mc-no-such-host
              gather_facts: false
              tasks:
                - name: Run the role
                  ansible.builtin.include_role:
                    name: {role}
                    tasks_from: {tasks_from}
            """
        )
        (tmp_path / "play.yml").write_text(play)
        (tmp_path / "vars.json").write_text(json.dumps(role_vars))
        (tmp_path / "hosts.yml").write_text(
            "all:\n  hosts:\n    mc-no-such-host:\n"
            "      ansible_connection: community.docker.docker\n"
            "      ansible_python_interpreter: /usr/bin/python3\n"
        )
        return RoleRun(
            ansible_playbook(
                "-i",
                str(tmp_path / "hosts.yml"),
                "-e",
                f"@{tmp_path / 'vars.json'}",
                str(tmp_path / "play.yml"),
            )
        )

    return run
