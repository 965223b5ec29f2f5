"""The two ways a command fails, and so its exit status."""


class BackupError(Exception):
    """A failure that fails the run and triggers the alert hook (exit 1)."""


class UsageError(Exception):
    """Bad input or configuration (exit 2): nothing was tried, nobody is alerted."""
