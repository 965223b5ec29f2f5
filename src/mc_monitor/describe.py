"""Summaries are one short line: they go into chat messages and the status table."""

from __future__ import annotations


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def failure(exc: BaseException) -> str:
    """A check's exception as its summary (not for the secret URLs: see web.reason)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    message = one_line(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
