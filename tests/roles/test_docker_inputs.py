"""Bad input to the docker role fails before any change, naming the variable."""

from __future__ import annotations


def test_unknown_install_source_is_rejected(run_role):
    result = run_role("docker", {"docker_install_source": "snap"})
    result.assert_rejected("docker_install_source", "must be one of", "distribution", "docker_repo")


def test_daemon_options_not_a_dict_is_rejected(run_role):
    result = run_role("docker", {"docker_daemon_options": ["log-driver", "json-file"]})
    result.assert_rejected("docker_daemon_options", "dict")


def test_daemon_options_key_value_string_is_rejected(run_role):
    # The argument spec would coerce "a=b" into a dict; the role insists on a real one.
    result = run_role("docker", {"docker_daemon_options": "log-driver=journald"})
    result.assert_rejected("docker_daemon_options", "must be a dict")


def test_numeric_log_opt_is_rejected(run_role):
    result = run_role("docker", {"docker_daemon_options": {"log-opts": {"max-file": 3}}})
    result.assert_rejected("docker_daemon_options", "log-opts", "strings")


def test_users_not_a_list_is_rejected(run_role):
    result = run_role("docker", {"docker_users": {"name": "deploy"}})
    result.assert_rejected("docker_users", "list")


def test_users_as_a_string_is_rejected(run_role):
    # The argument spec would split "a,b" into a list; the role insists on a real one.
    result = run_role("docker", {"docker_users": "deploy"})
    result.assert_rejected("docker_users", "must be a list")


def test_unknown_service_state_is_rejected(run_role):
    result = run_role("docker", {"docker_service_state": "restarted"})
    result.assert_rejected("docker_service_state", "must be one of")


def test_unknown_repo_channel_is_rejected(run_role):
    result = run_role(
        "docker", {"docker_install_source": "docker_repo", "docker_repo_channel": "edge"}
    )
    result.assert_rejected("docker_repo_channel", "must be one of")
