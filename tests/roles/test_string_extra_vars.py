"""Options given as `-e key=value` arrive as strings and mean what the typed form means.

With ansible-core 2.19 a `-e key=value` extra variable is always a string: a
bare `when: some_bool` on it fails ("Conditional result ... derived from value
of type 'str'"), `some_int >= 1` fails, and a string in a Jinja `if` is simply
true ("false" included). Each role entry point gets every bool and int option
of its argument spec at once, as `-e key=value` (the string form of its
default), and must get as far as the host that does not exist; a value that is
neither a boolean nor a number is refused naming the variable.

The playbooks' own variables (no argument spec covers them) are checked the
same way against the playbook's early assert.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ansible_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLES = [
    "app",
    "pm2",
    "base",
    "backup",
    "db_migrate",
    "db_standin",
    "docker",
    "monitoring",
    "nginx",
    "nodejs",
    "postgresql_client",
]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
# What each role needs besides its bools and ints to get past validation.
REQUIRED = {
    # Any file will do as the artifact: the role only sums it before the host.
    "app": {
        "app_artifact": str(ROOT / "files" / "app" / "package.json"),
        "app_env": {"DATABASE_URL": "postgresql://mc@db.example.net/mc", "JWT_SECRET": "x" * 40},
    },
    "base": {"base_admin_ssh_keys": [KEY]},
    "db_migrate": {
        "db_migrate_database_url": "postgresql://mc:pw@db.example.net/mc?sslmode=verify-full"
    },
    "db_standin": {"db_standin_owner_password": "a-stand-in-password-of-32-chars!"},
}
TYPE_ERRORS = [
    "Conditional result",
    "derived from value of type 'str'",
    "not supported between instances",
    "unsupported operand",
    "not all arguments converted",
]
HOST = "mc-no-such-host"


def typed_options(role: str) -> list[tuple[str, str, dict[str, object]]]:
    """(entry point, option name, spec) of every bool and int option of the role."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return [
        (entry, name, spec)
        for entry, body in specs["argument_specs"].items()
        for name, spec in (body.get("options") or {}).items()
        if spec.get("type") in ("bool", "int")
    ]


