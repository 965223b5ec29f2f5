"""The commands the READMEs show, as a user types them, and what the suite does
with each.

A command is a line of a ```sh or ```bash block in README.md or a role's
README.md, with backslash continuations joined and the comment dropped.
Commands that differ only in the inventory they name (`inventories/<env>`,
`inventories/production`) or in `--ask-vault-pass` are one command: the test
stack has one inventory and no vault. COMMANDS says, for every one of them,
how the whole-stack scenario runs it (molecule/default/tests/
test_readme_commands.py, in this order) or why it does not; tests/
test_readme.py fails when a README shows a command this table does not know,
or the table keeps one no README shows any more.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```\s*(\w*)")
SHELL = {"sh", "bash", "shell", "console"}


@dataclass(frozen=True)
class Run:
    """Run it: on the controller from the project's root (ansible-playbook, with
    the scenario's inventory), or on the droplet as root (`droplet=True`)."""

    expect: tuple[str, ...] = ()  # each is in the output (whitespace folded)
    droplet: bool = False
    before: str = ""  # a droplet command that sets the stage the README describes
    after: str = ""  # a droplet command that must succeed afterwards (a check, or undoing `before`)
    stand_in: tuple[str, ...] = ()  # extra arguments for what the stack lacks
    # README text -> the key of the run-time value that stands for it
    placeholders: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    reason: str


def normalize(tokens: list[str]) -> str:
    out = []
    for i, token in enumerate(tokens):
        if token == "--ask-vault-pass":
            continue
        if i > 0 and tokens[i - 1] == "-i" and token.startswith("inventories/"):
            token = "inventories/<env>"
        out.append(token)
    return " ".join(out)


def commands_in(text: str) -> list[str]:
    """The normalized commands of the shell blocks of one Markdown text."""
    return [normalize(tokens) for tokens in command_tokens_in(text)]


def command_tokens_in(text: str) -> list[list[str]]:
    """The commands of the shell blocks of one Markdown text, as the shell splits them."""
    found, lang, joined = [], None, ""
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence:
            lang = None if lang is not None else fence.group(1)
            joined = ""
            continue
        if lang not in SHELL:
            continue
        joined += line
        if joined.rstrip().endswith("\\"):
            joined = joined.rstrip()[:-1] + " "
            continue
        tokens = shlex.split(joined, comments=True)
        joined = ""
        if tokens:
            found.append(tokens)
    return found


def readmes(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "roles").glob("*/README.md"))]


def readme_commands(root: Path) -> dict[str, list[str]]:
    """command -> the READMEs (relative paths) that show it, in reading order."""
    shown: dict[str, list[str]] = {}
    for readme in readmes(root):
        for command in commands_in(readme.read_text()):
            shown.setdefault(command, [])
            name = str(readme.relative_to(root))
            if name not in shown[command]:
                shown[command].append(name)
    return shown


def readme_tokens(root: Path) -> dict[str, list[str]]:
    """command -> its words as the first README that shows it has them."""
    words: dict[str, list[str]] = {}
    for readme in readmes(root):
        for tokens in command_tokens_in(readme.read_text()):
            words.setdefault(normalize(tokens), tokens)
    return words


SET_UP = Skip("the set-up scripts/lib.sh does for the suite (ensure_venv, ensure_collections)")
INTERACTIVE = Skip("interactive: asks for a password or opens an editor")
ENGINE_CLI = Skip(
    "the engine's command line: tests/migrate/test_cli.py runs check, run and verify with "
    "DATABASE_URL in the environment against a real PostgreSQL"
)

PLAYBOOK = "ansible-playbook -i inventories/<env> "
# psql as the app user, through its own service file (on the droplet).
APP_PSQL = "runuser -u mc -- psql service=mission_control --no-psqlrc -qAt -c"

