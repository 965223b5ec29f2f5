"""Bad input to the base role is rejected before any change, naming the variable."""

from __future__ import annotations

import pytest

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"


def good(**overrides):
    role_vars = {"base_admin_ssh_keys": [KEY]}
    role_vars.update(overrides)
    return role_vars


def test_missing_admin_key_is_rejected(run_role):
    run_role("base", good(base_admin_ssh_keys=[])).assert_rejected(
        "base_admin_ssh_keys: at least one public key is required"
    )


def test_admin_keys_not_given_at_all_is_rejected(run_role):
    run_role("base", {}).assert_rejected("base_admin_ssh_keys", "at least one public key")


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_port_out_of_range_is_rejected(run_role, port):
    run_role("base", good(base_ssh_port=port)).assert_rejected(
        f"base_ssh_port: {port} is not a valid TCP port", "1 to 65535"
    )


def test_port_not_a_number_is_rejected(run_role):
    run_role("base", good(base_ssh_port="abc")).assert_rejected("base_ssh_port", "int")


@pytest.mark.parametrize(
    "key",
    [
        "not a key",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "~/.ssh/id_ed25519.pub",
        "ssh-ed25519 not-base64!",
    ],
)
def test_invalid_key_string_is_rejected(run_role, key):
    run_role("base", good(base_admin_ssh_keys=[KEY, key])).assert_rejected(
        "base_admin_ssh_keys: entry 2 is not an OpenSSH public key line"
    )


@pytest.mark.parametrize("size", ["1GB", "1.5G", "big", "-1G", "1T"])
def test_bad_swap_size_is_rejected(run_role, size):
    run_role("base", good(base_swapfile_size=size)).assert_rejected(
        f"base_swapfile_size: '{size}' is not a size"
    )


def test_disabling_ip_forwarding_is_rejected(run_role):
    run_role("base", good(base_sysctl_settings={"net.ipv4.ip_forward": 0})).assert_rejected(
        "base_sysctl_settings: net.ipv4.ip_forward=0 would break Docker"
    )


def test_bad_firewall_port_is_rejected(run_role):
    run_role("base", good(base_firewall_allowed_tcp_ports=[80, 0])).assert_rejected(
        "base_firewall_allowed_tcp_ports: [80, 0] contains a value"
    )


def test_valid_input_gets_past_validation(run_role):
    # Valid input passes every check and only fails later, on the host that does
    # not exist: proof that the checks above are what rejected the bad input.
    result = run_role("base", good(base_ssh_port=2222, base_swapfile_size="0"))
    assert result.failed
    before, gather, after = result.output.partition("TASK [base : Gather the facts the role needs]")
    assert gather, result.output
    assert "fatal:" not in before and "FAILED" not in before, before
    assert "UNREACHABLE" in after or "fatal:" in after, after


def test_extra_upgrade_sites_are_host_names(run_role):
    run_role(
        "base",
        {
            "base_admin_ssh_keys": [KEY],
            "base_unattended_upgrades_extra_sites": ["https://x.org/apt"],
        },
    ).assert_rejected("base_unattended_upgrades_extra_sites", "https://x.org/apt")
