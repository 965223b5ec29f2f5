"""One mc-backup at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from mc_backup.errors import BackupError
from mc_backup.lock import exclusive


def test_a_second_run_waits_then_gives_up(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with (
        exclusive(lock),
        pytest.raises(BackupError, match="held the lock"),
        exclusive(lock, wait_seconds=0.2, poll_seconds=0.05),
    ):
        pass


def test_the_lock_is_free_again_afterwards(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with exclusive(lock):
        pass
    with exclusive(lock, wait_seconds=0):
        pass
