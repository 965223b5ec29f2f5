"""Bad input or configuration: exit 2, nothing was checked, nobody is alerted."""


class UsageError(Exception):
    pass
