"""Writes that survive a crash, and checksums."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or removal in the folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict, mode: int | None = None) -> None:
    """Readers see the old file or the new one, never half of it. mode: else the umask's."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        if mode is not None:
            os.fchmod(fh.fileno(), mode)
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
