"""nginx edge with a certificate from a real ACME server (pebble, HTTP-01 through nginx)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge_helpers import (
    assert_security_headers_once,
    container_ip,
    curl,
    run_playbook,
    run_sslyze,
    served_serial,
)
from exposure import assert_exposure_at_most  # conftest.py puts molecule/_helpers on the path

SCENARIO = Path(__file__).resolve().parents[1]
LISTENER_CA = "/usr/local/share/mc-test/pebble-listener-ca.pem"
PEBBLE = "https://mc-nginx-pebble:15000"


def pebble_root(host) -> str:
    return host.check_output("curl -sf --cacert %s %s/roots/0", LISTENER_CA, PEBBLE)


def test_nginx_runs_with_a_valid_config(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert host.run("nginx -t").rc == 0
    dump = host.check_output("nginx -T 2>/dev/null")
    assert "ssl_stapling" not in dump
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening


def test_nginx_and_its_status_check_are_sandboxed(host):
    assert host.file("/etc/systemd/system/nginx.service.d/50-sandbox.conf").exists
    assert_exposure_at_most(host, "nginx.service", 4.5)
    assert_exposure_at_most(host, "nginx-cert-status.service", 3.5)
    # The sandboxed status check still asks nginx over TLS and writes its file.
    status_file = "/var/lib/nginx-edge/cert-status.json"
    host.check_output(f"rm -f {status_file}")
    host.run_expect([0], "systemctl start nginx-cert-status.service")
    assert json.loads(host.file(status_file).content_string)["state"] == "ok"


def test_a_reload_the_running_master_refuses_fails_loudly(host):
    # A limit_req zone whose key changes passes `nginx -t` (a fresh start would
    # take it) but the running master refuses it and keeps its old workers.
    zone = "/etc/nginx/conf.d/zz-test-zone.conf"
    line = "limit_req_zone {} zone=mc_test:1m rate=1r/s;"
    try:
        host.check_output(f"echo '{line.format('$binary_remote_addr')}' > {zone}")
        assert host.run("/usr/local/sbin/nginx-reload").rc == 0
        workers = host.check_output("pgrep -d ' ' -P $(cat /run/nginx.pid)")
        host.check_output(f"echo '{line.format('$remote_addr')}' > {zone}")
        assert host.run("nginx -t -q").rc == 0
        refused = host.run("/usr/local/sbin/nginx-reload")
        assert refused.rc == 1
        assert "kept its old configuration" in refused.stderr
        assert "mc_test" in refused.stderr  # nginx's own [emerg] line
        # No new worker (the previous reload's old workers may have exited since).
        after = host.check_output("pgrep -d ' ' -P $(cat /run/nginx.pid)")
        assert set(after.split()) <= set(workers.split())
    finally:
        host.run(f"rm -f {zone}")
    assert host.run("/usr/local/sbin/nginx-reload").rc == 0
    assert host.service("nginx").is_running


def test_certificate_issued_by_the_acme_server_and_trusted(host, name):
    root = pebble_root(host)
    host.run(f"cat > /tmp/pebble-root.pem <<'EOF'\n{root}\nEOF")
    # Full verification with the ACME server's root: name, chain, dates.
    out = host.run(
        "curl -sS -o /dev/null -w '%%{http_code} %%{http_version} %%{ssl_verify_result}' "
        "--cacert /tmp/pebble-root.pem --resolve %s:443:127.0.0.1 https://%s/api/health",
        name,
        name,
    )
    assert out.rc == 0, out.stderr
    assert out.stdout == "200 2 0"  # HTTP/2, verified
    issuer = host.check_output(
        "openssl x509 -noout -issuer -in /etc/letsencrypt/live/%s/fullchain.pem", name
    )
    assert "Pebble" in issuer
    key = host.check_output(
        "openssl x509 -noout -text -in /etc/letsencrypt/live/%s/fullchain.pem", name
    )
    assert "id-ecPublicKey" in key and "prime256v1" in key


def test_renewal_is_configured(host, name):
    assert host.service("certbot.timer").is_enabled
    assert host.file("/etc/letsencrypt/renewal-hooks/deploy/50-nginx-reload.sh").mode == 0o755
    renewal = host.file(f"/etc/letsencrypt/renewal/{name}.conf").content_string
    assert "server = https://mc-nginx-pebble:14000/dir" in renewal
    assert "authenticator = webroot" in renewal
    show = host.check_output("systemctl show -p Environment certbot.service")
    assert f"REQUESTS_CA_BUNDLE={LISTENER_CA}" in show


def test_forced_renewal_through_the_sandboxed_unit_changes_the_served_certificate(host, name):
    # certbot.service is what certbot.timer starts: the renewal, its deploy
    # hook (nginx -t, reload, status file) all run inside its sandbox. It
    # renews only near expiry, so certbot's own settings file asks for more.
    assert_exposure_at_most(host, "certbot.service", 3.5)
    before = served_serial(host, name)
    cli = "/etc/letsencrypt/cli.ini"
    had_cli = host.file(cli).exists
    if had_cli:
        host.check_output(f"cp -a {cli} {cli}.test-keep")
    host.check_output(
        f"printf 'force-renewal = True\\nno-random-sleep-on-renew = True\\n' >> {cli}"
    )
    try:
        renew = host.run("systemctl start certbot.service")
    finally:
        host.check_output(f"mv {cli}.test-keep {cli}" if had_cli else f"rm -f {cli}")
    journal = host.run("journalctl -u certbot.service -n 40 --no-pager").stdout
    assert renew.rc == 0, renew.stderr + journal
    after = before
    for _ in range(20):
        after = served_serial(host, name)
        if after != before:
            break
        time.sleep(0.5)
    assert after != before
    # The deploy hook refreshed the expiry status with the new certificate.
    status = {}
    for _ in range(20):
        status = json.loads(host.file("/var/lib/nginx-edge/cert-status.json").content_string)
        if status["serial"] == after:
            break
        time.sleep(0.5)
    assert status["serial"] == after
    assert status["state"] == "ok"
    assert 80 <= status["days_left"] <= 90


def test_certificate_expiry_command(host, name):
    out = host.run("nginx-cert-status")
    assert out.rc == 0, out.stdout
    status = json.loads(out.stdout)
    assert status["server_name"] == name
    assert status["days_left"] >= 80
    assert host.service("nginx-cert-status.timer").is_enabled


def test_http_redirects_with_308_keeping_path_and_query(host, name):
    status, headers, _ = curl(host, name, "/some/path?a=1&b=two", scheme="http")
    assert status == 308
    assert headers["location"] == [f"https://{name}/some/path?a=1&b=two"]


def test_http_serves_the_acme_challenge(host, name):
    host.run(
        "mkdir -p /var/www/acme/.well-known/acme-challenge && "
        "echo token-body > /var/www/acme/.well-known/acme-challenge/probe"
    )
    status, _, body = curl(host, name, "/.well-known/acme-challenge/probe", scheme="http")
    host.run("rm -f /var/www/acme/.well-known/acme-challenge/probe")
    assert status == 200
    assert body.strip() == "token-body"


def test_headers_once_on_200_and_404(host, name):
    for path, code in (("/api/health", 200), ("/", 200), ("/missing", 404)):
        status, headers, _ = curl(host, name, path)
        assert status == code, path
        assert_security_headers_once(headers)
        assert headers["server"] == ["nginx"]  # server_tokens off


def test_headers_once_on_502_when_the_app_is_down(host, name):
    host.run("systemctl stop mc-stub-backend")
    try:
        status, headers, _ = curl(host, name, "/api/health")
    finally:
        host.run("systemctl start mc-stub-backend")
        # systemctl returns once the process runs, not once it listens: the
        # next tests must not meet a 502 because the stub was still starting.
        for _ in range(60):
            if host.socket("tcp://127.0.0.1:3001").is_listening:
                break
            time.sleep(0.5)
    assert status == 502
    assert_security_headers_once(headers)
    assert host.socket("tcp://127.0.0.1:3001").is_listening


def test_rate_limit_429_with_the_seed_body_and_retry_after(host, name):
    # A burst from its own source address (127.0.0.9) so other tests keep their quota.
    out = host.check_output(
        "for i in $(seq 1 45); do curl -sk -o /dev/null -w '%%{http_code}\\n' "
        "--interface 127.0.0.9 --resolve %s:443:127.0.0.9 https://%s/api/health; "
        "done | sort | uniq -c",
        name,
        name,
    )
    counts = {int(c): int(n) for n, c in (line.split() for line in out.splitlines())}
    assert counts.get(429, 0) >= 15, counts
    assert counts.get(200, 0) >= 15, counts
    status, headers, body = curl(host, name, "/api/health", "--interface", "127.0.0.9")
    assert status == 429
    assert headers["retry-after"] == ["600"]
    assert headers["content-type"] == ["application/json"]
    assert json.loads(body) == {
        "error": "Too many requests, please try again later",
        "retryAfter": 600,
    }
    assert_security_headers_once(headers)
    # Any case of /api/ counts against the same limit.
    for path in ("/API/health", "/Api/health"):
        assert curl(host, name, path, "--interface", "127.0.0.9")[0] == 429, path
    # Outside /api/ there is no limit.
    assert curl(host, name, "/", "--interface", "127.0.0.9")[0] == 200


def test_unknown_names_never_reach_the_app(host, name):
    # TLS for another name, or for the address (no name), is refused in the handshake.
    for target in ("--resolve evil.test:443:127.0.0.1 https://evil.test/", "https://127.0.0.1/"):
        out = host.run(f"curl -sk --max-time 10 -o /dev/null {target}")
        assert out.rc == 35, (target, out.rc, out.stderr)  # SSL connect error
    # Our name in the handshake, another in Host: the connection is closed unanswered.
    out = host.run(
        f"curl -sk --http1.1 --max-time 10 --resolve {name}:443:127.0.0.1 "
        f"-H 'Host: evil.test' https://{name}/api/echo-headers"
    )
    # Closed without an answer: curl says "empty reply" (52), or with newer
    # OpenSSL "failure receiving data" (56, Debian 13).
    assert out.rc in (52, 56) and out.stdout == "", (out.rc, out.stdout)
    out = host.run("curl -s --max-time 10 -H 'Host: evil.test' http://127.0.0.1/")
    assert out.rc == 52 and out.stdout == "", (out.rc, out.stdout)
    # The app sees our name, and the client's address whatever the client claims.
    _, _, body = curl(host, name, "/api/echo-headers", "-H", "'X-Forwarded-For: 203.0.113.9'")
    seen = json.loads(body)
    assert seen["host"] == name
    assert seen["x-forwarded-for"] == "127.0.0.1"


def test_maintenance_mode_on_and_off(host, name):
    hostname = host.backend.get_hostname()
    on = run_playbook(SCENARIO / "maintenance.yml", hostname, nginx_maintenance=True)
    try:
        assert on.returncode == 0, on.stdout + on.stderr
        status, headers, body = curl(host, name, "/api/health")
        assert status == 503
        assert headers["retry-after"] == ["300"]
        assert headers["content-type"] == ["application/json"]
        assert json.loads(body)["retryAfter"] == 300
        assert_security_headers_once(headers)
        status, headers, body = curl(host, name, "/")
        assert status == 503
        assert headers["content-type"][0].startswith("text/html")
        assert "maintenance" in body
        assert_security_headers_once(headers)
        # Switching again changes nothing.
        again = run_playbook(SCENARIO / "maintenance.yml", hostname, nginx_maintenance=True)
        assert "changed=0" in again.stdout, again.stdout
    finally:
        off = run_playbook(SCENARIO / "maintenance.yml", hostname, nginx_maintenance=False)
    assert off.returncode == 0, off.stdout + off.stderr
    assert curl(host, name, "/api/health")[0] == 200


def test_websocket_upgrade_and_upstream_keepalive_headers(host, name):
    _, _, body = curl(
        host,
        name,
        "/api/echo-headers",
        "--http1.1",
        "-H",
        "'Upgrade: websocket'",
        "-H",
        "'Connection: Upgrade'",
    )
    seen = json.loads(body)
    assert seen["upgrade"] == "websocket"
    assert seen["connection"].lower() == "upgrade"
    assert seen["x-forwarded-proto"] == "https"
    _, _, body = curl(host, name, "/api/echo-headers")
    seen = json.loads(body)
    assert "upgrade" not in seen
    assert seen.get("connection", "").lower() != "close"  # upstream keepalive


def test_gzip_and_body_size_limit(host, name):
    _, headers, _ = curl(host, name, "/", "-H", "'Accept-Encoding: gzip'", "-o", "/dev/null")
    assert headers["content-encoding"] == ["gzip"]
    host.run("head -c 2200000 /dev/zero > /tmp/big-body")
    status, _, _ = curl(host, name, "/api/upload", "--data-binary", "@/tmp/big-body")
    assert status == 413  # nginx_client_max_body_size 1m


def test_access_log_has_request_and_upstream_times(host, name):
    curl(host, name, "/api/health")
    last = host.check_output("tail -n 1 /var/log/nginx/access.log")
    assert "rt=" in last and "urt=" in last and "uct=" in last


def test_sslyze_mozilla_intermediate(host, name, sslyze, tmp_path):
    ca = tmp_path / "pebble-root.pem"
    ca.write_text(pebble_root(host) + "\n")
    proc = run_sslyze(sslyze, "intermediate", name, container_ip(host), ca, tmp_path / "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK - Compliant" in proc.stdout
