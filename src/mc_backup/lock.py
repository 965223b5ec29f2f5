"""One mc-backup at a time: backups, drills, restores and checks share restic and the disk."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from mc_backup.errors import BackupError


@contextlib.contextmanager
def exclusive(path: Path, wait_seconds: float = 3600, poll_seconds: float = 2) -> Iterator[None]:
    with open(path, "a") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BackupError(
                        f"another mc-backup run held the lock for {wait_seconds / 60:g} min"
                    ) from None
                time.sleep(poll_seconds)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
