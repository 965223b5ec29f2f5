"""What a check finds and what an alert says."""

from __future__ import annotations

from dataclasses import dataclass

# How each alert state reads in a chat line.
PHRASES = {
    "failing": "is failing",
    "recovered": "recovered",
    "still failing": "is still failing",
    "test": "test alert",
}


@dataclass(frozen=True)
class Result:
    name: str  # the check, or check:item for one item of it (disk:/var/lib/mc-backup)
    ok: bool
    summary: str  # one line with the measured value: "200 in 35 ms"
    value: float | None = None  # the measured number, for metrics


@dataclass(frozen=True)
class Alert:
    check: str
    state: str  # failing | recovered | still failing | test
    summary: str
    time: str  # ISO 8601, UTC

    def text(self, host: str) -> str:
        """`[mc-droplet] app_direct is failing: 502 in 12 ms`"""
        return f"[{host}] {self.check} {PHRASES.get(self.state, self.state)}: {self.summary}"