COMMANDS: dict[str, Run | Skip] = {
    "scripts/up": Skip(
        "the main job: this scenario builds the same stack (a fresh droplet over SSH, the "
        "database stand-in, site.yml, migrate.yml) with molecule's inventory"
    ),
    "scripts/test": Skip("the suite itself"),
    "python3 -m venv .venv && . .venv/bin/activate": SET_UP,
    "pip install -r requirements.txt && pip install -e .": SET_UP,
    "ansible-galaxy collection install -r requirements.yml": SET_UP,
    "scripts/new-vault production": INTERACTIVE,
    "ansible-vault edit inventories/production/group_vars/all/vault.yml": INTERACTIVE,
    "$EDITOR inventories/production/hosts.yml inventories/production/group_vars/all/main.yml": (
        INTERACTIVE
    ),
    PLAYBOOK + "site.yml": Skip(
        "the scenario's converge (site.yml from a fresh droplet, as root then the admin) and "
        "idempotence steps are this command"
    ),
    # A pending reboot is reported, not failed.
    PLAYBOOK + "playbooks/verify.yml": Run(
        before="echo '*** System restart required ***' > /run/reboot-required"
        " && echo linux-image-test > /run/reboot-required.pkgs",
        expect=("failed=0", "REBOOT REQUIRED", "linux-image-test"),
        after="rm /run/reboot-required /run/reboot-required.pkgs",
    ),
    # The app: a git tag, the list, back to the previous release, forward by id.
    PLAYBOOK + "playbooks/deploy.yml -e app_git_ref=v1.4.2": Run(
        expect=("New release", "@v1.4.2", "failed=0"),
        stand_in=("-e", "app_source=git", "-e", "app_git_repo={git_repo}"),
    ),
    PLAYBOOK + "playbooks/rollback.yml -e app_rollback_list=true": Run(
        expect=("{git_release}", "{first_release}", "failed=0")
    ),
    PLAYBOOK + "playbooks/rollback.yml": Run(expect=("{first_release}", "failed=0")),
    PLAYBOOK + "playbooks/rollback.yml -e app_rollback_to=20261127T101500Z-1a2b3c4d": Run(
        expect=("{git_release}", "failed=0"),
        placeholders={"20261127T101500Z-1a2b3c4d": "git_release"},
    ),
    # The data: migrated by the converge, so each form stops at its pre-flight,
    # but the one that says to replace.
    # Once switched, PostgreSQL is the truth: what the app wrote since stays.
    PLAYBOOK + "playbooks/migrate.yml -e db_migrate_sqlite_upload=./mission-control.db": Run(
        before=f'{APP_PSQL} "INSERT INTO tasks (user_id, title)'
        " SELECT min(id), 'written after the switch' FROM users\"",
        expect=("does not run again", "failed=0"),
        after=f"{APP_PSQL} \"SELECT 1 FROM tasks WHERE title = 'written after the switch'\""
        " | grep -qx 1",
    ),
    # "overwrite a differing target": the app's data changed since the migration.
    PLAYBOOK + "playbooks/migrate.yml -e db_migrate_replace=true": Run(
        before=f"{APP_PSQL} \"UPDATE tasks SET title = title || ' (changed)'"
        ' WHERE id = (SELECT min(id) FROM tasks)"',
        expect=("verified", "failed=0"),
    ),
    PLAYBOOK
    + 'playbooks/migrate.yml -e {"db_migrate_policies": {"bad_json": "null", "orphan": "skip"}}': (
        Run(expect=("does not run again", "failed=0"))
    ),
    "export DATABASE_URL": ENGINE_CLI,
    "mc-migrate check --sqlite mission-control.db": ENGINE_CLI,
    "mc-migrate run --sqlite mission-control.db": ENGINE_CLI,
    "mc-migrate verify --sqlite mission-control.db": ENGINE_CLI,
    # Backups, from the controller and on the droplet (as root, as an admin would).
    PLAYBOOK + "playbooks/backup.yml -e backup_reason=before-upgrade": Run(
        expect=("before-upgrade", "failed=0")
    ),
    PLAYBOOK + "playbooks/restore.yml": Run(expect=("PASS", "failed=0")),
    PLAYBOOK + "playbooks/restore.yml -e restore_source=offsite -e restore_backup=<id>": Run(
        expect=("PASS", "{offsite_snapshot}", "failed=0"),
        placeholders={"<id>": "offsite_snapshot"},
    ),
    PLAYBOOK + "playbooks/restore.yml -e restore_mode=in-place"
    " -e restore_confirm=mission_control_production": Run(expect=("PASS", "failed=0")),
    # The controller does not resolve the target's name: its address, by ssh option.
    PLAYBOOK + "playbooks/offsite-prune.yml"
    " -e backup_offsite_prune_ssh_key_file=~/.ssh/mc-backup-admin": Run(
        expect=("failed=0",),
        placeholders={"~/.ssh/mc-backup-admin": "operator_key"},
        stand_in=("-e", "{prune_ssh_args}"),
    ),
    "mc-backup status": Run(droplet=True, expect=("last backup",)),
    "mc-backup --json status": Run(droplet=True, expect=('"last_success"',)),
    "systemctl start mc-backup@before-upgrade.service": Run(droplet=True),
    "mc-backup drill": Run(droplet=True, expect=("PASS",)),
    "mc-backup restore --confirm mission_control_production": Run(droplet=True, expect=("PASS",)),
    "mc-backup prune": Run(droplet=True),
    "mc-backup check": Run(droplet=True, expect=("restic check: PASS",)),
    "mc-backup init": Run(droplet=True, expect=("reachable",)),
    PLAYBOOK + "playbooks/recover.yml": Skip(
        "molecule/default/tests/test_recover.py runs it last, after destroying the droplet and "
        "the database"
    ),
}
