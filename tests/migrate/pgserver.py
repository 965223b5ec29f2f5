"""A throwaway PostgreSQL cluster for tests and the benchmark.

Runs initdb/pg_ctl as the ``postgres`` OS user when we are root.  Local
(socket) connections use trust for the admin; TCP uses scram-sha-256, and TLS
is on when a certificate is given.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ADMIN_PASSWORD = "admin-secret"


def pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def make_certs(dirpath: Path) -> dict[str, Path]:
    """A throwaway CA, a server cert for localhost/127.0.0.1, and a second (wrong) CA."""
    d = dirpath

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=mc-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=wrong-ca",
        "-keyout",
        "wrong.key",
        "-out",
        "wrong.crt",
    )
    ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.crt",
        "-extfile",
        "ext.cnf",
    )
    return {
        "ca": d / "ca.crt",
        "wrong_ca": d / "wrong.crt",
        "cert": d / "server.crt",
        "key": d / "server.key",
    }


@dataclass
class PgServer:
    base: Path
    port: int
    bindir: Path
    sockdir: Path
    ssl: bool = False

    @classmethod
    def start(
        cls, *, fast: bool = True, ssl: bool = True, extra: dict[str, str] | None = None
    ) -> PgServer:
        bindir = pg_bindir()
        base = Path(tempfile.mkdtemp(prefix="mc-pg-"))
        os.chmod(base, 0o755)
        data, sock = base / "data", base / "sock"
        sock.mkdir()
        pwfile = base / "pw"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            shutil.chown(sock, "postgres")
            shutil.chown(pwfile, "postgres")
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        port = free_port()
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{sock}'",
            "max_connections": "50",
        }
        if fast:
            conf.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        if ssl:
            certs = make_certs(base)
            for k in ("cert", "key"):
                target = data / f"server.{'crt' if k == 'cert' else 'key'}"
                shutil.copy(certs[k], target)
                if os.geteuid() == 0:
                    shutil.chown(target, "postgres")
                os.chmod(target, 0o600)
            conf.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        conf.update(extra or {})
        with (data / "postgresql.auto.conf").open("a") as fh:
            for k, v in conf.items():
                fh.write(f"{k} = {v}\n")
        srv = cls(base, port, bindir, sock, ssl)
        srv.pg_ctl("start", "-w", "-t", "60", "-l", str(base / "log"))
        return srv

    def pg_ctl(self, *args: str) -> None:
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), *args])

    def restart(self) -> None:
        self.pg_ctl("restart", "-w", "-m", "fast", "-l", str(self.base / "log"))

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def ca(self) -> Path:
        return self.base / "ca.crt"

    @property
    def wrong_ca(self) -> Path:
        return self.base / "wrong.crt"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.sockdir} port={self.port} user=postgres dbname={dbname}"

    def url(self, user: str, password: str, dbname: str, **params: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}" + (
            f"?{q}" if q else ""
        )

    def wait_ready(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", str(self.sockdir), "-p", str(self.port)],
                capture_output=True,
            )
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not become ready")