ENTRY_POINTS = [
    (role, entry)
    for role in ROLES
    for entry in yaml.safe_load(
        (ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text()
    )["argument_specs"]
]


def as_string(spec: dict[str, object]) -> str:
    """The `-e key=value` form of the option's default."""
    default = spec.get("default")
    if spec["type"] == "bool":
        return "true" if default else "false"
    return str(default if default is not None else 1)


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.output = proc.stdout + proc.stderr

    def assert_reached_the_host(self) -> None:
        """Validation passed with the strings: the first task on the host is what failed."""
        for needle in TYPE_ERRORS:
            assert needle not in self.output, f"{needle!r} in output:\n{self.output}"
        if "backup_restic_repository is empty for" in self.output:
            # backup's offsite_prune entry point never connects to the droplet
            # (it runs restic on the controller): past its checks, the inventory
            # without a repository is what stops it.
            return
        assert "UNREACHABLE!" in self.output, self.output
        if "Cannot log in to" in self.output:
            # base's connect entry point: its login attempts are the tasks that
            # reach the host; it ignores their failures and then says so.
            return
        assert "unreachable=1" in self.output, self.output

    def assert_rejected(self, *needles: str) -> None:
        assert self.proc.returncode != 0, self.output
        assert "UNREACHABLE!" not in self.output, self.output
        for needle in needles:
            assert needle in self.output, f"{needle!r} not in output:\n{self.output}"


@pytest.fixture
def run(tmp_path: Path):
    """ansible-playbook against a host that does not exist, strings given as `-e key=value`."""

    def run_(
        playbook: Path, strings: dict[str, str], typed: dict | None = None, connection: str = ""
    ) -> Run:
        (tmp_path / "hosts.yml").write_text(
            f"all:\n  children:\n    app:\n      hosts:\n        {HOST}:\n"
            f"          ansible_connection: {connection or 'community.docker.docker'}\n"
            "          ansible_python_interpreter: /usr/bin/python3\n"
            # Without pipelining (ansible.cfg turns it on) a missing container is
            # UNREACHABLE; with it, docker exec's error is an ordinary task failure.
            "          ansible_pipelining: false\n"
        )
        (tmp_path / "typed.json").write_text(json.dumps(typed or {}))
        args = ["-i", str(tmp_path / "hosts.yml"), "-e", f"@{tmp_path / 'typed.json'}"]
        for name, value in strings.items():
            args += ["-e", f"{name}={value}"]
        # Plays that gather facts would stop at the host before their first
        # task: the checks under test run on the controller, before any change.
        proc = ansible_playbook(*args, str(playbook), env={"ANSIBLE_GATHERING": "explicit"})
        return Run(proc)

    return run_


@pytest.fixture
def run_entry(run, tmp_path: Path):
    def run_entry_(role: str, entry: str, strings: dict[str, str]) -> Run:
        play = textwrap.dedent(
            f"""\
            - name: String extra vars for {role} {entry}
              hosts: {HOST}
              gather_facts: false
              tasks:
                # Facts of a Debian 12 host, so that roles which read them on the
                # controller (nginx, postgresql_client) get as far as the host.
                - name: Stand in for gathered facts
                  ansible.builtin.set_fact:
                    distribution: Debian
                    distribution_major_version: "12"
                    distribution_release: bookworm
                    cacheable: true

                - name: Run the role
                  ansible.builtin.include_role:
                    name: {role}
                    tasks_from: {entry}
            """
        )
        (tmp_path / "play.yml").write_text(play)
        typed = dict(REQUIRED.get(role, {}))
        if role == "db_standin":
            typed["db_standin_pki_dir"] = str(tmp_path / "pki")
        # base's connect entry point does its work over SSH only (a docker
        # connection has no login to find out).
        connection = "ssh" if (role, entry) == ("base", "connect") else ""
        return run(tmp_path / "play.yml", strings, typed, connection)

    return run_entry_


@pytest.mark.parametrize(("role", "entry"), ENTRY_POINTS)
def test_bool_and_int_options_accept_their_string_form(run_entry, role, entry):
    strings = {name: as_string(spec) for e, name, spec in typed_options(role) if e == entry}
    run_entry(role, entry, strings).assert_reached_the_host()


@pytest.mark.parametrize(("role", "entry"), ENTRY_POINTS)
def test_bool_and_int_options_refuse_other_strings_by_name(run_entry, role, entry):
    bad = {
        name: "maybe" if spec["type"] == "bool" else "ten"
        for e, name, spec in typed_options(role)
        if e == entry
    }
    if not bad:
        pytest.skip(f"{role} {entry} has no bool or int option")
    result = run_entry(role, entry, bad)
    result.assert_rejected("Validation of arguments failed")
    for name, value in bad.items():
        kind = "bool" if value == "maybe" else "int"
        assert f"argument '{name}' is of type str and we were unable to convert to {kind}" in (
            result.output
        ), result.output


@pytest.mark.parametrize(
    ("other", "value"),
    [("true", "true"), ("false", "false"), ("yes", "no"), ("1", "0")],
)
def test_the_string_forms_accepted_for_a_bool(run_entry, other, value):
    run_entry(
        "nginx",
        "main",
        {"nginx_listen_ipv6": other, "nginx_hsts_preload": value, "nginx_maintenance": value},
    ).assert_reached_the_host()


# Playbooks: their own variables, and the role options they document.
PLAYBOOKS = ROOT / "playbooks"


@pytest.mark.parametrize(
    "strings",
    [
        {"db_migrate_replace": "true"},
        {"db_migrate_replace": "false"},
        {"db_migrate_replace": "yes"},
    ],
)
def test_migrate_accepts_string_forms(run, strings):
    run(PLAYBOOKS / "migrate.yml", strings).assert_reached_the_host()


@pytest.mark.parametrize(
    "strings",
    [
        {"restore_mode": "drill", "restore_source": "offsite", "restore_backup": "latest"},
        {"restore_mode": "in-place", "restore_confirm": "mission_control_production"},
        {"restore_mode": "in-place", "restore_confirm": "x", "restore_safety_dump": "false"},
        {"restore_mode": "in-place", "restore_confirm": "x", "restore_safety_dump": "yes"},
    ],
)
def test_restore_accepts_string_forms(run, strings):
    run(PLAYBOOKS / "restore.yml", strings).assert_reached_the_host()


def test_restore_refuses_a_safety_dump_switch_that_is_no_boolean(run):
    run(
        PLAYBOOKS / "restore.yml",
        {"restore_mode": "in-place", "restore_confirm": "x", "restore_safety_dump": "maybe"},
    ).assert_rejected("restore_safety_dump", "maybe", "true/false/yes/no/1/0")


@pytest.mark.parametrize("reason", ["before-upgrade", "20260101"])
def test_backup_accepts_string_forms(run, reason):
    run(PLAYBOOKS / "backup.yml", {"backup_reason": reason}).assert_reached_the_host()


# Most uses of an option come after the first host contact, which the runs
# above never pass: every use in a condition, a comparison or arithmetic is
# checked here, in the source, for the conversion that makes a string work.
CONDITION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
PLAYBOOK_BOOLS = ["restore_safety_dump"]
OPERATOR = r"(>=|<=|==|!=|<|>|\*|/|%|\+|-)"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _expressions(node: object, *, condition: bool = False):
    """(expression, is a condition) of every Jinja expression in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _expressions(value, condition=key in CONDITION_KEYS)
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item, condition=condition)
    elif isinstance(node, str):
        if condition:
            yield node, True
        for m in JINJA.finditer(node):
            yield m.group()[2:-2], False


def _problems(expression: str, condition: bool, bools: list[str], ints: list[str]):
    expression = re.sub(
        r"'[^']*'|\"[^\"]*\"", "''", expression
    )  # names in string literals are text
    for name in bools:
        for m in re.finditer(rf"(?<![\w.]){name}\b", expression):
            # "{{ name }}" alone is text, or a module argument (a module reads its own booleans).
            if not re.match(r"\s*\|\s*(bool|string)\b", expression[m.end() :]) and not (
                not condition and expression.strip() == name
            ):
                yield f"{name} without | bool in: {expression.strip()}"
    for name in ints:
        for m in re.finditer(rf"(?<![\w.]){name}\b", expression):
            before, after = expression[: m.start()], expression[m.end() :]
            if re.match(r"\s*\|\s*(int|string)\b", after):
                continue
            if re.match(rf"\s*{OPERATOR}", after) or re.search(rf"{OPERATOR}\s*\(*\s*$", before):
                yield f"{name} without | int in: {expression.strip()}"


def _sources():
    for role in ROLES:
        for folder in ("tasks", "handlers", "vars", "defaults", "templates"):
            yield from sorted((ROOT / "roles" / role / folder).glob("*"))
    yield from sorted(PLAYBOOKS.rglob("*.yml"))


def test_every_use_in_a_condition_or_comparison_converts_the_string():
    options = [(name, spec["type"]) for role in ROLES for _, name, spec in typed_options(role)]
    bools = sorted({name for name, kind in options if kind == "bool"} | set(PLAYBOOK_BOOLS))
    ints = sorted({name for name, kind in options if kind == "int"})
    problems = []
    for path in _sources():
        text = path.read_text()
        if path.suffix == ".yml":
            expressions = list(_expressions(yaml.safe_load(text)))
        else:
            text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
            expressions = [(m.group()[2:-2], False) for m in JINJA.finditer(text)]
        for expression, condition in expressions:
            found = _problems(expression, condition, bools, ints)
            problems += [f"{path.relative_to(ROOT)}: {p}" for p in found]
    assert not problems, "\n".join(problems)
