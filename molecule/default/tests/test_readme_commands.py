"""Every command the READMEs show, run as written against the whole stack.

molecule/_helpers/readme_commands.py lists them in the order they run here
(what the stack lacks gets a stand-in: a git tag, the SQLite file beside the
project); each must succeed, print no warning and say what its README says.
Runs before test_stack.py, which expects the stack healthy again after it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest
from readme_commands import COMMANDS, PLAYBOOK, Run, readme_tokens  # conftest: molecule/_helpers
from stack import DROPLETS, INVENTORY, ROOT, STATE, ansible_playbook

testinfra_hosts = DROPLETS
CURRENT = "/srv/mission-control/app/current"
RUNS = [(command, entry) for command, entry in COMMANDS.items() if isinstance(entry, Run)]
WORDS = readme_tokens(ROOT)
# What the commands stand for at run time: the placeholders of COMMANDS.
VALUES: dict[str, str] = {}


def live_release(host) -> str:
    return host.check_output(f"readlink {CURRENT}").rstrip("/").rsplit("/", 1)[-1]


def fold(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module", autouse=True)
def stand_ins(host):
    """A git repository with the README's tag, the SQLite file where the README
    has it (the project's root, where the commands run), the release live now."""
    repo = STATE / "readme-app.git"
    if not repo.exists():
        work = STATE / "readme-app"
        shutil.copytree(ROOT / "files" / "app", work, dirs_exist_ok=True)
        git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1.4.2"], ["tag", "v1.4.2"]):
            subprocess.run([*git, *args], check=True, capture_output=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(repo)], check=True)
    VALUES.update(git_repo=str(repo), first_release=live_release(host))
    # offsite-prune.yml from the controller, with the operator's key (prepare.yml's).
    target = json.loads(subprocess.check_output(["docker", "inspect", "mc-default-offsite"]))
    address = target[0]["NetworkSettings"]["Networks"]["mc-default-net"]["IPAddress"]
    VALUES.update(
        operator_key=str(STATE / "operator_key"),
        prune_ssh_args=json.dumps(
            {
                "backup_offsite_prune_ssh_args": (
                    f"-o HostName={address} -o HostKeyAlias=mc-default-offsite"
                )
            }
        ),
    )
    upload = ROOT / "mission-control.db"
    shutil.copy(STATE / "sample.db", upload)
    yield
    upload.unlink(missing_ok=True)


def run_on_controller(words: list[str], entry: Run) -> subprocess.CompletedProcess[str]:
    """The README's words, with the scenario's inventory and without asking for a vault."""
    argv = [word for word in words[1:] if word != "--ask-vault-pass"]
    argv[argv.index("-i") + 1] = INVENTORY
    return ansible_playbook(argv + [arg.format(**VALUES) for arg in entry.stand_in])


@pytest.mark.parametrize(("command", "entry"), RUNS, ids=[command for command, _ in RUNS])
def test_the_readme_command_does_what_its_readme_says(host, command, entry):
    words = [
        next(
            (
                word.replace(text, VALUES[key])
                for text, key in entry.placeholders.items()
                if text in word
            ),
            word,
        )
        for word in WORDS[command]
    ]
    if entry.before:
        host.run_expect([0], entry.before)
    if entry.droplet:
        proc = host.run(shlex.join(words))
        rc, output = proc.rc, proc.stdout + proc.stderr
    else:
        proc = run_on_controller(words, entry)
        rc, output = proc.returncode, proc.stdout + proc.stderr
    if entry.after:
        host.run_expect([0], entry.after)
    assert rc == 0, output[-4000:]
    assert "[WARNING]" not in output, output[-4000:]
    for needle in entry.expect:
        assert needle.format(**VALUES) in fold(output), (needle, output[-4000:])
    if command.startswith(PLAYBOOK + "playbooks/backup.yml"):
        status = json.loads(host.check_output("mc-backup --json status"))
        VALUES["offsite_snapshot"] = status["last_success"]["snapshot"]
        assert VALUES["offsite_snapshot"], status
    if command.startswith(PLAYBOOK + "playbooks/deploy.yml"):
        VALUES["git_release"] = live_release(host)
        assert VALUES["git_release"] != VALUES["first_release"]


def test_after_the_readme_the_app_is_healthy_and_the_backup_user_owns_its_state(host):
    """The app serves again; what mc-backup run by root wrote is still the
    backup user's, so the next unit can write it."""
    health = json.loads(host.check_output("curl -sS -m 10 http://127.0.0.1:3001/api/health"))
    assert health["status"] == "ok" and health["database"] == "ok", health
    for path in ("/var/lib/mc-backup/state/status.json", "/var/lib/mc-backup/state/lock"):
        assert host.file(path).user == "mc-backup", path
    host.run_expect([0], "systemctl start mc-backup@after-readme.service")
