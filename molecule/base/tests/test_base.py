"""Effective state of a host converged with the base role (molecule/base/converge.yml).

Everything is read from the running system (sshd -T, ss, ufw status,
fail2ban-client, apt-config, getent, sudo -l) and, for SSH, proven with real
logins from the controller to the container's address on the new port.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The converged hosts, looked at through docker exec (the role itself ran over
# SSH); mc-base-fresh is the wrong-key test's own host.
testinfra_hosts = ["docker://mc-base-debian12", "docker://mc-base-debian13"]
FRESH = "mc-base-fresh"
SSH_PORT = 2222
ADMIN = "admin"
WEAK = re.compile(
    r"(sha1|md5|cbc|arcfour|3des|ecdh-sha2-nistp|diffie-hellman-group14|-96|umac-64|ssh-rsa$)"
)


def _key() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "base_admin_ed25519"


def _address(host_or_name) -> str:
    name = host_or_name if isinstance(host_or_name, str) else host_or_name.backend.get_hostname()
    out = subprocess.run(
        ["docker", "inspect", name], capture_output=True, text=True, check=True
    ).stdout
    networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for n in networks.values() if n["IPAddress"])


def _ssh(
    host, user: str, *args: str, command: str = "id", port: int = SSH_PORT
) -> subprocess.CompletedProcess[str]:
    """One bounded SSH attempt from the controller to the test container."""
    argv = [
        "ssh",
        "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "IdentitiesOnly=yes",
        *args,
        f"{user}@{_address(host)}",
        command,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def sshd_t(host) -> dict[str, str]:
    out = host.check_output(f"/usr/sbin/sshd -T -C user={ADMIN},host=localhost,addr=127.0.0.1")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_sshd_effective_settings(sshd_t):
    assert sshd_t["port"] == str(SSH_PORT)
    assert sshd_t["permitrootlogin"] == "no"
    # prepare.yml wrote 50-cloud-init.conf with "PasswordAuthentication yes".
    assert sshd_t["passwordauthentication"] == "no"
    assert sshd_t["kbdinteractiveauthentication"] == "no"
    assert sshd_t["pubkeyauthentication"] == "yes"
    assert sshd_t["authenticationmethods"] == "publickey"
    assert sshd_t["x11forwarding"] == "no"
    assert sshd_t["allowusers"] == ADMIN


def test_sshd_algorithms_are_modern(host, sshd_t):
    for key in ("kexalgorithms", "ciphers", "macs", "hostkeyalgorithms"):
        algorithms = sshd_t[key].split(",")
        assert algorithms, key
        weak = [a for a in algorithms if WEAK.search(a)]
        assert not weak, f"{key}: {weak}"
    assert all(m.endswith("-etm@openssh.com") for m in sshd_t["macs"].split(","))
    kex = sshd_t["kexalgorithms"].split(",")
    assert "sntrup761x25519-sha512@openssh.com" in kex
    if "mlkem768x25519-sha256" in host.check_output("ssh -Q kex").split():
        # OpenSSH 10 (Debian 13): the post-quantum hybrid comes first.
        assert kex[0] == "mlkem768x25519-sha256"


def test_cloud_init_dropin_neutralised(host):
    dropin = host.file("/etc/ssh/sshd_config.d/50-cloud-init.conf")
    assert not re.search(r"^\s*PasswordAuthentication\s+yes", dropin.content_string, re.M)


def test_sshd_listens_on_new_port_only(host):
    listening = host.check_output("ss -Hltnp")
    sshd_ports = {
        int(line.split()[3].rsplit(":", 1)[1]) for line in listening.splitlines() if '"sshd' in line
    }
    assert sshd_ports == {SSH_PORT}
    assert host.service("ssh").is_running
    assert host.service("ssh").is_enabled


def test_real_ssh_login_as_admin(host):
    result = _ssh(host, ADMIN, "-i", str(_key()), command="id -un && sudo -n true && echo sudo-ok")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [ADMIN, "sudo-ok"]


def test_root_login_refused_even_with_an_authorized_key(host):
    # prepare.yml put the same key into /root/.ssh/authorized_keys.
    result = _ssh(host, "root", "-i", str(_key()))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_password_login_refused(host):
    result = _ssh(
        host,
        ADMIN,
        "-v",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "PubkeyAuthentication=no",
    )
    assert result.returncode == 255
    offered = re.findall(r"Authentications that can continue: (\S+)", result.stderr)
    assert offered, result.stderr
    assert all(methods == "publickey" for methods in offered), offered


def test_admin_user(host):
    admin = host.user(ADMIN)
    assert admin.exists
    assert "sudo" in admin.groups
    assert admin.shell == "/bin/bash"
    # The password is stored as a SHA-512 crypt hash, never in clear.
    assert host.check_output(f"getent shadow {ADMIN}").split(":")[1].startswith("$6$")
    assert "(ALL : ALL) NOPASSWD: ALL" in host.check_output(f"sudo -l -U {ADMIN}")


def test_system_user_has_no_login_shell(host):
    mc = host.user("mc")
    assert mc.exists
    assert mc.uid < 1000
    assert mc.shell == "/usr/sbin/nologin"
    assert mc.home == "/var/lib/mission-control"
    # A compromised service cannot change its own home (root writes its settings there).
    home = host.file(mc.home)
    assert home.is_directory and home.user == "root" and home.group == "mc" and home.mode == 0o750
    assert host.run("runuser -u mc -- touch /var/lib/mission-control/planted").rc != 0
    assert host.run("su -s /bin/sh -c true mc").rc == 0  # with an explicit shell only
    assert host.run("su - mc -c true").rc != 0


def test_ufw_denies_incoming_and_allows_ssh_web(host):
    status = host.check_output("ufw status verbose")
    assert "Status: active" in status
    assert "deny (incoming)" in status
    assert re.search(rf"^{SSH_PORT}/tcp\s+LIMIT IN\s+Anywhere", status, re.M), status
    for port in (80, 443):
        assert re.search(rf"^{port}/tcp\s+ALLOW IN\s+Anywhere", status, re.M), status


def test_fail2ban_sshd_jail(host):
    assert host.service("fail2ban").is_running
    status = host.check_output("fail2ban-client status sshd")
    assert "Currently banned" in status
    # Debian's unit is ssh.service and OpenSSH 10 logs from sshd-session.
    assert "sshd-session" in host.check_output("fail2ban-client get sshd journalmatch")


def test_fail2ban_sees_failed_ssh_logins(host):
    # The root login refused above is a failure sshd logs; the jail must count it.
    _ssh(host, "root", "-i", str(_key()))
    for _ in range(15):
        status = host.check_output("fail2ban-client status sshd")
        total = int(re.search(r"Total failed:\s+(\d+)", status).group(1))
        if total > 0:
            break
        time.sleep(1)
    assert total > 0, status


def test_time_zone_is_utc(host):
    assert host.check_output("date +%Z") == "UTC"
    assert host.file("/etc/localtime").linked_to.endswith("/UTC")


def test_journald_limit_in_effect(host):
    out = host.check_output("journalctl -b -o cat -t systemd-journald --no-pager")
    lines = [line for line in out.splitlines() if line.startswith("System Journal")]
    assert lines, out
    # "... is 8.0M, max 150.0M, ..." (Debian 12) / "... is 8M, max 150M, ..." (Debian 13)
    assert re.search(r"max 150(\.0)?M,", lines[-1]), lines[-1]


def test_unattended_security_upgrades(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    patterns = re.findall(r'^Unattended-Upgrade::Origins-Pattern:: "(.*)";$', dump, re.M)
    distribution = [p for p in patterns if not p.startswith("site=")]
    assert distribution and all("Debian-Security" in p for p in distribution), patterns
    assert host.service("apt-daily-upgrade.timer").is_enabled
    # An apt source another role adds (base_unattended_upgrades_extra_sites) is
    # among the origins unattended-upgrade itself allows.
    allowed = host.check_output(
        "unattended-upgrade --dry-run --debug 2>&1 | grep 'Allowed origins'"
    )
    assert "site=deb.nodesource.com" in allowed, allowed


def test_sysctl_file_keeps_ip_forward_untouched(host):
    conf = host.check_output("systemd-analyze cat-config sysctl.d")
    assert "net.ipv4.tcp_syncookies" in conf
    assert not re.search(r"^net\.ipv4\.ip_forward\s*=\s*0", conf, re.M)


def test_host_baseline(host):
    """The Lynis-driven measures, as the system applies them."""
    for package in ("apt-show-versions", "debsums", "libpam-tmpdir", "libpam-pwquality", "sysstat"):
        assert host.package(package).is_installed, package
    # Security updates have an archive to come from.
    assert host.run("apt-cache policy | grep -q -- '-security'").rc == 0
    # No core dumps: the login limit and systemd's handler.
    assert host.check_output("runuser -u nobody -- sh -c 'ulimit -H -c'") == "0"
    coredump = host.check_output("systemd-analyze cat-config systemd/coredump.conf")
    assert "Storage=none" in coredump
    blocklist = host.file("/etc/modprobe.d/mission-control-blocklist.conf").content_string
    for module in ("dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core"):
        assert f"install {module} /bin/false" in blocklist, module
    assert "Authorized access only" in host.file("/etc/issue.net").content_string
    login_defs = host.file("/etc/login.defs").content_string
    assert re.search(r"^SHA_CRYPT_MIN_ROUNDS 65536$", login_defs, re.M)
    assert host.service("sysstat").is_enabled
    assert 'ENABLED="true"' in host.file("/etc/default/sysstat").content_string


def test_no_swapfile_in_a_container(host):
    assert not host.file("/swapfile").exists


def test_wrong_admin_key_stops_the_first_run_before_root_is_closed():
    """The lockout test: on a fresh droplet, an admin key the controller does not
    hold must stop the play before sshd changes, and root must still log in."""
    state = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    wrong = (state / "wrong_ed25519.pub").read_text().strip()
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"),
            "-e",
            "base_test_hosts=fresh",
            "-e",
            json.dumps({"base_admin_ssh_keys": [wrong]}),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out[-3000:]
    assert "Connected as root on port 22" in out, out[-3000:]
    assert "base_admin_ssh_keys: the admin admin cannot take over" in out, out[-3000:]
    # Nothing was closed: sshd still on 22 with its first-boot settings, no
    # hardening drop-in, ufw off, and root logs in with its key.
    effective = subprocess.run(
        ["docker", "exec", FRESH, "/usr/sbin/sshd", "-T", "-C", "user=root,host=x,addr=127.0.0.1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "port 22" in effective and "permitrootlogin no" not in effective
    assert (
        subprocess.run(
            [
                "docker",
                "exec",
                FRESH,
                "test",
                "-e",
                "/etc/ssh/sshd_config.d/00-mission-control.conf",
            ]
        ).returncode
        == 1
    )
    ufw = subprocess.run(["docker", "exec", FRESH, "ufw", "status"], capture_output=True, text=True)
    assert "Status: active" not in ufw.stdout
    root = _ssh(FRESH, "root", "-i", str(_key()), command="id -un", port=22)
    assert root.returncode == 0 and root.stdout.strip() == "root", root.stderr
