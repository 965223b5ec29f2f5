"""Running pg_dump, pg_restore and restic: the environment they get, and their failures."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mc_backup.config import Config
from mc_backup.errors import BackupError


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines (as systemd's EnvironmentFile=, without its quoting rules)."""
    env: dict[str, str] = {}
    if not path or not Path(path).is_file():
        return env
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def environment(cfg: Config) -> dict[str, str]:
    """Ours plus the secrets file: restic's keys reach restic through its environment only."""
    env = dict(os.environ)
    env.update(read_env_file(cfg.restic_env_file))
    # restic reads --time in local time; the dump's time is UTC.
    env["TZ"] = "UTC"
    # The user's home is root's: restic keeps its cache in the state folder.
    env.setdefault("RESTIC_CACHE_DIR", str(Path(cfg.state_dir) / "restic-cache"))
    if cfg.offsite:
        env["RESTIC_REPOSITORY"] = cfg.restic_repository
        env["RESTIC_PASSWORD_FILE"] = cfg.restic_password_file
    return env


def last_lines(text: str, count: int = 6) -> str:
    """The end of a program's output, on one line for the error message."""
    return " | ".join(line for line in text.strip().splitlines()[-count:] if line.strip())


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, argv: list[str], *, what: str, timeout: float | None = None) -> str:
        """The program's stdout; any failure is a BackupError that starts with `what`."""
        proc = self.attempt(argv, what=what, timeout=timeout)
        if proc.returncode != 0:
            raise BackupError(
                f"{what} failed (exit {proc.returncode}): {last_lines(proc.stderr or proc.stdout)}"
            )
        return proc.stdout

    def attempt(
        self, argv: list[str], *, what: str, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run it and hand back its exit status and output, whatever they are."""
        try:
            return subprocess.run(
                argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackupError(f"{what}: {exc}") from exc

    def start(self, argv: list[str]) -> subprocess.Popen[str]:
        """Start it in the background; its stderr is kept for the error message."""
        return subprocess.Popen(
            argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
