"""The app role refuses bad input before it changes anything."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD_ENV = {
    "DATABASE_URL": "postgresql://u:p@db.example.invalid:25060/mc?sslmode=verify-full",
    "JWT_SECRET": "x" * 48,
}


@pytest.fixture
def artifact(tmp_path: Path) -> str:
    path = tmp_path / "app.tar.gz"
    path.write_bytes(b"not really a tarball")
    return str(path)


def test_missing_artifact_is_named(run_role, tmp_path):
    result = run_role("app", {"app_artifact": str(tmp_path / "nope.tar.gz"), "app_env": GOOD_ENV})
    result.assert_rejected("app_artifact", "nope.tar.gz", "is not a file on the controller")


def test_empty_artifact_is_named(run_role):
    result = run_role("app", {"app_env": GOOD_ENV})
    result.assert_rejected("app_artifact", "is not a file on the controller")


@pytest.mark.parametrize("missing", ["DATABASE_URL", "JWT_SECRET"])
def test_env_without_a_required_variable_is_named(run_role, artifact, missing):
    env = {k: v for k, v in GOOD_ENV.items() if k != missing}
    result = run_role("app", {"app_artifact": artifact, "app_env": env})
    result.assert_rejected("app_env", missing)


def test_env_with_an_empty_required_variable_is_named(run_role, artifact):
    result = run_role(
        "app", {"app_artifact": artifact, "app_env": {**GOOD_ENV, "DATABASE_URL": ""}}
    )
    result.assert_rejected("app_env", "DATABASE_URL")


def test_short_jwt_secret_is_refused(run_role, artifact):
    result = run_role(
        "app", {"app_artifact": artifact, "app_env": {**GOOD_ENV, "JWT_SECRET": "short"}}
    )
    result.assert_rejected("app_env.JWT_SECRET", "32")


def test_multiline_env_value_is_refused(run_role, artifact):
    result = run_role(
        "app", {"app_artifact": artifact, "app_env": {**GOOD_ENV, "SENTRY_DSN": "a\nb"}}
    )
    result.assert_rejected("multi-line: SENTRY_DSN")


def test_git_source_needs_a_repository(run_role):
    result = run_role("app", {"app_source": "git", "app_git_repo": "", "app_env": GOOD_ENV})
    result.assert_rejected("app_git_repo")


def test_unknown_git_ref_is_refused_on_the_controller(run_role, tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "package.json").write_text("{}")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    result = run_role(
        "app",
        {
            "app_source": "git",
            "app_git_repo": str(repo),
            "app_git_ref": "no-such-tag",
            "app_env": GOOD_ENV,
        },
    )
    result.assert_rejected("app_git_ref", "no-such-tag", "Nothing was changed")


def test_same_port_for_app_and_gate_is_refused(run_role, artifact):
    result = run_role("app", {"app_artifact": artifact, "app_env": GOOD_ENV, "app_gate_port": 3001})
    result.assert_rejected("app_port and app_gate_port")


def test_bad_source_choice_is_refused(run_role, artifact):
    result = run_role("app", {"app_source": "rsync", "app_env": GOOD_ENV})
    result.assert_rejected("app_source")


def test_rollback_target_must_be_a_release_id(run_role):
    result = run_role("app", {"app_rollback_to": "yesterday"}, tasks_from="rollback")
    result.assert_rejected("app_rollback_to", "yesterday")


def test_negative_soak_or_watch_is_refused(run_role, artifact):
    for name in ("app_gate_soak_seconds", "app_watch_seconds"):
        result = run_role("app", {"app_artifact": artifact, "app_env": GOOD_ENV, name: -1})
        result.assert_rejected(name, "at least 0")
        result = run_role("app", {name: -1}, tasks_from="rollback")
        result.assert_rejected(name, "at least 0")


def test_the_build_user_is_not_the_app_user(run_role, artifact):
    result = run_role(
        "app", {"app_artifact": artifact, "app_env": GOOD_ENV, "app_build_user": "mc"}
    )
    result.assert_rejected("app_build_user", "not root nor app_user")


def test_writable_dirs_are_plain_names_under_shared(run_role, artifact):
    for bad in ("../releases", ".env", "up/loads"):
        result = run_role(
            "app", {"app_artifact": artifact, "app_env": GOOD_ENV, "app_writable_dirs": [bad]}
        )
        result.assert_rejected("app_writable_dirs", bad)
