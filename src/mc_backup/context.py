"""What every command works with: the configuration, the environment of the
programs it runs, and the status file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from mc_backup.config import Config
from mc_backup.lock import exclusive
from mc_backup.runner import Runner, environment
from mc_backup.status import StatusFile


@dataclass
class Context:
    config: Config
    runner: Runner
    status: StatusFile

    @classmethod
    def from_config(cls, config: Config) -> Context:
        return cls(config, Runner(environment(config)), StatusFile(config.status_path))

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with exclusive(self.config.lock_path):
            yield
