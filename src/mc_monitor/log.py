"""One line on stderr, which systemd puts in the journal."""

import sys


def log(message: str) -> None:
    print(f"mc-monitor: {message}", file=sys.stderr, flush=True)
