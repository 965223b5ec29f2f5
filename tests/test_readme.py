"""Every command the READMEs show is run by the whole-stack scenario or skipped
there for a stated reason (molecule/_helpers/readme_commands.py): a README that
gains a command, or loses one, fails here first, without a container."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "molecule" / "_helpers"))

from readme_commands import (  # noqa: E402
    COMMANDS,
    Skip,
    command_tokens_in,
    commands_in,
    readme_commands,
)


def test_every_command_shown_is_run_or_skipped_for_a_reason() -> None:
    shown = readme_commands(ROOT)
    unknown = {command: files for command, files in shown.items() if command not in COMMANDS}
    assert not unknown, f"commands the READMEs show that COMMANDS does not place: {unknown}"
    stale = [command for command in COMMANDS if command not in shown]
    assert not stale, f"commands in COMMANDS that no README shows any more: {stale}"
    assert all(entry.reason for entry in COMMANDS.values() if isinstance(entry, Skip))


def test_a_command_is_read_as_a_user_types_it() -> None:
    text = "\n".join(
        [
            "```sh",
            "ansible-playbook -i inventories/production site.yml --ask-vault-pass   # every run",
            "ansible-playbook -i inventories/<env> playbooks/migrate.yml \\",
            '    -e \'{"db_migrate_policies": {"orphan": "skip"}}\'',
            "# only a comment",
            "```",
            "```yaml",
            "backup_restic_repository: sftp:backup@host:/srv/restic",
            "```",
        ]
    )
    assert commands_in(text) == [
        "ansible-playbook -i inventories/<env> site.yml",
        "ansible-playbook -i inventories/<env> playbooks/migrate.yml"
        ' -e {"db_migrate_policies": {"orphan": "skip"}}',
    ]
    # ...and is run with its words as the shell splits them (the JSON is one).
    assert command_tokens_in(text)[1][-2:] == ["-e", '{"db_migrate_policies": {"orphan": "skip"}}']
