"""Errors raised by the engine for bad input or a bad environment.

Every message is one line, without secrets, suitable for
``mc-migrate: error: <message>``.  Data problems are *not* exceptions: they
are collected in the report (see :mod:`mc_migrate.preflight`).
"""

from __future__ import annotations


class MigrationError(Exception):
    """A failure that stops the step; ``str(exc)`` is a single clear line."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class SourceError(MigrationError):
    """The SQLite file is missing, not SQLite, corrupt or unreadable."""

    kind = "source"


class TargetError(MigrationError):
    """The PostgreSQL server is unreachable, refuses us, or the schema is wrong."""

    kind = "target"


class LockedError(MigrationError):
    """Another mc-migrate run holds the target's advisory lock."""

    kind = "locked"


class HelperError(MigrationError):
    """A helper process of the engine (the checksum hasher) died or misbehaved."""

    kind = "helper"


class OptionsError(MigrationError):
    """An option (policy, skip list, path) is invalid."""

    kind = "options"
